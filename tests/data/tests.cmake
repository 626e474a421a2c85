# Data pipeline tests. test_tokenizer_ref needs node and the packages fetched by
# scripts/fetch_data.sh; without them it SKIPs (exit 77) unless SPECTRA_REQUIRE_NET_TESTS=1.
spectra_add_c_test(test_tokenizer_ref ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_ref.c)
spectra_add_c_test(test_shard_loader ${CMAKE_CURRENT_LIST_DIR}/test_shard_loader.c)
spectra_add_c_test(test_bpe_train ${CMAKE_CURRENT_LIST_DIR}/test_bpe_train.c)
spectra_add_c_test(test_pretok ${CMAKE_CURRENT_LIST_DIR}/test_pretok.c)
spectra_add_c_test(test_data_badinput ${CMAKE_CURRENT_LIST_DIR}/test_data_badinput.c)
spectra_add_c_test(test_corpus ${CMAKE_CURRENT_LIST_DIR}/test_corpus.c)

# libFuzzer targets (tests/CMakeLists.txt): shard images, encoding, tokenizer files.
spectra_add_fuzzer(fuzz_shard ${CMAKE_CURRENT_LIST_DIR}/fuzz_shard.c)
spectra_add_fuzzer(fuzz_encode ${CMAKE_CURRENT_LIST_DIR}/fuzz_encode.c)
spectra_add_fuzzer(fuzz_tokfiles ${CMAKE_CURRENT_LIST_DIR}/fuzz_tokfiles.c)

if(SPECTRA_BUILD_TOOLS AND SPECTRA_SYSTEM_PYTHON)
  add_test(NAME test_prepare_cli
           COMMAND ${SPECTRA_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_prepare_cli.py
                   $<TARGET_FILE:spectra_cli> ${CMAKE_CURRENT_BINARY_DIR}/prepare_cli_work)
  set_tests_properties(test_prepare_cli PROPERTIES SKIP_RETURN_CODE 77)
endif()
