spectra_add_c_test(test_trainer ${CMAKE_CURRENT_LIST_DIR}/test_trainer.c)
# libFuzzer target for trainer checkpoints (tests/CMakeLists.txt).
spectra_add_fuzzer(fuzz_checkpoint ${CMAKE_CURRENT_LIST_DIR}/fuzz_checkpoint.c)
if(SPECTRA_BUILD_TOOLS) # these run the spectra command
  add_test(NAME test_train_cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_train_cli.sh $<TARGET_FILE:spectra_cli>)
  set_tests_properties(test_train_cli PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT "OMP_NUM_THREADS=2")
  add_test(NAME test_experiment COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_experiment.sh $<TARGET_FILE:spectra_cli>)
  set_tests_properties(test_experiment PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2")
endif()
