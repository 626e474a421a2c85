/* Mean gradients of a model over loader batches, with the paper's two interventions
 * (§2.2): FreqNorm (per-token loss weights 1/f(t)) and Shuffle (tokens permuted within
 * each sentence). */
#include "spectra/analysis.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "data/shard.h"
#include "linalg/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

spectra_status spectra_token_weights_freqnorm(const char *const *shards, size_t n_shards, uint32_t vocab_size,
                                              float *weights) {
    if (!shards || n_shards == 0 || vocab_size == 0 || !weights)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "freqnorm: no shards, zero vocabulary or NULL output");
    uint64_t *count = spectra_zalloc(vocab_size, sizeof *count);
    if (!count) return spectra_set_error(SPECTRA_ERR_NOMEM, "freqnorm: out of memory");
    uint64_t total = 0;
    for (size_t f = 0; f < n_shards; f++) {
        void *data = NULL;
        size_t len = 0;
        uint64_t ntok = 0;
        spectra_status st = spectra_read_file(shards[f], &data, &len);
        if (st == SPECTRA_OK) st = spectra_shard_parse(data, len, vocab_size, shards[f], &ntok);
        if (st != SPECTRA_OK) {
            free(data);
            free(count);
            return st;
        }
        const unsigned char *p = (const unsigned char *)data + SPECTRA_SHARD_HEADER_BYTES;
        for (uint64_t i = 0; i < ntok; i++) count[(uint32_t)p[2 * i] | ((uint32_t)p[2 * i + 1] << 8)]++;
        total += ntok;
        free(data);
    }
    uint64_t seen = 0;
    for (uint32_t t = 0; t < vocab_size; t++) seen += count[t] > 0;
    if (seen == 0) {
        free(count);
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "freqnorm: the shards hold no tokens");
    }
    /* Σ_t (c_t/N) · N/(seen·c_t) = 1 over the seen tokens: mean weight per occurrence is 1. */
    for (uint32_t t = 0; t < vocab_size; t++)
        weights[t] = (float)((double)total / ((double)seen * (double)(count[t] ? count[t] : 1)));
    free(count);
    return SPECTRA_OK;
}

static int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

spectra_status spectra_sentence_end_tokens(const spectra_tokenizer *tok, uint32_t vocab_size, uint8_t *sentence_end) {
    if (!tok || !sentence_end || vocab_size == 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "sentence_end_tokens: NULL argument");
    uint32_t tv = spectra_tokenizer_vocab_size(tok);
    int32_t eot = spectra_tokenizer_eot(tok);
    spectra_byte_buf b = {0};
    for (uint32_t t = 0; t < vocab_size; t++) {
        sentence_end[t] = 0;
        if ((int32_t)t == eot) {
            sentence_end[t] = 1;
            continue;
        }
        if (t >= tv) continue;
        b.len = 0;
        int32_t id = (int32_t)t;
        spectra_status st = spectra_tokenizer_decode(tok, &id, 1, &b);
        if (st != SPECTRA_OK) {
            spectra_byte_buf_free(&b);
            return st;
        }
        size_t lo = 0, hi = b.len;
        while (lo < hi && is_ws(b.data[lo])) lo++;
        while (hi > lo && is_ws(b.data[hi - 1])) hi--;
        if (hi - lo == 1 && (b.data[lo] == '.' || b.data[lo] == '!' || b.data[lo] == '?')) sentence_end[t] = 1;
    }
    spectra_byte_buf_free(&b);
    return SPECTRA_OK;
}

void spectra_shuffle_sentences(int32_t *w, size_t n, const uint8_t *sentence_end, uint64_t seed) {
    if (!w || !sentence_end) return;
    spectra_rng rng;
    spectra_rng_seed(&rng, seed);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && !sentence_end[w[i]]) continue;
        /* w[start..i) is one sentence body: Fisher–Yates. */
        for (size_t j = i; j > start + 1; j--) {
            size_t len = j - start;
            size_t pick = start + (size_t)(spectra_rng_next(&rng) % len);
            int32_t t = w[j - 1];
            w[j - 1] = w[pick];
            w[pick] = t;
        }
        start = i + 1;
    }
}

spectra_status spectra_mean_gradient(spectra_model *model, spectra_loader *loader, int B, int T,
                                     const spectra_grad_opts *opts, double *mean_loss) {
    if (!model || !loader || !opts || B < 1 || T < 1 || opts->n_batches < 1)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "mean_gradient: bad arguments");
    /* spectra_loader_next fills the loader's own B x T, not ours: a larger loader batch
     * would overrun the buffers below. The vocabulary and T checks keep token_weights[t],
     * sentence_end[t] and the forward pass in range, so that nothing (gradients, loader
     * position) changes before a call that is bound to fail. */
    const spectra_loader_config *lc = spectra_loader_get_config(loader);
    const spectra_model_config *mc = spectra_model_get_config(model);
    if (lc->batch_size != (size_t)B || lc->seq_len != (size_t)T)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "mean_gradient: B x T = %d x %d differs from the loader's batch geometry %zu x %zu", B,
                                 T, lc->batch_size, lc->seq_len);
    if (lc->vocab_size > (uint32_t)mc->vocab_size)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "mean_gradient: the loader's vocabulary (%u) is larger than the model's (%d)",
                                 lc->vocab_size, mc->vocab_size);
    if (T > mc->max_seq_len)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "mean_gradient: T = %d exceeds the model's max_seq_len %d", T,
                                 mc->max_seq_len);
    size_t bad_w = 0;
    if (opts->token_weights && !spectra_all_below(opts->token_weights, lc->vocab_size, INFINITY, &bad_w))
        return spectra_set_error(SPECTRA_ERR_NONFINITE, "mean_gradient: token_weights[%zu] is %g", bad_w,
                                 (double)opts->token_weights[bad_w]);
    const size_t bt = (size_t)B * (size_t)T;
    int32_t *in = spectra_malloc(bt * sizeof *in), *tg = spectra_malloc(bt * sizeof *tg), *win = spectra_malloc(((size_t)T + 1) * sizeof *win);
    float *lw = opts->token_weights ? spectra_malloc(bt * sizeof *lw) : NULL;
    if (!in || !tg || !win || (opts->token_weights && !lw)) {
        free(in);
        free(tg);
        free(win);
        free(lw);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "mean_gradient: out of memory");
    }
    spectra_status st = SPECTRA_OK;
    double loss_sum = 0.0;
    /* A batch that fails midway (the model refusing it) puts the loader back where it was. */
    const spectra_loader_pos pos0 = spectra_loader_tell(loader);
    spectra_model_zero_grad(model);
    for (int b = 0; b < opts->n_batches && st == SPECTRA_OK; b++) {
        if ((st = spectra_loader_next(loader, in, tg))) break;
        if (opts->sentence_end)
            for (int s = 0; s < B; s++) {
                /* The window is inputs followed by the last target. */
                memcpy(win, in + (size_t)s * T, (size_t)T * sizeof *win);
                win[T] = tg[(size_t)s * T + T - 1];
                spectra_shuffle_sentences(win, (size_t)T + 1, opts->sentence_end,
                                          opts->shuffle_seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(b * B + s + 1)));
                memcpy(in + (size_t)s * T, win, (size_t)T * sizeof *win);
                memcpy(tg + (size_t)s * T, win + 1, (size_t)T * sizeof *win);
            }
        if (lw)
            for (size_t i = 0; i < bt; i++) lw[i] = opts->token_weights[tg[i]];
        float loss = 0.0f;
        if ((st = spectra_model_forward(model, in, tg, lw, B, T, &loss))) break;
        if ((st = spectra_model_backward(model))) break;
        loss_sum += loss;
    }
    if (st != SPECTRA_OK) {
        spectra_loader_seek(loader, pos0); /* its own position: cannot fail, keeps the message */
    } else {
        float *g = spectra_model_grads(model);
        const size_t np = spectra_model_num_params(model);
        const float inv = 1.0f / (float)opts->n_batches;
        for (size_t i = 0; i < np; i++) g[i] *= inv;
        if (mean_loss) *mean_loss = loss_sum / opts->n_batches;
    }
    free(in);
    free(tg);
    free(win);
    free(lw);
    return st;
}
