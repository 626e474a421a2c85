spectra_add_c_test(test_spectra_exact ${CMAKE_CURRENT_LIST_DIR}/test_spectra_exact.c)
spectra_add_c_test(test_spectra_step ${CMAKE_CURRENT_LIST_DIR}/test_spectra_step.c)
spectra_add_c_test(test_spectra_warm ${CMAKE_CURRENT_LIST_DIR}/test_spectra_warm.c)
spectra_add_c_test(test_optim_api ${CMAKE_CURRENT_LIST_DIR}/test_optim_api.c)
