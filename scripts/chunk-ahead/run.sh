#!/usr/bin/env bash
# The momentum one reduction chunk ahead of the P = MV tiles, measured and not adopted
# (docs/BENCHMARKS.md, "fifth session"): each tile updates its own six rows' next 512-column
# chunk, so the tiles read M back from L2 instead of L3. chunk-ahead.patch applies it to a
# temporary copy of src/linalg/panel.c; the library itself is not changed. First checks the
# variant against the kept kernel (bitwise M and P), then times both with scripts/panel-ab.
#
#   [FLAGS_A=...] scripts/chunk-ahead/run.sh ["FLAGS_B"] [m n k reps]   e.g. scripts/chunk-ahead/run.sh "-DXV_RB=96"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/src/linalg"
cp "$root/src/linalg/panel.c" "$out/src/linalg/"
patch -s -d "$out" -p1 < "$here/chunk-ahead.patch"
syms="spectra_panel_available spectra_panel_work spectra_panel_xv spectra_panel_momentum_xv spectra_panel_xtu spectra_panel_update_work spectra_panel_update"
for v in A B; do
  src=$root/src/linalg/panel.c
  if [ $v = B ]; then src=$out/src/linalg/panel.c; fi
  gcc -O3 -march=native -fopenmp -fno-math-errno -I"$root/src" -I"$root/include" -c "$src" -o "$out/$v.o"
  args=()
  for s in $syms; do args+=(--redefine-sym "$s=${v}_${s#spectra_}"); done
  objcopy "${args[@]}" "$out/$v.o"
done
gcc -O2 -fopenmp "$here/check.c" "$out/A.o" "$out/B.o" -o "$out/check" -lm
OMP_NUM_THREADS=2 "$out/check"
flags=${1:-}
shift || true
SRC_B=$out/src/linalg/panel.c ONLY=${ONLY:-mx} "$root/scripts/panel-ab/run.sh" "${FLAGS_A:-}" "$flags" "$@"
