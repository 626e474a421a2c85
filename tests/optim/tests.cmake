spectra_add_c_test(test_spectra_exact ${CMAKE_CURRENT_LIST_DIR}/test_spectra_exact.c)
spectra_add_c_test(test_spectra_step ${CMAKE_CURRENT_LIST_DIR}/test_spectra_step.c)
spectra_add_c_test(test_spectra_warm ${CMAKE_CURRENT_LIST_DIR}/test_spectra_warm.c)
spectra_add_c_test(test_optim_api ${CMAKE_CURRENT_LIST_DIR}/test_optim_api.c)
add_executable(optim_driver ${CMAKE_CURRENT_LIST_DIR}/optim_driver.c)
target_compile_options(optim_driver PRIVATE ${SPECTRA_WARNINGS})
target_link_libraries(optim_driver PRIVATE spectra)
foreach(oracle adamw_vs_torch muon_dion_vs_numpy)
  add_test(NAME ${oracle} COMMAND ${SPECTRA_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/${oracle}.py $<TARGET_FILE:optim_driver>)
  set_tests_properties(${oracle} PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT "OMP_NUM_THREADS=2;PYTHONDONTWRITEBYTECODE=1")
endforeach()

# libFuzzer target for optimizer state images (tests/CMakeLists.txt).
spectra_add_fuzzer(fuzz_state ${CMAKE_CURRENT_LIST_DIR}/fuzz_state.c)
