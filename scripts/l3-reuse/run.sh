#!/usr/bin/env bash
# L3 reuse between passes on this host (docs/BENCHMARKS.md, "fifth session").
#   scripts/l3-reuse/run.sh [MiB ...]      e.g. scripts/l3-reuse/run.sh 224 64
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O3 -march=native -fopenmp "$here/l3_reuse.c" -o "$out/l3_reuse"
if [ $# -eq 0 ]; then set -- 224 64; fi
for mb in "$@"; do "$out/l3_reuse" "$mb"; done
