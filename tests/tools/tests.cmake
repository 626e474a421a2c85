add_test(NAME test_blas_core COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_blas_core.sh $<TARGET_FILE:spectra_cli>)
set_tests_properties(test_blas_core PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2")
