/* Muon (SPEC.md §5; torch.optim.Muon / Keller Jordan's muon.py): running-average momentum,
 * Nesterov blend, Frobenius normalization, 5 quintic Newton–Schulz steps in fp32 on the
 * wide orientation, and the chosen learning-rate adjustment. */
#include "optim/optim_internal.h"

#include "linalg/linalg.h"

#include <math.h>

ws_need muon_algo_ws(const optim_param *p, const spectra_hparams *hp) {
    size_t s = p->rows < p->cols ? p->rows : p->cols;
    ws_need w = {2 * p->rows * p->cols + 2 * s * s, 0, 0};
    return w;
}

spectra_status muon_algo_step(optim_param *p, const spectra_hparams *hp, optim_workspace *ws) {
    const size_t rows = p->rows, cols = p->cols, mn = rows * cols;
    const int tall = rows > cols;
    const size_t s = tall ? cols : rows, L = tall ? rows : cols; /* X is s x L, s <= L */
    float *X = ws->f, *Xn = X + mn, *A = Xn + mn;
    float *buf = p->buf0, *w = p->data;
    const float *g = p->grad;
    const float beta = hp->momentum, one_m_beta = 1.0f - beta;

    /* 1. buf ← buf + (1−β)(g − buf); u = g + β(buf − g) (Nesterov) or buf. */
    float *U = tall ? Xn : X;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < mn; i++) {
        float bi = buf[i] + one_m_beta * (g[i] - buf[i]);
        buf[i] = bi;
        U[i] = hp->nesterov ? g[i] + beta * (bi - g[i]) : bi;
    }
    /* 2-3. Newton–Schulz on the wide orientation (Frobenius-normalized first). */
    if (tall) spectra_transpose(Xn, X, rows, cols);
    X = spectra_newton_schulz_wide(X, Xn, s, L, hp->ns_steps, hp->eps, A);
    Xn = X == ws->f ? ws->f + mn : ws->f;

    /* 4. Learning-rate adjustment; 5. decoupled decay with the unadjusted lr. */
    double lr_adj;
    if (hp->lr_adjust == SPECTRA_MUON_LR_MATCH_RMS_ADAMW)
        lr_adj = 0.2 * hp->lr * sqrt((double)(rows > cols ? rows : cols));
    else
        lr_adj = hp->lr * sqrt(fmax(1.0, (double)rows / (double)cols));
    const float decay = (float)(1.0 - (double)hp->lr * hp->weight_decay);
    const float a = (float)lr_adj;
    if (tall) {
        /* X is cols x rows; W[i][j] uses X[j][i]. Transpose into Xn first for a streaming update. */
        spectra_transpose(X, Xn, cols, rows);
        X = Xn;
    }
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < mn; i++) w[i] = decay * w[i] - a * X[i];
    p->step++;
    return SPECTRA_OK;
}
