spectra_add_c_test(test_qr ${CMAKE_CURRENT_LIST_DIR}/test_qr.c)
spectra_add_c_test(test_skinny ${CMAKE_CURRENT_LIST_DIR}/test_skinny.c)
spectra_add_c_test(test_panel ${CMAKE_CURRENT_LIST_DIR}/test_panel.c)
