#!/usr/bin/env bash
# Builds and runs scripts/overlap/overlap.c (see its header): how much of a momentum stream
# hides under L1-resident FMA tiles, with the stream as bursts between tiles or interleaved.
#   scripts/overlap/run.sh [piece [pfd [reps]]]      (OMP_NUM_THREADS=2 by default)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O3 -march=native -fopenmp -Wall -Wextra "$here/overlap.c" -o "$out/overlap"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$out/overlap" "$@"
