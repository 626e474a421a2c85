# Data pipeline tests. test_tokenizer_ref needs node and the packages fetched by
# scripts/fetch_data.sh; without them it SKIPs (exit 77) unless SPECTRA_REQUIRE_NET_TESTS=1.
spectra_add_c_test(test_tokenizer_ref ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_ref.c)
spectra_add_c_test(test_shard_loader ${CMAKE_CURRENT_LIST_DIR}/test_shard_loader.c)
spectra_add_c_test(test_bpe_train ${CMAKE_CURRENT_LIST_DIR}/test_bpe_train.c)
