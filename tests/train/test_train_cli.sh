#!/usr/bin/env bash
# `spectra train` / `spectra sample` end to end on a real corpus slice (the cached Brown +
# nlp-corpus packages, 2048-id BPE): the loss must fall below a bound; unknown flags and bad
# values are clear usage errors; 2N steps in one run equal N + --resume + N (same
# checkpoint bytes); Ctrl-C (SIGINT) leaves a loadable checkpoint and exits 130.
. "$(dirname "$0")/../lib.sh"

# flag parsing
out=$("$SPECTRA" train --no-such-flag 2>&1); rc=$?
check "unknown flag is a usage error (rc 2) naming the flag" '[ $rc -eq 2 ] && grep -q -- "--no-such-flag" <<<"$out"'
check "an unknown last flag is called unknown, not short of a value" '! grep -q "needs a value" <<<"$out" && grep -q "unknown option" <<<"$out"'
out=$("$SPECTRA" train --seq 2>&1); rc=$?
check "a known flag without its value says so" '[ $rc -eq 2 ] && grep -q -- "--seq. needs a value" <<<"$out"'
out=$("$SPECTRA" sample --bogus 2>&1); rc=$?
check "sample: an unknown last flag is called unknown" '[ $rc -eq 2 ] && grep -q "unknown option .--bogus" <<<"$out" && ! grep -q "needs a value" <<<"$out"'
out=$("$SPECTRA" sample --checkpoint 2>&1); rc=$?
check "sample: a known flag without its value says so" '[ $rc -eq 2 ] && grep -q -- "--checkpoint. needs a value" <<<"$out"'
out=$("$SPECTRA" train --batch zero 2>&1); rc=$?
check "non-numeric --batch is rejected" '[ $rc -eq 2 ] && grep -q -- "--batch expects" <<<"$out"'
out=$("$SPECTRA" train --optim adam 2>&1); rc=$?
check "unknown optimizer is rejected" '[ $rc -eq 2 ] && grep -q "spectra, adamw, muon or dion" <<<"$out"'
out=$("$SPECTRA" train --rank-ratio 1.5 2>&1); rc=$?
check "out-of-range --rank-ratio is rejected" '[ $rc -eq 2 ] && grep -q -- "--rank-ratio expects" <<<"$out"'
out=$("$SPECTRA" train --data "$work/none" 2>&1); rc=$?
check "missing data directory is explained" '[ $rc -eq 1 ] && grep -q "spectra prepare" <<<"$out"'
out=$("$SPECTRA" train --help 2>&1); rc=$?
check "--help shows defaults" '[ $rc -eq 0 ] && grep -q "rank-ratio F \[0.015\]" <<<"$out"'

# real corpus slice
if ! "$SPECTRA" prepare --no-fetch --train-vocab 2048 --out "$work/data" > "$work/prepare.log" 2>&1; then
  if [ "${SPECTRA_REQUIRE_NET_TESTS:-0}" = 1 ]; then echo "FAIL: prepare failed:"; cat "$work/prepare.log"; exit 1; fi
  echo "****************************************************************"
  echo "SKIP: the corpus packages are not cached (run scripts/fetch_data.sh)"
  echo "****************************************************************"
  exit 77
fi
common=(--data "$work/data" --preset tiny --d-model 64 --d-ff 192 --batch 8 --seq 64 --seed 3 --val-batches 8 --sample-tokens 8 --quiet)
"$SPECTRA" train "${common[@]}" --steps 200 --val-every 100 --out "$work/run" > "$work/train.out" 2> "$work/train.err"; rc=$?
check "training runs" '[ $rc -eq 0 ]'
val=$(sed -n 's/.*validation loss \([0-9.]*\).*/\1/p' "$work/train.out")
echo "validation loss after 200 steps: $val (ln 2048 = 7.62)"
check "validation loss fell below 6.5 (from ln(2048) = 7.62; 6.04 measured)" 'awk -v v="$val" "BEGIN{exit !(v != \"\" && v < 6.5)}"'
check "JSONL log has 200 step lines" '[ "$(grep -c "\"step\"" "$work/run/log.jsonl")" -eq 200 ]'
check "sample is printed" 'grep -q "^sample" "$work/train.out"'
"$SPECTRA" sample --checkpoint "$work/run/checkpoint.bin" --prompt "The" --tokens 5 > "$work/sample.out" 2>&1
check "spectra sample generates from the checkpoint" '[ $? -eq 0 ] && grep -q "^The" "$work/sample.out"'

# --out whose parents do not exist yet (README's `--out runs/main` on a fresh clone)
"$SPECTRA" train "${common[@]}" --steps 2 --out "$work/new/nested/run" --sample-tokens 0 > "$work/nested.out" 2>&1
check "--out creates missing parent directories" '[ $? -eq 0 ] && [ -f "$work/new/nested/run/checkpoint.bin" ]'

# resume: 40 steps vs 20 (--stop-at) + --resume + 20, same schedule
"$SPECTRA" train "${common[@]}" --steps 40 --ckpt-every 1000 --val-every 1000 --out "$work/a" --sample-tokens 0 > /dev/null 2>&1
"$SPECTRA" train "${common[@]}" --steps 40 --stop-at 20 --ckpt-every 1000 --val-every 1000 --out "$work/b" --sample-tokens 0 > /dev/null 2>&1
check "--stop-at 20 leaves a checkpoint at step 20" '[ "$(grep -c "\"step\"" "$work/b/log.jsonl")" -eq 20 ]'
"$SPECTRA" train --resume "$work/b/checkpoint.bin" --out "$work/b" --val-every 1000 --sample-tokens 0 --quiet --data "$work/data" > /dev/null 2>&1
check "40 steps == 20 + resume + 20 (identical checkpoint bytes)" 'cmp -s "$work/a/checkpoint.bin" "$work/b/checkpoint.bin"'

# resume refuses what it cannot honour, before touching anything (these flags used to be
# dropped without a word, and a target before the checkpoint "trained 0 steps" with rc 0)
sum_b=$(md5sum < "$work/b/checkpoint.bin")
out=$("$SPECTRA" train "${common[@]}" --batch 4 --resume "$work/b/checkpoint.bin" --out "$work/b" 2>&1); rc=$?
check "resume with another --batch is a usage error naming it" '[ $rc -eq 2 ] && grep -q -- "--batch 4. differs" <<<"$out"'
out=$("$SPECTRA" train --resume "$work/b/checkpoint.bin" --out "$work/b2" --data "$work/data" --steps 10 2>&1); rc=$?
check "resume with --steps before the checkpoint's step is refused, no --out created" \
  '[ $rc -eq 2 ] && grep -q "not after the checkpoint.s step 40" <<<"$out" && [ ! -e "$work/b2" ]'
out=$("$SPECTRA" train "${common[@]}" --steps 40 --resume "$work/b/checkpoint.bin" --out "$work/b" --sample-tokens 0 2>&1); rc=$?
check "resume repeating the run's own flags is accepted (a finished run just reports)" '[ $rc -eq 0 ] && grep -q "(0 this run)" <<<"$out"'
check "the refused resumes left the checkpoint as it was" '[ "$(md5sum < "$work/b/checkpoint.bin")" = "$sum_b" ]'

# options are checked before anything is created
out=$("$SPECTRA" train "${common[@]}" --steps 10 --warmup 100 --out "$work/w" 2>&1); rc=$?
check "a config the trainer would refuse is a usage error, and --out is not created" \
  '[ $rc -eq 2 ] && grep -q "warm-up" <<<"$out" && [ ! -e "$work/w" ]'
out=$("$SPECTRA" train "${common[@]}" --steps " -1" --out "$work/w" 2>&1); rc=$?
check "a number with leading space and sign is rejected" '[ $rc -eq 2 ] && grep -q -- "--steps expects" <<<"$out"'
out=$("$SPECTRA" train "${common[@]}" --steps 5 --out "$work/w" --check 2>/dev/null); rc=$?
check "--check validates and creates nothing (silent with --quiet)" '[ $rc -eq 0 ] && [ -z "$out" ] && [ ! -e "$work/w" ]'
out=$("$SPECTRA" train "${common[@]:0:$((${#common[@]} - 1))}" --steps 5 --steps 7 --out "$work/w" --check 2>/dev/null); rc=$?
check "the last occurrence of a flag counts" '[ $rc -eq 0 ] && grep -q "spectra, 7 steps" <<<"$out"'
out=$("$SPECTRA" train --data "$work/data" --steps 5 --out "$work/w" --check 2>&1); rc=$?
check "--check says what it checked" '[ $rc -eq 0 ] && grep -q "options valid" <<<"$out" && [ ! -e "$work/w" ]'
check "--check gives the planned memory" 'grep -q "GB of memory planned" <<<"$out"'

# a micro-batch whose logits alone (2^24 positions x 2048 ids x 4 bytes = 137 GB) exceed the
# available memory is refused before anything is built, with the figures and the way out
big=(--data "$work/data" --preset tiny --d-model 64 --d-ff 192 --batch 65536 --seq 256 --steps 5 --out "$work/w")
avail_kb=$(sed -n 's/^MemAvailable: *\([0-9]*\) kB/\1/p' /proc/meminfo)
if [ -n "$avail_kb" ] && [ "$avail_kb" -lt 130000000 ]; then
  out=$("$SPECTRA" train "${big[@]}" 2>&1); rc=$?
  check "a run larger than the available memory is refused, naming both and the way out" \
    '[ $rc -eq 1 ] && grep -q "needs about [0-9.]* GB of memory" <<<"$out" && grep -q "GB is available" <<<"$out" && grep -q -- "--no-memory-check" <<<"$out" && [ ! -e "$work/w" ]'
  out=$("$SPECTRA" train "${big[@]}" --check 2>&1); rc=$?
  check "--check refuses it too" '[ $rc -eq 1 ] && grep -q "GB is available" <<<"$out"'
else
  echo "note: $avail_kb kB available; the memory refusal is not checked on this machine"
fi
out=$("$SPECTRA" train "${big[@]}" --check --no-memory-check 2>&1); rc=$?
check "--no-memory-check skips the refusal" '[ $rc -eq 0 ] && grep -q "options valid" <<<"$out" && [ ! -e "$work/w" ]'

# a memory cgroup's limit counts, less what the group uses, its inactive page cache counting as
# free: a fake cgroup v2 directory bound over /sys/fs/cgroup in a private mount namespace (root
# only), its limit 100 MB above the run's plan and 300 MB in use, 250 of them inactive cache
mid=(--data "$work/data" --preset tiny --d-model 64 --d-ff 192 --batch 256 --seq 64 --steps 5 --out "$work/w")
plan_gb=$("$SPECTRA" train "${mid[@]}" --check 2>&1 | sed -n 's/.*about \([0-9.]*\) GB of memory planned.*/\1/p')
if [ -n "$plan_gb" ] && unshare -m true 2>/dev/null; then
  cg="$work/cgroup"
  mkdir -p "$cg"
  awk -v g="$plan_gb" 'BEGIN { printf "%.0f\n", g * 1e9 + 100e6 }' > "$cg/memory.max"
  echo 300000000 > "$cg/memory.current"
  in_cgroup() { unshare -m sh -c 'mount --bind "$0" /sys/fs/cgroup && exec "$@"' "$cg" "$SPECTRA" train "${mid[@]}" --check; }
  printf 'anon 50000000\ninactive_file 250000000\n' > "$cg/memory.stat"
  out=$(in_cgroup 2>&1); rc=$?
  check "a cgroup limit with room for the plan (its inactive cache free) lets the run through" \
    '[ $rc -eq 0 ] && grep -q "options valid" <<<"$out"'
  printf 'anon 300000000\ninactive_file 0\n' > "$cg/memory.stat"
  out=$(in_cgroup 2>&1); rc=$?
  check "the same limit with the 300 MB in active use refuses it, naming the cgroup headroom" \
    '[ $rc -eq 1 ] && grep -q "GB is available" <<<"$out" && [ ! -e "$work/w" ]'
else
  echo "note: no private mount namespace here (not root?); the cgroup limit is not checked"
fi

out=$("$SPECTRA" train "${common[@]}" --optim adamw --rank-ratio 0.5 --out "$work/w" --check 2>&1); rc=$?
check "a Spectra-only flag with --optim adamw is accepted and said to have no effect" \
  '[ $rc -eq 0 ] && grep -q -- "--rank-ratio has no effect with --optim adamw" <<<"$out"'

# the manifest's shard list is the data: a stale shard beside it is not read, a listed one
# that is missing is an error, a manifest without vocab_size is an error (it used to crash)
cp -r "$work/data" "$work/data2"
head -c 5000 /dev/urandom > "$work/data2/default_train_000009.bin"
out=$("$SPECTRA" train "${common[@]}" --data "$work/data2" --steps 2 --out "$work/d2run" --sample-tokens 0 2>&1); rc=$?
check "a shard not in the manifest is ignored" '[ $rc -eq 0 ]'
rm "$work/data2/$(sed -n "s/.*\"train\".*\"shards\": \[\"\([^\"]*\)\".*/\1/p" "$work/data2/manifest.json")"
out=$("$SPECTRA" train "${common[@]}" --data "$work/data2" --steps 2 --out "$work/d2run2" --check 2>&1); rc=$?
check "a listed shard that is missing is named" '[ $rc -eq 1 ] && grep -q "which is missing" <<<"$out"'
printf '{"vocab_size"}' > "$work/data2/manifest.json"
out=$("$SPECTRA" train --data "$work/data2" --check 2>&1); rc=$?
check "a manifest without a vocab_size value is an error, not a crash" '[ $rc -eq 1 ] && grep -q "no vocab_size" <<<"$out"'

# sample from another directory than the run's, on a run given a relative --data
(cd "$work" && "$SPECTRA" train --data data --preset tiny --d-model 64 --d-ff 192 --batch 8 --seq 64 --steps 2 \
  --quiet --sample-tokens 0 --out rel > /dev/null 2>&1)
out=$(cd / && "$SPECTRA" sample --checkpoint "$work/rel/checkpoint.bin" --prompt "The" --tokens 3 2>&1); rc=$?
check "sample finds the run's tokenizer from another directory" '[ $rc -eq 0 ] && grep -q "^The" <<<"$out"'
out=$("$SPECTRA" sample --checkpoint "$work/rel" 2>&1); rc=$?
check "a directory given as the checkpoint is named as such" '[ $rc -eq 1 ] && grep -q "is a directory" <<<"$out"'
out=$("$SPECTRA" analyze spectrum --data "$work/data" --checkpoint "$work/none.bin" --out "$work/an" 2>&1); rc=$?
check "analyze with a missing checkpoint creates no --out" '[ $rc -eq 1 ] && [ ! -e "$work/an" ]'

# Ctrl-C: checkpoint written, exit 130, and it resumes
"$SPECTRA" train "${common[@]}" --steps 100000 --ckpt-every 100000 --val-every 100000 --out "$work/c" --sample-tokens 0 > "$work/c.out" 2> "$work/c.err" &
pid=$!
for _ in $(seq 1 100); do [ -s "$work/c/log.jsonl" ] && break; sleep 0.1; done
sleep 1
kill -INT $pid
wait $pid; rc=$?
check "SIGINT exits 130 with a message" '[ $rc -eq 130 ] && grep -q "interrupted at step" "$work/c.err"'
done_steps=$(grep -c "^{\"step\"" "$work/c/log.jsonl")
check "SIGINT leaves a checkpoint that resumes" '"$SPECTRA" train --resume "$work/c/checkpoint.bin" --stop-at $((done_steps + 2)) --out "$work/c" --data "$work/data" --sample-tokens 0 --quiet > "$work/c2.out" 2>&1 && grep -q "stopped at step $((done_steps + 2))" "$work/c2.out"'

finish test_train_cli
