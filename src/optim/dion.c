/* Dion (SPEC.md §6; microsoft/dion, arXiv 2504.05295): one step of power iteration from the
 * persistent Q, orthonormal P, error feedback into the momentum, and a rank-r orthonormal
 * update. With m < n everything runs on Mᵀ so that P spans the larger side; the transpose
 * is never materialized (only the gemm orientation changes). */
#include "core/error.h"
#include "linalg/linalg.h"
#include "optim/optim_internal.h"

#include <math.h>
#include <string.h>

/* Orientation: X = M (a = m rows) when m >= n, else X = Mᵀ (a = n). Q is b x r. */
ws_need dion_algo_ws(const optim_param *p, const spectra_hparams *hp) {
    size_t m = p->rows, n = p->cols, a = m >= n ? m : n, b = m >= n ? n : m, r = p->rank;
    ws_need w = {a * r + b * r + spectra_qr_householder_work(a, r), 0, 0};
    return w;
}

void dion_algo_init_q(optim_param *p) {
    spectra_rng_fill_normal(&p->rng, p->buf1, p->buf1_len, 1.0f);
}

spectra_status dion_algo_step(optim_param *p, const spectra_hparams *hp, optim_workspace *ws) {
    const size_t m = p->rows, n = p->cols, mn = m * n, r = p->rank;
    const int wide = m < n;
    const size_t a = wide ? n : m, b = wide ? m : n;
    float *M = p->buf0, *Q = p->buf1, *W = p->data;
    const float *G = p->grad;
    float *P = ws->f, *R = P + a * r, *qrw = R + b * r;

    /* 1. M ← M + G (fused with the zero test). */
    double norm_sq = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : norm_sq)
    for (size_t i = 0; i < mn; i++) {
        float v = M[i] + G[i];
        M[i] = v;
        norm_sq += (double)v * v;
    }
    const float decay = (float)(1.0 - (double)hp->lr * hp->weight_decay);
    if (decay != 1.0f) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < mn; i++) W[i] *= decay;
    }
    if (norm_sq == 0.0) { /* P = 0, Q kept, no update beyond decay */
        p->step++;
        return SPECTRA_OK;
    }
    /* 2. P = orth(X Q). */
    if (wide) spectra_matT_times_panel(m, n, M, r, Q, 1.0f, 0.0f, P);
    else spectra_mat_times_panel(m, n, M, r, Q, 1.0f, 0.0f, P);
    spectra_status st = spectra_qr_householder(a, r, P, NULL, qrw);
    if (st != SPECTRA_OK) return st;
    /* 3. R = Xᵀ P. */
    if (wide) spectra_mat_times_panel(m, n, M, r, P, 1.0f, 0.0f, R);
    else spectra_matT_times_panel(m, n, M, r, P, 1.0f, 0.0f, R);
    /* 4. Error feedback X ← X − (1−μ) P Rᵀ. */
    const float fb = -(1.0f - hp->momentum);
    if (wide) spectra_mat_add_lowrank(m, n, M, r, fb, R, P);
    else spectra_mat_add_lowrank(m, n, M, r, fb, P, R);
    /* 5. Q = R / (column norms + 1e-8). */
    for (size_t j = 0; j < r; j++) {
        const float *rj = R + j * b;
        float *qj = Q + j * b;
        float inv = (float)(1.0 / (spectra_norm2(rj, b) + 1e-8));
        for (size_t i = 0; i < b; i++) qj[i] = rj[i] * inv;
    }
    /* 6. W ← W − η sqrt(m/n) P Qᵀ (in X's orientation). */
    const float alpha = (float)(-(double)hp->lr * sqrt((double)m / (double)n));
    if (wide) spectra_mat_add_lowrank(m, n, W, r, alpha, Q, P);
    else spectra_mat_add_lowrank(m, n, W, r, alpha, P, Q);
    p->step++;
    return SPECTRA_OK;
}
