/* Muon's quintic Newton–Schulz orthogonalization, shared by the optimizer (src/optim/muon.c)
 * and the analysis tools (src/analysis/), so that the iteration measured by
 * `spectra analyze ns-align` is bit for bit the one Muon applies. */
#include "linalg/linalg.h"

#include "core/error.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Keller Jordan's coefficients: they trade exact convergence to 1 for a steep slope at 0,
 * so five steps bring every non-negligible singular value into roughly [0.7, 1.2]. */
const float SPECTRA_NS_A = 3.4445f, SPECTRA_NS_B = -4.7750f, SPECTRA_NS_C = 2.0315f;

float *spectra_newton_schulz_wide(float *X, float *Xn, size_t s, size_t L, int steps, float eps, float *AB) {
    const size_t n = s * L;
    float *A = AB, *B = AB + s * s;
    double nrm = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : nrm)
    for (size_t i = 0; i < n; i++) nrm += (double)X[i] * X[i];
    nrm = sqrt(nrm);
    const float inv = (float)(1.0 / (nrm > eps ? nrm : eps));
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) X[i] *= inv;

    /* X ← aX + (bA + cA²)X with A = XXᵀ (s x s, the small side). */
    for (int it = 0; it < steps; it++) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)s, (int)L, 1.0f, X, (int)L, 0.0f, A, (int)s);
        for (size_t i = 0; i < s; i++)
            for (size_t j = 0; j < i; j++) A[i * s + j] = A[j * s + i];
        memcpy(B, A, s * s * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s, (int)s, (int)s, SPECTRA_NS_C, A, (int)s, A, (int)s,
                    SPECTRA_NS_B, B, (int)s);
        memcpy(Xn, X, n * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s, (int)L, (int)s, 1.0f, B, (int)s, X, (int)L,
                    SPECTRA_NS_A, Xn, (int)L);
        float *t = X;
        X = Xn;
        Xn = t;
    }
    return X;
}

size_t spectra_newton_schulz_work(size_t rows, size_t cols) {
    size_t s = rows < cols ? rows : cols;
    return 2 * rows * cols + 2 * s * s;
}

static void transpose(const float *src, float *dst, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

spectra_status spectra_newton_schulz(const float *G, size_t rows, size_t cols, int steps, float eps, float *out,
                                     float *work) {
    if (!G || !out || !work || rows == 0 || cols == 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "newton_schulz: NULL pointer or empty matrix");
    if (steps < 0 || !(eps > 0.0f))
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "newton_schulz: steps must be >= 0 and eps > 0 (got %d, %g)",
                                 steps, (double)eps);
    const size_t mn = rows * cols;
    const int tall = rows > cols;
    const size_t s = tall ? cols : rows, L = tall ? rows : cols;
    float *X = work, *Xn = work + mn, *AB = Xn + mn;
    if (tall)
        transpose(G, X, rows, cols);
    else
        memcpy(X, G, mn * sizeof(float));
    float *R = spectra_newton_schulz_wide(X, Xn, s, L, steps, eps, AB);
    if (tall)
        transpose(R, out, cols, rows);
    else
        memcpy(out, R, mn * sizeof(float));
    return SPECTRA_OK;
}
