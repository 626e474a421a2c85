/* Byte-level BPE trainer.
 *
 * Words (GPT-2 pre-tokenizer pieces) are counted once; training works on the distinct
 * words weighted by their counts. Each pair of adjacent ids keeps its total count and
 * the list of words it occurs in, so a merge only revisits the words that contain the
 * merged pair: their old pairs are subtracted and their new pairs added (incremental
 * counts, no recount per merge). The next merge comes from a max-heap with lazy
 * deletion: a popped entry whose count is stale is pushed back with the current count.
 *
 * Determinism: the winner is the pair with the highest count, ties broken by the
 * smaller left id, then the smaller right id. Ids only depend on earlier merges, so the
 * result is a function of the word counts alone, not of hash-map or file order. */
#include "spectra/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/fileio.h"
#include "data/bpe_internal.h"

/* The result of one train(): built in a fresh instance and committed to the trainer only
 * when training succeeds, so a cancelled or failed run keeps the previous result. */
typedef struct bpe_result {
    size_t ntok;               /* tokens excluding <|endoftext|> */
    uint64_t *tok_off;         /* bytes of token i in tok_bytes */
    uint32_t *tok_len;
    unsigned char *tok_bytes;
    size_t tok_bytes_len, tok_bytes_cap, tok_cap;
    int32_t *merge_a, *merge_b;
    size_t nmerges, merge_cap;
} bpe_result;

struct spectra_bpe_trainer {
    spectra_bytemap bm;
    spectra_pretok *pretok;
    spectra_strmap words; /* word bytes -> count */
    bpe_result res;       /* of the last successful train() */
    int trained;
};

spectra_status spectra_bpe_trainer_create(spectra_bpe_trainer **out) {
    if (!out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "bpe_trainer_create: NULL argument");
    *out = NULL;
    spectra_bpe_trainer *tr = spectra_zalloc(1, sizeof *tr);
    if (!tr) return spectra_set_error(SPECTRA_ERR_NOMEM, "bpe trainer: out of memory");
    spectra_bytemap_init(&tr->bm);
    spectra_status st = spectra_pretok_create(&tr->pretok);
    if (!st && spectra_strmap_init(&tr->words, 1 << 16)) st = spectra_set_error(SPECTRA_ERR_NOMEM, "bpe trainer: out of memory");
    if (st) {
        spectra_bpe_trainer_free(tr);
        return st;
    }
    *out = tr;
    return SPECTRA_OK;
}

static void clear_result(bpe_result *r) {
    free(r->tok_off);
    free(r->tok_len);
    free(r->tok_bytes);
    free(r->merge_a);
    free(r->merge_b);
    *r = (bpe_result){0};
}

void spectra_bpe_trainer_free(spectra_bpe_trainer *tr) {
    if (!tr) return;
    spectra_pretok_free(tr->pretok);
    if (tr->words.hashes) spectra_strmap_free(&tr->words);
    clear_result(&tr->res);
    free(tr);
}

size_t spectra_bpe_trainer_unique_words(const spectra_bpe_trainer *tr) { return tr ? tr->words.count : 0; }

size_t spectra_bpe_trainer_vocab_size(const spectra_bpe_trainer *tr) {
    return tr && tr->trained ? tr->res.ntok + 1 : 0;
}

spectra_status spectra_bpe_trainer_add_text(spectra_bpe_trainer *tr, const void *text, size_t len) {
    if (!tr || (!text && len)) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "bpe_trainer_add_text: NULL argument");
    unsigned char *fixed = NULL;
    size_t flen = len;
    int r = spectra_utf8_repair(text, len, &fixed, &flen);
    if (r < 0) return spectra_set_error(SPECTRA_ERR_NOMEM, "bpe trainer: out of memory");
    const unsigned char *t = r ? fixed : text;
    size_t pos = 0, a, b;
    int m = 0;
    spectra_status st = SPECTRA_OK;
    /* The text's words are counted on their own first and merged only once room for all of
     * them is reserved: a failure midway leaves the trainer's counts as they were. */
    spectra_strmap local;
    if (spectra_strmap_init(&local, flen / 8 < 1024 ? flen / 8 + 8 : 1024)) st = SPECTRA_ERR_NOMEM;
    while (!st && (m = spectra_pretok_next(tr->pretok, t, flen, &pos, &a, &b)) == 1) {
        uint64_t *c = spectra_strmap_put(&local, t + a, b - a, NULL);
        if (!c) st = SPECTRA_ERR_NOMEM;
        else (*c)++;
    }
    if (!st && m == -2) st = SPECTRA_ERR_NOMEM;
    if (!st && m < 0) st = spectra_set_error(SPECTRA_ERR_STATE, "bpe trainer: the pre-tokenizer failed");
    if (!st && spectra_strmap_reserve(&tr->words, local.count, local.arena_len)) st = SPECTRA_ERR_NOMEM;
    for (size_t i = 0; !st && i < local.cap; i++) {
        if (!local.hashes[i]) continue;
        size_t n;
        const unsigned char *k = spectra_strmap_key(&local, i, &n);
        *spectra_strmap_put(&tr->words, k, n, NULL) += local.vals[i]; /* cannot fail after the reserve */
    }
    if (st == SPECTRA_ERR_NOMEM) spectra_set_error(SPECTRA_ERR_NOMEM, "bpe trainer: out of memory");
    spectra_strmap_free(&local);
    free(fixed);
    return st;
}

/* ---- training state ---- */
typedef struct pairinfo {
    int64_t count;
    int32_t a, b;
    uint32_t round; /* last merge round that queued it for a heap push */
    uint32_t *occ; /* words containing the pair (may hold stale entries and repeats) */
    uint32_t nocc, capocc;
} pairinfo;

typedef struct heapent {
    int64_t count;
    int32_t a, b;
} heapent;

typedef struct train {
    spectra_u64map pidx; /* pair -> index into pairs */
    pairinfo *pairs;
    size_t npairs, cappairs;
    heapent *heap;
    size_t nheap, capheap;
    int failed;
} train;

static inline uint64_t pkey(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static pairinfo *pair_get(train *T, int32_t a, int32_t b, int create) {
    uint64_t *v = create ? spectra_u64map_put(&T->pidx, pkey(a, b), NULL) : spectra_u64map_get(&T->pidx, pkey(a, b));
    if (!v) {
        if (create) T->failed = 1;
        return NULL;
    }
    if (*v == 0) { /* values are index + 1 so that 0 means fresh */
        if (T->npairs == T->cappairs) {
            size_t nc = T->cappairs ? T->cappairs * 2 : 1 << 16;
            pairinfo *p = spectra_realloc(T->pairs, nc * sizeof *p);
            if (!p) {
                T->failed = 1;
                return NULL;
            }
            T->pairs = p;
            T->cappairs = nc;
        }
        T->pairs[T->npairs] = (pairinfo){0, a, b, 0, NULL, 0, 0};
        *v = ++T->npairs;
    }
    return &T->pairs[*v - 1];
}

static void occ_add(train *T, pairinfo *p, uint32_t w) {
    if (p->nocc && p->occ[p->nocc - 1] == w) return;
    if (p->nocc == p->capocc) {
        uint32_t nc = p->capocc ? p->capocc * 2 : 4;
        uint32_t *o = spectra_realloc(p->occ, nc * sizeof *o);
        if (!o) {
            T->failed = 1;
            return;
        }
        p->occ = o;
        p->capocc = nc;
    }
    p->occ[p->nocc++] = w;
}

static inline int heap_less(const heapent *x, const heapent *y) {
    /* x has lower priority than y */
    if (x->count != y->count) return x->count < y->count;
    if (x->a != y->a) return x->a > y->a;
    return x->b > y->b;
}

static void heap_push(train *T, heapent e) {
    if (T->nheap == T->capheap) {
        size_t nc = T->capheap ? T->capheap * 2 : 1 << 16;
        heapent *h = spectra_realloc(T->heap, nc * sizeof *h);
        if (!h) {
            T->failed = 1;
            return;
        }
        T->heap = h;
        T->capheap = nc;
    }
    size_t i = T->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&T->heap[p], &e)) break;
        T->heap[i] = T->heap[p];
        i = p;
    }
    T->heap[i] = e;
}

static heapent heap_pop(train *T) {
    heapent top = T->heap[0], last = T->heap[--T->nheap];
    size_t i = 0, n = T->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const heapent *best = &last;
        if (l < n && heap_less(best, &T->heap[l])) m = l, best = &T->heap[l];
        if (r < n && heap_less(best, &T->heap[r])) m = r;
        if (m == i) break;
        T->heap[i] = T->heap[m];
        i = m;
    }
    if (n) T->heap[i] = last;
    return top;
}

static int add_token(bpe_result *r, const unsigned char *b, size_t n) {
    if (r->ntok == r->tok_cap) {
        size_t nc = r->tok_cap ? r->tok_cap * 2 : 1024;
        uint64_t *o = spectra_realloc(r->tok_off, nc * sizeof *o);
        if (!o) return -1;
        r->tok_off = o;
        uint32_t *l = spectra_realloc(r->tok_len, nc * sizeof *l);
        if (!l) return -1;
        r->tok_len = l;
        r->tok_cap = nc;
    }
    if (r->tok_bytes_len + n > r->tok_bytes_cap) {
        size_t nc = r->tok_bytes_cap ? r->tok_bytes_cap * 2 : 1 << 16;
        while (nc < r->tok_bytes_len + n) nc *= 2;
        unsigned char *p = spectra_realloc(r->tok_bytes, nc);
        if (!p) return -1;
        r->tok_bytes = p;
        r->tok_bytes_cap = nc;
    }
    memcpy(r->tok_bytes + r->tok_bytes_len, b, n);
    r->tok_off[r->ntok] = r->tok_bytes_len;
    r->tok_len[r->ntok] = (uint32_t)n;
    r->tok_bytes_len += n;
    r->ntok++;
    return 0;
}

spectra_status spectra_bpe_trainer_train(spectra_bpe_trainer *tr, size_t vocab_size, spectra_bpe_progress_fn progress,
                                         void *ctx) {
    if (!tr) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "bpe_trainer_train: NULL trainer");
    if (vocab_size < 257 || vocab_size > 65536)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "bpe_trainer_train: vocab size %zu not in [257, 65536]",
                                 vocab_size);
    bpe_result R = {0};
    spectra_status st = SPECTRA_OK;
    const size_t nw = tr->words.count;
    int64_t *freq = spectra_malloc((nw ? nw : 1) * sizeof *freq);
    uint64_t *woff = spectra_malloc((nw + 1) * sizeof *woff);
    uint32_t *wlen = spectra_malloc((nw ? nw : 1) * sizeof *wlen);
    uint32_t *stamp = spectra_zalloc(nw ? nw : 1, sizeof *stamp);
    int32_t *sym = NULL, *scratch = NULL;
    uint32_t *touched = NULL;
    size_t ntouched = 0, captouched = 0;
    spectra_strmap tokmap = {0};
    train T = {0};
    if (!freq || !woff || !wlen || !stamp || spectra_u64map_init(&T.pidx, 1 << 16) || spectra_strmap_init(&tokmap, 1 << 14))
        goto nomem;

    int32_t byte_tok[256];
    for (int k = 0; k < 256; k++) {
        unsigned char b = tr->bm.byte_order[k];
        byte_tok[b] = k;
        if (add_token(&R, &b, 1)) goto nomem;
        uint64_t *v = spectra_strmap_put(&tokmap, &b, 1, NULL);
        if (!v) goto nomem;
        *v = (uint64_t)k;
    }
    /* Word order follows the hash layout; it cannot change the result, since counts are
     * sums over words and the heap order depends on counts and ids only. */
    size_t total = 0, w = 0;
    for (size_t s = 0; s < tr->words.cap; s++)
        if (tr->words.hashes[s]) total += tr->words.klen[s];
    sym = spectra_malloc((total ? total : 1) * sizeof *sym);
    if (!sym) goto nomem;
    size_t off = 0, maxlen = 0;
    for (size_t s = 0; s < tr->words.cap; s++) {
        if (!tr->words.hashes[s]) continue;
        size_t n;
        const unsigned char *k = spectra_strmap_key(&tr->words, s, &n);
        freq[w] = (int64_t)tr->words.vals[s];
        woff[w] = off;
        wlen[w] = (uint32_t)n;
        if (n > maxlen) maxlen = n;
        for (size_t i = 0; i < n; i++) sym[off + i] = byte_tok[k[i]];
        off += n;
        w++;
    }
    scratch = spectra_malloc((maxlen ? maxlen : 1) * sizeof *scratch);
    if (!scratch) goto nomem;
    for (uint32_t i = 0; i < nw; i++) {
        const int32_t *s = sym + woff[i];
        for (uint32_t j = 0; j + 1 < wlen[i]; j++) {
            pairinfo *p = pair_get(&T, s[j], s[j + 1], 1);
            if (!p) goto nomem;
            p->count += freq[i];
            occ_add(&T, p, i);
        }
    }
    if (T.failed) goto nomem;
    for (size_t s = 0; s < T.pidx.cap; s++) {
        if (T.pidx.keys[s] == UINT64_MAX) continue;
        pairinfo *p = &T.pairs[T.pidx.vals[s] - 1];
        heap_push(&T, (heapent){p->count, (int32_t)(T.pidx.keys[s] >> 32), (int32_t)(uint32_t)T.pidx.keys[s]});
    }
    if (T.failed) goto nomem;

    const size_t want = vocab_size - 1 - 256; /* new ids; the last id is <|endoftext|> */
    size_t added = 0;
    uint32_t round = 0;
    unsigned char *tmpb = NULL;
    size_t tmpcap = 0;
    while (added < want && T.nheap) {
        heapent e = heap_pop(&T);
        pairinfo *p = pair_get(&T, e.a, e.b, 0);
        int64_t cur = p ? p->count : 0;
        if (cur != e.count) {
            if (cur > 0) heap_push(&T, (heapent){cur, e.a, e.b});
            if (T.failed) goto nomem_tmp;
            continue;
        }
        if (cur < 2) break; /* nothing left that is worth a token */
        /* new token = bytes(a) + bytes(b); reuse the id if those bytes already exist */
        size_t la = R.tok_len[e.a], lb = R.tok_len[e.b];
        if (la + lb > tmpcap) {
            tmpcap = (la + lb) * 2;
            unsigned char *q = spectra_realloc(tmpb, tmpcap);
            if (!q) goto nomem_tmp;
            tmpb = q;
        }
        memcpy(tmpb, R.tok_bytes + R.tok_off[e.a], la);
        memcpy(tmpb + la, R.tok_bytes + R.tok_off[e.b], lb);
        int is_new;
        uint64_t *tv = spectra_strmap_put(&tokmap, tmpb, la + lb, &is_new);
        if (!tv) goto nomem_tmp;
        if (is_new) {
            *tv = R.ntok;
            if (add_token(&R, tmpb, la + lb)) goto nomem_tmp;
            added++;
        }
        int32_t c = (int32_t)*tv;
        if (R.nmerges == R.merge_cap) {
            size_t nc = R.merge_cap ? R.merge_cap * 2 : 1024;
            int32_t *ma = spectra_realloc(R.merge_a, nc * sizeof *ma);
            if (!ma) goto nomem_tmp;
            R.merge_a = ma;
            int32_t *mb = spectra_realloc(R.merge_b, nc * sizeof *mb);
            if (!mb) goto nomem_tmp;
            R.merge_b = mb;
            R.merge_cap = nc;
        }
        R.merge_a[R.nmerges] = e.a;
        R.merge_b[R.nmerges] = e.b;
        R.nmerges++;
        round++;
        ntouched = 0;
        /* p may move when pairs grow: work on a detached copy of its word list */
        uint32_t *occ = p->occ, nocc = p->nocc;
        p->occ = NULL;
        p->nocc = p->capocc = 0;
        for (uint32_t oi = 0; oi < nocc; oi++) {
            uint32_t wi = occ[oi];
            if (stamp[wi] == round) continue;
            stamp[wi] = round;
            int32_t *s = sym + woff[wi];
            uint32_t n = wlen[wi];
            int has = 0;
            for (uint32_t j = 0; j + 1 < n; j++)
                if (s[j] == e.a && s[j + 1] == e.b) {
                    has = 1;
                    break;
                }
            if (!has) continue;
            for (uint32_t j = 0; j + 1 < n; j++) pair_get(&T, s[j], s[j + 1], 0)->count -= freq[wi];
            uint32_t k = 0;
            for (uint32_t j = 0; j < n;) {
                if (j + 1 < n && s[j] == e.a && s[j + 1] == e.b) {
                    scratch[k++] = c;
                    j += 2;
                } else {
                    scratch[k++] = s[j++];
                }
            }
            memcpy(s, scratch, k * sizeof *s);
            wlen[wi] = n = k;
            for (uint32_t j = 0; j + 1 < n; j++) {
                pairinfo *q = pair_get(&T, s[j], s[j + 1], 1);
                if (!q) {
                    free(occ);
                    goto nomem_tmp;
                }
                q->count += freq[wi];
                if (s[j] == c || s[j + 1] == c) {
                    occ_add(&T, q, wi);
                    if (q->round == round) continue;
                    q->round = round;
                    if (ntouched == captouched) {
                        captouched = captouched ? captouched * 2 : 1024;
                        uint32_t *tt = spectra_realloc(touched, captouched * sizeof *tt);
                        if (!tt) {
                            free(occ);
                            goto nomem_tmp;
                        }
                        touched = tt;
                    }
                    touched[ntouched++] = (uint32_t)(q - T.pairs);
                }
            }
        }
        free(occ);
        /* Push the new pairs once each, with their final counts. */
        for (size_t i = 0; i < ntouched; i++) {
            const pairinfo *q = &T.pairs[touched[i]];
            if (q->count > 0) heap_push(&T, (heapent){q->count, q->a, q->b});
        }
        if (T.failed) goto nomem_tmp;
        /* After every merge, so that even a run of a few merges can be cancelled; the
         * callers' callbacks rate-limit their own output, and a call per merge is small
         * next to the merge's own work (revisiting every word holding the pair). */
        if (progress && progress(ctx, added, want)) {
            free(tmpb);
            st = spectra_set_error(SPECTRA_ERR_STATE, "bpe training cancelled");
            goto done;
        }
    }
    free(tmpb);
    if (progress) progress(ctx, added, want);
    clear_result(&tr->res);
    tr->res = R;
    R = (bpe_result){0};
    tr->trained = 1;
    goto done;
nomem_tmp:
    free(tmpb);
nomem:
    st = spectra_set_error(SPECTRA_ERR_NOMEM, "bpe trainer: out of memory");
done:
    free(freq);
    free(woff);
    free(wlen);
    free(stamp);
    free(sym);
    free(scratch);
    free(touched);
    for (size_t i = 0; i < T.npairs; i++) free(T.pairs[i].occ);
    free(T.pairs);
    free(T.heap);
    if (T.pidx.keys) spectra_u64map_free(&T.pidx);
    if (tokmap.hashes) spectra_strmap_free(&tokmap);
    clear_result(&R); /* empty after a commit; the partial result on failure */
    return st;
}

spectra_status spectra_bpe_trainer_save(const spectra_bpe_trainer *tr, const char *dir) {
    if (!tr || !dir) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "bpe_trainer_save: NULL argument");
    if (!tr->trained) return spectra_set_error(SPECTRA_ERR_STATE, "bpe_trainer_save: train() has not succeeded");
    size_t maxlen = 13;
    for (size_t i = 0; i < tr->res.ntok; i++)
        if (tr->res.tok_len[i] > maxlen) maxlen = tr->res.tok_len[i];
    char *m = spectra_malloc(2 * maxlen + 1);
    spectra_buf enc, bpe;
    spectra_buf_init(&enc);
    spectra_buf_init(&bpe);
    if (!m) return spectra_set_error(SPECTRA_ERR_NOMEM, "bpe trainer: out of memory");
    char num[32];
    spectra_buf_append(&enc, "{", 1);
    for (size_t i = 0; i < tr->res.ntok; i++) {
        size_t n = spectra_bytemap_encode(&tr->bm, tr->res.tok_bytes + tr->res.tok_off[i], tr->res.tok_len[i], m);
        if (i) spectra_buf_append(&enc, ", ", 2);
        spectra_json_put_string(&enc, m, n);
        int k = snprintf(num, sizeof num, ": %zu", i);
        spectra_buf_append(&enc, num, (size_t)k);
    }
    int k = snprintf(num, sizeof num, ": %zu}", tr->res.ntok);
    spectra_buf_append(&enc, ", ", 2);
    spectra_json_put_string(&enc, "<|endoftext|>", 13);
    spectra_buf_append(&enc, num, (size_t)k);
    const char head[] = "#version: 0.2\n";
    spectra_buf_append(&bpe, head, sizeof head - 1);
    for (size_t i = 0; i < tr->res.nmerges; i++) {
        int32_t ids[2] = {tr->res.merge_a[i], tr->res.merge_b[i]};
        for (int j = 0; j < 2; j++) {
            size_t n = spectra_bytemap_encode(&tr->bm, tr->res.tok_bytes + tr->res.tok_off[ids[j]], tr->res.tok_len[ids[j]], m);
            spectra_buf_append(&bpe, m, n);
            spectra_buf_append(&bpe, j ? "\n" : " ", 1);
        }
    }
    free(m);
    spectra_status st = SPECTRA_OK;
    if (enc.failed || bpe.failed) st = spectra_set_error(SPECTRA_ERR_NOMEM, "bpe trainer: out of memory");
    size_t plen = strlen(dir) + 32;
    char *path = st ? NULL : spectra_malloc(2 * plen);
    if (!st && !path) st = spectra_set_error(SPECTRA_ERR_NOMEM, "bpe trainer: out of memory");
    if (!st) { /* both files or neither: a tokenizer is the pair */
        snprintf(path, plen, "%s/encoder.json", dir);
        snprintf(path + plen, plen, "%s/vocab.bpe", dir);
        const char *paths[2] = {path, path + plen};
        const void *data[2] = {enc.data, bpe.data};
        const size_t lens[2] = {enc.len, bpe.len};
        st = spectra_write_files_atomic(2, paths, data, lens);
    }
    free(path);
    spectra_buf_free(&enc);
    spectra_buf_free(&bpe);
    return st;
}
