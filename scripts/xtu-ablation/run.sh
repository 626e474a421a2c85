#!/usr/bin/env bash
# Where the time of Z = MᵀU goes: the kept kernel against itself with parts switched off
# (docs/BENCHMARKS.md, "seventh session"). xtu-ablation.patch adds three switches to a temporary
# copy of src/linalg/panel.c: XT_NOCOPY (the 64 x 96 block is copied once, then reused stale),
# XT_NOPF (no software prefetch of the next strip), XT_FIRST (the staged Z rows are never
# reloaded: every block starts from zero). With any of them Z is wrong; only the time counts.
#
#   scripts/xtu-ablation/run.sh "FLAGS" [m n k reps]   e.g. scripts/xtu-ablation/run.sh -DXT_NOCOPY 4096 14336 61 11
#   T=1 scripts/xtu-ablation/run.sh -DXT_NOCOPY 960 512 61 41    (one thread, M in L2)
#
# pipelined-copy.patch, the attempt to hide the copy that this measurement prompted (two copy
# buffers, the next block copied a few rows after each tile; Z bitwise the kept kernel's), is run
# directly: PATCH=$PWD/scripts/xtu-ablation/pipelined-copy.patch ONLY=t scripts/panel-ab/run.sh "" "" 4096 14336 61 15
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
flags=${1:-}
shift || true
PATCH=$here/xtu-ablation.patch ONLY=t "$root/scripts/panel-ab/run.sh" "" "$flags" "$@"
