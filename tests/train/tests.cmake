spectra_add_c_test(test_trainer ${CMAKE_CURRENT_LIST_DIR}/test_trainer.c)
