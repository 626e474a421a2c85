#!/usr/bin/env bash
# Z = MᵀU reading M in place at a padded row stride n + XT_PAD (no block copy), on transparent
# huge pages, against the kept kernel (also on huge pages): measured and not adopted
# (docs/BENCHMARKS.md, "sixth session"). padded-xtu.patch applies it to a temporary copy of
# src/linalg/panel.c; the library is not changed. The variant reads other data than the kept
# kernel (the padded rows), so the driver's "max |A - B|" line for Z is not zero here.
#
#   scripts/padded-xtu/run.sh [PAD [m n k reps]]      e.g. scripts/padded-xtu/run.sh 16 4096 14336 61 11
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pad=${1:-16}
shift || true
if [ "$pad" -gt 64 ]; then echo "PAD must be <= 64 (the driver's slack per row)" >&2; exit 2; fi
HUGE=1 PATCH=$here/padded-xtu.patch ONLY=t "$root/scripts/panel-ab/run.sh" "" "-DXT_PAD=$pad" "$@"
