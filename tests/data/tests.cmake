# Data pipeline tests. test_tokenizer_ref needs node and the packages fetched by
# scripts/fetch_data.sh; without them it SKIPs (exit 77) unless SPECTRA_REQUIRE_NET_TESTS=1.
spectra_add_c_test(test_tokenizer_ref ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_ref.c)
spectra_add_c_test(test_shard_loader ${CMAKE_CURRENT_LIST_DIR}/test_shard_loader.c)
spectra_add_c_test(test_bpe_train ${CMAKE_CURRENT_LIST_DIR}/test_bpe_train.c)
spectra_add_c_test(test_pretok ${CMAKE_CURRENT_LIST_DIR}/test_pretok.c)
spectra_add_c_test(test_data_badinput ${CMAKE_CURRENT_LIST_DIR}/test_data_badinput.c)

# libFuzzer targets (clang only): -DSPECTRA_FUZZ=ON -DCMAKE_C_COMPILER=clang, then
# tests/data/run_fuzz.sh BUILD_DIR SECONDS.
if(SPECTRA_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SPECTRA_FUZZ needs clang (-DCMAKE_C_COMPILER=clang)")
  endif()
  # Coverage feedback from the library code under test, not only from the harness.
  # Everything that links libspectra then needs the sanitizer runtimes too.
  target_compile_options(spectra PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  target_link_options(spectra INTERFACE -fsanitize=address,undefined)
  foreach(fz fuzz_shard fuzz_encode)
    add_executable(${fz} ${CMAKE_CURRENT_LIST_DIR}/${fz}.c)
    target_include_directories(${fz} PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_compile_options(${fz} PRIVATE ${SPECTRA_WARNINGS} -fsanitize=fuzzer,address,undefined -g)
    target_compile_definitions(${fz} PRIVATE _GNU_SOURCE)
    target_link_options(${fz} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${fz} PRIVATE spectra)
  endforeach()
endif()

if(SPECTRA_BUILD_TOOLS AND SPECTRA_SYSTEM_PYTHON)
  add_test(NAME test_prepare_cli
           COMMAND ${SPECTRA_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_prepare_cli.py
                   $<TARGET_FILE:spectra_cli> ${CMAKE_CURRENT_BINARY_DIR}/prepare_cli_work)
  set_tests_properties(test_prepare_cli PROPERTIES SKIP_RETURN_CODE 77)
endif()
