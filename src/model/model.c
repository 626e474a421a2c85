/* Model orchestration: allocation, initialization, the forward pass over the layer
 * kernels, and the backward pass in reverse. */
#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "model/layers.h"
#include "model/params.h"

#include <math.h>
#include <omp.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>

/* Activation views for the current (B, T). Per-layer arrays are [n_layers][...] blocks. */
typedef struct acts {
    float *res;     /* (L+1) x N x d: residual stream entering each layer, then final */
    float *res_mid; /* L x N x d: residual after the attention block */
    float *xn1, *xn2;       /* L x N x d: RMSNorm outputs */
    float *rstd1, *rstd2;   /* L x N */
    float *qkv;             /* L x N x C3, q and k after RoPE */
    float *atto;            /* L x N x Cq: attention output before wo */
    float *lse;             /* L x B x Hq x T: attention softmax log-normalizers */
    float *gu;              /* L x N x 2ff: [gate | up] pre-activation */
    float *h;               /* L x N x ff: silu(gate) * up */
    float *xnf, *rstdf;     /* N x d, N */
    float *logits;          /* N x V: logits, then probabilities, then dlogits */
    float *losses;          /* N */
    float *dres, *dxn;      /* N x d: backward scratch */
    float *dbuf;            /* N x max(Cq, ff) */
    float *dqkv;            /* N x C3 */
    float *attn_scratch;    /* n_threads x spectra_attention_scratch_floats(T, hd) */
    float *weights;         /* N: copy of the loss weights */
    int32_t *inputs, *targets; /* N each: copies, so backward does not depend on caller memory */
} acts;

struct spectra_model {
    spectra_model_config cfg;
    int hd, Cq, C3;
    size_t n_params;
    float *params, *grads;
    spectra_tensor_info *tensors;
    size_t n_tensors;
    float *rope_cos, *rope_sin; /* max_seq_len x hd/2 */
    float *act_mem;
    size_t act_cap; /* floats allocated */
    int B, T;       /* shape of the current activation layout (0 = none) */
    int n_threads;  /* threads the attention scratch was sized for */
    acts a;
    int have_targets, has_weights, backward_ready, logits_valid;
};

/* Rounds every sub-array to 16 floats so each starts on a 64-byte line. */
static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Lays out the activations for (B, T) starting at base (NULL: just count). */
static size_t layout(spectra_model *m, int B, int T, int n_threads, float *base, acts *a) {
    const size_t L = (size_t)m->cfg.n_layers, N = (size_t)B * T, d = (size_t)m->cfg.d_model;
    const size_t ff = (size_t)m->cfg.d_ff, V = (size_t)m->cfg.vocab_size;
    const size_t Cq = (size_t)m->Cq, C3 = (size_t)m->C3;
    size_t off = 0;
#define TAKE(field, type, count)                                               \
    do {                                                                       \
        if (base) a->field = (type *)(void *)(base + off);                     \
        off += round16(count);                                                 \
    } while (0)
    TAKE(res, float, (L + 1) * N * d);
    TAKE(res_mid, float, L * N * d);
    TAKE(xn1, float, L * N * d);
    TAKE(xn2, float, L * N * d);
    TAKE(rstd1, float, L * N);
    TAKE(rstd2, float, L * N);
    TAKE(qkv, float, L * N * C3);
    TAKE(atto, float, L * N * Cq);
    TAKE(lse, float, L * (size_t)B * m->cfg.n_heads * T);
    TAKE(gu, float, L * N * 2 * ff);
    TAKE(h, float, L * N * ff);
    TAKE(xnf, float, N * d);
    TAKE(rstdf, float, N);
    TAKE(logits, float, N * V);
    TAKE(losses, float, N);
    TAKE(dres, float, N * d);
    TAKE(dxn, float, N * d);
    TAKE(dbuf, float, N * (Cq > ff ? Cq : ff));
    TAKE(dqkv, float, N * C3);
    TAKE(attn_scratch, float, (size_t)n_threads * spectra_attention_scratch_floats(T, m->hd));
    TAKE(weights, float, N);
    TAKE(inputs, int32_t, N);
    TAKE(targets, int32_t, N);
#undef TAKE
    return off;
}

/* Zero-filled allocation for the big arrays. Fresh 4 KiB pages cost ~7 us each to
 * fault in on this class of machine (2 s for a 124M model's params + grads +
 * activations); asking for transparent huge pages before the first touch cuts the
 * fault count 512x and also relieves the TLB in the large matmuls. */
static float *big_zalloc(size_t n) {
    float *p = spectra_alloc(n, sizeof(float));
    if (!p) return NULL;
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)1 << 21;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + n * sizeof(float)) & ~(huge - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* advisory only */
#endif
    memset(p, 0, n * sizeof(float));
    return p;
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Each chunk of each tensor draws from its own generator seeded by (seed, tensor,
 * chunk), so the weights depend on the seed only (not on the thread count) and a 124M
 * model initializes in about a second instead of eight. Box-Muller uses both outputs of
 * each uniform pair. */
#define INIT_CHUNK 65536
static void init_normal(float *w, size_t n, float stddev, uint64_t seed, size_t tensor) {
    const size_t nchunks = (n + INIT_CHUNK - 1) / INIT_CHUNK;
#pragma omp parallel for schedule(dynamic, 1) if (nchunks > 1)
    for (size_t c = 0; c < nchunks; c++) {
        spectra_rng rng;
        spectra_rng_seed(&rng, mix64(mix64(seed + 0x9E3779B97F4A7C15ull * (tensor + 1)) + c));
        size_t j0 = c * INIT_CHUNK, j1 = j0 + INIT_CHUNK < n ? j0 + INIT_CHUNK : n;
        for (size_t j = j0; j < j1; j += 2) {
            float u1 = (float)(1.0 - spectra_rng_uniform(&rng)); /* (0, 1]: finite log */
            float u2 = (float)spectra_rng_uniform(&rng);
            float r = stddev * sqrtf(-2.0f * logf(u1)), a = 6.2831853f * u2;
            w[j] = r * cosf(a);
            if (j + 1 < j1) w[j + 1] = r * sinf(a);
        }
    }
}

static float *P(spectra_model *m, size_t idx) { return m->params + m->tensors[idx].offset; }
static float *G(spectra_model *m, size_t idx) { return m->grads + m->tensors[idx].offset; }

spectra_status spectra_model_create(spectra_model **model, const spectra_model_config *config,
                                    uint64_t seed) {
    if (!model) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "model_create: NULL model");
    *model = NULL;
    spectra_status st = spectra_model_config_validate(config);
    if (st) return st;
    spectra_model *m = spectra_calloc(1, sizeof *m);
    if (!m) return SPECTRA_ERR_NOMEM;
    m->cfg = *config;
    m->hd = spectra_model_head_dim(config);
    m->Cq = config->n_heads * m->hd;
    m->C3 = (config->n_heads + 2 * config->n_kv_heads) * m->hd;
    m->n_tensors = spectra_model_num_tensors_for(config);
    m->tensors = spectra_calloc(m->n_tensors, sizeof *m->tensors);
    if (!m->tensors) goto nomem;
    m->n_params = spectra_model_build_table(config, m->tensors);
    m->params = big_zalloc(m->n_params);
    m->grads = big_zalloc(m->n_params);
    size_t rope_n = (size_t)config->max_seq_len * (size_t)(m->hd / 2);
    m->rope_cos = spectra_alloc(rope_n, sizeof(float));
    m->rope_sin = spectra_alloc(rope_n, sizeof(float));
    if (!m->params || !m->grads || !m->rope_cos || !m->rope_sin) goto nomem;
    spectra_rope_tables(m->rope_cos, m->rope_sin, config->max_seq_len, m->hd, config->rope_theta);

    /* GPT-2 / llm.c init: N(0, 0.02) everywhere; the two projections that write into
     * the residual stream (wo, w_down) are scaled by 1/sqrt(2 n_layers) so the
     * residual variance at init does not grow with depth. */
    const float resid_std = 0.02f / sqrtf(2.0f * (float)config->n_layers);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const spectra_tensor_info *t = &m->tensors[i];
        float *w = m->params + t->offset;
        size_t n = t->rows * t->cols;
        if (t->kind == SPECTRA_TENSOR_NORM) {
            for (size_t j = 0; j < n; j++) w[j] = 1.0f;
        } else {
            size_t len = strlen(t->name);
            int resid = (len >= 2 && !strcmp(t->name + len - 2, "wo")) ||
                        (len >= 6 && !strcmp(t->name + len - 6, "w_down"));
            init_normal(w, n, resid ? resid_std : 0.02f, seed, i);
        }
    }
    *model = m;
    return SPECTRA_OK;
nomem:
    spectra_model_destroy(m);
    return spectra_set_error(SPECTRA_ERR_NOMEM, "model_create: out of memory (%zu parameters)",
                             spectra_model_build_table(config, NULL));
}

void spectra_model_destroy(spectra_model *m) {
    if (!m) return;
    spectra_free(m->tensors);
    spectra_free(m->params);
    spectra_free(m->grads);
    spectra_free(m->rope_cos);
    spectra_free(m->rope_sin);
    spectra_free(m->act_mem);
    spectra_free(m);
}

static spectra_status check_shape(const spectra_model *m, int B, int T, const char *fn) {
    if (B <= 0 || T <= 0)
        return spectra_set_error(SPECTRA_ERR_SHAPE, "%s: B = %d and T = %d must be positive", fn,
                                 B, T);
    if (T > m->cfg.max_seq_len)
        return spectra_set_error(SPECTRA_ERR_SHAPE, "%s: T = %d exceeds max_seq_len = %d", fn, T,
                                 m->cfg.max_seq_len);
    if ((long long)B * T > (1LL << 24))
        return spectra_set_error(SPECTRA_ERR_SHAPE, "%s: B*T = %lld too large", fn,
                                 (long long)B * T);
    return SPECTRA_OK;
}

/* Makes the activation views describe (B, T), growing the allocation if needed. The
 * buffer is zero-filled on allocation so its pages are touched here, not in a timed
 * forward. */
static spectra_status ensure_acts(spectra_model *m, int B, int T) {
    int nt = omp_get_max_threads();
    if (nt < m->n_threads) nt = m->n_threads;
    if (m->B == B && m->T == T && nt == m->n_threads) return SPECTRA_OK;
    size_t need = layout(m, B, T, nt, NULL, NULL);
    if (need > m->act_cap) {
        float *mem = big_zalloc(need);
        if (!mem)
            return spectra_set_error(SPECTRA_ERR_NOMEM,
                                     "model: out of memory for activations (B=%d, T=%d: %zu MiB)",
                                     B, T, need * sizeof(float) >> 20);
        spectra_free(m->act_mem);
        m->act_mem = mem;
        m->act_cap = need;
    }
    layout(m, B, T, nt, m->act_mem, &m->a);
    m->B = B;
    m->T = T;
    m->n_threads = nt;
    m->backward_ready = 0;
    m->logits_valid = 0;
    m->have_targets = 0;
    return SPECTRA_OK;
}

/* Threads for the attention region: what OpenMP would use now, but never more than the
 * scratch was sized for. */
static int attn_threads(const spectra_model *m) {
    int nt = omp_get_max_threads();
    return nt < m->n_threads ? nt : m->n_threads;
}

size_t spectra_model_config_activation_bytes(const spectra_model_config *config, int B, int T) {
    if (!config) {
        spectra_set_error(SPECTRA_ERR_INVALID_ARG, "model_config_activation_bytes: NULL config");
        return 0;
    }
    if (spectra_model_config_validate(config) != SPECTRA_OK) return 0;
    /* layout() reads only the config and the derived head sizes. */
    spectra_model m;
    memset(&m, 0, sizeof m);
    m.cfg = *config;
    m.hd = spectra_model_head_dim(config);
    m.Cq = config->n_heads * m.hd;
    m.C3 = (config->n_heads + 2 * config->n_kv_heads) * m.hd;
    if (check_shape(&m, B, T, "model_config_activation_bytes") != SPECTRA_OK) return 0;
    return layout(&m, B, T, omp_get_max_threads(), NULL, NULL) * sizeof(float);
}

spectra_status spectra_model_reserve(spectra_model *m, int B, int T) {
    if (!m) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "model_reserve: NULL model");
    spectra_status st = check_shape(m, B, T, "model_reserve");
    return st ? st : ensure_acts(m, B, T);
}

spectra_status spectra_model_forward(spectra_model *m, const int32_t *inputs,
                                     const int32_t *targets, const float *loss_weights, int B,
                                     int T, float *loss) {
    if (!m || !inputs)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "model_forward: NULL model or inputs");
    spectra_status st = check_shape(m, B, T, "model_forward");
    if (st) return st;
    const int V = m->cfg.vocab_size, N = B * T;
    for (int i = 0; i < N; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                     "model_forward: inputs[%d] = %d outside [0, vocab_size = %d)",
                                     i, (int)inputs[i], V);
        if (targets && (targets[i] < 0 || targets[i] >= V))
            return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                     "model_forward: targets[%d] = %d outside [0, vocab_size = %d)",
                                     i, (int)targets[i], V);
        if (targets && loss_weights && !isfinite(loss_weights[i]))
            return spectra_set_error(SPECTRA_ERR_NONFINITE,
                                     "model_forward: loss_weights[%d] is not finite", i);
    }
    if ((st = ensure_acts(m, B, T))) return st;

    acts *a = &m->a;
    const int d = m->cfg.d_model, ff = m->cfg.d_ff, L = m->cfg.n_layers;
    const int Hq = m->cfg.n_heads, Hkv = m->cfg.n_kv_heads, hd = m->hd, Cq = m->Cq, C3 = m->C3;
    const size_t Nd = (size_t)N * d;
    const float eps = m->cfg.norm_eps;

    memcpy(a->inputs, inputs, (size_t)N * sizeof(int32_t));
    m->backward_ready = 0;
    m->logits_valid = 0;
    m->have_targets = 0;

    spectra_embedding_forward(a->res, inputs, P(m, 0), N, d);
    for (int l = 0; l < L; l++) {
        float *res = a->res + (size_t)l * Nd, *mid = a->res_mid + (size_t)l * Nd;
        float *xn1 = a->xn1 + (size_t)l * Nd, *xn2 = a->xn2 + (size_t)l * Nd;
        float *qkv = a->qkv + (size_t)l * N * C3, *atto = a->atto + (size_t)l * N * Cq;
        float *lse = a->lse + (size_t)l * B * Hq * T;
        float *gu = a->gu + (size_t)l * N * 2 * ff, *h = a->h + (size_t)l * N * ff;

        spectra_rmsnorm_forward(xn1, a->rstd1 + (size_t)l * N, res,
                                P(m, spectra_layer_tensor_index(l, SPECTRA_LT_ATTN_NORM)), N, d, eps);
        /* wq, wk, wv are adjacent in memory: one [C3 x d] matmul. */
        spectra_linear_forward(qkv, xn1, P(m, spectra_layer_tensor_index(l, SPECTRA_LT_WQ)), N, d,
                               C3, 0);
        spectra_rope_forward(qkv, m->rope_cos, m->rope_sin, B, T, Hq, hd, C3);
        spectra_rope_forward(qkv + Cq, m->rope_cos, m->rope_sin, B, T, Hkv, hd, C3);
        spectra_attention_forward(atto, lse, qkv, a->attn_scratch, attn_threads(m), B, T, Hq, Hkv,
                                  hd);
        memcpy(mid, res, Nd * sizeof(float));
        spectra_linear_forward(mid, atto, P(m, spectra_layer_tensor_index(l, SPECTRA_LT_WO)), N, Cq,
                               d, 1);

        spectra_rmsnorm_forward(xn2, a->rstd2 + (size_t)l * N, mid,
                                P(m, spectra_layer_tensor_index(l, SPECTRA_LT_MLP_NORM)), N, d, eps);
        /* w_gate, w_up adjacent: one [2ff x d] matmul giving rows [gate | up]. */
        spectra_linear_forward(gu, xn2, P(m, spectra_layer_tensor_index(l, SPECTRA_LT_W_GATE)), N,
                               d, 2 * ff, 0);
        spectra_swiglu_forward(h, gu, N, ff);
        float *next = a->res + (size_t)(l + 1) * Nd;
        memcpy(next, mid, Nd * sizeof(float));
        spectra_linear_forward(next, h, P(m, spectra_layer_tensor_index(l, SPECTRA_LT_W_DOWN)), N,
                               ff, d, 1);
    }
    const size_t i_final = m->n_tensors - (m->cfg.tied_embeddings ? 1 : 2);
    const float *head = m->cfg.tied_embeddings ? P(m, 0) : P(m, m->n_tensors - 1);
    spectra_rmsnorm_forward(a->xnf, a->rstdf, a->res + (size_t)L * Nd, P(m, i_final), N, d, eps);
    spectra_linear_forward(a->logits, a->xnf, head, N, d, V, 0);

    if (!targets) {
        m->logits_valid = 1;
        return SPECTRA_OK;
    }
    memcpy(a->targets, targets, (size_t)N * sizeof(int32_t));
    m->has_weights = loss_weights != NULL;
    if (loss_weights) memcpy(a->weights, loss_weights, (size_t)N * sizeof(float));
    double total = spectra_crossentropy_forward(a->logits, a->losses, a->targets,
                                                m->has_weights ? a->weights : NULL, N, V);
    if (loss) *loss = (float)(total / N);
    m->have_targets = 1;
    m->backward_ready = 1;
    return SPECTRA_OK;
}

spectra_status spectra_model_backward(spectra_model *m) {
    if (!m) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "model_backward: NULL model");
    if (!m->backward_ready)
        return spectra_set_error(SPECTRA_ERR_STATE,
                                 "model_backward: needs a forward with targets first (each "
                                 "forward allows one backward)");
    m->backward_ready = 0;
    acts *a = &m->a;
    const int B = m->B, T = m->T, N = B * T;
    const int d = m->cfg.d_model, ff = m->cfg.d_ff, L = m->cfg.n_layers, V = m->cfg.vocab_size;
    const int Hq = m->cfg.n_heads, Hkv = m->cfg.n_kv_heads, hd = m->hd, Cq = m->Cq, C3 = m->C3;
    const size_t Nd = (size_t)N * d;

    spectra_crossentropy_backward(a->logits, a->targets, m->has_weights ? a->weights : NULL,
                                  1.0f / (float)N, N, V);
    const size_t i_final = m->n_tensors - (m->cfg.tied_embeddings ? 1 : 2);
    const size_t i_head = m->cfg.tied_embeddings ? 0 : m->n_tensors - 1;
    spectra_linear_backward(a->dxn, G(m, i_head), a->logits, a->xnf, P(m, i_head), N, d, V, 0);
    memset(a->dres, 0, Nd * sizeof(float));
    spectra_rmsnorm_backward(a->dres, G(m, i_final), a->dxn, a->res + (size_t)L * Nd,
                             P(m, i_final), a->rstdf, N, d);

    for (int l = L - 1; l >= 0; l--) {
        float *res = a->res + (size_t)l * Nd, *mid = a->res_mid + (size_t)l * Nd;
        float *xn1 = a->xn1 + (size_t)l * Nd, *xn2 = a->xn2 + (size_t)l * Nd;
        float *qkv = a->qkv + (size_t)l * N * C3, *atto = a->atto + (size_t)l * N * Cq;
        float *lse = a->lse + (size_t)l * B * Hq * T;
        float *gu = a->gu + (size_t)l * N * 2 * ff, *h = a->h + (size_t)l * N * ff;
        const size_t iA = spectra_layer_tensor_index(l, SPECTRA_LT_ATTN_NORM);
        const size_t iQ = spectra_layer_tensor_index(l, SPECTRA_LT_WQ);
        const size_t iO = spectra_layer_tensor_index(l, SPECTRA_LT_WO);
        const size_t iM = spectra_layer_tensor_index(l, SPECTRA_LT_MLP_NORM);
        const size_t iG = spectra_layer_tensor_index(l, SPECTRA_LT_W_GATE);
        const size_t iD = spectra_layer_tensor_index(l, SPECTRA_LT_W_DOWN);

        /* MLP block: res[l+1] = mid + h W_down^T; dres passes through the residual. */
        float *dh = a->dbuf;
        spectra_linear_backward(dh, G(m, iD), a->dres, h, P(m, iD), N, ff, d, 0);
        spectra_swiglu_backward(gu, dh, gu, N, ff); /* gu now holds d[gate | up] */
        spectra_linear_backward(a->dxn, G(m, iG), gu, xn2, P(m, iG), N, d, 2 * ff, 0);
        spectra_rmsnorm_backward(a->dres, G(m, iM), a->dxn, mid, P(m, iM),
                                 a->rstd2 + (size_t)l * N, N, d);

        /* Attention block: mid = res + atto W_o^T. */
        float *datto = a->dbuf;
        spectra_linear_backward(datto, G(m, iO), a->dres, atto, P(m, iO), N, Cq, d, 0);
        spectra_attention_backward(a->dqkv, datto, qkv, lse, a->attn_scratch, attn_threads(m), B, T,
                                   Hq, Hkv, hd);
        spectra_rope_backward(a->dqkv, m->rope_cos, m->rope_sin, B, T, Hq, hd, C3);
        spectra_rope_backward(a->dqkv + Cq, m->rope_cos, m->rope_sin, B, T, Hkv, hd, C3);
        spectra_linear_backward(a->dxn, G(m, iQ), a->dqkv, xn1, P(m, iQ), N, d, C3, 0);
        spectra_rmsnorm_backward(a->dres, G(m, iA), a->dxn, res, P(m, iA),
                                 a->rstd1 + (size_t)l * N, N, d);
    }
    spectra_embedding_backward(G(m, 0), a->dres, a->inputs, N, d);
    return SPECTRA_OK;
}

void spectra_model_zero_grad(spectra_model *m) {
    if (m) memset(m->grads, 0, m->n_params * sizeof(float));
}

const spectra_model_config *spectra_model_get_config(const spectra_model *m) {
    return m ? &m->cfg : NULL;
}
size_t spectra_model_num_params(const spectra_model *m) { return m ? m->n_params : 0; }
float *spectra_model_params(spectra_model *m) { return m ? m->params : NULL; }
float *spectra_model_grads(spectra_model *m) { return m ? m->grads : NULL; }
size_t spectra_model_num_tensors(const spectra_model *m) { return m ? m->n_tensors : 0; }

const spectra_tensor_info *spectra_model_tensor(const spectra_model *m, size_t index) {
    return m && index < m->n_tensors ? &m->tensors[index] : NULL;
}

const spectra_tensor_info *spectra_model_find_tensor(const spectra_model *m, const char *name) {
    if (!m || !name) return NULL;
    for (size_t i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

const float *spectra_model_logits(const spectra_model *m) {
    return m && m->logits_valid ? m->a.logits : NULL;
}

const float *spectra_model_last_logits(const spectra_model *m, int b) {
    if (!m || !m->logits_valid || b < 0 || b >= m->B) return NULL;
    return m->a.logits + ((size_t)b * m->T + (size_t)(m->T - 1)) * (size_t)m->cfg.vocab_size;
}

const float *spectra_model_token_losses(const spectra_model *m) {
    return m && m->have_targets ? m->a.losses : NULL;
}

size_t spectra_model_activation_bytes(const spectra_model *m) {
    return m ? m->act_cap * sizeof(float) : 0;
}
