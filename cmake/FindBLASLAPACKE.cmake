# Locates OpenBLAS (CBLAS, preferring Debian's OpenMP build so OpenBLAS and our OpenMP
# loops share one thread pool instead of oversubscribing the cores), LAPACKE, and PCRE2.
# Sets SPECTRA_BLAS_INCLUDE_DIRS, SPECTRA_BLAS_LIBRARIES, SPECTRA_PCRE2_*.
set(_spectra_blas_arch_dirs
  /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
  /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread
  /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})
set(_spectra_blas_inc_dirs
  /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
  /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread
  /usr/include/openblas /usr/include)

find_path(SPECTRA_CBLAS_INCLUDE_DIR cblas.h HINTS ${_spectra_blas_inc_dirs} NO_DEFAULT_PATH)
find_path(SPECTRA_CBLAS_INCLUDE_DIR cblas.h)
find_library(SPECTRA_OPENBLAS_LIBRARY NAMES openblas HINTS ${_spectra_blas_arch_dirs} NO_DEFAULT_PATH)
find_library(SPECTRA_OPENBLAS_LIBRARY NAMES openblas)
find_path(SPECTRA_LAPACKE_INCLUDE_DIR lapacke.h)
find_library(SPECTRA_LAPACKE_LIBRARY NAMES lapacke)

if(NOT SPECTRA_CBLAS_INCLUDE_DIR OR NOT SPECTRA_OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS not found. On Debian/Ubuntu: apt-get install libopenblas-openmp-dev")
endif()
if(NOT SPECTRA_LAPACKE_INCLUDE_DIR OR NOT SPECTRA_LAPACKE_LIBRARY)
  message(FATAL_ERROR "LAPACKE not found. On Debian/Ubuntu: apt-get install liblapacke-dev")
endif()
set(SPECTRA_BLAS_INCLUDE_DIRS ${SPECTRA_CBLAS_INCLUDE_DIR} ${SPECTRA_LAPACKE_INCLUDE_DIR})
set(SPECTRA_BLAS_LIBRARIES ${SPECTRA_LAPACKE_LIBRARY} ${SPECTRA_OPENBLAS_LIBRARY})
message(STATUS "spectra: OpenBLAS ${SPECTRA_OPENBLAS_LIBRARY}, cblas.h in ${SPECTRA_CBLAS_INCLUDE_DIR}")
message(STATUS "spectra: LAPACKE ${SPECTRA_LAPACKE_LIBRARY}")

pkg_check_modules(SPECTRA_PCRE2 QUIET libpcre2-8)
if(SPECTRA_PCRE2_FOUND)
  message(STATUS "spectra: PCRE2 ${SPECTRA_PCRE2_VERSION}")
endif()
set(SPECTRA_PC_LIBS_PRIVATE "-llapacke -lopenblas -lm -fopenmp")
