#!/usr/bin/env bash
# Z = MᵀU with each 6-column tile's data packed into a contiguous sliver (GotoBLAS-style packing;
# rows XS_LD = 8 floats apart) and XS_IB-row reductions, against the kept kernel (a plain copy of
# 64 x 96 blocks, tiles broadcasting at the block's row stride): measured and not adopted
# (docs/BENCHMARKS.md, "seventh session"). sliver-xtu.patch applies it to a temporary copy of
# src/linalg/panel.c; the library is not changed. Only the blocking differs, so the driver's
# "max |A - B|" line must read 0 for Z.
#
#   scripts/sliver-xtu/run.sh [XS_IB [m n k reps]]    e.g. scripts/sliver-xtu/run.sh 64 4096 14336 61 11
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ib=${1:-128}
shift || true
PATCH=$here/sliver-xtu.patch ONLY=t "$root/scripts/panel-ab/run.sh" "" "-DXS_IB=$ib" "$@"
