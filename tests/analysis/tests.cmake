spectra_add_c_test(test_analysis_metrics ${CMAKE_CURRENT_LIST_DIR}/test_analysis_metrics.c)
if(SPECTRA_BUILD_TOOLS) # these run the spectra command
  add_executable(test_analyze_cli ${CMAKE_CURRENT_LIST_DIR}/test_analyze_cli.c)
  target_include_directories(test_analyze_cli PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_compile_options(test_analyze_cli PRIVATE ${SPECTRA_WARNINGS} ${SPECTRA_OPT_FLAGS})
  target_compile_definitions(test_analyze_cli PRIVATE _GNU_SOURCE SPECTRA_CLI_PATH="$<TARGET_FILE:spectra_cli>")
  add_dependencies(test_analyze_cli spectra_cli)
  target_link_libraries(test_analyze_cli PRIVATE spectra m)
  add_test(NAME test_analyze_cli COMMAND test_analyze_cli $<TARGET_FILE:spectra_cli> WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(test_analyze_cli PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT "OMP_NUM_THREADS=2")
endif()

spectra_add_c_test(test_analysis_badinput ${CMAKE_CURRENT_LIST_DIR}/test_analysis_badinput.c)
