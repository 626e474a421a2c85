if(SPECTRA_BUILD_TOOLS) # these run the spectra command
  add_test(NAME test_blas_core COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_blas_core.sh $<TARGET_FILE:spectra_cli>)
  set_tests_properties(test_blas_core PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2")
  add_test(NAME test_bench_cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_bench_cli.sh $<TARGET_FILE:spectra_cli>)
  set_tests_properties(test_bench_cli PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2")
  add_test(NAME test_cli_flags COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_cli_flags.sh $<TARGET_FILE:spectra_cli>)
  set_tests_properties(test_cli_flags PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2")
endif()
