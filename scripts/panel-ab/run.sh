#!/usr/bin/env bash
# Interleaved A/B of two compile-time variants of the panel kernels (src/linalg/panel.c), in one
# process: each repetition times variant A and variant B back to back (alternating which goes
# first), so both see the same minute of a noisy shared host; the verdict is the median of the
# per-repetition ratios B/A, with its range. Build flags are the project's (-O3 -march=native).
#
#   scripts/panel-ab/run.sh "FLAGS_A" "FLAGS_B" [m n k reps]
#   e.g. ONLY=t scripts/panel-ab/run.sh "" "-DXT_IB=64" 4096 14336 61 21
#
# FLAGS override panel.c's tuning macros (XV_KC, XV_RB, XT_IB, XT_JW, XT_SJ, XT_AHEAD, UP_RB,
# UP_JC). SRC_A / SRC_B select other source files (a modified copy of panel.c), ONLY a subset of
# the kernels (m = momentum + P = MV, x = P = MV, t = Z = MᵀU, u = update), T the threads
# (default 2). HUGE=1 backs the matrices with transparent huge pages. CHECK=file.c links a
# program against both variants (symbols A_panel_*, B_panel_*) and runs it first; a failure
# stops the run. PATCH=file.patch (paths a/src/linalg/panel.c, -p1) makes variant B a temporary
# copy of panel.c with that patch applied. The timing's first output line checks that both
# variants compute the same P = MV and Z = MᵀU (max abs difference).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src_a=${SRC_A:-$root/src/linalg/panel.c}
src_b=${SRC_B:-$root/src/linalg/panel.c}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ -n "${PATCH:-}" ]; then
  mkdir -p "$out/src/linalg"
  cp "$root/src/linalg/panel.c" "$out/src/linalg/"
  patch -s -d "$out" -p1 < "$PATCH"
  src_b=$out/src/linalg/panel.c
fi
syms="spectra_panel_available spectra_panel_work spectra_panel_xv spectra_panel_momentum_xv spectra_panel_xtu spectra_panel_update_work spectra_panel_update"
for v in A B; do
  if [ $v = A ]; then flags=$1 src=$src_a; else flags=$2 src=$src_b; fi
  # shellcheck disable=SC2086
  gcc -O3 -march=native -fopenmp -fno-math-errno -I"$root/src" -I"$root/include" $flags -c "$src" -o "$out/$v.o"
  args=()
  for s in $syms; do args+=(--redefine-sym "$s=${v}_${s#spectra_}"); done
  objcopy "${args[@]}" "$out/$v.o"
done
gcc -O2 -march=native -fopenmp "$here/driver.c" "$out/A.o" "$out/B.o" -o "$out/ab" -lm
if [ -n "${CHECK:-}" ]; then # a correctness check of the two variants, linked against the same objects
  gcc -O2 -fopenmp "$CHECK" "$out/A.o" "$out/B.o" -o "$out/check" -lm
  OMP_NUM_THREADS="${T:-2}" "$out/check"
fi
shift 2
env -u OPENBLAS_CORETYPE OMP_NUM_THREADS="${T:-2}" "$out/ab" "$@"
