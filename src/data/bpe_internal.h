/* Shared internals of the tokenizer and the BPE trainer: GPT-2's byte <-> unicode map,
 * UTF-8 repair, the pre-tokenizer and two small hash maps. */
#ifndef SPECTRA_DATA_BPE_INTERNAL_H
#define SPECTRA_DATA_BPE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "spectra/status.h"

/* GPT-2's bytes_to_unicode(): byte b is shown as code point byte_cp[b]. byte_order lists
 * the bytes in the order GPT-2 gives them ids 0..255 (printable ones first). */
typedef struct spectra_bytemap {
    uint32_t byte_cp[256];
    uint8_t byte_order[256];
    int16_t cp_byte[324]; /* inverse for code points < 324, -1 where unused */
} spectra_bytemap;
void spectra_bytemap_init(spectra_bytemap *m);
/* Writes the UTF-8 form of the mapped string of `bytes` into out (capacity >= 2*n:
 * every mapped code point is below U+0800). Returns the number of bytes written. */
size_t spectra_bytemap_encode(const spectra_bytemap *m, const unsigned char *bytes, size_t n, char *out);
/* Inverse: parses a mapped UTF-8 string back to bytes; returns -1 if a code point is not
 * one of the 256 mapped ones or the UTF-8 is malformed. out capacity >= n. */
long spectra_bytemap_decode(const spectra_bytemap *m, const char *s, size_t n, unsigned char *out);

/* Replaces ill-formed UTF-8 by U+FFFD per maximal subpart (WHATWG decoder). Returns 1
 * and sets out and out_len to a new malloc'd buffer if anything was replaced, 0 if the
 * input was already valid (no allocation), -1 on allocation failure. */
int spectra_utf8_repair(const unsigned char *in, size_t n, unsigned char **out, size_t *out_len);
/* Encodes one code point as UTF-8 into out (4 bytes max); returns the length. */
size_t spectra_utf8_put(uint32_t cp, char *out);

/* GPT-2 pre-tokenizer (PCRE2 JIT). One per thread: it owns the match data. */
typedef struct spectra_pretok spectra_pretok;
spectra_status spectra_pretok_create(spectra_pretok **out);
void spectra_pretok_free(spectra_pretok *p);
/* Finds the next piece at or after *pos in valid UTF-8 text; returns 1 with [start,end)
 * and moves *pos to end, 0 at the end of the text, -2 when the matcher ran out of memory, -1
 * on another matcher error. */
int spectra_pretok_next(spectra_pretok *p, const unsigned char *text, size_t len, size_t *pos,
                        size_t *start, size_t *end);

/* The ASCII fast path is on by default; tests turn it off to compare with PCRE2 alone. */
void spectra_pretok_set_fast_path(spectra_pretok *p, int on);

uint64_t spectra_hash_bytes(const void *p, size_t n);
static inline uint64_t spectra_hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Byte-string keyed map to uint64 values; keys are copied into an arena. */
typedef struct spectra_strmap {
    uint64_t *hashes;   /* 0 = empty slot */
    uint64_t *koff;     /* key offset in arena */
    uint32_t *klen;     /* key length */
    uint64_t *vals;
    size_t cap, count;
    unsigned char *arena;
    size_t arena_len, arena_cap;
} spectra_strmap;
int spectra_strmap_init(spectra_strmap *m, size_t cap_hint);
void spectra_strmap_free(spectra_strmap *m);
void spectra_strmap_clear(spectra_strmap *m);
/* Returns a pointer to the value slot or NULL if absent. */
uint64_t *spectra_strmap_get(const spectra_strmap *m, const void *key, size_t n);
/* Inserts (value 0 when new) and returns the slot, or NULL on allocation failure.
 * *is_new tells whether it was inserted. */
uint64_t *spectra_strmap_put(spectra_strmap *m, const void *key, size_t n, int *is_new);
/* Room for `keys` more keys of `key_bytes` bytes in all: the next puts of at most that many
 * new keys cannot fail. -1 (m unchanged) on allocation failure. */
int spectra_strmap_reserve(spectra_strmap *m, size_t keys, size_t key_bytes);
/* Iteration: slot i in [0, cap) is used iff hashes[i] != 0. */
static inline const unsigned char *spectra_strmap_key(const spectra_strmap *m, size_t i, size_t *n) {
    *n = m->klen[i];
    return m->arena + m->koff[i];
}

/* uint64 keyed map (key must not be UINT64_MAX) to uint64 values. */
typedef struct spectra_u64map {
    uint64_t *keys; /* UINT64_MAX = empty */
    uint64_t *vals;
    size_t cap, count;
} spectra_u64map;
int spectra_u64map_init(spectra_u64map *m, size_t cap_hint);
void spectra_u64map_free(spectra_u64map *m);
uint64_t *spectra_u64map_get(const spectra_u64map *m, uint64_t key);
uint64_t *spectra_u64map_put(spectra_u64map *m, uint64_t key, int *is_new);

/* Minimal reader of encoder.json: a flat object of string -> integer. Calls fn for each
 * member with the key (UTF-8, unescaped) and value; returns nonzero from fn to stop. */
spectra_status spectra_json_parse_str_int(const char *json, size_t n, const char *name,
                                          int (*fn)(void *ctx, const char *key, size_t klen, long long v),
                                          void *ctx);
/* Parses a JSON array of strings (nlp-corpus); fn gets each unescaped string. */
spectra_status spectra_json_parse_str_array(const char *json, size_t n, const char *name,
                                            int (*fn)(void *ctx, const char *s, size_t len), void *ctx);
/* Appends s as a JSON string literal (with quotes) to buf. */
struct spectra_buf;
void spectra_json_put_string(struct spectra_buf *b, const char *s, size_t n);

#endif
