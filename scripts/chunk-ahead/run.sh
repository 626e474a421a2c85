#!/usr/bin/env bash
# The momentum one reduction chunk ahead of the P = MV tiles, measured and not adopted
# (docs/BENCHMARKS.md, "fifth session"): each tile updates its own six rows' next 512-column
# chunk, so the tiles read M back from L2 instead of L3. chunk-ahead.patch applies it to a
# temporary copy of src/linalg/panel.c; the library itself is not changed. First checks the
# variant against the kept kernel (bitwise M and P; check.c), then times both, all through
# scripts/panel-ab (CHECK).
#
#   [FLAGS_A=...] scripts/chunk-ahead/run.sh ["FLAGS_B"] [m n k reps]   e.g. scripts/chunk-ahead/run.sh "-DXV_RB=96"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
flags=${1:-}
shift || true
CHECK=$here/check.c PATCH=$here/chunk-ahead.patch ONLY=${ONLY:-mx} "$root/scripts/panel-ab/run.sh" "${FLAGS_A:-}" "$flags" "$@"
