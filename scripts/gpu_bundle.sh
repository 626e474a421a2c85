#!/bin/sh
# Builds the CUDA backend on this (GPU-less) machine and bundles what the device machine needs
# into .gpu/ (ignored by git; name it in the device tool's `carry`). See docs/GPU.md.
#   scripts/gpu_bundle.sh [build-dir]        (default build-gpu)
# .gpu/bin: test_cuda_optim, spectra, and the CPU test programs; .gpu/lib: libspectra and the
# non-CUDA shared libraries (OpenBLAS, LAPACKE, PCRE2, libgomp, gfortran) the device image lacks.
# The CUDA libraries (cudart, cuBLAS, cuSOLVER 13) come from the device's own CUDA 13 toolkit.
# Built without -march=native: the device machine's CPU is not this one.
set -eu
B=${1:-build-gpu}
cmake -S . -B "$B" -DSPECTRA_WERROR=ON -DSPECTRA_NATIVE=OFF -DSPECTRA_CUDA=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$B" -j"${JOBS:-2}"
rm -rf .gpu
mkdir -p .gpu/bin .gpu/lib
cp "$B"/tests/test_cuda_optim "$B"/tools/spectra .gpu/bin/
for t in test_spectra_exact test_spectra_step test_spectra_warm test_optim_api; do
  [ -f "$B/tests/$t" ] && cp "$B/tests/$t" .gpu/bin/
done
cp -L "$B"/src/libspectra.so.0 .gpu/lib/
# Shared libraries outside the CUDA toolkit and outside glibc.
ldd .gpu/bin/test_cuda_optim "$B"/src/libspectra.so.0 | awk '/=>/ {print $3}' | sort -u | while read -r lib; do
  case "$lib" in
    */cuda*|*libcudart*|*libcublas*|*libcusolver*|*libcusparse*|*libnvJitLink*) ;;
    */libc.so*|*/libm.so*|*/libdl.so*|*/libpthread.so*|*/librt.so*|*/libstdc++*|*/libgcc_s*|*libspectra*) ;;
    *) cp -L "$lib" .gpu/lib/ ;;
  esac
done
strip --strip-unneeded .gpu/lib/*.so* .gpu/bin/* 2>/dev/null || true
cp scripts/bench_torch_gpu.py .gpu/
du -sh .gpu
echo "bundle ready: carry [\".gpu\"]; run with LD_LIBRARY_PATH=\$PWD/.gpu/lib:/usr/local/cuda/lib64"
