#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time; fails on a crash, a sanitizer report or
# a timeout/OOM report. usage: tests/data/run_fuzz.sh BUILD_DIR SECONDS
# BUILD_DIR must come from: cmake -DSPECTRA_FUZZ=ON -DCMAKE_C_COMPILER=clang ...
set -euo pipefail
BUILD="$(cd "${1:?usage: run_fuzz.sh BUILD_DIR SECONDS}" && pwd)"
SECS="${2:?usage: run_fuzz.sh BUILD_DIR SECONDS}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Seeds: a valid shard (3 tokens) and a few texts with the tricky parts of GPT-2's pattern.
mkdir -p "$WORK/fuzz_shard" "$WORK/fuzz_encode" "$WORK/fuzz_state" "$WORK/fuzz_tokfiles" "$WORK/fuzz_checkpoint"
{
  printf '\x88\xd8\x34\x01\x01\x00\x00\x00\x03\x00\x00\x00'
  head -c 1012 /dev/zero
  printf '\x01\x00\x02\x00\x50\xc4'
} > "$WORK/fuzz_shard/valid"
printf "It's 12 o'clock  \n\n\tcaf\xc3\xa9 \xf0\x9f\x98\x80 \xe6\x97\xa5" > "$WORK/fuzz_encode/mixed"
printf '\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80 \xe2\x80 x\xef\xbb\xbf\xc2\xa0 y' > "$WORK/fuzz_encode/bad_utf8"
# fuzz_state builds its images from a valid one (tests/optim/fuzz_state.c): byte 0 odd = patch it
printf '\x01' > "$WORK/fuzz_state/valid"
printf '\x03\x00\x40\x00\x10\x00' > "$WORK/fuzz_state/cut"
# fuzz_tokfiles patches a trained encoder.json (byte 0 = 1, 5 cut, 9 insert) or vocab.bpe (3, 11)
for m in 01 03 05 09 0b; do printf "\x$m" > "$WORK/fuzz_tokfiles/mode$m"; done
# fuzz_checkpoint patches a valid checkpoint (1) or cuts it (3: 24-bit length, then patches)
printf '\x01' > "$WORK/fuzz_checkpoint/valid"
printf '\x03\x00\x00\x40\x00' > "$WORK/fuzz_checkpoint/cut"

status=0
for target in fuzz_shard fuzz_encode fuzz_state fuzz_tokfiles fuzz_checkpoint; do
  exe=""
  for cand in "$BUILD/tests/$target" "$BUILD/$target"; do
    [[ -x "$cand" ]] && exe="$cand" && break
  done
  if [[ -z "$exe" ]]; then
    echo "run_fuzz.sh: $target not found in $BUILD (configure with -DSPECTRA_FUZZ=ON -DCMAKE_C_COMPILER=clang)" >&2
    exit 1
  fi
  echo "run_fuzz.sh: $target for ${SECS}s"
  log="$WORK/$target.log"
  if ! (cd "$WORK" && "$exe" -max_total_time="$SECS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$WORK/$target") >"$log" 2>&1; then
    echo "run_fuzz.sh: $target FAILED; log tail:" >&2
    tail -n 40 "$log" >&2
    status=1
    continue
  fi
  if grep -qE "ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:" "$log"; then
    echo "run_fuzz.sh: $target reported a sanitizer error:" >&2
    grep -E -A 20 "ERROR|runtime error:" "$log" | head -n 60 >&2
    status=1
    continue
  fi
  grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$log" | tail -n 2 || true
done
exit $status
