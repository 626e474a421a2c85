/* Out of memory and failing I/O at every point, SQLite-style. Every allocation of the library
 * (PCRE2's included) passes the fault hook of src/core/alloc.c, and every I/O operation of
 * its file layer (the atomic writers, whole-file reads, the shard loader's open and mmap)
 * the hook of src/core/fileio.c. For each public call below, the call is run once to count
 * the allocations (or I/O operations) it makes, then once per allocation (operation) with
 * that one failing. Each faulted run must either
 *   - fail with SPECTRA_ERR_NOMEM (SPECTRA_ERR_IO) and a message that says so, leave its
 *     object exactly as it was (the "snapshot" of each scenario: weights, serialized
 *     optimizer state, checkpoint bytes, token ids, output arrays, the files on disk with no
 *     temporary file left), and succeed when called again with the clean run's result; or
 *   - succeed with exactly the clean run's result (a failure the library can do without,
 *     such as a cache it could not grow).
 * The oracle is the clean run of the same call. After each faulted run and its teardown, no
 * file descriptor and no mapping of a test file may be left open; memory leaks on the failure
 * paths are found by the ASan and valgrind runs of this test (scripts/run-tests.sh).
 * `test_faults NAME` runs the calls whose name contains NAME. */
#include "spectra/spectra.h"
#include "test_util.h"

#include <dirent.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fileio.h"

/* ---- snapshots: the bytes a call may change ---- */
typedef struct snap {
    unsigned char *p;
    size_t n, cap;
} snap;

static void snap_add(snap *s, const void *p, size_t n) {
    if (s->n + n > s->cap) {
        size_t nc = s->cap ? s->cap : 4096;
        while (nc < s->n + n) nc *= 2;
        s->p = realloc(s->p, nc);
        s->cap = nc;
    }
    if (n) memcpy(s->p + s->n, p, n);
    s->n += n;
}
static void snap_u64(snap *s, uint64_t v) { snap_add(s, &v, sizeof v); }
static int snap_eq(const snap *a, const snap *b) { return a->n == b->n && (!a->n || !memcmp(a->p, b->p, a->n)); }
static void snap_free(snap *s) { free(s->p), s->p = NULL, s->n = s->cap = 0; }

/* A file's bytes, or a marker if it does not exist; and the names in `dir` that start with
 * `prefix` (the temporary files of an atomic write must be gone). */
static void snap_file(snap *s, const char *path) {
    size_t len = 0;
    void *b = test_read_file(path, &len);
    snap_u64(s, b ? len : UINT64_MAX);
    if (b) snap_add(s, b, len);
    free(b);
}
static void snap_dir_names(snap *s, const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char names[64][256];
    int n = 0;
    while (d && (e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && n < 64) snprintf(names[n++], 256, "%s", e->d_name);
    if (d) closedir(d);
    qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < n; i++) snap_add(s, names[i], strlen(names[i]) + 1);
}

/* The file an atomic write replaces: its previous version must survive a failed write. */
static void previous_version(const char *path) { test_write_file(path, "the previous version", 20); }

/* ---- the runner ---- */
typedef struct scenario {
    const char *name;
    void *(*setup)(void);
    spectra_status (*op)(void *);
    void (*snapshot)(void *, snap *);
    void (*teardown)(void *);
} scenario;

/* Open file descriptors, and mappings of this test's files ("faults_" in the path): a failure
 * path that forgets a close or an munmap shows as more of either after the teardown. */
static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d)) n++;
    if (d) closedir(d);
    return n;
}
static int mapped_test_files(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) n += strstr(line, "faults_") != NULL;
    if (f) fclose(f);
    return n;
}

/* What fails: allocations or I/O operations, the status that failure must give and a word
 * its message must contain. */
typedef struct fault_kind {
    const char *what;
    void (*arm)(long);
    long (*count)(void);
    spectra_status status;
    const char *word;
} fault_kind;
static const fault_kind ALLOC = {"allocations", spectra_fault_alloc_at, spectra_fault_alloc_count, SPECTRA_ERR_NOMEM,
                                 "memory"};
static const fault_kind IO = {"I/O operations", spectra_fault_io_at, spectra_fault_io_count, SPECTRA_ERR_IO, "faults_"};

static void run(const scenario *sc, const fault_kind *fk) {
    void *f = sc->setup();
    if (!f) {
        CHECK_MSG(0, "%s: setup failed: %s", sc->name, spectra_last_error());
        return;
    }
    snap ref = {0};
    sc->snapshot(f, &ref); /* as the faulted runs do: a snapshot may warm caches */
    snap_free(&ref);
    fk->arm(-1);
    spectra_status st = sc->op(f);
    long n = fk->count();
    CHECK_MSG(st == SPECTRA_OK, "%s: the clean run failed: %s", sc->name, spectra_last_error());
    sc->snapshot(f, &ref);
    sc->teardown(f);
    if (n == 0) {
        printf("%-30s    0 %s: none can fail\n", sc->name, fk->what);
        snap_free(&ref);
        return;
    }
    long failed = 0, benign = 0, bad = 0;
    for (long i = 0; i < n; i++) {
        const int fds0 = open_fds();
        f = sc->setup();
        if (!f) {
            CHECK_MSG(0, "%s: setup failed: %s", sc->name, spectra_last_error());
            break;
        }
        snap before = {0}, after = {0};
        sc->snapshot(f, &before);
        fk->arm(i);
        st = sc->op(f);
        long made = fk->count();
        fk->arm(-1);
        int fails0 = test_failures;
        CHECK_MSG(made > i, "%s: %s %ld of %ld was never made (%ld made)", sc->name, fk->what, i, n, made);
        sc->snapshot(f, &after);
        if (st == SPECTRA_OK) {
            benign++;
            CHECK_MSG(snap_eq(&after, &ref), "%s: %s %ld of %ld failed; the call said OK with another result", sc->name,
                      fk->what, i, n);
        } else {
            failed++;
            const char *msg = spectra_last_error();
            CHECK_MSG(st == fk->status, "%s: %s %ld of %ld failed; status %s: %s", sc->name, fk->what, i, n,
                      spectra_status_name(st), msg);
            CHECK_MSG(msg && strstr(msg, fk->word), "%s: %s %ld: message '%s' lacks '%s'", sc->name, fk->what, i,
                      msg ? msg : "(null)", fk->word);
            CHECK_MSG(snap_eq(&after, &before), "%s: %s %ld of %ld failed and the call changed its object", sc->name,
                      fk->what, i, n);
            snap again = {0};
            st = sc->op(f);
            CHECK_MSG(st == SPECTRA_OK, "%s: after %s %ld failed, the call again failed: %s", sc->name, fk->what, i,
                      spectra_last_error());
            sc->snapshot(f, &again);
            CHECK_MSG(snap_eq(&again, &ref), "%s: after %s %ld failed, the call again gave another result", sc->name,
                      fk->what, i);
            snap_free(&again);
        }
        snap_free(&before);
        snap_free(&after);
        sc->teardown(f);
        CHECK_MSG(open_fds() == fds0 && mapped_test_files() == 0,
                  "%s: %s %ld failed: %d file descriptors open after the teardown (%d before), %d mappings of test files",
                  sc->name, fk->what, i, open_fds(), fds0, mapped_test_files());
        bad += test_failures > fails0;
    }
    snap_free(&ref);
    printf("%-30s %4ld %s: %4ld failed with %s and nothing changed, %3ld done without%s\n", sc->name, n, fk->what,
           failed, spectra_status_name(fk->status), benign, bad ? "  <-- FAILURES" : "");
}

/* ---- shared inputs, made once with faults off ---- */
#define VOCAB 300
static const char *SHARD = "faults_shard.bin", *TOKDIR = "faults_tok", *CKPT = "faults_ckpt.bin";
static const char *TEXTDIR = "faults_text", *BROWNDIR = "faults_brown", *NLPDIR = "faults_nlp";

static const char *sample_text(void) {
    return "The optimizer's state is 49.25% smaller than AdamW's. Größe, naïve café — déjà vu!  "
           "Spectra splits the gradient into spike and tail: 3 spikes, 4096 rows, 14336 columns.\n\n"
           "\t“Quoted” text, emoji 🙂, Ελληνικά, русский, 日本語 and   runs   of   spaces.\r\n"
           "Words words words, wordy wording worded; rewording. 1234567 89 0.";
}

/* The sample text, then 3000 distinct made-up words: enough new words to grow the
 * tokenizer's cache and the BPE trainer's word table. */
static const char *long_text(void) {
    static char buf[64 * 1024];
    if (buf[0]) return buf;
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s", sample_text());
    for (unsigned i = 0; i < 3000; i++) {
        char w[8];
        int k = 0;
        for (unsigned v = i + 26 * 27; v; v /= 26) w[k++] = (char)('a' + v % 26);
        n += (size_t)snprintf(buf + n, sizeof buf - n, " %.*s", k, w);
    }
    return buf;
}

static spectra_train_config tiny_config(spectra_algo algo) {
    spectra_train_config c = spectra_train_config_default();
    spectra_model_config_from_preset("tiny", &c.model);
    c.model.vocab_size = VOCAB;
    c.batch_size = 2;
    c.seq_len = 8;
    c.grad_accum = 1;
    c.max_steps = 10;
    c.warmup_steps = 2;
    c.matrix = spectra_hparams_default(algo);
    c.val_batches = 2;
    return c;
}

static int make_inputs(void) {
    /* shard: a token stream below VOCAB */
    size_t n = 4000;
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 7 + i / 13) % VOCAB);
    spectra_status st = spectra_shard_write(SHARD, ids, n, VOCAB);
    free(ids);
    if (st) return -1;
    /* a text directory of three documents, and a tokenizer trained on it */
    mkdir(TEXTDIR, 0755);
    for (int d = 0; d < 3; d++) {
        char p[256];
        snprintf(p, sizeof p, "%s/doc%d.txt", TEXTDIR, d);
        FILE *fp = fopen(p, "wb");
        if (!fp) return -1;
        for (int r = 0; r <= d; r++) fputs(sample_text(), fp);
        fclose(fp);
    }
    /* a Brown package of two files and an nlp-corpus package of three */
    mkdir(BROWNDIR, 0755);
    mkdir(NLPDIR, 0755);
    char nb[64];
    snprintf(nb, sizeof nb, "%s/builds", NLPDIR);
    mkdir(nb, 0755);
    static const char *const pkg_files[][2] = {
        {"faults_brown/ca01", "\tThe/at jury/nn said/vbd ``/`` it/pps did/dod ''/'' ./.\n\n\tNew/jj one/cd !/.\n"},
        {"faults_brown/cb02", "\tIt/pps ran/vbd (/( fast/rb )/) ./.\n"},
        {"faults_nlp/builds/doc-2.json", "[\"A.\", \"B \\u00e9.\", \"C.\"]"},
        {"faults_nlp/builds/doc-10.json", "[\"D.\"]"},
        {"faults_nlp/builds/doc-1.json", "[\"E.\", \"F.\"]"}};
    for (size_t i = 0; i < sizeof pkg_files / sizeof pkg_files[0]; i++)
        if (test_write_file(pkg_files[i][0], pkg_files[i][1], strlen(pkg_files[i][1]))) return -1;
    spectra_bpe_trainer *tr = NULL;
    if (spectra_bpe_trainer_create(&tr)) return -1;
    for (int r = 0; r < 4; r++) spectra_bpe_trainer_add_text(tr, sample_text(), strlen(sample_text()));
    mkdir(TOKDIR, 0755);
    st = spectra_bpe_trainer_train(tr, VOCAB, NULL, NULL);
    if (!st) st = spectra_bpe_trainer_save(tr, TOKDIR);
    spectra_bpe_trainer_free(tr);
    if (st) return -1;
    /* a checkpoint of a trainer after two steps */
    spectra_train_config c = tiny_config(SPECTRA_ALGO_SPECTRA);
    const char *sh[1] = {SHARD};
    spectra_trainer *t = NULL;
    if (spectra_trainer_create(&t, &c, sh, 1, sh, 1)) return -1;
    st = spectra_trainer_step(t, NULL);
    if (!st) st = spectra_trainer_step(t, NULL);
    if (!st) st = spectra_trainer_save(t, CKPT);
    spectra_trainer_destroy(t);
    return st ? -1 : 0;
}

/* ---- optimizer ---- */
#define NP 6
typedef struct fx_opt {
    spectra_optim *opt, *other;
    float *w[NP], *g[NP];
    void *blob;
    size_t blob_len;
} fx_opt;
static const size_t P_ROWS[NP] = {24, 40, 24, 32, 24, 1}, P_COLS[NP] = {40, 24, 40, 24, 16, 40};
static const spectra_algo P_ALGO[NP] = {SPECTRA_ALGO_SPECTRA, SPECTRA_ALGO_SPECTRA, SPECTRA_ALGO_MUON,
                                        SPECTRA_ALGO_DION, SPECTRA_ALGO_SGD, SPECTRA_ALGO_ADAMW};
static int opt_params_added = NP; /* how many of the params setup registers */

static spectra_optim *opt_build(fx_opt *f, int nparams) {
    spectra_optim *o = NULL;
    if (spectra_optim_create(&o, 11)) return NULL;
    for (int i = 0; i < NP; i++) {
        spectra_hparams hp = spectra_hparams_default(P_ALGO[i]);
        if (P_ALGO[i] == SPECTRA_ALGO_SPECTRA) hp.rank_ratio = 0.2;
        int grp;
        if (spectra_optim_add_group(o, &hp, &grp)) goto fail;
        char name[32];
        snprintf(name, sizeof name, "p%d", i);
        if (i < nparams && spectra_optim_add_param(o, grp, name, f->w[i], f->g[i], P_ROWS[i], P_COLS[i])) goto fail;
    }
    return o;
fail:
    spectra_optim_destroy(o);
    return NULL;
}

static void *opt_setup_n(int nparams, int steps) {
    fx_opt *f = calloc(1, sizeof *f);
    uint64_t seed = 5;
    for (int i = 0; i < NP; i++) {
        f->w[i] = test_rand_floats(&seed, P_ROWS[i] * P_COLS[i]);
        f->g[i] = test_rand_floats(&seed, P_ROWS[i] * P_COLS[i]);
    }
    f->opt = opt_build(f, nparams);
    for (int s = 0; f->opt && s < steps; s++)
        if (spectra_optim_step(f->opt)) return NULL;
    return f;
}
static void opt_teardown(void *p) {
    fx_opt *f = p;
    spectra_optim_destroy(f->opt);
    spectra_optim_destroy(f->other);
    for (int i = 0; i < NP; i++) free(f->w[i]), free(f->g[i]);
    free(f->blob);
    free(f);
}
static void opt_snap_of(spectra_optim *o, fx_opt *f, snap *s) {
    snap_u64(s, o ? (uint64_t)spectra_optim_num_params(o) : UINT64_MAX);
    if (o) {
        snap_u64(s, spectra_optim_state_bytes(o));
        void *b = NULL;
        size_t len = 0;
        if (spectra_optim_serialize(o, &b, &len) == SPECTRA_OK) snap_add(s, b, len);
        free(b);
    }
    for (int i = 0; i < NP; i++) snap_add(s, f->w[i], P_ROWS[i] * P_COLS[i] * sizeof(float));
}
static void opt_snap(void *p, snap *s) { opt_snap_of(((fx_opt *)p)->opt, p, s); }

static void *opt_setup_empty(void) { return opt_setup_n(0, 0); }
static void *opt_setup_fresh(void) { return opt_setup_n(NP, 0); }
static void *opt_setup_warm(void) { return opt_setup_n(NP, 2); }
static void *opt_setup_partial(void) { return opt_setup_n(opt_params_added, 0); }

static spectra_status op_optim_create(void *p) {
    fx_opt *f = p;
    spectra_optim_destroy(f->opt);
    f->opt = NULL;
    return spectra_optim_create(&f->opt, 3);
}
static void *opt_setup_none(void) {
    fx_opt *f = opt_setup_n(0, 0);
    spectra_optim_destroy(f->opt);
    f->opt = NULL;
    return f;
}
static spectra_status op_optim_add_group(void *p) {
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    int g;
    return spectra_optim_add_group(((fx_opt *)p)->opt, &hp, &g);
}
static spectra_status op_optim_add_param(void *p) {
    fx_opt *f = p;
    int i = opt_params_added;
    char name[32];
    snprintf(name, sizeof name, "p%d", i);
    return spectra_optim_add_param(f->opt, i, name, f->w[i], f->g[i], P_ROWS[i], P_COLS[i]);
}
static spectra_status op_optim_set_hparams(void *p) {
    spectra_hparams hp;
    spectra_optim_get_hparams(((fx_opt *)p)->opt, 0, &hp);
    hp.lr *= 0.5;
    hp.power_iters = 2;
    return spectra_optim_set_hparams(((fx_opt *)p)->opt, 0, &hp);
}
static spectra_status op_optim_step(void *p) { return spectra_optim_step(((fx_opt *)p)->opt); }
static spectra_status op_optim_serialize(void *p) {
    fx_opt *f = p;
    free(f->blob);
    f->blob = NULL;
    return spectra_optim_serialize(f->opt, &f->blob, &f->blob_len);
}
static void blob_snap(void *p, snap *s) {
    fx_opt *f = p;
    snap_u64(s, f->blob ? f->blob_len : UINT64_MAX);
    if (f->blob) snap_add(s, f->blob, f->blob_len);
}
/* deserialize / load into a fresh optimizer the state of a warm one */
static void *opt_setup_restore(void) {
    fx_opt *f = opt_setup_n(NP, 2);
    if (!f) return NULL;
    spectra_optim_serialize(f->opt, &f->blob, &f->blob_len);
    spectra_optim_save(f->opt, "faults_opt_in.bin");
    f->other = f->opt;
    f->opt = opt_build(f, NP);
    return f;
}
static spectra_status op_optim_deserialize(void *p) {
    fx_opt *f = p;
    return spectra_optim_deserialize(f->opt, f->blob, f->blob_len);
}
static spectra_status op_optim_load(void *p) { return spectra_optim_load(((fx_opt *)p)->opt, "faults_opt_in.bin"); }
static spectra_status op_optim_save(void *p) { return spectra_optim_save(((fx_opt *)p)->opt, "faults_out.bin"); }
static void *opt_setup_save(void) {
    previous_version("faults_out.bin");
    return opt_setup_n(NP, 1);
}
static void file_snap(void *p, snap *s) {
    (void)p;
    snap_file(s, "faults_out.bin");
    snap_dir_names(s, ".", "faults_out");
}

/* ---- model ---- */
typedef struct fx_model {
    spectra_model *m;
    int32_t in[16], tg[16];
    float loss;
} fx_model;
static void *model_setup(void) {
    fx_model *f = calloc(1, sizeof *f);
    spectra_train_config c = tiny_config(SPECTRA_ALGO_SPECTRA);
    if (spectra_model_create(&f->m, &c.model, 9)) return NULL;
    for (int i = 0; i < 16; i++) f->in[i] = (i * 37) % VOCAB, f->tg[i] = (i * 37 + 1) % VOCAB;
    f->loss = -1.0f;
    return f;
}
static void *model_setup_none(void) {
    fx_model *f = model_setup();
    spectra_model_destroy(f->m);
    f->m = NULL;
    return f;
}
static void model_teardown(void *p) {
    fx_model *f = p;
    spectra_model_destroy(f->m);
    free(f);
}
static void model_snap(void *p, snap *s) {
    fx_model *f = p;
    snap_u64(s, f->m ? spectra_model_num_params(f->m) : UINT64_MAX);
    if (!f->m) return;
    snap_add(s, spectra_model_params(f->m), spectra_model_num_params(f->m) * sizeof(float));
    snap_add(s, spectra_model_grads(f->m), spectra_model_num_params(f->m) * sizeof(float));
    snap_add(s, &f->loss, sizeof f->loss);
}
static spectra_status op_model_create(void *p) {
    fx_model *f = p;
    spectra_train_config c = tiny_config(SPECTRA_ALGO_SPECTRA);
    return spectra_model_create(&f->m, &c.model, 9);
}
static spectra_status op_model_forward(void *p) {
    fx_model *f = p;
    return spectra_model_forward(f->m, f->in, f->tg, NULL, 2, 8, &f->loss);
}
static void *model_setup_forward(void) {
    fx_model *f = model_setup();
    if (f && op_model_forward(f)) return NULL;
    return f;
}
static spectra_status op_model_backward(void *p) { return spectra_model_backward(((fx_model *)p)->m); }
static spectra_status op_model_reserve(void *p) { return spectra_model_reserve(((fx_model *)p)->m, 2, 8); }
static void model_reserve_snap(void *p, snap *s) {
    model_snap(p, s);
    snap_u64(s, spectra_model_activation_bytes(((fx_model *)p)->m));
}
static spectra_status op_model_ckpt_load(void *p) { return spectra_checkpoint_load_model(CKPT, &((fx_model *)p)->m); }

/* ---- tokenizer and BPE trainer ---- */
typedef struct fx_tok {
    spectra_tokenizer *tok;
    spectra_token_buf ids;
    spectra_byte_buf bytes;
    spectra_bpe_trainer *bpe;
} fx_tok;
static void *tok_setup(void) {
    fx_tok *f = calloc(1, sizeof *f);
    if (spectra_tokenizer_load_dir(TOKDIR, &f->tok)) return NULL;
    spectra_token_buf_push(&f->ids, 1), spectra_token_buf_push(&f->ids, 2);
    return f;
}
static void *tok_setup_none(void) {
    fx_tok *f = tok_setup();
    spectra_tokenizer_free(f->tok);
    f->tok = NULL;
    return f;
}
static void tok_teardown(void *p) {
    fx_tok *f = p;
    spectra_tokenizer_free(f->tok);
    spectra_token_buf_free(&f->ids);
    spectra_byte_buf_free(&f->bytes);
    spectra_bpe_trainer_free(f->bpe);
    free(f);
}
static void tok_snap(void *p, snap *s) {
    fx_tok *f = p;
    snap_u64(s, f->tok ? (uint64_t)spectra_tokenizer_vocab_size(f->tok) : UINT64_MAX);
    snap_u64(s, f->ids.len);
    snap_add(s, f->ids.ids, f->ids.len * sizeof(int32_t));
    snap_u64(s, f->bytes.len);
    snap_add(s, f->bytes.data, f->bytes.len);
    if (f->tok) { /* what the tokenizer does with a text, computed with faults off */
        spectra_token_buf b = {0};
        spectra_tokenizer_encode(f->tok, sample_text(), strlen(sample_text()), &b);
        snap_add(s, b.ids, b.len * sizeof(int32_t));
        spectra_token_buf_free(&b);
    }
}
static spectra_status op_tok_load(void *p) { return spectra_tokenizer_load_dir(TOKDIR, &((fx_tok *)p)->tok); }
static spectra_status op_tok_encode(void *p) {
    fx_tok *f = p;
    spectra_tokenizer_clear_cache(f->tok); /* every word through the BPE merges and the cache's growth */
    return spectra_tokenizer_encode(f->tok, long_text(), strlen(long_text()), &f->ids);
}
static spectra_status op_tok_decode(void *p) {
    fx_tok *f = p;
    int32_t ids[64];
    for (int i = 0; i < 64; i++) ids[i] = (i * 53) % VOCAB;
    return spectra_tokenizer_decode(f->tok, ids, 64, &f->bytes);
}
static spectra_status op_bpe_create(void *p) { return spectra_bpe_trainer_create(&((fx_tok *)p)->bpe); }
static void *bpe_setup(void) {
    fx_tok *f = calloc(1, sizeof *f);
    if (spectra_bpe_trainer_create(&f->bpe)) return NULL;
    spectra_bpe_trainer_add_text(f->bpe, "seed words here", 15);
    return f;
}
static void *bpe_setup_none(void) {
    fx_tok *f = calloc(1, sizeof *f);
    return f;
}
static void *bpe_setup_text(void) {
    fx_tok *f = bpe_setup();
    for (int r = 0; f && r < 2; r++) spectra_bpe_trainer_add_text(f->bpe, sample_text(), strlen(sample_text()));
    return f;
}
/* The trainer's words and what it trains from them, saved and read back. */
static void bpe_snap(void *p, snap *s) {
    fx_tok *f = p;
    snap_u64(s, f->bpe ? spectra_bpe_trainer_unique_words(f->bpe) : UINT64_MAX);
    if (!f->bpe) return;
    snap_u64(s, spectra_bpe_trainer_vocab_size(f->bpe));
    if (spectra_bpe_trainer_vocab_size(f->bpe)) {
        mkdir("faults_bpe_snap", 0755);
        if (spectra_bpe_trainer_save(f->bpe, "faults_bpe_snap") == SPECTRA_OK) {
            snap_file(s, "faults_bpe_snap/vocab.bpe");
            snap_file(s, "faults_bpe_snap/encoder.json");
        }
    }
}
/* add_text's effect (the words and their counts) shows in what the words train to */
static void bpe_words_snap(void *p, snap *s) {
    fx_tok *f = p;
    if (spectra_bpe_trainer_train(f->bpe, VOCAB, NULL, NULL) != SPECTRA_OK) snap_u64(s, UINT64_MAX);
    bpe_snap(p, s);
}
static spectra_status op_bpe_add(void *p) {
    return spectra_bpe_trainer_add_text(((fx_tok *)p)->bpe, long_text(), strlen(long_text()));
}
static spectra_status op_bpe_train(void *p) { return spectra_bpe_trainer_train(((fx_tok *)p)->bpe, VOCAB, NULL, NULL); }
static void *bpe_setup_trained(void) {
    fx_tok *f = bpe_setup_text();
    if (f && spectra_bpe_trainer_train(f->bpe, VOCAB, NULL, NULL)) return NULL;
    mkdir("faults_bpe_out", 0755);
    previous_version("faults_bpe_out/vocab.bpe"), previous_version("faults_bpe_out/encoder.json");
    return f;
}
static spectra_status op_bpe_save(void *p) {
    return spectra_bpe_trainer_save(((fx_tok *)p)->bpe, "faults_bpe_out");
}
static void bpe_out_snap(void *p, snap *s) {
    (void)p;
    snap_file(s, "faults_bpe_out/vocab.bpe");
    snap_file(s, "faults_bpe_out/encoder.json");
    snap_dir_names(s, "faults_bpe_out", "");
}

/* ---- data: shards, loader, corpus ---- */
typedef struct fx_data {
    spectra_loader *ld;
    spectra_corpus *c, *src;
    int32_t in[16], tg[16];
} fx_data;
static void *data_setup(void) { return calloc(1, sizeof(fx_data)); }
static void data_teardown(void *p) {
    fx_data *f = p;
    spectra_loader_free(f->ld);
    spectra_corpus_free(f->c);
    spectra_corpus_free(f->src);
    free(f);
}
static spectra_loader_config loader_cfg(void) {
    spectra_loader_config c = {0};
    c.batch_size = 2, c.seq_len = 8, c.vocab_size = VOCAB, c.seed = 4, c.shuffle = 1, c.rank = 0, c.world_size = 1;
    return c;
}
static spectra_status op_loader_open(void *p) {
    const char *sh[2] = {SHARD, SHARD};
    spectra_loader_config c = loader_cfg();
    return spectra_loader_open(sh, 2, &c, &((fx_data *)p)->ld);
}
static void loader_snap(void *p, snap *s) {
    fx_data *f = p;
    snap_u64(s, f->ld ? spectra_loader_total_tokens(f->ld) : UINT64_MAX);
    if (!f->ld) return;
    snap_u64(s, spectra_loader_steps_per_epoch(f->ld));
    spectra_loader_pos pos = spectra_loader_tell(f->ld);
    snap_u64(s, pos.epoch), snap_u64(s, pos.step);
    spectra_loader_next(f->ld, f->in, f->tg);
    snap_add(s, f->in, sizeof f->in);
    spectra_loader_seek(f->ld, pos);
}
static void corpus_snap_of(const spectra_corpus *c, snap *s) {
    snap_u64(s, c ? spectra_corpus_size(c) : UINT64_MAX);
    for (size_t i = 0; c && i < spectra_corpus_size(c); i++) {
        size_t len;
        const char *d = spectra_corpus_doc(c, i, &len);
        const char *name = spectra_corpus_doc_name(c, i);
        snap_add(s, name, strlen(name) + 1);
        snap_add(s, d, len);
    }
}
static void corpus_snap(void *p, snap *s) { corpus_snap_of(((fx_data *)p)->c, s); }
static spectra_status op_corpus_load(void *p) { return spectra_corpus_load_text(TEXTDIR, &((fx_data *)p)->c); }
static spectra_status op_corpus_brown(void *p) { return spectra_corpus_load_brown(BROWNDIR, &((fx_data *)p)->c); }
static spectra_status op_corpus_nlp(void *p) { return spectra_corpus_load_nlp(NLPDIR, 2, &((fx_data *)p)->c); }
static void *corpus_setup_two(void) {
    fx_data *f = data_setup();
    char p[256];
    snprintf(p, sizeof p, "%s/doc1.txt", TEXTDIR);
    if (spectra_corpus_load_text(p, &f->c) || spectra_corpus_load_text(TEXTDIR, &f->src)) return NULL;
    return f;
}
/* append frees src, also when it fails: a retry appends a new copy */
static spectra_status op_corpus_append(void *p) {
    fx_data *f = p;
    if (!f->src && spectra_corpus_load_text(TEXTDIR, &f->src)) return SPECTRA_ERR_IO;
    spectra_status st = spectra_corpus_append(f->c, f->src);
    f->src = NULL;
    return st;
}
static spectra_status op_shard_write(void *p) {
    (void)p;
    int32_t ids[100];
    for (int i = 0; i < 100; i++) ids[i] = i;
    return spectra_shard_write("faults_out.bin", ids, 100, VOCAB);
}
static void *shard_setup(void) {
    previous_version("faults_out.bin");
    return data_setup();
}

/* ---- trainer ---- */
typedef struct fx_train {
    spectra_trainer *t;
    double val;
} fx_train;
static void trainer_snap(void *p, snap *s) {
    fx_train *f = p;
    snap_add(s, &f->val, sizeof f->val);
    snap_u64(s, f->t ? spectra_trainer_steps_done(f->t) : UINT64_MAX);
    if (f->t && spectra_trainer_save(f->t, "faults_snap.bin") == SPECTRA_OK) snap_file(s, "faults_snap.bin");
}
static spectra_status op_trainer_create(void *p) {
    spectra_train_config c = tiny_config(SPECTRA_ALGO_SPECTRA);
    const char *sh[1] = {SHARD};
    return spectra_trainer_create(&((fx_train *)p)->t, &c, sh, 1, sh, 1);
}
static void *trainer_setup_none(void) {
    fx_train *f = calloc(1, sizeof *f);
    f->val = -1;
    return f;
}
static void *trainer_setup(void) {
    fx_train *f = trainer_setup_none();
    if (op_trainer_create(f)) return NULL;
    return f;
}
static void *trainer_setup_stepped(void) {
    fx_train *f = trainer_setup();
    if (f && spectra_trainer_step(f->t, NULL)) return NULL;
    return f;
}
static void trainer_teardown(void *p) {
    fx_train *f = p;
    spectra_trainer_destroy(f->t);
    free(f);
}
static spectra_status op_trainer_step(void *p) { return spectra_trainer_step(((fx_train *)p)->t, NULL); }
static spectra_status op_trainer_eval(void *p) { return spectra_trainer_evaluate(((fx_train *)p)->t, &((fx_train *)p)->val); }
static spectra_status op_trainer_load(void *p) { return spectra_trainer_load(((fx_train *)p)->t, CKPT); }
static spectra_status op_trainer_save(void *p) { return spectra_trainer_save(((fx_train *)p)->t, "faults_out.bin"); }
static void *trainer_setup_save(void) {
    previous_version("faults_out.bin");
    return trainer_setup_stepped();
}

typedef struct fx_cfg {
    spectra_train_config c;
} fx_cfg;
static void *cfg_setup(void) { return calloc(1, sizeof(fx_cfg)); }
static void cfg_teardown(void *p) { free(p); }
static spectra_status op_read_config(void *p) { return spectra_checkpoint_read_config(CKPT, &((fx_cfg *)p)->c); }
static void cfg_snap(void *p, snap *s) {
    const spectra_train_config *c = &((fx_cfg *)p)->c;
    snap_add(s, &c->model, sizeof c->model);
    snap_add(s, &c->matrix, sizeof c->matrix);
    snap_u64(s, c->batch_size), snap_u64(s, c->seq_len), snap_u64(s, c->max_steps);
}

/* ---- analysis ---- */
#define AR 12
#define AC 20
typedef struct fx_an {
    float X[AR * AC], V[AR * AC], full[AR * AC], tail[AR * AC];
    double s[AR], U[AR * AR], Vt[AC * AR], a[AR * 4], align[AR], s_ns[AR], hist[8], q;
    float w[VOCAB];
    uint8_t ends[VOCAB];
    spectra_tail_stats ts;
    spectra_model *m;
    spectra_loader *ld;
    spectra_tokenizer *tok;
    double loss;
} fx_an;
static void *an_setup(void) {
    fx_an *f = calloc(1, sizeof *f);
    uint64_t seed = 17;
    for (int i = 0; i < AR * AC; i++) f->X[i] = test_urand(&seed), f->V[i] = fabsf(test_urand(&seed));
    f->q = -1;
    return f;
}
static void an_teardown(void *p) {
    fx_an *f = p;
    spectra_model_destroy(f->m);
    spectra_loader_free(f->ld);
    spectra_tokenizer_free(f->tok);
    free(f);
}
static void an_snap(void *p, snap *s) {
    fx_an *f = p;
    snap_add(s, f, offsetof(fx_an, m)); /* every output array */
    if (f->m) snap_add(s, spectra_model_grads(f->m), spectra_model_num_params(f->m) * sizeof(float));
    if (f->ld) {
        spectra_loader_pos pos = spectra_loader_tell(f->ld);
        snap_u64(s, pos.epoch), snap_u64(s, pos.step);
    }
    snap_add(s, &f->loss, sizeof f->loss);
}
static spectra_status op_svd(void *p) {
    fx_an *f = p;
    return spectra_svd_exact(f->X, AR, AC, f->s, f->U, f->Vt);
}
static spectra_status op_svd_values(void *p) {
    fx_an *f = p;
    return spectra_svd_exact(f->X, AR, AC, f->s, NULL, NULL);
}
static spectra_status op_tail(void *p) {
    fx_an *f = p;
    return spectra_tail_suppression(f->X, f->V, AR, AC, 2, 1e-8, f->full, f->tail, &f->ts);
}
static spectra_status op_ns(void *p) {
    fx_an *f = p;
    return spectra_ns_alignment(f->X, AR, AC, 5, 0, f->align, f->s, f->s_ns);
}
static void *an_setup_svd(void) {
    fx_an *f = an_setup();
    spectra_svd_exact(f->X, AR, AC, f->s, f->U, f->Vt);
    memset(f->s, 0, sizeof f->s);
    return f;
}
static spectra_status op_projections(void *p) {
    fx_an *f = p;
    return spectra_spectral_projections(f->X, AR, AC, f->U, f->Vt, AR, 4, f->a);
}
static spectra_status op_quantile(void *p) {
    fx_an *f = p;
    double q = spectra_quantile(f->X, AR * AC, 0.9);
    if (isnan(q)) return SPECTRA_ERR_NOMEM; /* the documented failure value; the message says why */
    f->q = q;
    return SPECTRA_OK;
}
static spectra_status op_hist(void *p) {
    fx_an *f = p;
    return spectra_log10_histogram(f->V, AR * AC, -4, 0, 8, f->hist);
}
static spectra_status op_freqnorm(void *p) {
    const char *sh[1] = {SHARD};
    return spectra_token_weights_freqnorm(sh, 1, VOCAB, ((fx_an *)p)->w);
}
static void *an_setup_tok(void) {
    fx_an *f = an_setup();
    if (spectra_tokenizer_load_dir(TOKDIR, &f->tok)) return NULL;
    return f;
}
static spectra_status op_sentence_ends(void *p) {
    fx_an *f = p;
    return spectra_sentence_end_tokens(f->tok, VOCAB, f->ends);
}
static void *an_setup_grad(void) {
    fx_an *f = an_setup();
    spectra_train_config c = tiny_config(SPECTRA_ALGO_SPECTRA);
    const char *sh[1] = {SHARD};
    spectra_loader_config lc = loader_cfg();
    if (spectra_model_create(&f->m, &c.model, 9) || spectra_loader_open(sh, 1, &lc, &f->ld)) return NULL;
    for (int i = 0; i < VOCAB; i++) f->w[i] = 1.0f + (float)(i % 5) / 4, f->ends[i] = i % 17 == 0;
    return f;
}
static spectra_status op_mean_gradient(void *p) {
    fx_an *f = p;
    spectra_grad_opts o = {.n_batches = 2, .token_weights = f->w, .sentence_end = f->ends, .shuffle_seed = 3};
    return spectra_mean_gradient(f->m, f->ld, 2, 8, &o, &f->loss);
}

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (make_inputs()) {
        fprintf(stderr, "test_faults: could not make the inputs: %s\n", spectra_last_error());
        return 1;
    }
    const scenario all[] = {
        {"optim_create", opt_setup_none, op_optim_create, opt_snap, opt_teardown},
        {"optim_add_group", opt_setup_empty, op_optim_add_group, opt_snap, opt_teardown},
        {"optim_add_param[spectra]", NULL, op_optim_add_param, opt_snap, opt_teardown},
        {"optim_add_param[muon]", NULL, op_optim_add_param, opt_snap, opt_teardown},
        {"optim_add_param[dion]", NULL, op_optim_add_param, opt_snap, opt_teardown},
        {"optim_add_param[adamw]", NULL, op_optim_add_param, opt_snap, opt_teardown},
        {"optim_step (first)", opt_setup_fresh, op_optim_step, opt_snap, opt_teardown},
        {"optim_step (warm)", opt_setup_warm, op_optim_step, opt_snap, opt_teardown},
        {"optim_set_hparams", opt_setup_warm, op_optim_set_hparams, opt_snap, opt_teardown},
        {"optim_serialize", opt_setup_warm, op_optim_serialize, blob_snap, opt_teardown},
        {"optim_deserialize", opt_setup_restore, op_optim_deserialize, opt_snap, opt_teardown},
        {"optim_load", opt_setup_restore, op_optim_load, opt_snap, opt_teardown},
        {"optim_save", opt_setup_save, op_optim_save, file_snap, opt_teardown},
        {"model_create", model_setup_none, op_model_create, model_snap, model_teardown},
        {"model_reserve", model_setup, op_model_reserve, model_reserve_snap, model_teardown},
        {"model_forward", model_setup, op_model_forward, model_snap, model_teardown},
        {"model_backward", model_setup_forward, op_model_backward, model_snap, model_teardown},
        {"checkpoint_read_config", cfg_setup, op_read_config, cfg_snap, cfg_teardown},
        {"checkpoint_load_model", model_setup_none, op_model_ckpt_load, model_snap, model_teardown},
        {"tokenizer_load_dir", tok_setup_none, op_tok_load, tok_snap, tok_teardown},
        {"tokenizer_encode", tok_setup, op_tok_encode, tok_snap, tok_teardown},
        {"tokenizer_decode", tok_setup, op_tok_decode, tok_snap, tok_teardown},
        {"bpe_trainer_create", bpe_setup_none, op_bpe_create, bpe_snap, tok_teardown},
        {"bpe_trainer_add_text", bpe_setup, op_bpe_add, bpe_words_snap, tok_teardown},
        {"bpe_trainer_train", bpe_setup_text, op_bpe_train, bpe_snap, tok_teardown},
        {"bpe_trainer_save", bpe_setup_trained, op_bpe_save, bpe_out_snap, tok_teardown},
        {"shard_write", shard_setup, op_shard_write, file_snap, data_teardown},
        {"loader_open", data_setup, op_loader_open, loader_snap, data_teardown},
        {"corpus_load_text", data_setup, op_corpus_load, corpus_snap, data_teardown},
        {"corpus_load_brown", data_setup, op_corpus_brown, corpus_snap, data_teardown},
        {"corpus_load_nlp", data_setup, op_corpus_nlp, corpus_snap, data_teardown},
        {"corpus_append", corpus_setup_two, op_corpus_append, corpus_snap, data_teardown},
        {"trainer_create", trainer_setup_none, op_trainer_create, trainer_snap, trainer_teardown},
        {"trainer_step (first)", trainer_setup, op_trainer_step, trainer_snap, trainer_teardown},
        {"trainer_step (second)", trainer_setup_stepped, op_trainer_step, trainer_snap, trainer_teardown},
        {"trainer_evaluate", trainer_setup_stepped, op_trainer_eval, trainer_snap, trainer_teardown},
        {"trainer_save", trainer_setup_save, op_trainer_save, file_snap, trainer_teardown},
        {"trainer_load", trainer_setup, op_trainer_load, trainer_snap, trainer_teardown},
        {"svd_exact", an_setup, op_svd, an_snap, an_teardown},
        {"svd_exact (values)", an_setup, op_svd_values, an_snap, an_teardown},
        {"tail_suppression", an_setup, op_tail, an_snap, an_teardown},
        {"ns_alignment", an_setup, op_ns, an_snap, an_teardown},
        {"spectral_projections", an_setup_svd, op_projections, an_snap, an_teardown},
        {"quantile", an_setup, op_quantile, an_snap, an_teardown},
        {"log10_histogram", an_setup, op_hist, an_snap, an_teardown},
        {"token_weights_freqnorm", an_setup, op_freqnorm, an_snap, an_teardown},
        {"sentence_end_tokens", an_setup_tok, op_sentence_ends, an_snap, an_teardown},
        {"mean_gradient", an_setup_grad, op_mean_gradient, an_snap, an_teardown},
    };
    int ran = 0;
    for (int kind = 0; kind < 2; kind++) {
        const fault_kind *fk = kind ? &IO : &ALLOC;
        printf("---- each of the %s of a call fails in turn ----\n", fk->what);
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            scenario sc = all[i];
            if (only && !strstr(sc.name, only)) continue;
            if (!sc.setup) { /* add_param[algo]: every parameter before the first of algo is registered */
                char algo[16] = "";
                spectra_algo want = SPECTRA_ALGO_SPECTRA;
                sscanf(strchr(sc.name, '['), "[%15[a-z]]", algo);
                CHECK_OK(spectra_algo_from_name(algo, &want));
                for (int j = 0; j < NP; j++)
                    if (P_ALGO[j] == want) {
                        opt_params_added = j;
                        break;
                    }
                sc.setup = opt_setup_partial;
            }
            run(&sc, fk);
            ran++;
        }
    }
    printf("test_faults: %d runs, %d checks, %d failures\n", ran, test_checks, test_failures);
    return test_failures ? 1 : 0;
}
