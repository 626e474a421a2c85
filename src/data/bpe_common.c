/* Shared internals of the tokenizer and trainer (see bpe_internal.h). */
#include "data/bpe_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/fileio.h"

#ifdef SPECTRA_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

void spectra_bytemap_init(spectra_bytemap *m) {
    int is_printable[256] = {0};
    for (int b = '!'; b <= '~'; b++) is_printable[b] = 1;
    for (int b = 0xA1; b <= 0xAC; b++) is_printable[b] = 1;
    for (int b = 0xAE; b <= 0xFF; b++) is_printable[b] = 1;
    int k = 0, extra = 0;
    for (int b = 0; b < 256; b++)
        if (is_printable[b]) {
            m->byte_cp[b] = (uint32_t)b;
            m->byte_order[k++] = (uint8_t)b;
        }
    for (int b = 0; b < 256; b++)
        if (!is_printable[b]) {
            m->byte_cp[b] = (uint32_t)(256 + extra++);
            m->byte_order[k++] = (uint8_t)b;
        }
    for (int c = 0; c < 324; c++) m->cp_byte[c] = -1;
    for (int b = 0; b < 256; b++) m->cp_byte[m->byte_cp[b]] = (int16_t)b;
}

size_t spectra_utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t spectra_bytemap_encode(const spectra_bytemap *m, const unsigned char *bytes, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += spectra_utf8_put(m->byte_cp[bytes[i]], out + k);
    return k;
}

long spectra_bytemap_decode(const spectra_bytemap *m, const char *s, size_t n, unsigned char *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    long k = 0;
    while (i < n) {
        uint32_t cp;
        if (u[i] < 0x80) {
            cp = u[i++];
        } else if ((u[i] & 0xE0) == 0xC0 && i + 1 < n && (u[i + 1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(u[i] & 0x1F) << 6) | (u[i + 1] & 0x3F);
            i += 2;
        } else {
            return -1; /* every mapped code point is below U+0800 */
        }
        if (cp >= 324 || m->cp_byte[cp] < 0) return -1;
        out[k++] = (unsigned char)m->cp_byte[cp];
    }
    return k;
}

/* Length of the valid UTF-8 sequence at in[i], or 0 if ill-formed; *consumed gets the
 * length of the maximal subpart to replace by one U+FFFD. */
static size_t utf8_seq(const unsigned char *in, size_t n, size_t i, size_t *consumed) {
    unsigned char b = in[i];
    if (b < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b == 0xE0) need = 2, lo = 0xA0;
    else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) need = 2;
    else if (b == 0xED) need = 2, hi = 0x9F;
    else if (b == 0xF0) need = 3, lo = 0x90;
    else if (b >= 0xF1 && b <= 0xF3) need = 3;
    else if (b == 0xF4) need = 3, hi = 0x8F;
    else {
        *consumed = 1;
        return 0;
    }
    size_t j = i + 1, k = 0;
    while (k < need && j < n && in[j] >= lo && in[j] <= hi) {
        j++;
        k++;
        lo = 0x80;
        hi = 0xBF;
    }
    if (k == need) return need + 1;
    *consumed = j - i;
    return 0;
}

int spectra_utf8_repair(const unsigned char *in, size_t n, unsigned char **out, size_t *out_len) {
    size_t i = 0, consumed = 0;
    /* Fast scan: most text is valid, so only allocate once a bad byte is found. */
    while (i < n) {
        if (in[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq(in, n, i, &consumed);
        if (!l) break;
        i += l;
    }
    if (i == n) return 0;
    size_t cap = i + (n - i) * 3; /* each bad byte becomes at most 3 bytes */
    unsigned char *o = spectra_malloc(cap ? cap : 1);
    if (!o) return -1;
    memcpy(o, in, i);
    size_t k = i;
    while (i < n) {
        size_t l = utf8_seq(in, n, i, &consumed);
        if (l) {
            memcpy(o + k, in + i, l);
            k += l;
            i += l;
        } else {
            o[k++] = 0xEF;
            o[k++] = 0xBF;
            o[k++] = 0xBD;
            i += consumed;
        }
    }
    *out = o;
    *out_len = k;
    return 1;
}

/* ---- pre-tokenizer ----
 * GPT-2's pattern, with \s spelled out as JavaScript's \s (the reference implementation
 * is gpt-3-encoder's JS): TAB LF VT FF CR, U+FEFF, U+2028, U+2029 and category Zs.
 * PCRE2's own \s differs (no U+FEFF), which would split text differently around a BOM. */
#define WS "\\t\\n\\x{0B}\\f\\r\\p{Zs}\\x{2028}\\x{2029}\\x{FEFF}"
static const char gpt2_pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS
                                   "]+(?![^" WS "])|[" WS "]+";

struct spectra_pretok {
#ifdef SPECTRA_HAVE_PCRE2
    pcre2_general_context *gctx;
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    int jit;
#endif
    int no_fast;
};

void spectra_pretok_set_fast_path(spectra_pretok *p, int on) {
    if (p) p->no_fast = !on;
}

#ifdef SPECTRA_HAVE_PCRE2
static void *pcre2_alloc_hook(PCRE2_SIZE bytes, void *data) {
    (void)data;
    return spectra_malloc(bytes);
}
static void pcre2_free_hook(void *p, void *data) {
    (void)data;
    free(p);
}
#endif

spectra_status spectra_pretok_create(spectra_pretok **out) {
    *out = NULL;
#ifdef SPECTRA_HAVE_PCRE2
    spectra_pretok *p = spectra_zalloc(1, sizeof *p);
    if (!p) return spectra_set_error(SPECTRA_ERR_NOMEM, "pre-tokenizer: out of memory");
    int err;
    PCRE2_SIZE erroff;
    /* PCRE2 allocates through the library's wrappers, so that its allocations fail under the
     * fault hook like the library's own (tests/core/test_faults.c). */
    p->gctx = pcre2_general_context_create(pcre2_alloc_hook, pcre2_free_hook, NULL);
    pcre2_compile_context *cctx = p->gctx ? pcre2_compile_context_create(p->gctx) : NULL;
    if (!cctx) {
        pcre2_general_context_free(p->gctx);
        free(p);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "pre-tokenizer: out of memory");
    }
    p->code = pcre2_compile((PCRE2_SPTR)gpt2_pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err,
                            &erroff, cctx);
    pcre2_compile_context_free(cctx);
    if (!p->code && err == PCRE2_ERROR_HEAP_FAILED) {
        pcre2_general_context_free(p->gctx);
        free(p);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "pre-tokenizer: out of memory");
    }
    if (!p->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        pcre2_general_context_free(p->gctx);
        free(p);
        return spectra_set_error(SPECTRA_ERR_UNSUPPORTED, "pre-tokenizer: PCRE2 rejected the pattern at %zu: %s",
                                 (size_t)erroff, (const char *)msg);
    }
    p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
    p->md = pcre2_match_data_create_from_pattern(p->code, p->gctx);
    p->mctx = pcre2_match_context_create(p->gctx);
    if (p->jit) {
        /* Long whitespace runs backtrack through the lookahead; give JIT room. */
        p->jstack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, p->gctx);
        if (p->jstack && p->mctx) pcre2_jit_stack_assign(p->mctx, NULL, p->jstack);
    }
    if (!p->md || !p->mctx || (p->jit && !p->jstack)) {
        spectra_pretok_free(p);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "pre-tokenizer: out of memory");
    }
    *out = p;
    return SPECTRA_OK;
#else
    return spectra_set_error(SPECTRA_ERR_UNSUPPORTED,
                             "tokenizer needs PCRE2 (libpcre2-8), which this build of libspectra lacks");
#endif
}

void spectra_pretok_free(spectra_pretok *p) {
    if (!p) return;
#ifdef SPECTRA_HAVE_PCRE2
    pcre2_match_data_free(p->md);
    pcre2_match_context_free(p->mctx);
    if (p->jstack) pcre2_jit_stack_free(p->jstack);
    pcre2_code_free(p->code);
    pcre2_general_context_free(p->gctx);
#endif
    free(p);
}

static inline int ascii_letter(unsigned c) { return (c | 32) - 'a' < 26; }
static inline int ascii_digit(unsigned c) { return c - '0' < 10; }
static inline int ascii_ws(unsigned c) { return c == ' ' || (c >= 9 && c <= 13); }

/* Matches the pattern at `pos` when every character it needs to look at is ASCII, which
 * is most English text; returns the end, or 0 to defer to PCRE2. It mirrors the
 * alternatives in order, so the result is the same as the regex's. */
static size_t ascii_match(const unsigned char *t, size_t len, size_t pos) {
    size_t i = pos;
    unsigned c = t[i];
    if (c >= 0x80) return 0;
    if (c == '\'' && i + 1 < len) {
        unsigned d = t[i + 1];
        if (d == 's' || d == 't' || d == 'm' || d == 'd') return i + 2;
        if (i + 2 < len) {
            unsigned e = t[i + 2];
            if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) return i + 3;
        }
    }
    size_t s = i;
    if (c == ' ' && i + 1 < len) s = i + 1;
    if (s < len) {
        unsigned d = t[s];
        if (d >= 0x80) return 0;
        if (ascii_letter(d)) {
            size_t j = s + 1;
            while (j < len && ascii_letter(t[j])) j++;
            if (j < len && t[j] >= 0x80) return 0; /* a non-ASCII letter may continue it */
            return j;
        }
        if (ascii_digit(d)) {
            size_t j = s + 1;
            while (j < len && ascii_digit(t[j])) j++;
            if (j < len && t[j] >= 0x80) return 0;
            return j;
        }
        if (!ascii_ws(d)) {
            size_t j = s + 1;
            while (j < len && t[j] < 0x80 && !ascii_letter(t[j]) && !ascii_digit(t[j]) && !ascii_ws(t[j])) j++;
            if (j < len && t[j] >= 0x80) return 0;
            return j;
        }
    }
    if (!ascii_ws(c)) return 0; /* unreachable for ASCII, kept for safety */
    size_t j = i + 1;
    while (j < len && ascii_ws(t[j])) j++;
    if (j < len && t[j] >= 0x80) return 0; /* could be Unicode whitespace */
    if (j == len) return j;
    /* \s+(?!\S): the run minus its last character, if that leaves something. */
    if (j - i >= 2) return j - 1;
    return j; /* \s+ */
}

int spectra_pretok_next(spectra_pretok *p, const unsigned char *text, size_t len, size_t *pos, size_t *start,
                        size_t *end) {
    if (*pos >= len) return 0;
    size_t e = p->no_fast ? 0 : ascii_match(text, len, *pos);
    if (e) {
        *start = *pos;
        *end = *pos = e;
        return 1;
    }
#ifdef SPECTRA_HAVE_PCRE2
    int rc = pcre2_match(p->code, text, len, *pos, PCRE2_NO_UTF_CHECK, p->md, p->mctx);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc == PCRE2_ERROR_NOMEMORY || rc == PCRE2_ERROR_HEAPLIMIT) return -2;
    if (rc < 0) return -1;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
    *start = ov[0];
    *end = *pos = ov[1];
    return ov[1] > ov[0] ? 1 : -1;
#else
    return -1;
#endif
}

/* ---- hashing and maps ---- */
uint64_t spectra_hash_bytes(const void *p, size_t n) {
    /* FNV-1a over 8-byte words, finished with a 64-bit mixer. */
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ (n * 0x9E3779B97F4A7C15ULL);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * 0x100000001b3ULL;
    h = spectra_hash_u64(h);
    return h ? h : 1;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

int spectra_strmap_init(spectra_strmap *m, size_t cap_hint) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(cap_hint * 2);
    m->hashes = spectra_zalloc(m->cap, sizeof *m->hashes);
    m->koff = spectra_malloc(m->cap * sizeof *m->koff);
    m->klen = spectra_malloc(m->cap * sizeof *m->klen);
    m->vals = spectra_malloc(m->cap * sizeof *m->vals);
    if (!m->hashes || !m->koff || !m->klen || !m->vals) {
        spectra_strmap_free(m);
        return -1;
    }
    return 0;
}

void spectra_strmap_free(spectra_strmap *m) {
    free(m->hashes);
    free(m->koff);
    free(m->klen);
    free(m->vals);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

void spectra_strmap_clear(spectra_strmap *m) {
    memset(m->hashes, 0, m->cap * sizeof *m->hashes);
    m->count = 0;
    m->arena_len = 0;
}

uint64_t *spectra_strmap_get(const spectra_strmap *m, const void *key, size_t n) {
    uint64_t h = spectra_hash_bytes(key, n);
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (!m->hashes[i]) return NULL;
        if (m->hashes[i] == h && m->klen[i] == n && !memcmp(m->arena + m->koff[i], key, n)) return &m->vals[i];
    }
}

/* Rehashes into `cap` slots (a power of two above the count); on failure m is unchanged. */
static int strmap_resize(spectra_strmap *m, size_t cap) {
    spectra_strmap g = *m;
    g.cap = cap;
    g.hashes = spectra_zalloc(g.cap, sizeof *g.hashes);
    g.koff = spectra_malloc(g.cap * sizeof *g.koff);
    g.klen = spectra_malloc(g.cap * sizeof *g.klen);
    g.vals = spectra_malloc(g.cap * sizeof *g.vals);
    if (!g.hashes || !g.koff || !g.klen || !g.vals) {
        free(g.hashes);
        free(g.koff);
        free(g.klen);
        free(g.vals);
        return -1;
    }
    size_t mask = g.cap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->hashes[i]) continue;
        size_t j = m->hashes[i] & mask;
        while (g.hashes[j]) j = (j + 1) & mask;
        g.hashes[j] = m->hashes[i];
        g.koff[j] = m->koff[i];
        g.klen[j] = m->klen[i];
        g.vals[j] = m->vals[i];
    }
    free(m->hashes);
    free(m->koff);
    free(m->klen);
    free(m->vals);
    *m = g;
    return 0;
}

/* Room for `keys` more keys: the table doubles until they fit under the 3/4 load bound. */
static int strmap_room(spectra_strmap *m, size_t keys) {
    size_t cap = m->cap;
    while ((m->count + keys) * 4 > cap * 3) {
        if (cap > SIZE_MAX / 4) return -1;
        cap *= 2;
    }
    return cap != m->cap ? strmap_resize(m, cap) : 0;
}

/* Room for `bytes` more key bytes in the arena (doubling). */
static int arena_room(spectra_strmap *m, size_t bytes) {
    if (m->arena_len + bytes <= m->arena_cap) return 0;
    size_t nc = m->arena_cap ? m->arena_cap : 4096;
    while (nc < m->arena_len + bytes) nc *= 2;
    unsigned char *a = spectra_realloc(m->arena, nc);
    if (!a) return -1;
    m->arena = a;
    m->arena_cap = nc;
    return 0;
}

int spectra_strmap_reserve(spectra_strmap *m, size_t keys, size_t key_bytes) {
    return strmap_room(m, keys) || arena_room(m, key_bytes) ? -1 : 0;
}

uint64_t *spectra_strmap_put(spectra_strmap *m, const void *key, size_t n, int *is_new) {
    if (n > UINT32_MAX) return NULL;
    if (strmap_room(m, 1)) return NULL;
    uint64_t h = spectra_hash_bytes(key, n);
    size_t mask = m->cap - 1, i = h & mask;
    for (;; i = (i + 1) & mask) {
        if (!m->hashes[i]) break;
        if (m->hashes[i] == h && m->klen[i] == n && !memcmp(m->arena + m->koff[i], key, n)) {
            if (is_new) *is_new = 0;
            return &m->vals[i];
        }
    }
    if (arena_room(m, n)) return NULL;
    if (n) memcpy(m->arena + m->arena_len, key, n);
    m->hashes[i] = h;
    m->koff[i] = m->arena_len;
    m->klen[i] = (uint32_t)n;
    m->vals[i] = 0;
    m->arena_len += n;
    m->count++;
    if (is_new) *is_new = 1;
    return &m->vals[i];
}

int spectra_u64map_init(spectra_u64map *m, size_t cap_hint) {
    m->cap = pow2_at_least(cap_hint * 2);
    m->count = 0;
    m->keys = spectra_malloc(m->cap * sizeof *m->keys);
    m->vals = spectra_malloc(m->cap * sizeof *m->vals);
    if (!m->keys || !m->vals) {
        spectra_u64map_free(m);
        return -1;
    }
    memset(m->keys, 0xFF, m->cap * sizeof *m->keys);
    return 0;
}

void spectra_u64map_free(spectra_u64map *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

uint64_t *spectra_u64map_get(const spectra_u64map *m, uint64_t key) {
    size_t mask = m->cap - 1;
    for (size_t i = spectra_hash_u64(key) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == key) return &m->vals[i];
        if (m->keys[i] == UINT64_MAX) return NULL;
    }
}

uint64_t *spectra_u64map_put(spectra_u64map *m, uint64_t key, int *is_new) {
    if ((m->count + 1) * 4 > m->cap * 3) {
        spectra_u64map g;
        g.cap = m->cap * 2;
        g.count = m->count;
        g.keys = spectra_malloc(g.cap * sizeof *g.keys);
        g.vals = spectra_malloc(g.cap * sizeof *g.vals);
        if (!g.keys || !g.vals) {
            free(g.keys);
            free(g.vals);
            return NULL;
        }
        memset(g.keys, 0xFF, g.cap * sizeof *g.keys);
        for (size_t i = 0; i < m->cap; i++) {
            if (m->keys[i] == UINT64_MAX) continue;
            size_t j = spectra_hash_u64(m->keys[i]) & (g.cap - 1);
            while (g.keys[j] != UINT64_MAX) j = (j + 1) & (g.cap - 1);
            g.keys[j] = m->keys[i];
            g.vals[j] = m->vals[i];
        }
        spectra_u64map_free(m);
        *m = g;
    }
    size_t mask = m->cap - 1, i = spectra_hash_u64(key) & mask;
    for (;; i = (i + 1) & mask) {
        if (m->keys[i] == key) {
            if (is_new) *is_new = 0;
            return &m->vals[i];
        }
        if (m->keys[i] == UINT64_MAX) break;
    }
    m->keys[i] = key;
    m->vals[i] = 0;
    m->count++;
    if (is_new) *is_new = 1;
    return &m->vals[i];
}

/* ---- minimal JSON ---- */
typedef struct jparse {
    const char *s;
    size_t n, i;
    const char *name;
} jparse;

static void jskip(jparse *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\n' || p->s[p->i] == '\r' || p->s[p->i] == '\t'))
        p->i++;
}

static spectra_status jerr(jparse *p, const char *what) {
    return spectra_set_error(SPECTRA_ERR_FORMAT, "%s: malformed JSON at byte %zu: %s", p->name, p->i, what);
}

static int hex4(const char *s, uint32_t *v) {
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

/* Parses a string literal into b (reset first). */
static spectra_status jstring(jparse *p, spectra_buf *b) {
    b->len = 0;
    if (p->i >= p->n || p->s[p->i] != '"') return jerr(p, "expected a string");
    p->i++;
    while (p->i < p->n) {
        char c = p->s[p->i++];
        if (c == '"') return b->failed ? spectra_set_error(SPECTRA_ERR_NOMEM, "%s: out of memory", p->name) : SPECTRA_OK;
        if (c != '\\') {
            spectra_buf_append(b, &c, 1);
            continue;
        }
        if (p->i >= p->n) break;
        char e = p->s[p->i++];
        char out[4];
        switch (e) {
        case '"': case '\\': case '/': spectra_buf_append(b, &e, 1); break;
        case 'b': spectra_buf_append(b, "\b", 1); break;
        case 'f': spectra_buf_append(b, "\f", 1); break;
        case 'n': spectra_buf_append(b, "\n", 1); break;
        case 'r': spectra_buf_append(b, "\r", 1); break;
        case 't': spectra_buf_append(b, "\t", 1); break;
        case 'u': {
            uint32_t cp, lo;
            if (p->i + 4 > p->n || hex4(p->s + p->i, &cp)) return jerr(p, "bad \\u escape");
            p->i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && p->i + 6 <= p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u' &&
                !hex4(p->s + p->i + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                p->i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* lone surrogate: what JS's TextEncoder would produce */
            }
            spectra_buf_append(b, out, spectra_utf8_put(cp, out));
            break;
        }
        default: return jerr(p, "bad escape");
        }
    }
    return jerr(p, "unterminated string");
}

spectra_status spectra_json_parse_str_int(const char *json, size_t n, const char *name,
                                          int (*fn)(void *ctx, const char *key, size_t klen, long long v),
                                          void *ctx) {
    jparse p = {json, n, 0, name};
    spectra_buf key;
    spectra_buf_init(&key);
    spectra_status st = SPECTRA_OK;
    jskip(&p);
    if (p.i >= n || json[p.i] != '{') {
        st = jerr(&p, "expected '{'");
        goto done;
    }
    p.i++;
    jskip(&p);
    if (p.i < n && json[p.i] == '}') goto done;
    for (;;) {
        jskip(&p);
        if ((st = jstring(&p, &key))) goto done;
        jskip(&p);
        if (p.i >= n || json[p.i] != ':') {
            st = jerr(&p, "expected ':'");
            goto done;
        }
        p.i++;
        jskip(&p);
        int neg = 0;
        if (p.i < n && json[p.i] == '-') neg = 1, p.i++;
        if (p.i >= n || json[p.i] < '0' || json[p.i] > '9') {
            st = jerr(&p, "expected an integer");
            goto done;
        }
        long long v = 0;
        while (p.i < n && json[p.i] >= '0' && json[p.i] <= '9') {
            if (v > 1000000000000LL) {
                st = jerr(&p, "integer too large");
                goto done;
            }
            v = v * 10 + (json[p.i++] - '0');
        }
        if (fn(ctx, key.len ? (const char *)key.data : "", key.len, neg ? -v : v)) {
            st = SPECTRA_ERR_FORMAT;
            goto done;
        }
        jskip(&p);
        if (p.i < n && json[p.i] == ',') {
            p.i++;
            continue;
        }
        if (p.i < n && json[p.i] == '}') break;
        st = jerr(&p, "expected ',' or '}'");
        goto done;
    }
done:
    spectra_buf_free(&key);
    return st;
}

spectra_status spectra_json_parse_str_array(const char *json, size_t n, const char *name,
                                            int (*fn)(void *ctx, const char *s, size_t len), void *ctx) {
    jparse p = {json, n, 0, name};
    spectra_buf s;
    spectra_buf_init(&s);
    spectra_status st = SPECTRA_OK;
    jskip(&p);
    if (p.i >= n || json[p.i] != '[') {
        st = jerr(&p, "expected '['");
        goto done;
    }
    p.i++;
    jskip(&p);
    if (p.i < n && json[p.i] == ']') goto done;
    for (;;) {
        jskip(&p);
        if ((st = jstring(&p, &s))) goto done;
        if (fn(ctx, s.len ? (const char *)s.data : "", s.len)) {
            st = spectra_set_error(SPECTRA_ERR_NOMEM, "%s: out of memory", name);
            goto done;
        }
        jskip(&p);
        if (p.i < n && json[p.i] == ',') {
            p.i++;
            continue;
        }
        if (p.i < n && json[p.i] == ']') break;
        st = jerr(&p, "expected ',' or ']'");
        goto done;
    }
done:
    spectra_buf_free(&s);
    return st;
}

void spectra_json_put_string(spectra_buf *b, const char *s, size_t n) {
    spectra_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            spectra_buf_append(b, e, 2);
        } else if (c < 0x20) {
            static const char hexd[] = "0123456789abcdef";
            char e[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
            spectra_buf_append(b, e, 6);
        } else {
            spectra_buf_append(b, &s[i], 1);
        }
    }
    spectra_buf_append(b, "\"", 1);
}
