/* Corpus readers: local files only (fetching is the CLI's job). */
#include "spectra/data.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/fileio.h"
#include "data/bpe_internal.h"

typedef struct doc {
    char *text;
    size_t len;
    char *name;
} doc;

struct spectra_corpus {
    doc *docs;
    size_t n, cap;
};

static spectra_corpus *corpus_new(void) { return spectra_zalloc(1, sizeof(spectra_corpus)); }

/* Takes ownership of text (malloc'd) on success and on failure. */
/* Room for `need` documents (capacity doubled, from 64); -1 if out of memory or need is
 * beyond what size_t can count. c is unchanged on failure. */
static int corpus_reserve(spectra_corpus *c, size_t need) {
    if (need <= c->cap) return 0;
    if (need > SIZE_MAX / sizeof *c->docs) return -1;
    size_t nc = c->cap ? c->cap : 64;
    while (nc < need) nc = nc > SIZE_MAX / sizeof *c->docs / 2 ? need : nc * 2;
    doc *d = spectra_realloc(c->docs, nc * sizeof *d);
    if (!d) return -1;
    c->docs = d;
    c->cap = nc;
    return 0;
}

static spectra_status corpus_add(spectra_corpus *c, char *text, size_t len, const char *name) {
    if (corpus_reserve(c, c->n + 1)) {
        free(text);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
    }
    char *nm = spectra_strdup(name);
    if (!nm) {
        free(text);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
    }
    c->docs[c->n++] = (doc){text, len, nm};
    return SPECTRA_OK;
}

void spectra_corpus_free(spectra_corpus *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->docs[i].text);
        free(c->docs[i].name);
    }
    free(c->docs);
    free(c);
}

size_t spectra_corpus_size(const spectra_corpus *c) { return c ? c->n : 0; }

const char *spectra_corpus_doc(const spectra_corpus *c, size_t i, size_t *len) {
    if (!c || i >= c->n) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = c->docs[i].len;
    return c->docs[i].text;
}

const char *spectra_corpus_doc_name(const spectra_corpus *c, size_t i) {
    return c && i < c->n ? c->docs[i].name : NULL;
}

int spectra_corpus_is_val(size_t doc_index, size_t val_every) {
    return val_every > 0 && doc_index % val_every == val_every - 1;
}

spectra_status spectra_corpus_append(spectra_corpus *dst, spectra_corpus *src) {
    if (!dst || !src) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "corpus_append: NULL corpus");
    /* Appending a corpus to itself would read the documents it is adding (the loop never
     * ended) and then free the destination. */
    if (dst == src)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "corpus_append: dst and src are the same corpus");
    /* Room for every document first, so that the move itself cannot fail half-way: on
     * failure dst is exactly as it was. */
    const size_t need = dst->n + src->n; /* both counts of allocated arrays: cannot wrap */
    if (corpus_reserve(dst, need)) {
        spectra_corpus_free(src);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "corpus_append: out of memory for %zu documents", need);
    }
    if (src->n) memcpy(dst->docs + dst->n, src->docs, src->n * sizeof *src->docs);
    dst->n = need;
    src->n = 0; /* the texts and names now belong to dst */
    spectra_corpus_free(src);
    return SPECTRA_OK;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Lists names in dir accepted by keep(), sorted. */
static spectra_status list_dir(const char *dir, int (*keep)(const char *), char ***names, size_t *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return spectra_set_error(SPECTRA_ERR_IO, "cannot open directory %s", dir);
    size_t cap = 0;
    struct dirent *e;
    int oom = 0;
    while (!oom && (e = readdir(d))) {
        if (!keep(e->d_name)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            char **p = spectra_realloc(*names, cap * sizeof *p);
            if (!(oom = !p)) *names = p;
        }
        if (!oom && !(oom = !((*names)[*n] = spectra_strdup(e->d_name)))) (*n)++;
    }
    closedir(d);
    if (oom) { /* a partial listing would load a partial corpus */
        free_names(*names, *n);
        *names = NULL, *n = 0;
        return spectra_set_error(SPECTRA_ERR_NOMEM, "out of memory listing directory %s", dir);
    }
    if (*n) qsort(*names, *n, sizeof **names, cmp_str);
    return SPECTRA_OK;
}


/* ---- Brown ---- */
static int is_brown_file(const char *s) {
    return strlen(s) == 4 && s[0] == 'c' && s[1] >= 'a' && s[1] <= 'r' && s[2] >= '0' && s[2] <= '9' && s[3] >= '0' &&
           s[3] <= '9';
}

static int attaches_left(const char *w, size_t n) {
    if (n == 2 && !memcmp(w, "''", 2)) return 1;
    if (n == 1 && strchr(".,;:?!)]}", w[0])) return 1;
    return 0;
}

static int attaches_right(const char *w, size_t n) {
    if (n == 2 && !memcmp(w, "``", 2)) return 1;
    return n == 1 && strchr("([{", w[0]) != NULL;
}

/* Brown text is "word/tag" tokens separated by spaces, sentences on lines starting
 * with a tab, paragraphs separated by blank lines. Tags go; words are rejoined with
 * the usual spacing around punctuation, `` and '' become straight double quotes. */
static char *brown_detag(const char *in, size_t n, size_t *out_len) {
    char *o = spectra_malloc(2 * n + 16); /* the output is never longer than n + 1; spare room */
    if (!o) return NULL;
    size_t k = 0;
    int pending_para = 0, no_space = 1;
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && in[e] != '\n') e++;
        size_t ls = i, le = e;
        i = e + 1;
        while (ls < le && (in[ls] == ' ' || in[ls] == '\t' || in[ls] == '\r')) ls++;
        if (ls == le) {
            if (k > 0) pending_para = 1;
            continue;
        }
        for (size_t p = ls; p < le;) {
            while (p < le && (in[p] == ' ' || in[p] == '\t' || in[p] == '\r')) p++;
            size_t q = p;
            while (q < le && in[q] != ' ' && in[q] != '\t' && in[q] != '\r') q++;
            if (q == p) break;
            size_t slash = q;
            for (size_t s = q; s > p; s--)
                if (in[s - 1] == '/') {
                    slash = s - 1;
                    break;
                }
            const char *w = in + p;
            size_t wn = slash - p;
            p = q;
            if (wn == 0) continue;
            if (pending_para) {
                o[k++] = '\n';
                o[k++] = '\n';
                pending_para = 0;
                no_space = 1;
            }
            if (!no_space && !attaches_left(w, wn)) o[k++] = ' ';
            if ((wn == 2 && !memcmp(w, "``", 2)) || (wn == 2 && !memcmp(w, "''", 2))) {
                o[k++] = '"';
            } else {
                memcpy(o + k, w, wn);
                k += wn;
            }
            no_space = attaches_right(w, wn);
        }
    }
    if (k > 0) o[k++] = '\n';
    *out_len = k;
    return o;
}

spectra_status spectra_corpus_load_brown(const char *pkg, spectra_corpus **out) {
    if (!pkg || !out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "corpus_load_brown: NULL argument");
    *out = NULL;
    char **names;
    size_t n;
    spectra_status st = list_dir(pkg, is_brown_file, &names, &n);
    if (st) return st;
    if (n == 0) {
        free_names(names, n);
        return spectra_set_error(SPECTRA_ERR_FORMAT, "%s: no Brown corpus files (ca01 ... cr09)", pkg);
    }
    spectra_corpus *c = corpus_new();
    if (!c) {
        free_names(names, n);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
    }
    size_t plen = strlen(pkg) + 16;
    char *path = spectra_malloc(plen);
    for (size_t i = 0; path && i < n && !st; i++) {
        snprintf(path, plen, "%s/%s", pkg, names[i]);
        void *raw;
        size_t len;
        if ((st = spectra_read_file(path, &raw, &len))) break;
        size_t tl;
        char *text = brown_detag(raw, len, &tl);
        spectra_free(raw);
        if (!text) {
            st = spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
            break;
        }
        st = corpus_add(c, text, tl, names[i]);
    }
    if (!path) st = spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
    free(path);
    free_names(names, n);
    if (st) {
        spectra_corpus_free(c);
        return st;
    }
    *out = c;
    return SPECTRA_OK;
}

/* ---- nlp-corpus ---- */
static int is_nlp_file(const char *s) {
    size_t n = strlen(s);
    return n > 9 && !strncmp(s, "doc-", 4) && !strcmp(s + n - 5, ".json");
}

static int cmp_nlp(const void *a, const void *b) {
    long x = strtol(*(char *const *)a + 4, NULL, 10), y = strtol(*(char *const *)b + 4, NULL, 10);
    return (x > y) - (x < y);
}

typedef struct nlp_ctx {
    spectra_buf cur;
    size_t in_cur, per_doc, part;
    spectra_corpus *c;
    const char *file;
    spectra_status st;
} nlp_ctx;

static int nlp_flush(nlp_ctx *x) {
    if (!x->in_cur) return 0;
    if (x->cur.failed) return 1;
    char name[300];
    snprintf(name, sizeof name, "%s#%zu", x->file, x->part++);
    char *text = spectra_malloc(x->cur.len + 1);
    if (!text) return 1;
    memcpy(text, x->cur.data, x->cur.len);
    x->st = corpus_add(x->c, text, x->cur.len, name);
    x->cur.len = 0;
    x->in_cur = 0;
    return x->st != SPECTRA_OK;
}

static int nlp_sentence(void *ctx, const char *s, size_t len) {
    nlp_ctx *x = ctx;
    spectra_buf_append(&x->cur, s, len);
    spectra_buf_append(&x->cur, "\n", 1);
    if (++x->in_cur == x->per_doc) return nlp_flush(x);
    return x->cur.failed;
}

spectra_status spectra_corpus_load_nlp(const char *pkg, size_t per_doc, spectra_corpus **out) {
    if (!pkg || !out || per_doc == 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "corpus_load_nlp: NULL argument or zero sentences per doc");
    *out = NULL;
    const size_t dlen = strlen(pkg) + sizeof "/builds";
    char *dir = spectra_malloc(dlen), *path = NULL;
    char **names = NULL;
    size_t n = 0, plen = 0;
    spectra_corpus *c = corpus_new();
    spectra_status st = SPECTRA_OK;
    if (!dir || !c) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
        goto done;
    }
    snprintf(dir, dlen, "%s/builds", pkg);
    if ((st = list_dir(dir, is_nlp_file, &names, &n))) goto done;
    if (n == 0) {
        st = spectra_set_error(SPECTRA_ERR_FORMAT, "%s: no doc-N.json files", dir);
        goto done;
    }
    qsort(names, n, sizeof *names, cmp_nlp);
    /* sized for the longest name: "doc-" + digits has no length limit */
    for (size_t i = 0; i < n; i++)
        if (dlen + 1 + strlen(names[i]) > plen) plen = dlen + 1 + strlen(names[i]);
    if (!(path = spectra_malloc(plen))) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n && !st; i++) {
        snprintf(path, plen, "%s/%s", dir, names[i]);
        void *raw;
        size_t len;
        if ((st = spectra_read_file(path, &raw, &len))) break;
        nlp_ctx x = {.per_doc = per_doc, .c = c, .file = names[i]};
        spectra_buf_init(&x.cur);
        st = spectra_json_parse_str_array(raw, len, path, nlp_sentence, &x);
        if (!st && nlp_flush(&x)) st = x.st ? x.st : spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
        if (x.st && !st) st = x.st;
        spectra_buf_free(&x.cur);
        spectra_free(raw);
    }
done:
    free(dir);
    free(path);
    free_names(names, n);
    if (st) {
        spectra_corpus_free(c);
        return st;
    }
    *out = c;
    return SPECTRA_OK;
}

/* ---- plain text ---- */
static int keep_visible(const char *s) { return s[0] != '.'; }

static spectra_status add_path(spectra_corpus *c, const char *path, int depth) {
    struct stat sb;
    if (stat(path, &sb) != 0) return spectra_set_error(SPECTRA_ERR_IO, "cannot open %s", path);
    if (S_ISREG(sb.st_mode)) {
        void *raw;
        size_t len;
        spectra_status st = spectra_read_file(path, &raw, &len);
        if (st) return st;
        char *text = spectra_malloc(len + 1);
        if (!text) {
            spectra_free(raw);
            return spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
        }
        memcpy(text, raw, len);
        spectra_free(raw);
        return corpus_add(c, text, len, path);
    }
    if (!S_ISDIR(sb.st_mode) || depth > 32) return SPECTRA_OK;
    char **names;
    size_t n;
    spectra_status st = list_dir(path, keep_visible, &names, &n);
    if (st) return st;
    size_t plen = strlen(path) + 512;
    char *sub = spectra_malloc(plen);
    for (size_t i = 0; sub && i < n && !st; i++) {
        snprintf(sub, plen, "%s/%s", path, names[i]);
        st = add_path(c, sub, depth + 1);
    }
    if (!sub) st = spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
    free(sub);
    free_names(names, n);
    return st;
}

spectra_status spectra_corpus_load_text(const char *path, spectra_corpus **out) {
    if (!path || !out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "corpus_load_text: NULL argument");
    *out = NULL;
    spectra_corpus *c = corpus_new();
    if (!c) return spectra_set_error(SPECTRA_ERR_NOMEM, "corpus: out of memory");
    spectra_status st = add_path(c, path, 0);
    if (!st && c->n == 0) st = spectra_set_error(SPECTRA_ERR_INVALID_ARG, "%s: no text files found", path);
    if (st) {
        spectra_corpus_free(c);
        return st;
    }
    *out = c;
    return SPECTRA_OK;
}
