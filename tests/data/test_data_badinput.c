/* Bad input to the data layer gets a clear error and changes nothing: appending a corpus
 * to itself (which never returned), decoding ids with an invalid one among them (which
 * left the valid ones' bytes in the output), and a cancelled BPE training run (which
 * destroyed the previous result, and could not be cancelled at all in small runs). */
#include "spectra/spectra.h"
#include "test_util.h"
#include "data_test_util.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int msg_has(const char *s) { return strstr(spectra_last_error(), s) != NULL; }

/* Documents as (text, name) copies, to compare a corpus with what it held before. */
typedef struct snap {
    size_t n;
    char *text[8], *name[8];
    size_t len[8];
} snap;
static snap take(const spectra_corpus *c) {
    snap s = {spectra_corpus_size(c), {0}, {0}, {0}};
    for (size_t i = 0; i < s.n && i < 8; i++) {
        const char *t = spectra_corpus_doc(c, i, &s.len[i]);
        s.text[i] = malloc(s.len[i] + 1);
        memcpy(s.text[i], t, s.len[i]);
        s.name[i] = strdup(spectra_corpus_doc_name(c, i));
    }
    return s;
}
/* c holds a's documents followed by b's (b may be NULL). */
static int holds(const spectra_corpus *c, const snap *a, const snap *b) {
    size_t n = a->n + (b ? b->n : 0);
    if (spectra_corpus_size(c) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        const snap *s = i < a->n ? a : b;
        size_t k = i < a->n ? i : i - a->n, len;
        const char *t = spectra_corpus_doc(c, i, &len);
        if (len != s->len[k] || memcmp(t, s->text[k], len) || strcmp(spectra_corpus_doc_name(c, i), s->name[k]))
            return 0;
    }
    return 1;
}
static void snap_free(snap *s) {
    for (size_t i = 0; i < s->n && i < 8; i++) free(s->text[i]), free(s->name[i]);
}

static void test_corpus_append(void) {
    mkdir("bad_corpus_a", 0755);
    mkdir("bad_corpus_b", 0755);
    write_bytes("bad_corpus_a/1.txt", "alpha one", 9);
    write_bytes("bad_corpus_a/2.txt", "beta two", 8);
    write_bytes("bad_corpus_b/3.txt", "gamma", 5);
    spectra_corpus *a = NULL, *b = NULL;
    CHECK_OK(spectra_corpus_load_text("bad_corpus_a", &a));
    CHECK_OK(spectra_corpus_load_text("bad_corpus_b", &b));
    if (!a || !b) return;
    snap sa = take(a), sb = take(b);
    CHECK(sa.n == 2 && sb.n == 1);
    /* NULL arguments: refused, and b (not freed) is still usable. */
    CHECK(spectra_corpus_append(NULL, b) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_corpus_append(a, NULL) == SPECTRA_ERR_INVALID_ARG);
    CHECK(holds(a, &sa, NULL) && holds(b, &sb, NULL));
    /* Self-append: refused by name, a untouched and still owned by the caller. */
    CHECK(spectra_corpus_append(a, a) == SPECTRA_ERR_INVALID_ARG);
    CHECK_MSG(msg_has("same corpus"), "message %s", spectra_last_error());
    CHECK(holds(a, &sa, NULL));
    /* Distinct corpora: a gets b's documents after its own, names kept; b is freed (ASan
     * would report a leak or a double free otherwise). */
    CHECK_OK(spectra_corpus_append(a, b));
    CHECK(holds(a, &sa, &sb));
    spectra_corpus_free(a);
    snap_free(&sa), snap_free(&sb);
}

/* Random words over a 10-letter alphabet: enough distinct frequent pairs for a few
 * hundred merges. */
static void add_docs(spectra_bpe_trainer *tr) {
    char doc[8192];
    uint64_t s = 3;
    for (int d = 0; d < 20; d++) {
        size_t k = 0;
        while (k < sizeof doc - 16) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t len = 1 + (s >> 33) % 6;
            doc[k++] = ' ';
            for (size_t i = 0; i < len; i++) {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                doc[k++] = (char)('a' + (s >> 33) % 10);
            }
        }
        CHECK_OK(spectra_bpe_trainer_add_text(tr, doc, k));
    }
}

/* decode must check every id before appending anything: ids {5, 6, 2^30} used to return
 * INVALID_ARG with the bytes of 5 and 6 already appended. */
static void test_decode(spectra_tokenizer *tok) {
    spectra_byte_buf out = {0};
    int32_t one = 7;
    CHECK_OK(spectra_tokenizer_decode(tok, &one, 1, &out)); /* some prior content: "(" */
    const spectra_byte_buf before = out;
    const unsigned char prior = out.data ? out.data[0] : 0;
    const int32_t bad[][3] = {{5, 6, 1 << 30}, {5, 6, -1}, {5, 1 << 30, 6}};
    for (int b = 0; b < 3; b++) {
        CHECK(spectra_tokenizer_decode(tok, bad[b], 3, &out) == SPECTRA_ERR_INVALID_ARG);
        CHECK_MSG(msg_has("not in the vocabulary"), "message %s", spectra_last_error());
        CHECK_MSG(out.len == before.len && out.cap == before.cap && out.data == before.data,
                  "case %d: len %zu -> %zu", b, before.len, out.len);
        CHECK(out.len == 1 && out.data[0] == prior);
    }
    /* Valid ids append their bytes: the first 94 ids are GPT-2's printable bytes '!'..'~'
     * in order (bytes_to_unicode), so 5, 6 are '&' and '\''. */
    CHECK_OK(spectra_tokenizer_decode(tok, bad[0], 2, &out));
    CHECK(out.len == 3 && !memcmp(out.data, "(&'", 3));
    spectra_byte_buf_free(&out);
    /* Nothing to decode into an empty buffer: still empty, no allocation needed. */
    CHECK_OK(spectra_tokenizer_decode(tok, NULL, 0, &out));
    CHECK(out.len == 0);
    spectra_byte_buf_free(&out);
}

static int same_file(const char *a, const char *b) {
    FILE *f = fopen(a, "rb"), *g = fopen(b, "rb");
    int same = f && g;
    while (same) {
        int x = fgetc(f), y = fgetc(g);
        same = x == y;
        if (x == EOF) break;
    }
    if (f) fclose(f);
    if (g) fclose(g);
    return same;
}

typedef struct cancel_ctx {
    size_t calls, cancel_at; /* cancel on call number cancel_at (1-based) */
} cancel_ctx;
static int cancel_cb(void *ctx, size_t done, size_t total) {
    cancel_ctx *c = ctx;
    (void)done, (void)total;
    return ++c->calls >= c->cancel_at;
}

/* A cancelled train used to clear the previous result first (vocab_size 0 and save
 * refused afterwards), and progress ran only every 64 merges, so a run of fewer merges
 * could not be cancelled at all. tr holds a successful 300-id result saved in bad_tok_a. */
static void test_train_cancel(spectra_bpe_trainer *tr) {
    CHECK(spectra_bpe_trainer_vocab_size(tr) == 300);
    /* 260 ids = 3 merges: cancel at the first progress call. */
    cancel_ctx c = {0, 1};
    spectra_status st = spectra_bpe_trainer_train(tr, 260, cancel_cb, &c);
    CHECK_MSG(st == SPECTRA_ERR_STATE, "3-merge run not cancelled: status %d after %zu calls", (int)st, c.calls);
    CHECK_MSG(msg_has("cancelled"), "message %s", spectra_last_error());
    CHECK(c.calls == 1);
    /* A longer run cancelled half-way. */
    c = (cancel_ctx){0, 20};
    CHECK(spectra_bpe_trainer_train(tr, 400, cancel_cb, &c) == SPECTRA_ERR_STATE && c.calls == 20);
    /* Refused arguments. */
    CHECK(spectra_bpe_trainer_train(tr, 256, NULL, NULL) == SPECTRA_ERR_INVALID_ARG);
    /* The 300-id result survived all three: same size, same files. */
    CHECK(spectra_bpe_trainer_vocab_size(tr) == 300);
    mkdir("bad_tok_b", 0755);
    CHECK_OK(spectra_bpe_trainer_save(tr, "bad_tok_b"));
    CHECK(same_file("bad_tok_a/encoder.json", "bad_tok_b/encoder.json"));
    CHECK(same_file("bad_tok_a/vocab.bpe", "bad_tok_b/vocab.bpe"));
    /* Progress runs after every merge (plus once at the end): 43 new ids in 300. */
    c = (cancel_ctx){0, SIZE_MAX};
    CHECK_OK(spectra_bpe_trainer_train(tr, 300, cancel_cb, &c));
    CHECK_MSG(c.calls >= 44, "%zu progress calls for 43 merges", c.calls);
    /* A new successful train replaces the result. */
    CHECK_OK(spectra_bpe_trainer_train(tr, 280, NULL, NULL));
    CHECK(spectra_bpe_trainer_vocab_size(tr) == 280);
}

int main(void) {
    /* A regression (self-append looping) would hang rather than fail: stop after a minute. */
    alarm(60);
    test_corpus_append();

    spectra_bpe_trainer *tr = NULL;
    CHECK_OK(spectra_bpe_trainer_create(&tr));
    if (!tr) return test_finish("test_data_badinput");
    add_docs(tr);
    CHECK_OK(spectra_bpe_trainer_train(tr, 300, NULL, NULL));
    mkdir("bad_tok_a", 0755);
    CHECK_OK(spectra_bpe_trainer_save(tr, "bad_tok_a"));
    spectra_tokenizer *tok = NULL;
    CHECK_OK(spectra_tokenizer_load_dir("bad_tok_a", &tok));
    if (tok) test_decode(tok);
    test_train_cancel(tr);
    spectra_tokenizer_free(tok);
    spectra_bpe_trainer_free(tr);
    return test_finish("test_data_badinput");
}
