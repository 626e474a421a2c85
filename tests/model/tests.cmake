spectra_add_c_test(test_model_layers ${CMAKE_CURRENT_LIST_DIR}/test_layers.c)
spectra_add_c_test(test_model ${CMAKE_CURRENT_LIST_DIR}/test_model.c)
