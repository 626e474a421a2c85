/* GPT-2 byte-level BPE encoder/decoder.
 *
 * Tokens are handled as ids, never as strings: a merge (a, b) is a hash-map entry from
 * the id pair to (rank, id of a+b). Encoding a pre-tokenized word starts from its byte
 * ids and repeatedly merges every occurrence of the lowest-ranked pair, which is what
 * GPT-2's bpe() does. Encoded words are cached, so common words cost one lookup.
 *
 * Compatibility with the reference (npm gpt-3-encoder, Encoder.js): that code keys its
 * merge ranks by String([a, b]) = a + "," + b, so a pair (x, y) whose joined string
 * equals that of a real merge (a, b) also gets that merge's rank (11 such pairs in GPT-2,
 * e.g. ('",', '"') takes the rank of ('"', ',"')), and among equal ranks the rightmost
 * pair wins. js_compat (on by default) reproduces both so that ids match the reference;
 * with it off, only the real merges exist, as in OpenAI's encoder.py. */
#include "spectra/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/fileio.h"
#include "data/bpe_internal.h"

#define CACHE_MAX_WORDS (1u << 20)
#define CACHE_MAX_IDS (16u << 20)

struct spectra_tokenizer {
    spectra_bytemap bm;
    uint32_t vocab_size;
    int32_t eot;
    /* bytes of token id i: arena[off[i] .. off[i] + len[i]); len = UINT32_MAX if unused */
    uint64_t *off;
    uint32_t *len;
    unsigned char *arena;
    int32_t byte_id[256];
    spectra_u64map merges;     /* (a << 32 | b) -> rank << 32 | result id (js_compat set) */
    spectra_u64map merges_std; /* only the real merges */
    int js_compat;
    spectra_pretok *pretok;
    /* word cache: word bytes -> (offset << 16 | count) into cache_ids */
    spectra_strmap cache;
    int32_t *cache_ids;
    size_t cache_len, cache_cap;
    /* scratch for one word */
    int32_t *sym;
    size_t sym_cap;
};

void spectra_token_buf_free(spectra_token_buf *b) {
    free(b->ids);
    b->ids = NULL;
    b->len = b->cap = 0;
}

static int token_buf_reserve(spectra_token_buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t nc = b->cap ? b->cap * 2 : 1024;
    while (nc < b->len + extra) nc *= 2;
    int32_t *p = spectra_realloc(b->ids, nc * sizeof *p);
    if (!p) return -1;
    b->ids = p;
    b->cap = nc;
    return 0;
}

spectra_status spectra_token_buf_push(spectra_token_buf *b, int32_t id) {
    if (!b) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "token_buf_push: NULL buffer");
    if (token_buf_reserve(b, 1)) return spectra_set_error(SPECTRA_ERR_NOMEM, "token buffer: out of memory");
    b->ids[b->len++] = id;
    return SPECTRA_OK;
}

void spectra_byte_buf_free(spectra_byte_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Room for n more bytes; on failure (-1) *b is unchanged. */
static int byte_buf_reserve(spectra_byte_buf *b, size_t n) {
    if (n > SIZE_MAX - b->len) return -1;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        while (nc < b->len + n) nc = nc > SIZE_MAX / 2 ? b->len + n : nc * 2;
        unsigned char *q = spectra_realloc(b->data, nc);
        if (!q) return -1;
        b->data = q;
        b->cap = nc;
    }
    return 0;
}

void spectra_tokenizer_free(spectra_tokenizer *t) {
    if (!t) return;
    free(t->off);
    free(t->len);
    free(t->arena);
    spectra_u64map_free(&t->merges);
    spectra_u64map_free(&t->merges_std);
    spectra_pretok_free(t->pretok);
    spectra_strmap_free(&t->cache);
    free(t->cache_ids);
    free(t->sym);
    free(t);
}

uint32_t spectra_tokenizer_vocab_size(const spectra_tokenizer *t) { return t ? t->vocab_size : 0; }
int32_t spectra_tokenizer_eot(const spectra_tokenizer *t) { return t ? t->eot : -1; }

void spectra_tokenizer_clear_cache(spectra_tokenizer *t) {
    if (!t) return;
    spectra_strmap_clear(&t->cache);
    t->cache_len = 0;
}


void spectra_tokenizer_set_js_compat(spectra_tokenizer *t, int on) {
    if (!t) return;
    t->js_compat = on != 0;
    spectra_tokenizer_clear_cache(t);
}

/* ---- loading ---- */
typedef struct load_ctx {
    spectra_tokenizer *t;
    const char *path;
    spectra_strmap *by_bytes; /* token bytes -> id */
    spectra_buf arena;
    /* (id, offset, len) collected before vocab size is known */
    uint64_t *ent;
    size_t nent, cap;
    unsigned char *tmp;
    size_t tmp_cap;
    spectra_status err;
} load_ctx;

static int on_vocab_entry(void *vctx, const char *key, size_t klen, long long v) {
    load_ctx *c = vctx;
    if (v < 0 || v >= (1LL << 24)) { /* 16 M ids: far above any BPE vocabulary */
        c->err = spectra_set_error(SPECTRA_ERR_FORMAT, "%s: token id %lld out of range", c->path, v);
        return 1;
    }
    if (klen > c->tmp_cap) {
        unsigned char *p = spectra_realloc(c->tmp, klen);
        if (!p) goto nomem;
        c->tmp = p;
        c->tmp_cap = klen;
    }
    long nb;
    if (klen == 13 && !memcmp(key, "<|endoftext|>", 13)) {
        c->t->eot = (int32_t)v;
        memcpy(c->tmp, key, 13);
        nb = 13;
    } else {
        nb = spectra_bytemap_decode(&c->t->bm, key, klen, c->tmp);
        if (nb < 0) {
            c->err = spectra_set_error(SPECTRA_ERR_FORMAT, "%s: token %lld is not a byte-level BPE string", c->path, v);
            return 1;
        }
    }
    int is_new;
    uint64_t *slot = spectra_strmap_put(c->by_bytes, c->tmp, (size_t)nb, &is_new);
    if (!slot) goto nomem;
    if (!is_new) {
        c->err = spectra_set_error(SPECTRA_ERR_FORMAT, "%s: two tokens have the same bytes (id %lld)", c->path, v);
        return 1;
    }
    *slot = (uint64_t)v;
    if (c->nent + 3 > c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 3 * 65536;
        uint64_t *p = spectra_realloc(c->ent, nc * sizeof *p);
        if (!p) goto nomem;
        c->ent = p;
        c->cap = nc;
    }
    c->ent[c->nent++] = (uint64_t)v;
    c->ent[c->nent++] = c->arena.len;
    c->ent[c->nent++] = (uint64_t)nb;
    spectra_buf_append(&c->arena, c->tmp, (size_t)nb);
    if (c->arena.failed) goto nomem;
    return 0;
nomem:
    c->err = spectra_set_error(SPECTRA_ERR_NOMEM, "%s: out of memory", c->path);
    return 1;
}

static long id_of(const spectra_strmap *by_bytes, const unsigned char *b, size_t n) {
    uint64_t *v = spectra_strmap_get(by_bytes, b, n);
    return v ? (long)*v : -1;
}

/* A map's starting size for a file: `per_entry` bytes (one per entry, an upper bound on the
 * entries) counted in it, at most GPT-2's 65536. The maps grow as needed; sizing them to the
 * file keeps a small tokenizer from allocating and touching GPT-2-sized tables (each load
 * of an 8192-id vocabulary used to allocate ~15 MB of them and set 2 MB). */
static size_t map_hint(const void *text, size_t n, int per_entry) {
    size_t count = 1;
    for (const char *p = text, *end = p + n; count < 65536 && (p = memchr(p, per_entry, (size_t)(end - p))); p++)
        count++;
    return count;
}

static spectra_status load_merges(spectra_tokenizer *t, const spectra_strmap *by_bytes, const char *text,
                                  size_t n, const char *path) {
    /* First pass: the JS rank of each joined key "a,b" is the last merge with that key. */
    spectra_strmap keyrank;
    if (spectra_strmap_init(&keyrank, map_hint(text, n, '\n'))) return spectra_set_error(SPECTRA_ERR_NOMEM, "%s: out of memory", path);
    spectra_status st = SPECTRA_OK;
    unsigned char *ab = NULL;
    char *key = NULL;
    size_t cap = 0;
    for (int pass = 0; pass < 2 && !st; pass++) {
        size_t i = 0, line = 0;
        uint64_t rank = 0;
        while (i < n) {
            size_t e = i;
            while (e < n && text[e] != '\n') e++;
            size_t ls = i, le = e;
            i = e + 1;
            line++;
            /* As encoder.py's bpe_data.split("\n")[1:-1] (and Encoder.js): the first line
             * (#version) and a last line without a newline are not merges. */
            if (line == 1 || e == n) continue;
            if (le > ls && text[le - 1] == '\r') le--;
            if (le == ls) continue;
            /* "a b": split at the single space (mapped strings never contain U+0020) */
            const char *sp = memchr(text + ls, ' ', le - ls);
            if (!sp || sp == text + ls || sp + 1 == text + le || memchr(sp + 1, ' ', (size_t)(text + le - sp - 1))) {
                st = spectra_set_error(SPECTRA_ERR_FORMAT, "%s:%zu: expected two tokens separated by one space",
                                       path, line);
                break;
            }
            size_t la = (size_t)(sp - (text + ls)), lb = (size_t)(text + le - sp - 1);
            if (la + lb + 1 > cap) {
                cap = (la + lb + 1) * 2;
                free(ab);
                free(key);
                ab = spectra_malloc(cap);
                key = spectra_malloc(cap);
                if (!ab || !key) {
                    st = spectra_set_error(SPECTRA_ERR_NOMEM, "%s: out of memory", path);
                    break;
                }
            }
            memcpy(key, text + ls, la);
            key[la] = ',';
            memcpy(key + la + 1, sp + 1, lb);
            size_t klen = la + lb + 1;
            if (pass == 0) {
                uint64_t *r = spectra_strmap_put(&keyrank, key, klen, NULL);
                if (!r) {
                    st = spectra_set_error(SPECTRA_ERR_NOMEM, "%s: out of memory", path);
                    break;
                }
                *r = rank++;
                continue;
            }
            long na = spectra_bytemap_decode(&t->bm, text + ls, la, ab);
            long nb = na < 0 ? -1 : spectra_bytemap_decode(&t->bm, sp + 1, lb, ab + na);
            long ia = na < 0 ? -1 : id_of(by_bytes, ab, (size_t)na);
            long ib = nb < 0 ? -1 : id_of(by_bytes, ab + na, (size_t)nb);
            long ic = nb < 0 ? -1 : id_of(by_bytes, ab, (size_t)(na + nb));
            if (ia < 0 || ib < 0 || ic < 0) {
                st = spectra_set_error(SPECTRA_ERR_FORMAT,
                                       "%s:%zu: merge uses or produces a token missing from encoder.json", path, line);
                break;
            }
            uint64_t pair = (uint64_t)ia << 32 | (uint64_t)ib;
            uint64_t jsr = *spectra_strmap_get(&keyrank, key, klen);
            int is_new;
            uint64_t *s = spectra_u64map_put(&t->merges_std, pair, &is_new);
            uint64_t *j = s ? spectra_u64map_put(&t->merges, pair, NULL) : NULL;
            if (!j) {
                st = spectra_set_error(SPECTRA_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            if (is_new) *s = rank << 32 | (uint64_t)ic; /* encoder.py: first occurrence wins */
            *j = jsr << 32 | (uint64_t)ic;
            rank++;
        }
    }
    /* Pairs whose joined string collides with a merge key without being that merge. */
    for (size_t s = 0; !st && s < keyrank.cap; s++) {
        if (!keyrank.hashes[s]) continue;
        size_t klen;
        const unsigned char *k = spectra_strmap_key(&keyrank, s, &klen);
        for (size_t c = 1; c + 1 < klen; c++) {
            if (k[c] != ',') continue;
            if (klen > cap) break; /* cannot happen: cap covers the longest line */
            long na = spectra_bytemap_decode(&t->bm, (const char *)k, c, ab);
            long nb = na < 0 ? -1 : spectra_bytemap_decode(&t->bm, (const char *)k + c + 1, klen - c - 1, ab + na);
            long ia = na < 0 ? -1 : id_of(by_bytes, ab, (size_t)na);
            long ib = nb < 0 ? -1 : id_of(by_bytes, ab + na, (size_t)nb);
            long ic = nb < 0 ? -1 : id_of(by_bytes, ab, (size_t)(na + nb));
            if (ia < 0 || ib < 0 || ic < 0) continue; /* JS would emit undefined; not representable */
            uint64_t pair = (uint64_t)ia << 32 | (uint64_t)ib;
            if (spectra_u64map_get(&t->merges, pair)) continue;
            uint64_t *j = spectra_u64map_put(&t->merges, pair, NULL);
            if (!j) {
                st = spectra_set_error(SPECTRA_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            *j = keyrank.vals[s] << 32 | (uint64_t)ic;
        }
    }
    free(ab);
    free(key);
    spectra_strmap_free(&keyrank);
    return st;
}

spectra_status spectra_tokenizer_load(const char *enc_path, const char *bpe_path, spectra_tokenizer **out) {
    if (!enc_path || !bpe_path || !out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "tokenizer_load: NULL argument");
    *out = NULL;
    spectra_tokenizer *t = spectra_zalloc(1, sizeof *t);
    if (!t) return spectra_set_error(SPECTRA_ERR_NOMEM, "tokenizer: out of memory");
    spectra_bytemap_init(&t->bm);
    t->eot = -1;
    t->js_compat = 1;
    void *enc = NULL, *bpe = NULL;
    size_t enc_len = 0, bpe_len = 0;
    spectra_strmap by_bytes = {0};
    load_ctx c = {0};
    spectra_status st = spectra_pretok_create(&t->pretok);
    if (st) goto fail;
    if ((st = spectra_read_file(enc_path, &enc, &enc_len))) goto fail;
    if ((st = spectra_read_file(bpe_path, &bpe, &bpe_len))) goto fail;
    size_t n_entries = map_hint(enc, enc_len, ':'), n_merges = map_hint(bpe, bpe_len, '\n');
    if (spectra_strmap_init(&by_bytes, n_entries) || spectra_u64map_init(&t->merges, n_merges) ||
        spectra_u64map_init(&t->merges_std, n_merges) || spectra_strmap_init(&t->cache, 4096)) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "tokenizer: out of memory");
        goto fail;
    }
    c.t = t;
    c.path = enc_path;
    c.by_bytes = &by_bytes;
    spectra_buf_init(&c.arena);
    st = spectra_json_parse_str_int(enc, enc_len, enc_path, on_vocab_entry, &c);
    if (st) {
        if (c.err) st = c.err;
        goto fail;
    }
    if (t->eot < 0) {
        st = spectra_set_error(SPECTRA_ERR_FORMAT, "%s: no <|endoftext|> token", enc_path);
        goto fail;
    }
    uint64_t maxid = 0;
    for (size_t i = 0; i < c.nent; i += 3)
        if (c.ent[i] > maxid) maxid = c.ent[i];
    t->vocab_size = (uint32_t)maxid + 1;
    t->off = spectra_zalloc(t->vocab_size, sizeof *t->off);
    t->len = spectra_malloc(t->vocab_size * sizeof *t->len);
    if (!t->off || !t->len) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "tokenizer: out of memory");
        goto fail;
    }
    memset(t->len, 0xFF, t->vocab_size * sizeof *t->len);
    for (size_t i = 0; i < c.nent; i += 3) {
        if (t->len[c.ent[i]] != UINT32_MAX) {
            st = spectra_set_error(SPECTRA_ERR_FORMAT, "%s: id %llu is used twice", enc_path,
                                   (unsigned long long)c.ent[i]);
            goto fail;
        }
        t->off[c.ent[i]] = c.ent[i + 1];
        t->len[c.ent[i]] = (uint32_t)c.ent[i + 2];
    }
    t->arena = c.arena.data;
    c.arena.data = NULL;
    for (int b = 0; b < 256; b++) {
        unsigned char byte = (unsigned char)b;
        long id = id_of(&by_bytes, &byte, 1);
        if (id < 0) {
            st = spectra_set_error(SPECTRA_ERR_FORMAT, "%s: byte 0x%02x has no token", enc_path, b);
            goto fail;
        }
        t->byte_id[b] = (int32_t)id;
    }
    if ((st = load_merges(t, &by_bytes, bpe, bpe_len, bpe_path))) goto fail;
    spectra_free(enc);
    spectra_free(bpe);
    spectra_strmap_free(&by_bytes);
    spectra_buf_free(&c.arena);
    free(c.ent);
    free(c.tmp);
    *out = t;
    return SPECTRA_OK;
fail:
    spectra_free(enc);
    spectra_free(bpe);
    if (by_bytes.hashes) spectra_strmap_free(&by_bytes);
    spectra_buf_free(&c.arena);
    free(c.ent);
    free(c.tmp);
    spectra_tokenizer_free(t);
    return st;
}

spectra_status spectra_tokenizer_load_dir(const char *dir, spectra_tokenizer **out) {
    if (!dir) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "tokenizer_load_dir: NULL directory");
    size_t n = strlen(dir) + 32;
    char *a = spectra_malloc(n), *b = spectra_malloc(n);
    if (!a || !b) {
        free(a);
        free(b);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "tokenizer: out of memory");
    }
    snprintf(a, n, "%s/encoder.json", dir);
    snprintf(b, n, "%s/vocab.bpe", dir);
    spectra_status st = spectra_tokenizer_load(a, b, out);
    free(a);
    free(b);
    return st;
}

/* ---- encoding ---- */
/* BPE of one word given as bytes; the result is left in t->sym[0..*n). */
static int bpe_word(spectra_tokenizer *t, const unsigned char *w, size_t wn, size_t *n_out) {
    if (wn > t->sym_cap) {
        size_t nc = wn * 2;
        int32_t *p = spectra_realloc(t->sym, nc * sizeof *p);
        if (!p) return -1;
        t->sym = p;
        t->sym_cap = nc;
    }
    int32_t *s = t->sym;
    size_t n = wn;
    for (size_t i = 0; i < wn; i++) s[i] = t->byte_id[w[i]];
    const spectra_u64map *mm = t->js_compat ? &t->merges : &t->merges_std;
    while (n > 1) {
        uint64_t best = UINT64_MAX;
        int32_t ba = 0, bb = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            const uint64_t *v = spectra_u64map_get(mm, (uint64_t)(uint32_t)s[i] << 32 | (uint32_t)s[i + 1]);
            /* <=: among equal ranks the reference takes the rightmost pair */
            if (v && (*v >> 32) <= (best >> 32)) {
                best = *v;
                ba = s[i];
                bb = s[i + 1];
            }
        }
        if (best == UINT64_MAX) break;
        int32_t merged = (int32_t)(uint32_t)best;
        size_t k = 0;
        for (size_t i = 0; i < n;) {
            if (s[i] == ba && i + 1 < n && s[i + 1] == bb) {
                s[k++] = merged;
                i += 2;
            } else {
                s[k++] = s[i++];
            }
        }
        n = k;
    }
    *n_out = n;
    return 0;
}

static spectra_status encode_valid(spectra_tokenizer *t, const unsigned char *text, size_t len,
                                   spectra_token_buf *out) {
    size_t pos = 0, a, b;
    int r;
    while ((r = spectra_pretok_next(t->pretok, text, len, &pos, &a, &b)) == 1) {
        const unsigned char *w = text + a;
        size_t wn = b - a;
        uint64_t *hit = spectra_strmap_get(&t->cache, w, wn);
        if (hit) {
            size_t cnt = (size_t)(*hit & 0xFFFF), off = (size_t)(*hit >> 16);
            if (token_buf_reserve(out, cnt)) return spectra_set_error(SPECTRA_ERR_NOMEM, "encode: out of memory");
            memcpy(out->ids + out->len, t->cache_ids + off, cnt * sizeof(int32_t));
            out->len += cnt;
            continue;
        }
        size_t n;
        if (bpe_word(t, w, wn, &n) || token_buf_reserve(out, n))
            return spectra_set_error(SPECTRA_ERR_NOMEM, "encode: out of memory");
        memcpy(out->ids + out->len, t->sym, n * sizeof(int32_t));
        out->len += n;
        if (n > 0xFFFF || wn > 4096) continue; /* not worth caching */
        if (t->cache.count >= CACHE_MAX_WORDS || t->cache_len + n > CACHE_MAX_IDS) spectra_tokenizer_clear_cache(t);
        if (t->cache_len + n > t->cache_cap) {
            size_t nc = t->cache_cap ? t->cache_cap * 2 : 65536;
            while (nc < t->cache_len + n) nc *= 2;
            int32_t *p = spectra_realloc(t->cache_ids, nc * sizeof *p);
            if (!p) continue; /* the cache is an optimisation only */
            t->cache_ids = p;
            t->cache_cap = nc;
        }
        uint64_t *slot = spectra_strmap_put(&t->cache, w, wn, NULL);
        if (!slot) continue;
        memcpy(t->cache_ids + t->cache_len, t->sym, n * sizeof(int32_t));
        *slot = (uint64_t)t->cache_len << 16 | n;
        t->cache_len += n;
    }
    if (r == -2) return spectra_set_error(SPECTRA_ERR_NOMEM, "encode: out of memory (in the pre-tokenizer)");
    if (r < 0) return spectra_set_error(SPECTRA_ERR_STATE, "encode: the pre-tokenizer failed (PCRE2 match error)");
    return SPECTRA_OK;
}

spectra_status spectra_tokenizer_encode(spectra_tokenizer *t, const void *text, size_t len, spectra_token_buf *out) {
    if (!t || !out || (!text && len)) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "encode: NULL argument");
    unsigned char *fixed = NULL;
    size_t flen = 0;
    int r = spectra_utf8_repair(text, len, &fixed, &flen);
    if (r < 0) return spectra_set_error(SPECTRA_ERR_NOMEM, "encode: out of memory");
    /* A failure midway (out of memory, a regex engine error) keeps the ids already in *out
     * before the call and none of this text's: the length is put back. */
    const size_t len0 = out->len;
    spectra_status st = r ? encode_valid(t, fixed, flen, out) : encode_valid(t, text, len, out);
    if (st != SPECTRA_OK) out->len = len0;
    free(fixed);
    return st;
}

spectra_status spectra_tokenizer_decode(const spectra_tokenizer *t, const int32_t *ids, size_t n,
                                        spectra_byte_buf *out) {
    if (!t || !out || (!ids && n)) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "decode: NULL argument");
    /* Every id is checked, and the output grown once, before the first byte is appended:
     * a failing decode leaves *out exactly as it was (no partial text of the ids before
     * the bad one). */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (uint32_t)ids[i] >= t->vocab_size || t->len[ids[i]] == UINT32_MAX)
            return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "decode: id %ld at position %zu is not in the vocabulary",
                                     (long)ids[i], i);
        if (t->len[ids[i]] > SIZE_MAX - total)
            return spectra_set_error(SPECTRA_ERR_NOMEM, "decode: the output would exceed SIZE_MAX bytes");
        total += t->len[ids[i]];
    }
    if (byte_buf_reserve(out, total))
        return spectra_set_error(SPECTRA_ERR_NOMEM, "decode: out of memory for %zu bytes", total);
    for (size_t i = 0; i < n && total; i++) { /* total = 0: out->data may be NULL */
        memcpy(out->data + out->len, t->arena + t->off[ids[i]], t->len[ids[i]]);
        out->len += t->len[ids[i]];
    }
    return SPECTRA_OK;
}
