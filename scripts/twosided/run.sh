#!/usr/bin/env bash
# The two-sided pass, measured and not adopted (docs/BENCHMARKS.md, "fourth session"): the
# momentum, P = MV and Z = MᵀP with one read of M from memory (the issue's suggestion), against
# the separate passes the step runs. twosided.patch adds spectra_panel_momentum_xv_xtp to a
# temporary copy of src/linalg/panel.{c,h} (the library itself is not changed).
#
#   scripts/twosided/run.sh [FLAGS] [m n k reps]
#   e.g. scripts/twosided/run.sh "-DXTP_RB=48" 4096 14336 61 21
#
# FLAGS: panel.c's tuning macros, plus XTP_RB (rows per block of the two-sided pass, default 192)
# and XTP_NOZ (skip the Z part: times the P part alone). T threads (default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/src/linalg"
cp "$root/src/linalg/panel.c" "$root/src/linalg/panel.h" "$out/src/linalg/"
patch -s -d "$out" -p1 < "$here/twosided.patch"
flags=${1:-}
shift || true
# shellcheck disable=SC2086
gcc -O3 -march=native -fopenmp -fno-math-errno -I"$out/src" -I"$root/src" -I"$root/include" $flags \
  "$here/driver.c" "$out/src/linalg/panel.c" -o "$out/twosided" -lm
env -u OPENBLAS_CORETYPE OMP_NUM_THREADS="${T:-2}" "$out/twosided" "$@"
