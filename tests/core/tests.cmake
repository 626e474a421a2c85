spectra_add_c_test(test_core ${CMAKE_CURRENT_LIST_DIR}/test_core.c)
spectra_add_c_test(test_faults ${CMAKE_CURRENT_LIST_DIR}/test_faults.c)
