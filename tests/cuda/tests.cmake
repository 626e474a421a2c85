# CUDA backend tests: built only when the CUDA backend is (docs/GPU.md). Without a device
# they exit 77 (SKIP) unless SPECTRA_REQUIRE_GPU=1.
if(SPECTRA_HAVE_CUDA)
  spectra_add_c_test(test_cuda_optim ${CMAKE_CURRENT_LIST_DIR}/test_cuda_optim.c)
  if(SPECTRA_CUDA_MODULE)
    spectra_add_c_test(test_cuda_lazy ${CMAKE_CURRENT_LIST_DIR}/test_cuda_lazy.c)
  endif()
  # compute-sanitizer hook: cmake -DSPECTRA_CUDA_MEMCHECK=ON ..., then ctest -L memcheck.
  option(SPECTRA_CUDA_MEMCHECK "Add compute-sanitizer memcheck/racecheck runs of the CUDA tests" OFF)
  if(SPECTRA_CUDA_MEMCHECK)
    find_program(SPECTRA_COMPUTE_SANITIZER compute-sanitizer
                 HINTS ${CUDAToolkit_BIN_DIR} /usr/local/cuda/bin /usr/local/cuda/compute-sanitizer)
    if(NOT SPECTRA_COMPUTE_SANITIZER)
      message(FATAL_ERROR "SPECTRA_CUDA_MEMCHECK=ON but compute-sanitizer was not found")
    endif()
    foreach(tool memcheck racecheck initcheck)
      add_test(NAME test_cuda_optim_${tool}
               COMMAND ${SPECTRA_COMPUTE_SANITIZER} --tool ${tool} --error-exitcode 1 $<TARGET_FILE:test_cuda_optim>)
      set_tests_properties(test_cuda_optim_${tool} PROPERTIES LABELS memcheck SKIP_RETURN_CODE 77
                           ENVIRONMENT "OMP_NUM_THREADS=2" WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    endforeach()
  endif()
endif()
