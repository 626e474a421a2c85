/* Spectral measurements of SPEC.md §3 on plain matrices: exact SVD, spike size, energy
 * CDF, AdamW tail suppression, relative variance, Newton–Schulz alignment. */
#include "spectra/analysis.h"

#include "core/alloc.h"
#include "core/error.h"
#include "linalg/linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

static size_t rmin_(size_t a, size_t b) { return a < b ? a : b; }

/* SPECTRA_ERR_NONFINITE naming the matrix and the row/col of its first NaN or ±Inf, or
 * SPECTRA_OK when X (row-major rows x cols) is finite. LAPACK's dgesdd does not reject
 * such input: it loops forever on an Inf when vectors are wanted and otherwise returns an
 * error code or NaN singular values, so every entry point that reaches it checks first. */
static spectra_status check_finite(const char *who, const char *what, const float *X, size_t rows, size_t cols) {
    size_t i = 0;
    if (spectra_all_below(X, rows * cols, INFINITY, &i)) return SPECTRA_OK;
    return spectra_set_error(SPECTRA_ERR_NONFINITE, "%s: %s[%zu][%zu] is %s; the matrix must be finite", who, what,
                             i / cols, i % cols, isnan(X[i]) ? "NaN" : X[i] > 0 ? "+Inf" : "-Inf");
}

spectra_status spectra_svd_exact(const float *X, size_t rows, size_t cols, double *s, double *U, double *V) {
    if (!X || !s || rows == 0 || cols == 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "svd_exact: NULL pointer or empty matrix");
    if (rows > INT32_MAX / 2 || cols > INT32_MAX / 2 || rows * cols > (size_t)INT32_MAX)
        return spectra_set_error(SPECTRA_ERR_SHAPE, "svd_exact: %zu x %zu is too large for LAPACK", rows, cols);
    spectra_status fin = check_finite("svd_exact", "X", X, rows, cols);
    if (fin) return fin;
    const size_t r = rows < cols ? rows : cols;
    const int vectors = U && V;
    /* Column-major, the row-major X is A = Xᵀ (cols x rows): A = V S Uᵀ, so LAPACK's "U"
     * is our V and its "VT" is our Uᵀ. */
    const int m = (int)cols, n = (int)rows, ri = (int)r;
    double *A = spectra_malloc(rows * cols * sizeof *A);
    double *UT = vectors ? spectra_malloc(r * rows * sizeof *UT) : NULL;
    lapack_int *iwork = spectra_malloc(8 * r * sizeof *iwork);
    spectra_status st = SPECTRA_OK;
    double *work = NULL;
    if (!A || !iwork || (vectors && !UT)) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "svd_exact: out of memory for %zu x %zu", rows, cols);
        goto done;
    }
    for (size_t i = 0; i < rows * cols; i++) A[i] = X[i];
    const char job = vectors ? 'S' : 'N';
    double q = 0.0;
    lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, job, m, n, A, m, s, vectors ? V : NULL, m,
                                          vectors ? UT : NULL, ri, &q, -1, iwork);
    if (info != 0) {
        st = spectra_set_error(SPECTRA_ERR_NUMERIC, "svd_exact: dgesdd workspace query failed (info %d)", (int)info);
        goto done;
    }
    lapack_int lwork = (lapack_int)q;
    work = spectra_malloc((size_t)lwork * sizeof *work);
    if (!work) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "svd_exact: out of memory for the LAPACK workspace");
        goto done;
    }
    info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, job, m, n, A, m, s, vectors ? V : NULL, m, vectors ? UT : NULL, ri,
                               work, lwork, iwork);
    if (info != 0) {
        st = spectra_set_error(SPECTRA_ERR_NUMERIC, "svd_exact: dgesdd failed (info %d) on %zu x %zu", (int)info, rows,
                               cols);
        goto done;
    }
    if (vectors)
        for (size_t k = 0; k < r; k++)
            for (size_t i = 0; i < rows; i++) U[i + k * rows] = UT[k + i * r];
done:
    free(A);
    free(UT);
    free(iwork);
    free(work);
    return st;
}

spectra_status spectra_spike_size(const double *s, size_t r, spectra_spike_stats *out) {
    if (!s || !out || r < 2)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "spike_size: need at least 2 singular values");
    size_t top = r / 4;
    if (top < 1) top = 1;
    size_t best = 1;
    double best_ratio = -1.0;
    for (size_t i = 1; i <= top; i++) {
        double a = s[i - 1], b = s[i];
        double ratio = b > 0.0 ? a / b : (a > 0.0 ? INFINITY : 1.0);
        if (ratio > best_ratio) {
            best_ratio = ratio;
            best = i;
        }
    }
    out->r = r;
    out->k_star = best;
    out->k_frac = (double)best / (double)r;
    out->gap = best_ratio;
    out->energy = spectra_energy_share(s, r, best);
    return SPECTRA_OK;
}

spectra_status spectra_energy_cdf(const double *s, size_t r, double *cdf) {
    if (!s || !cdf || r == 0) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "energy_cdf: NULL pointer or r = 0");
    double tot = 0.0;
    for (size_t i = 0; i < r; i++) tot += s[i] * s[i];
    double acc = 0.0;
    for (size_t i = 0; i < r; i++) {
        acc += s[i] * s[i];
        cdf[i] = tot > 0.0 ? acc / tot : 0.0;
    }
    return SPECTRA_OK;
}

double spectra_energy_share(const double *s, size_t r, size_t k) {
    if (!s || r == 0) return 0.0;
    if (k > r) k = r;
    double tot = 0.0, top = 0.0;
    for (size_t i = 0; i < r; i++) {
        tot += s[i] * s[i];
        if (i < k) top += s[i] * s[i];
    }
    return tot > 0.0 ? top / tot : 0.0;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double quantile_sorted(const float *v, size_t n, double q) {
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) return v[n - 1];
    double f = pos - (double)lo;
    return (double)v[lo] + f * ((double)v[lo + 1] - (double)v[lo]);
}

double spectra_quantile(const float *x, size_t n, double q) {
    if (!x || n == 0) {
        spectra_set_error(SPECTRA_ERR_INVALID_ARG, "quantile: NULL or empty input");
        return NAN;
    }
    /* Written so that NaN fails too: it would reach a double -> size_t cast (UB). */
    if (!(q >= 0.0 && q <= 1.0)) {
        spectra_set_error(SPECTRA_ERR_INVALID_ARG, "quantile: q = %g is not in [0, 1]", q);
        return NAN;
    }
    float *v = spectra_malloc(n * sizeof *v);
    if (!v) {
        spectra_set_error(SPECTRA_ERR_NOMEM, "quantile: out of memory for %zu values", n);
        return NAN;
    }
    memcpy(v, x, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_float);
    double r = quantile_sorted(v, n, q);
    free(v);
    return r;
}

spectra_status spectra_log10_histogram(const float *x, size_t n, double lo, double hi, size_t bins, double *density) {
    if (!x || !density || bins == 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "log10_histogram: NULL pointer or zero bins");
    const double w = (hi - lo) / (double)bins;
    /* A non-finite or inverted range, or a bin width that overflows or underflows to 0,
     * would turn (l - lo) / w into Inf or NaN and its cast to a bin index into UB. */
    if (!isfinite(lo) || !isfinite(hi) || !(hi > lo) || !isfinite(w) || !(w > 0.0))
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "log10_histogram: range [%g, %g) in %zu bins is not a finite, increasing range "
                                 "with a positive, finite bin width",
                                 lo, hi, bins);
    memset(density, 0, bins * sizeof *density);
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] > 0.0f)) continue;
        double l = log10((double)x[i]);
        if (l < lo || l >= hi) continue;
        size_t b = (size_t)((l - lo) / w);
        if (b >= bins) b = bins - 1;
        density[b] += 1.0;
    }
    if (n)
        for (size_t b = 0; b < bins; b++) density[b] /= (double)n * w;
    return SPECTRA_OK;
}

/* Rank-k truncation P_k(X) from an exact SVD, in double, row-major. */
static spectra_status truncate_rank(const float *X, size_t rows, size_t cols, size_t k, double *out) {
    const size_t r = rows < cols ? rows : cols;
    double *s = spectra_malloc(r * sizeof *s), *U = spectra_malloc(rows * r * sizeof *U), *V = spectra_malloc(cols * r * sizeof *V);
    spectra_status st = SPECTRA_OK;
    if (!s || !U || !V) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "tail_suppression: out of memory");
        goto done;
    }
    st = spectra_svd_exact(X, rows, cols, s, U, V);
    if (st) goto done;
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < rows; i++) U[i + j * rows] *= s[j];
    /* out (row-major rows x cols) = U_k S_k V_kᵀ; column-major that is V_k (U_k S_k)ᵀ. */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)cols, (int)rows, (int)k, 1.0, V, (int)cols, U, (int)rows,
                0.0, out, (int)cols);
done:
    free(s);
    free(U);
    free(V);
    return st;
}

spectra_status spectra_tail_suppression(const float *M, const float *V, size_t rows, size_t cols, size_t k,
                                        double eps, float *full, float *tail_only, spectra_tail_stats *out) {
    const size_t r = rows < cols ? rows : cols;
    if (!M || !V || !out || rows == 0 || cols == 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "tail_suppression: NULL pointer or empty matrix");
    if (k < 1 || k >= r)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "tail_suppression: rank k = %zu must be in [1, %zu)", k, r);
    /* NaN or a negative eps makes the denominators NaN or zero (median_ratio = Inf). */
    if (!(eps >= 0.0) || !isfinite(eps))
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "tail_suppression: eps = %g must be finite and >= 0", eps);
    spectra_status fin = check_finite("tail_suppression", "M", M, rows, cols);
    if (!fin) fin = check_finite("tail_suppression", "V", V, rows, cols);
    if (fin) return fin;
    const size_t n = rows * cols;
    double *Ms = spectra_malloc(n * sizeof *Ms), *Vs = spectra_malloc(n * sizeof *Vs);
    float *fa = full ? full : spectra_malloc(n * sizeof *fa), *ta = tail_only ? tail_only : spectra_malloc(n * sizeof *ta);
    spectra_status st = SPECTRA_OK;
    if (!Ms || !Vs || !fa || !ta) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "tail_suppression: out of memory");
        goto done;
    }
    if ((st = truncate_rank(M, rows, cols, k, Ms)) || (st = truncate_rank(V, rows, cols, k, Vs))) goto done;
    double sumlog = 0.0;
    size_t nlog = 0;
    for (size_t i = 0; i < n; i++) {
        double mt = fabs((double)M[i] - Ms[i]);
        double vt = (double)V[i] - Vs[i];
        double v = V[i] > 0.0f ? (double)V[i] : 0.0;
        double f = mt / (sqrt(v) + eps), t = mt / (sqrt(fabs(vt)) + eps);
        fa[i] = (float)f;
        ta[i] = (float)t;
        if (f > 0.0 && t > 0.0) {
            sumlog += log10(t / f);
            nlog++;
        }
    }
    static const double qs[5] = {0.10, 0.25, 0.50, 0.75, 0.90};
    float *sorted = (float *)Ms; /* reuse: n doubles hold n floats */
    memcpy(sorted, fa, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_float);
    for (int j = 0; j < 5; j++) out->q_full[j] = quantile_sorted(sorted, n, qs[j]);
    memcpy(sorted, ta, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_float);
    for (int j = 0; j < 5; j++) out->q_tail[j] = quantile_sorted(sorted, n, qs[j]);
    out->k = k;
    out->median_ratio = out->q_full[2] > 0.0 ? out->q_tail[2] / out->q_full[2] : INFINITY;
    out->mean_log10_ratio = nlog ? sumlog / (double)nlog : 0.0;
done:
    free(Ms);
    free(Vs);
    if (!full) free(fa);
    if (!tail_only) free(ta);
    return st;
}

spectra_status spectra_spectral_projections(const float *G, size_t rows, size_t cols, const double *U, const double *V,
                                            size_t r, size_t nk, double *a) {
    if (!G || !U || !V || !a || rows == 0 || cols == 0 || nk == 0 || nk > r || r > (rows < cols ? rows : cols))
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "spectral_projections: bad arguments (nk %zu, r %zu)", nk, r);
    double *Gd = spectra_malloc(rows * cols * sizeof *Gd), *GV = spectra_malloc(rows * nk * sizeof *GV);
    if (!Gd || !GV) {
        free(Gd);
        free(GV);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "spectral_projections: out of memory");
    }
    for (size_t i = 0; i < rows * cols; i++) Gd[i] = G[i];
    /* GV (rows x nk, col-major) = G V_nk: column-major G is Gᵀ (cols x rows), so GV = (Gᵀ)ᵀ V. */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)rows, (int)nk, (int)cols, 1.0, Gd, (int)cols, V,
                (int)cols, 0.0, GV, (int)rows);
    for (size_t k = 0; k < nk; k++) a[k] = cblas_ddot((int)rows, U + k * rows, 1, GV + k * rows, 1);
    free(Gd);
    free(GV);
    return SPECTRA_OK;
}

spectra_status spectra_relvar(const double *a, size_t n, size_t nk, const double *s, double *relvar) {
    if (!a || !s || !relvar || n < 2 || nk == 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "relvar: need at least 2 samples (got %zu)", n);
    for (size_t k = 0; k < nk; k++) {
        double mean = 0.0;
        for (size_t i = 0; i < n; i++) mean += a[i * nk + k];
        mean /= (double)n;
        double var = 0.0;
        for (size_t i = 0; i < n; i++) var += (a[i * nk + k] - mean) * (a[i * nk + k] - mean);
        var /= (double)(n - 1);
        relvar[k] = s[k] > 0.0 ? var / (s[k] * s[k]) : INFINITY;
    }
    return SPECTRA_OK;
}

/* Round to the nearest bfloat16 (ties to even), kept in a float. */
static inline float bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    u &= 0xFFFF0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void round_bf16(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = bf16(x[i]);
}

/* Keller Jordan's zeropower_via_newtonschulz5 as torch runs it in bfloat16: every tensor op
 * rounds its result to bf16, matrix products accumulate in fp32 first (as cuBLAS does).
 * Wide orientation; X (s x L) is G (or Gᵀ) on entry and NS(G) on return. */
static void ns_bf16(float *X, float *T, size_t s, size_t L, int steps, float *A, float *AA) {
    const size_t n = s * L;
    round_bf16(X, n);
    double nrm = 0.0;
    for (size_t i = 0; i < n; i++) nrm += (double)X[i] * X[i];
    const float den = bf16(bf16((float)sqrt(nrm)) + 1e-7f);
    for (size_t i = 0; i < n; i++) X[i] = bf16(X[i] / den);
    for (int it = 0; it < steps; it++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s, (int)s, (int)L, 1.0f, X, (int)L, X, (int)L, 0.0f, A,
                    (int)s);
        round_bf16(A, s * s);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s, (int)s, (int)s, 1.0f, A, (int)s, A, (int)s, 0.0f,
                    AA, (int)s);
        for (size_t i = 0; i < s * s; i++) A[i] = bf16(bf16(SPECTRA_NS_B * A[i]) + bf16(SPECTRA_NS_C * bf16(AA[i])));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s, (int)L, (int)s, 1.0f, A, (int)s, X, (int)L, 0.0f,
                    T, (int)L);
        for (size_t i = 0; i < n; i++) X[i] = bf16(bf16(SPECTRA_NS_A * X[i]) + bf16(T[i]));
    }
}

static void transpose_f(const float *src, float *dst, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

spectra_status spectra_ns_alignment(const float *G, size_t rows, size_t cols, int steps, int bf16_emulation,
                                    double *align, double *s_g, double *s_ns) {
    if (!G || !align || rows == 0 || cols == 0 || steps < 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "ns_alignment: bad arguments");
    spectra_status fin = check_finite("ns_alignment", "G", G, rows, cols);
    if (fin) return fin;
    const size_t r = rows < cols ? rows : cols, n = rows * cols;
    double *s1 = spectra_malloc(r * sizeof *s1), *s2 = spectra_malloc(r * sizeof *s2);
    double *U = spectra_malloc(rows * r * sizeof *U), *V1 = spectra_malloc(cols * r * sizeof *V1), *V2 = spectra_malloc(cols * r * sizeof *V2);
    double *C = spectra_malloc(r * r * sizeof *C);
    float *ns = spectra_malloc(n * sizeof *ns), *work = spectra_malloc(spectra_newton_schulz_work(rows, cols) * sizeof *work);
    spectra_status st = SPECTRA_OK;
    if (!s1 || !s2 || !U || !V1 || !V2 || !C || !ns || !work) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "ns_alignment: out of memory");
        goto done;
    }
    if (bf16_emulation) {
        const size_t sm = rmin_(rows, cols), L = rows * cols / sm;
        float *X = work, *T = work + n, *A = T + n, *AA = A + sm * sm;
        if (rows > cols) transpose_f(G, X, rows, cols);
        else memcpy(X, G, n * sizeof *X);
        ns_bf16(X, T, sm, L, steps, A, AA);
        if (rows > cols) transpose_f(X, ns, cols, rows);
        else memcpy(ns, X, n * sizeof *ns);
    } else if ((st = spectra_newton_schulz(G, rows, cols, steps, 1e-7f, ns, work)))
        goto done;
    if ((st = spectra_svd_exact(G, rows, cols, s1, U, V1)) || (st = spectra_svd_exact(ns, rows, cols, s2, U, V2)))
        goto done;
    /* C (r x r, col-major) = V1ᵀ V2: C[i + j r] = ⟨v_i, v̂_j⟩. */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)r, (int)r, (int)cols, 1.0, V1, (int)cols, V2, (int)cols,
                0.0, C, (int)r);
    for (size_t i = 0; i < r; i++) {
        double best = 0.0;
        for (size_t j = 0; j < r; j++) best = fmax(best, fabs(C[i + j * r]));
        align[i] = best;
    }
    if (s_g) memcpy(s_g, s1, r * sizeof *s1);
    if (s_ns) memcpy(s_ns, s2, r * sizeof *s2);
done:
    free(s1);
    free(s2);
    free(U);
    free(V1);
    free(V2);
    free(C);
    free(ns);
    free(work);
    return st;
}
