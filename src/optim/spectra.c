/* Spectra (SPEC.md §1; paper Algorithms 1 and 2): heavy-ball momentum, a rank-k estimate
 * of the spike subspace by cached power iteration (randomized-SVD bootstrap when the
 * cache is empty), spike singular values replaced by the tail's RMS singular value, and
 * an RMS-normalized step. The update is applied as W ← (1-ηλ)W − η'X + U diag(η'(s−σ)) Vᵀ
 * so no m×n temporary exists.
 *
 * X is the shaped matrix: M (default) or G + μM (Nesterov). X is never materialized: a
 * product with X is one or two products with G and M. */
#include "core/error.h"
#include "core/threads.h"
#include "linalg/kernels.h"
#include "linalg/linalg.h"
#include "linalg/panel.h"
#include "linalg/skinny.h"
#include "optim/optim_internal.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

/* Columns of the bootstrap sketch: k + oversampling, at most min(m, n). */
static size_t sketch_cols(const optim_param *p, const spectra_hparams *hp) {
    size_t r = p->rows < p->cols ? p->rows : p->cols;
    size_t l = p->rank + (size_t)hp->oversample;
    return l > r ? r : l;
}

/* Rows per block of the fused passes: a block of X is streamed once from memory and reused
 * from cache by the panel gemm. Overridable for tuning with SPECTRA_BLOCK_ROWS. */
static size_t block_rows(size_t m, size_t n) {
    static size_t override = (size_t)-1;
    if (override == (size_t)-1) {
        const char *e = getenv("SPECTRA_BLOCK_ROWS");
        long v = e ? strtol(e, NULL, 10) : 0;
        override = v > 0 ? (size_t)v : 0;
    }
    size_t b = override;
    if (!b) {
        b = ((size_t)2 << 20) / (4 * n); /* ~2 MiB of X per block */
        if (b < 16) b = 16;
        b = (b + 7) & ~(size_t)7;
    }
    return b < m ? b : m; /* the workspace is sized with this same value */
}


/* Workspace layout (floats): Q (m*max(l,kp)) | U (m*k) | Z (n*max(l,kp)) | Ub (n*l) | S (l) |
 * VbT (l*l) | Vp (n*kp) | qr work | svd work | panel-kernel work | per-thread X blocks
 * (Nesterov fused path); ints: 8l for sgesdd. */
typedef struct spectra_ws_layout {
    size_t q, u, z, ub, s, vbt, vp, qrw, svdw, panel, xblk, total_f, total_i;
} spectra_ws_layout;

static spectra_ws_layout layout(const optim_param *p, const spectra_hparams *hp) {
    size_t m = p->rows, n = p->cols, k = p->rank, l = sketch_cols(p, hp), kp = spectra_sgemm_panel_width(k);
    size_t w = l > kp ? l : kp;
    spectra_ws_layout L;
    size_t off = 0;
    L.q = off; off += m * w;
    L.u = off; off += m * k;
    L.z = off; off += n * w;
    L.ub = off; off += n * l;
    L.s = off; off += l;
    L.vbt = off; off += l * l;
    L.vp = off; off += n * kp;
    L.qrw = off;
    size_t qa = spectra_qr_householder_work(m, l), qb = spectra_qr_householder_work(n, l);
    off += qa > qb ? qa : qb;
    L.svdw = off;
    off += spectra_svd_thin_work(n, l);
    L.panel = off;
    if (spectra_panel_available()) {
        size_t a = spectra_panel_work(m, n, k), b = spectra_panel_update_work(m, n, k);
        off += a > b ? a : b;
    }
    L.xblk = off;
    /* Sized whether or not Nesterov is on now: set_hparams may turn it on later. */
    off += (size_t)p->fused_threads * block_rows(m, n) * n;
    L.total_f = off;
    L.total_i = 8 * l;
    return L;
}

ws_need spectra_algo_ws(const optim_param *p, const spectra_hparams *hp) {
    spectra_ws_layout L = layout(p, hp);
    ws_need w = {L.total_f, spectra_qr_cholesky2_work(p->rows, p->rank), L.total_i};
    return w;
}

/* Thin QR of the m x k power-iteration panel. CholeskyQR2 (double Gram) is more accurate than
 * fp32 Householder and, on its AVX-512 kernels, 2.5-4x faster from 12 columns up (4096 x 61:
 * 1.1 vs 2.8 ms; 14336 x 61: 3.7 vs 7.6 ms; docs/BENCHMARKS.md). Householder takes the tiny
 * panels, the tall ones without those kernels below 8192 rows (there OpenBLAS's dsyrk/dtrmm
 * lose), and every panel CholeskyQR2 refuses (numerically rank deficient). */
#define SPECTRA_CHOLQR_MIN_ELEMS 8192
#define SPECTRA_CHOLQR_BLAS_MIN_ROWS 8192
static spectra_status panel_qr(size_t m, size_t k, float *P, float *fwork, double *dwork) {
    int chol = spectra_qr_cholesky2_kernels() ? m * k >= SPECTRA_CHOLQR_MIN_ELEMS : m >= SPECTRA_CHOLQR_BLAS_MIN_ROWS;
    if (chol && spectra_qr_cholesky2(m, k, P, dwork) == SPECTRA_OK) return SPECTRA_OK;
    return spectra_qr_householder(m, k, P, NULL, fwork);
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

/* Normalizes Z's columns into the cache V and records s (the zero-column guard lives here). */
static void normalize_into_cache(optim_param *p, const float *Z) {
    size_t n = p->cols, k = p->rank;
    float *V = p->buf1;
    /* Columns are independent and each is done by one thread in a fixed order: the result
     * does not depend on the thread count. */
#pragma omp parallel for schedule(static) if (k * n > 65536)
    for (size_t i = 0; i < k; i++) {
        const float *zi = Z + i * n;
        float *vi = V + i * n;
        double s = spectra_norm2(zi, n);
        /* A vanishing column keeps its previous direction: the cache never holds a zero or
         * NaN column, and s_i = 0 contributes nothing to the spike. */
        if (s > 1e-30) {
            float inv = (float)(1.0 / s);
            for (size_t j = 0; j < n; j++) vi[j] = zi[j] * inv;
            p->spike_s[i] = (float)s;
        } else {
            p->spike_s[i] = 0.0f;
        }
    }
}

/* Rows [lo, hi) of thread t out of nt, in whole blocks. */
static void thread_rows(size_t m, size_t b, int t, int nt, size_t *lo, size_t *hi) {
    size_t nblocks = (m + b - 1) / b;
    size_t b0 = nblocks * (size_t)t / (size_t)nt, b1 = nblocks * (size_t)(t + 1) / (size_t)nt;
    *lo = b0 * b < m ? b0 * b : m;
    *hi = b1 * b < m ? b1 * b : m;
}

/* Fused pass 1: M ← μM + G and P = X V, one row block at a time so each block of X is read
 * from memory once and reused from cache by the gemm. Returns ‖X‖². */
static double fused_momentum_project(optim_param *p, const spectra_hparams *hp, float *P, float *xblk) {
    const size_t m = p->rows, n = p->cols, k = p->rank, b = block_rows(m, n);
    const float mu = (float)hp->momentum;
    float *M = p->buf0;
    const float *G = p->grad, *V = p->buf1;
    double partial[SPECTRA_MAX_THREADS] = {0};
    int nt = p->fused_threads;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        size_t lo, hi;
        thread_rows(m, b, t, T, &lo, &hi);
        float *xb = hp->nesterov ? xblk + (size_t)t * b * n : NULL;
        double acc = 0.0;
        for (size_t r0 = lo; r0 < hi; r0 += b) {
            size_t rb = r0 + b < hi ? b : hi - r0;
            float *Mb = M + r0 * n;
            const float *Gb = G + r0 * n;
            acc += spectra_kernel_momentum_sumsq_serial(Mb, Gb, mu, hp->nesterov, xb, rb * n);
            const float *Xb = hp->nesterov ? xb : Mb;
            cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)rb, (int)k, (int)n, 1.0f, Xb, (int)n, V, (int)n, 0.0f,
                        P + r0, (int)m);
        }
        partial[t] = acc;
    }
    double total = 0.0;
    for (int t = 0; t < nt; t++) total += partial[t];
    return total;
}

/* Fused final pass: W ← (1−ηλ)W − η'X + U_s Vᵀ per row block (U_s = U diag(η'(s−σ))). */
static void fused_update(optim_param *p, const spectra_hparams *hp, float decay, float a, const float *Us) {
    const size_t m = p->rows, n = p->cols, k = p->rank, b = block_rows(m, n);
    const float mu = (float)hp->momentum;
    float *W = p->data;
    const float *M = p->buf0, *G = p->grad, *V = p->buf1;
    int nt = p->fused_threads;
#pragma omp parallel num_threads(nt)
    {
        size_t lo, hi;
        thread_rows(m, b, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        for (size_t r0 = lo; r0 < hi; r0 += b) {
            size_t rb = r0 + b < hi ? b : hi - r0;
            spectra_kernel_decay_axpy_serial(W + r0 * n, M + r0 * n, G + r0 * n, mu, hp->nesterov, decay, a, rb * n);
            /* W_bᵀ (col-major n x rb) += V (n x k) · U_s[r0:r0+rb]ᵀ */
            cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)n, (int)rb, (int)k, 1.0f, V, (int)n, Us + r0, (int)m,
                        1.0f, W + r0 * n, (int)n);
        }
    }
}

/* Off by default on CPU: measured here, per-block sgemm calls repack V for every row block
 * and lose more than the saved passes over memory earn, because the CPU step is bound by
 * the panel gemms, not by bandwidth (docs/BENCHMARKS.md). The fused passes are what a
 * bandwidth-bound device wants; they stay tested against the reference. */
static int g_fused = 0;
void spectra_internal_set_fused(int on) { g_fused = on ? 1 : 0; }

/* On the panel path the momentum pass is fused with the first P = MV
 * (spectra_panel_momentum_xv): each tile of the product updates the next piece of M and
 * prefetches the piece after, so the G/M stream overlaps the FMAs. Measured at 4096 x 14336
 * on an Emerald Rapids VM: 42-51 ms against 52-65 for the separate momentum pass and P = MV
 * (docs/BENCHMARKS.md). 0 keeps them separate (tests, A/B bench). */
static int g_panel_momentum = 1;
void spectra_internal_set_panel_momentum(int on) { g_panel_momentum = on ? 1 : 0; }

/* Adds one power-iteration round's phase times (boundaries t0..t4) to the step's diagnostics. */
static void add_phases(optim_param *p, double t0, double t1, double t2, double t3, double t4) {
    p->diag.phase_s[SPECTRA_PHASE_PROJECT] += t1 - t0;
    p->diag.phase_s[SPECTRA_PHASE_QR] += t2 - t1;
    p->diag.phase_s[SPECTRA_PHASE_BACK] += t3 - t2;
    p->diag.phase_s[SPECTRA_PHASE_NORMALIZE] += t4 - t3;
}

/* T rounds of warm-started subspace iteration from the cached V. With `fused`, the first
 * product P = XV was already computed by the momentum pass. */
static spectra_status power_iterate(optim_param *p, const spectra_hparams *hp, float *ws, double *dws, int fused,
                                    int panel, const float **U_out) {
    size_t m = p->rows, n = p->cols, k = p->rank;
    spectra_ws_layout L = layout(p, hp);
    float *P = ws + L.q, *Z = ws + L.z, *qrw = ws + L.qrw;
    /* The panel kernels (X = M) take any k. For sgemm the panel is padded (the skinny
     * kernels take any k): the extra columns of V are zero, so those of P and Z are exactly
     * zero. */
    size_t kp = panel || spectra_use_skinny(m, n, k) ? k : spectra_sgemm_panel_width(k);
    float *Vp = ws + L.vp;
    if (kp != k) memset(Vp + k * n, 0, (kp - k) * n * sizeof(float));
    for (int t = 0; t < hp->power_iters; t++) {
        double t0 = omp_get_wtime();
        if (fused && t == 0) {
            /* P = XV came with the momentum pass */
        } else if (panel) {
            spectra_panel_xv(m, n, p->buf0, k, p->buf1, P, ws + L.panel);
        } else if (kp != k) {
            memcpy(Vp, p->buf1, k * n * sizeof(float));
            x_times(p, hp, kp, Vp, P);
        } else {
            x_times(p, hp, k, p->buf1, P);
        }
        double t1 = omp_get_wtime();
        spectra_status st = panel_qr(m, k, P, qrw, dws);
        if (st != SPECTRA_OK) return st;
        /* The fused path's P has only k columns; the padded columns are zero otherwise. */
        if (kp != k && fused && t == 0) memset(P + k * m, 0, (kp - k) * m * sizeof(float));
        double t2 = omp_get_wtime();
        if (panel) spectra_panel_xtu(m, n, p->buf0, k, P, Z, ws + L.panel);
        else xt_times(p, hp, kp, P, Z);
        double t3 = omp_get_wtime();
        normalize_into_cache(p, Z);
        add_phases(p, t0, t1, t2, t3, omp_get_wtime());
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

    /* 1–2. Momentum fused with ‖X‖² (and, on the fused path, with the first P = XV), then
     * the spike subspace. */
    const float *U = NULL;
    spectra_status st;
    int boot = !p->cache_valid;
    /* Skinny path (thin panel, X = M, AVX-512): the products run on the skinny kernels and
     * the update is fused with the rank-k correction. The momentum pass stays separate:
     * fusing it with P = MV measured slower (the stores of M and the panel loads compete). */
    int skinny = !g_fused && !boot && !hp->nesterov && spectra_use_skinny(m, n, k);
    /* Panel path (wider panels, X = M, AVX-512): the products and the fused update run on the
     * panel kernels (linalg/panel.c), which stream M unpacked at close to the FMA rate; the
     * momentum pass is fused with the first P = MV unless turned off for A/B runs. */
    int panel = !g_fused && !boot && !hp->nesterov && !skinny && spectra_use_panel(m, n, k);
    int fused = g_fused && !boot;
    double norm_sq;
    spectra_ws_layout L = layout(p, hp);
    memset(p->diag.phase_s, 0, sizeof p->diag.phase_s);
    double t_start = omp_get_wtime();
    int panel_momentum = panel && g_panel_momentum;
    if (fused) norm_sq = fused_momentum_project(p, hp, wsp->f + L.q, wsp->f + L.xblk);
    else if (panel_momentum)
        norm_sq = spectra_panel_momentum_xv(m, n, M, G, mu, k, p->buf1, wsp->f + L.q, wsp->f + L.panel);
    else norm_sq = spectra_kernel_momentum_sumsq(M, G, mu, hp->nesterov, mn);
    double t_momentum = omp_get_wtime();
    p->diag.phase_s[SPECTRA_PHASE_MOMENTUM] = t_momentum - t_start;
    if (boot) {
        st = bootstrap(p, hp, wsp->f, wsp->i, &U);
        p->diag.phase_s[SPECTRA_PHASE_PROJECT] = omp_get_wtime() - t_momentum;
    } else {
        st = power_iterate(p, hp, wsp->f, wsp->d, fused || panel_momentum, panel, &U);
    }
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

    double t_update = omp_get_wtime();
    /* 8. W ← (1−ηλ)W − η'X plus the rank-k correction U diag(η'(s−σ)) Vᵀ. U is scratch now. */
    const float decay = (float)(1.0 - hp->lr * hp->weight_decay);
    const float a = (float)lr_eff;
    float *Us = (float *)U;
    for (size_t i = 0; i < k; i++) {
        float d = (float)(lr_eff * ((double)p->spike_s[i] - sigma_tail));
        float *ui = Us + i * m;
        for (size_t j = 0; j < m; j++) ui[j] *= d;
    }
    if (skinny) {
        spectra_skinny_update(m, n, W, M, decay, a, k, Us, p->buf1);
    } else if (panel) {
        spectra_panel_update(m, n, W, M, decay, a, k, Us, p->buf1, wsp->f + L.panel);
    } else if (fused) {
        fused_update(p, hp, decay, a, Us);
    } else {
        spectra_kernel_decay_axpy(W, M, G, mu, hp->nesterov, decay, a, mn);
        spectra_mat_add_lowrank(m, n, W, k, 1.0f, Us, p->buf1);
    }
    p->diag.phase_s[SPECTRA_PHASE_UPDATE] = omp_get_wtime() - t_update;
    p->step++;
    return SPECTRA_OK;
}
