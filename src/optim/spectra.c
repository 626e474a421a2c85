/* Spectra (SPEC.md §1; paper Algorithms 1 and 2): heavy-ball momentum, a rank-k estimate
 * of the spike subspace by cached power iteration (randomized-SVD bootstrap when the
 * cache is empty), spike singular values replaced by the tail's RMS singular value, and
 * an RMS-normalized step. The update is applied as W ← (1-ηλ)W − η'X + U diag(η'(s−σ)) Vᵀ
 * so no m×n temporary exists.
 *
 * X is the shaped matrix: M (default) or G + μM (Nesterov). X is never materialized: a
 * product with X is one or two products with G and M. */
#include "core/error.h"
#include "linalg/kernels.h"
#include "linalg/linalg.h"
#include "optim/optim_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Columns of the bootstrap sketch: k + oversampling, at most min(m, n). */
static size_t sketch_cols(const optim_param *p, const spectra_hparams *hp) {
    size_t r = p->rows < p->cols ? p->rows : p->cols;
    size_t l = p->rank + (size_t)hp->oversample;
    return l > r ? r : l;
}

/* Workspace layout (floats): Q (m*l) | U (m*k) | Z (n*l) | Ub (n*l) | S (l) | VbT (l*l) |
 * qr work | svd work; ints: 8l for sgesdd. */
typedef struct spectra_ws_layout {
    size_t q, u, z, ub, s, vbt, qrw, svdw, total_f, total_i;
} spectra_ws_layout;

static spectra_ws_layout layout(const optim_param *p, const spectra_hparams *hp) {
    size_t m = p->rows, n = p->cols, k = p->rank, l = sketch_cols(p, hp);
    spectra_ws_layout L;
    size_t off = 0;
    L.q = off; off += m * l;
    L.u = off; off += m * k;
    L.z = off; off += n * l;
    L.ub = off; off += n * l;
    L.s = off; off += l;
    L.vbt = off; off += l * l;
    L.qrw = off;
    size_t qa = spectra_qr_householder_work(m, l), qb = spectra_qr_householder_work(n, l);
    off += qa > qb ? qa : qb;
    L.svdw = off;
    off += spectra_svd_thin_work(n, l);
    L.total_f = off;
    L.total_i = 8 * l;
    return L;
}

ws_need spectra_algo_ws(const optim_param *p, const spectra_hparams *hp) {
    spectra_ws_layout L = layout(p, hp);
    ws_need w = {L.total_f, 0, L.total_i};
    return w;
}

/* out (m x c) = X B, X = M or G + μM. */
static void x_times(const optim_param *p, const spectra_hparams *hp, size_t c, const float *B, float *out) {
    size_t m = p->rows, n = p->cols;
    if (hp->nesterov) {
        spectra_mat_times_panel(m, n, p->grad, c, B, 1.0f, 0.0f, out);
        spectra_mat_times_panel(m, n, p->buf0, c, B, hp->momentum, 1.0f, out);
    } else {
        spectra_mat_times_panel(m, n, p->buf0, c, B, 1.0f, 0.0f, out);
    }
}

/* out (n x c) = Xᵀ C. */
static void xt_times(const optim_param *p, const spectra_hparams *hp, size_t c, const float *C, float *out) {
    size_t m = p->rows, n = p->cols;
    if (hp->nesterov) {
        spectra_matT_times_panel(m, n, p->grad, c, C, 1.0f, 0.0f, out);
        spectra_matT_times_panel(m, n, p->buf0, c, C, hp->momentum, 1.0f, out);
    } else {
        spectra_matT_times_panel(m, n, p->buf0, c, C, 1.0f, 0.0f, out);
    }
}

/* Randomized range finder (Halko, Martinsson & Tropp 2011, Alg. 4.4 with q = 2), then the
 * exact SVD of the projected matrix. Returns U (m x k) in ws U, s, and V in the cache. */
static spectra_status bootstrap(optim_param *p, const spectra_hparams *hp, float *ws, int *iws, const float **U_out) {
    size_t m = p->rows, n = p->cols, k = p->rank, l = sketch_cols(p, hp);
    spectra_ws_layout L = layout(p, hp);
    float *Q = ws + L.q, *U = ws + L.u, *Z = ws + L.z, *Ub = ws + L.ub, *S = ws + L.s, *VbT = ws + L.vbt;
    float *qrw = ws + L.qrw, *svdw = ws + L.svdw;
    spectra_status st;

    spectra_rng_fill_normal(&p->rng, Ub, n * l, 1.0f); /* Ω, n x l */
    x_times(p, hp, l, Ub, Q);
    if ((st = spectra_qr_householder(m, l, Q, NULL, qrw)) != SPECTRA_OK) return st;
    for (int it = 0; it < 2; it++) {
        xt_times(p, hp, l, Q, Z);
        if ((st = spectra_qr_householder(n, l, Z, NULL, qrw)) != SPECTRA_OK) return st;
        x_times(p, hp, l, Z, Q);
        if ((st = spectra_qr_householder(m, l, Q, NULL, qrw)) != SPECTRA_OK) return st;
    }
    /* Bᵀ = Xᵀ Q (n x l). Its SVD Bᵀ = Ub S Vbᵀ gives B's right vectors Ub and left Vb. */
    xt_times(p, hp, l, Q, Z);
    if ((st = spectra_svd_thin(n, l, Z, S, Ub, VbT, svdw, iws)) != SPECTRA_OK) return st;
    /* U = Q Vb[:, :k] = Q (VbT[:k, :])ᵀ. */
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)l, 1.0f, Q, (int)m, VbT, (int)l, 0.0f, U,
                (int)m);
    memcpy(p->buf1, Ub, n * k * sizeof(float));
    for (size_t i = 0; i < k; i++) p->spike_s[i] = S[i];
    *U_out = U;
    return SPECTRA_OK;
}

/* T rounds of warm-started subspace iteration from the cached V. */
static spectra_status power_iterate(optim_param *p, const spectra_hparams *hp, float *ws, const float **U_out) {
    size_t m = p->rows, n = p->cols, k = p->rank;
    spectra_ws_layout L = layout(p, hp);
    float *P = ws + L.q, *Z = ws + L.z, *qrw = ws + L.qrw;
    float *V = p->buf1;
    for (int t = 0; t < hp->power_iters; t++) {
        x_times(p, hp, k, V, P);
        spectra_status st = spectra_qr_householder(m, k, P, NULL, qrw);
        if (st != SPECTRA_OK) return st;
        xt_times(p, hp, k, P, Z);
        for (size_t i = 0; i < k; i++) {
            float *zi = Z + i * n, *vi = V + i * n;
            double s = spectra_norm2(zi, n);
            /* A vanishing column keeps its previous direction: the cache never holds a
             * zero or NaN column, and s_i = 0 contributes nothing to the spike. */
            if (s > 1e-30) {
                float inv = (float)(1.0 / s);
                for (size_t j = 0; j < n; j++) vi[j] = zi[j] * inv;
                p->spike_s[i] = (float)s;
            } else {
                p->spike_s[i] = 0.0f;
            }
        }
    }
    *U_out = P;
    return SPECTRA_OK;
}

spectra_status spectra_algo_step(optim_param *p, const spectra_hparams *hp, optim_workspace *wsp) {
    const size_t m = p->rows, n = p->cols, mn = m * n, k = p->rank;
    const size_t r = m < n ? m : n;
    const float mu = hp->momentum;
    float *M = p->buf0;
    const float *G = p->grad;
    float *W = p->data;

    /* 1. Momentum, fused with ‖X‖². */
    double norm_sq = spectra_kernel_momentum_sumsq(M, G, mu, hp->nesterov, mn);

    /* 2. Spike subspace. */
    const float *U = NULL;
    spectra_status st;
    int boot = !p->cache_valid;
    if (boot) st = bootstrap(p, hp, wsp->f, wsp->i, &U);
    else st = power_iterate(p, hp, wsp->f, &U);
    if (st != SPECTRA_OK) return st;
    p->cache_valid = 1;

    /* 3–7. Tail energy, σ_tail, RMS of O and the effective rate, from the identities
     * ‖X_tail‖² = ‖X‖² − Σs², ‖O‖² = ‖X_tail‖² + kσ². */
    double spike_sq = 0.0;
    for (size_t i = 0; i < k; i++) spike_sq += (double)p->spike_s[i] * p->spike_s[i];
    double tail_sq = norm_sq - spike_sq;
    if (tail_sq < 0.0) tail_sq = 0.0;
    double sigma_tail = sqrt(tail_sq / (double)(r - k));
    double o_sq = tail_sq + (double)k * sigma_tail * sigma_tail;
    double rms = sqrt(o_sq / (double)mn);
    double lr_eff = (double)hp->scale * hp->lr / (rms + hp->eps);
    p->diag.norm_sq = norm_sq;
    p->diag.spike_sq = spike_sq;
    p->diag.sigma_tail = sigma_tail;
    p->diag.rms = rms;
    p->diag.lr_eff = lr_eff;
    p->diag.bootstrapped = boot;

    /* 8. W ← (1−ηλ)W − η'X, then the rank-k correction U diag(η'(s−σ)) Vᵀ. */
    const float decay = (float)(1.0 - (double)hp->lr * hp->weight_decay);
    const float a = (float)lr_eff;
    spectra_kernel_decay_axpy(W, M, G, mu, hp->nesterov, decay, a, mn);
    /* Scale U's columns in the workspace (U is scratch from here on). */
    float *Us = (float *)U;
    for (size_t i = 0; i < k; i++) {
        float d = (float)(lr_eff * ((double)p->spike_s[i] - sigma_tail));
        float *ui = Us + i * m;
        for (size_t j = 0; j < m; j++) ui[j] *= d;
    }
    spectra_mat_add_lowrank(m, n, W, k, 1.0f, Us, p->buf1);
    p->step++;
    return SPECTRA_OK;
}
