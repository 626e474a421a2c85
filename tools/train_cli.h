/* Shared pieces of the training commands (train, sample, bench train): flag parsing,
 * finding prepared shards, the training loop with its progress display, and sampling. */
#ifndef SPECTRA_TOOLS_TRAIN_CLI_H
#define SPECTRA_TOOLS_TRAIN_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spectra/spectra.h"

/* Each returns 1 on success, or prints "spectra[ CMD]: FLAG expects ..." and returns 0. */
int cli_parse_int(const char *flag, const char *v, int lo, int hi, int *out);
int cli_parse_u64(const char *flag, const char *v, uint64_t lo, uint64_t *out);
int cli_parse_double(const char *flag, const char *v, double lo, double hi, double *out);
/* The CMD of those messages (NULL: none); cli_parse_flags sets it while it parses. */
void cli_set_parse_command(const char *cmd);

/* Flags of the matrix optimizer's hyperparameters (--lr, --momentum, --rank-ratio, ...). */
int cli_is_matrix_flag(const char *flag);
/* Their names, NULL-terminated. */
const char *const *cli_matrix_flag_names(void);
int cli_apply_matrix_flag(spectra_hparams *hp, const char *flag, const char *value);

typedef struct data_shards {
    char **train, **val;
    size_t n_train, n_val;
    uint32_t vocab_size;
    char tokenizer_dir[1024]; /* "gpt2" or a directory with encoder.json + vocab.bpe */
} data_shards;
/* The shards DIR/manifest.json lists under splits.train/val.shards (a manifest without such
 * lists: DIR/<x>_train_<n>.bin and DIR/<x>_val_<n>.bin), the vocabulary from its vocab_size,
 * and the tokenizer (DIR/tokenizer/ if present, else GPT-2). Prints what is wrong on failure. */
int cli_find_shards(const char *dir, data_shards *out);
void cli_free_shards(data_shards *d);

/* The loop: steps until max_steps, validation every val_every, checkpoints every ckpt_every
 * and at the end, progress on stderr, JSONL to log_path. Returns the exit code. */
int cli_run_training(spectra_trainer *tr, const spectra_train_config *cfg, const char *out_dir, const char *log_path,
                     const char *ckpt_path, uint64_t val_every, uint64_t ckpt_every, uint64_t print_every, uint64_t stop_at, int quiet,
                     int sample_tokens, const char *tokenizer, int resumed, volatile sig_atomic_t *interrupted,
                     void (*handler)(int));

/* Generates n tokens after the prompt ids with temperature and top-k (0 = all), printing the
 * decoded text as it goes. Returns 0 on success. */
int cli_generate(spectra_model *model, spectra_tokenizer *tok, const int32_t *prompt, size_t n_prompt, int n, double temperature,
                 int top_k, uint64_t seed, FILE *out);

#endif
