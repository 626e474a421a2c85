# One OpenMP runtime per process, whatever the compiler.
#
# Debian's OpenBLAS (openblas-openmp) is built with gcc and needs GNU libgomp.so.1; clang
# compiles our `omp` loops for LLVM's libomp. Linked as they come, a clang build loads both:
# two thread pools, and, with OMP_PROC_BIND or OMP_PLACES set, libgomp pins the initial thread
# to one CPU as it loads, so that libomp then builds its places from that one CPU and every
# thread runs on it (triad 13.3 against 27.2 GB/s, sgemm 146 against 315 GFLOP/s on machine B;
# docs/TRAINING.md). LLVM's libomp implements libgomp's ABI under libgomp's symbol versions
# (LLVM ships libgomp.so -> libomp.so.5 for this), so such builds resolve OpenBLAS's
# libgomp.so.1 to libomp instead: a symlink libgomp.so.1 -> libomp.so.5 in a directory of our
# own, found through DT_RPATH. (DT_RUNPATH would not do: it applies only to the dependencies of
# the object that carries it, and libgomp.so.1 is OpenBLAS's dependency, not ours.) The loader
# sees that the link names the libomp file it has already mapped and maps nothing more.
#
# Sets SPECTRA_OMP_SHIM_DIR (empty when not needed) and, when needed, the rpaths.
set(SPECTRA_OMP_SHIM_DIR "")
option(SPECTRA_ONE_OPENMP_RUNTIME "Serve OpenBLAS's libgomp from the compiler's libomp (clang builds)" ON)
if(SPECTRA_ONE_OPENMP_RUNTIME AND OpenMP_omp_LIBRARY)
  get_filename_component(_spectra_libomp "${OpenMP_omp_LIBRARY}" REALPATH)
  get_filename_component(_spectra_openblas "${SPECTRA_OPENBLAS_LIBRARY}" REALPATH)
  set(_spectra_needs_gomp "")
  if(EXISTS "${_spectra_openblas}" AND NOT _spectra_openblas MATCHES "\\.a$")
    # The dynamic string table names the libraries it needs.
    file(STRINGS "${_spectra_openblas}" _spectra_needs_gomp LIMIT_COUNT 1 REGEX "^libgomp\\.so\\.1$")
  endif()
  if(_spectra_needs_gomp AND EXISTS "${_spectra_libomp}")
    set(SPECTRA_OMP_SHIM_DIR "${PROJECT_BINARY_DIR}/openmp-runtime")
    file(MAKE_DIRECTORY "${SPECTRA_OMP_SHIM_DIR}")
    file(CREATE_LINK "${_spectra_libomp}" "${SPECTRA_OMP_SHIM_DIR}/libgomp.so.1" SYMBOLIC)
    # DT_RPATH, which the loader also consults for the dependencies of our dependencies.
    add_link_options(-Wl,--disable-new-dtags)
    list(APPEND CMAKE_BUILD_RPATH "${SPECTRA_OMP_SHIM_DIR}")
    message(STATUS "spectra: OpenBLAS's libgomp.so.1 is served by ${_spectra_libomp} (one OpenMP runtime)")
  endif()
endif()
