/* Transformer layer kernels. Matmuls go to OpenBLAS (called from the serial part only:
 * OpenBLAS is the OpenMP build and would otherwise nest into our parallel regions);
 * everything elementwise or per-row is an OpenMP loop over rows or (batch, head). */
#include "model/layers.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* Large N*d loops are split over threads; tiny ones (tests) are not worth a fork. */
#define PAR_MIN_WORK 2048

/* Reductions over 16 independent lanes, combined at the end: the compiler can keep
 * each lane in a vector register without -ffast-math (which it needs to reassociate a
 * single running sum), and no `omp simd` pragma is needed (clang rejects those under
 * -Werror when instrumentation, e.g. ASan, prevents vectorization). */
#define LANES 16

static inline float dotf(const float *a, const float *b, int n) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) acc[k] = fmaf(a[j + k], b[j + k], acc[k]);
    for (; j < n; j++) acc[0] = fmaf(a[j], b[j], acc[0]);
    float s = 0.0f;
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

/* sum_j a[j] * b[j] * c[j] */
static inline float dot3f(const float *a, const float *b, const float *c, int n) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) acc[k] = fmaf(a[j + k] * b[j + k], c[j + k], acc[k]);
    for (; j < n; j++) acc[0] = fmaf(a[j] * b[j], c[j], acc[0]);
    float s = 0.0f;
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

/* expf that auto-vectorizes (libm's does not without -ffast-math): Cody-Waite range
 * reduction and the Cephes degree-6 polynomial, max error 1 ulp (measured) over the
 * clamped range [-87, 88] (below -87 it returns ~1.6e-38 instead of a denormal or 0).
 * The integer exponent comes from the bits of the rounding sum, not a float->int
 * conversion, so NaN inputs propagate without undefined behaviour. */
static inline float exp_vec(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float big = x * 1.44269504088896341f + magic;
    float n = big - magic;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    uint32_t bits; /* unsigned: a NaN input must not make the shift undefined behaviour */
    memcpy(&bits, &big, sizeof bits);
    bits = (bits - 0x4B400000u + 127u) << 23; /* 2^n */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

static inline float sum_array(const float *x, int n) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += x[j + k];
    for (; j < n; j++) acc[0] += x[j];
    float s = 0.0f;
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

static float max_array(const float *x, int n) {
    float m[LANES];
    for (int k = 0; k < LANES; k++) m[k] = -INFINITY;
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
    for (; j < n; j++) m[0] = x[j] > m[0] ? x[j] : m[0];
    float r = m[0];
    for (int k = 1; k < LANES; k++) r = m[k] > r ? m[k] : r;
    return r;
}

void spectra_embedding_forward(float *out, const int32_t *tokens, const float *emb, int N, int d) {
#pragma omp parallel for schedule(static) if ((size_t)N * d >= PAR_MIN_WORK)
    for (int i = 0; i < N; i++)
        memcpy(out + (size_t)i * d, emb + (size_t)tokens[i] * d, (size_t)d * sizeof(float));
}

void spectra_embedding_backward(float *demb, const float *dout, const int32_t *tokens, int N,
                                int d) {
    /* Repeated tokens would race on the same row if split by row, so threads split the
     * columns instead; every thread walks all positions in order (deterministic). */
#pragma omp parallel if ((size_t)N * d >= PAR_MIN_WORK)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = (int)((long)d * id / nt), c1 = (int)((long)d * (id + 1) / nt);
        for (int i = 0; i < N; i++) {
            float *dst = demb + (size_t)tokens[i] * d;
            const float *src = dout + (size_t)i * d;
            for (int j = c0; j < c1; j++) dst[j] += src[j];
        }
    }
}

void spectra_rmsnorm_forward(float *out, float *rstd, const float *x, const float *g, int N,
                             int d, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * d >= PAR_MIN_WORK)
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * d;
        float *oi = out + (size_t)i * d;
        float r = 1.0f / sqrtf(dotf(xi, xi, d) / (float)d + eps);
        rstd[i] = r;
        for (int j = 0; j < d; j++) oi[j] = xi[j] * r * g[j];
    }
}

void spectra_rmsnorm_backward(float *dx, float *dg, const float *dout, const float *x,
                              const float *g, const float *rstd, int N, int d) {
    /* With n = x*rstd: dx = rstd * (dn - n * mean(dn * n)), dn = dout * g. */
#pragma omp parallel for schedule(static) if ((size_t)N * d >= PAR_MIN_WORK)
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * d, *di = dout + (size_t)i * d;
        float *dxi = dx + (size_t)i * d;
        float r = rstd[i], s = dot3f(di, g, xi, d);
        float c = s * r * r / (float)d; /* mean(dn * n) / rstd */
        for (int j = 0; j < d; j++) dxi[j] += r * (di[j] * g[j] - xi[j] * c);
    }
    /* dg sums over rows: split the columns so no two threads share an element. */
#pragma omp parallel if ((size_t)N * d >= PAR_MIN_WORK)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = (int)((long)d * id / nt), c1 = (int)((long)d * (id + 1) / nt);
        for (int i = 0; i < N; i++) {
            const float *xi = x + (size_t)i * d, *di = dout + (size_t)i * d;
            float r = rstd[i];
            for (int j = c0; j < c1; j++) dg[j] += di[j] * xi[j] * r;
        }
    }
}

void spectra_linear_forward(float *out, const float *x, const float *W, int N, int n_in,
                            int n_out, int accumulate) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, n_out, n_in, 1.0f, x, n_in, W, n_in,
                accumulate ? 1.0f : 0.0f, out, n_out);
}

void spectra_linear_backward(float *dx, float *dW, const float *dout, const float *x,
                             const float *W, int N, int n_in, int n_out, int accumulate_dx) {
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, n_in, n_out, 1.0f, dout, n_out,
                    W, n_in, accumulate_dx ? 1.0f : 0.0f, dx, n_in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, N, 1.0f, dout, n_out, x,
                n_in, 1.0f, dW, n_in);
}

void spectra_rope_tables(float *cos_t, float *sin_t, int T, int hd, float theta) {
    int half = hd / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double freq = pow((double)theta, -2.0 * i / hd);
            double a = t * freq;
            cos_t[(size_t)t * half + i] = (float)cos(a);
            sin_t[(size_t)t * half + i] = (float)sin(a);
        }
}

static void rope_apply(float *x, const float *cos_t, const float *sin_t, int B, int T,
                       int n_heads, int hd, int stride, float sign) {
    int half = hd / 2;
    int N = B * T;
#pragma omp parallel for schedule(static) if ((size_t)N * n_heads * hd >= PAR_MIN_WORK)
    for (int r = 0; r < N; r++) {
        int t = r % T;
        const float *c = cos_t + (size_t)t * half, *s = sin_t + (size_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            float *x1 = x + (size_t)r * stride + (size_t)h * hd, *x2 = x1 + half;
            for (int i = 0; i < half; i++) {
                float a = x1[i], b = x2[i], si = sign * s[i];
                x1[i] = a * c[i] - b * si;
                x2[i] = a * si + b * c[i];
            }
        }
    }
}

void spectra_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T,
                          int n_heads, int hd, int stride) {
    rope_apply(x, cos_t, sin_t, B, T, n_heads, hd, stride, 1.0f);
}

void spectra_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T,
                           int n_heads, int hd, int stride) {
    rope_apply(dx, cos_t, sin_t, B, T, n_heads, hd, stride, -1.0f);
}

/* Register-tiled micro-kernel shared by all attention matmuls:
 *   acc[r][k] = sum_{i in [i0, i1)} a[r][i * as] * B[i * ldb + k],  r < ATT_RB, k < w.
 * ATT_RB rows share each 16-float load of B. The full-width case keeps the ATT_RB
 * accumulators in registers through GCC/Clang vector extensions (the compiler lowers a
 * 16-lane vector to one AVX-512 or two AVX2 registers) and uses fmaf, because in -std=c11
 * mode GCC does not contract a*b+c into an FMA. Callers pass valid (clamped) row
 * pointers for all ATT_RB rows and discard the rows they do not need. */
#define ATT_RB 6
#define ATT_VW 16
typedef float vf16 __attribute__((vector_size(ATT_VW * sizeof(float))));

/* Macros rather than functions: passing 64-byte vectors by value draws -Wpsabi on
 * targets without AVX-512. */
#define VFMA(c, x, b)                                                          \
    do {                                                                       \
        const float x_ = (x);                                                  \
        vf16 t_;                                                               \
        for (int k_ = 0; k_ < ATT_VW; k_++) t_[k_] = fmaf(x_, (b)[k_], (c)[k_]); \
        (c) = t_;                                                              \
    } while (0)

static void att_tile_w(float acc[ATT_RB][ATT_VW], const float *const a[ATT_RB], size_t as,
                       const float *B, size_t ldb, int i0, int i1, int w) {
    if (w == ATT_VW) {
        vf16 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0}, c5 = {0};
        const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
        for (int i = i0; i < i1; i++) {
            vf16 b;
            memcpy(&b, B + (size_t)i * ldb, sizeof b);
            const size_t o = (size_t)i * as;
            VFMA(c0, a0[o], b);
            VFMA(c1, a1[o], b);
            VFMA(c2, a2[o], b);
            VFMA(c3, a3[o], b);
            VFMA(c4, a4[o], b);
            VFMA(c5, a5[o], b);
        }
        memcpy(acc[0], &c0, sizeof c0);
        memcpy(acc[1], &c1, sizeof c1);
        memcpy(acc[2], &c2, sizeof c2);
        memcpy(acc[3], &c3, sizeof c3);
        memcpy(acc[4], &c4, sizeof c4);
        memcpy(acc[5], &c5, sizeof c5);
        return;
    }
    for (int r = 0; r < ATT_RB; r++)
        for (int k = 0; k < ATT_VW; k++) acc[r][k] = 0.0f;
    for (int i = i0; i < i1; i++) {
        const float *b = B + (size_t)i * ldb;
        for (int r = 0; r < ATT_RB; r++) {
            const float x = a[r][(size_t)i * as];
            for (int k = 0; k < w; k++) acc[r][k] = fmaf(x, b[k], acc[r][k]);
        }
    }
}

#define att_tile(acc, a, as, B, ldb, i0, i1, w) att_tile_w(acc, a, as, B, ldb, i0, i1, w)

static int pad16(int n) { return (n + 15) & ~15; }

size_t spectra_attention_scratch_floats(int T, int hd) {
    return 2 * ((size_t)pad16(T) * hd + (size_t)T * T);
}

/* dst[j * ldt + u] = src[u * C + j] for u < T, zero for u in [T, ldt). */
static void transpose_head(float *dst, int ldt, const float *src, int C, int T, int hd) {
    for (int j = 0; j < hd; j++) {
        float *d = dst + (size_t)j * ldt;
        for (int u = 0; u < T; u++) d[u] = src[(size_t)u * C + j];
        for (int u = T; u < ldt; u++) d[u] = 0.0f;
    }
}

/* S[t, u] = sum_j X[t, j] Yt[j, u] * scale for u <= t (rows t of X at stride ldx). */
static void causal_scores(float *S, const float *X, int ldx, const float *Yt, int ldt, int T,
                          int hd, float scale) {
    float acc[ATT_RB][ATT_VW];
    for (int t0 = 0; t0 < T; t0 += ATT_RB) {
        const int nr = T - t0 < ATT_RB ? T - t0 : ATT_RB, tmax = t0 + nr - 1;
        const float *a[ATT_RB];
        for (int r = 0; r < ATT_RB; r++) a[r] = X + (size_t)(r < nr ? t0 + r : tmax) * ldx;
        for (int u0 = 0; u0 <= tmax; u0 += ATT_VW) {
            att_tile(acc, a, 1, Yt + u0, (size_t)ldt, 0, hd, ATT_VW);
            for (int r = 0; r < nr; r++) {
                const int t = t0 + r, kmax = t - u0 < ATT_VW - 1 ? t - u0 : ATT_VW - 1;
                float *srow = S + (size_t)t * T + u0;
                for (int k = 0; k <= kmax; k++) srow[k] = acc[r][k] * scale;
            }
        }
    }
}

/* Zeros S[t, u] for u in (t, t + ATT_RB - 1], so tiles that read a few entries past the
 * diagonal (the row blocks of the callers below) see exact zeros there. */
static void zero_past_diagonal(float *srow, int t, int T) {
    for (int u = t + 1; u < T && u < t + ATT_RB; u++) srow[u] = 0.0f;
}

/* Y[t, :] (= or +=) sum_{u <= t} W[t, u] M[u, :], W causal with zeroed padding. */
static void causal_wm(float *Y, int ldy, const float *W, const float *M, int ldm, int T, int hd) {
    float acc[ATT_RB][ATT_VW];
    for (int t0 = 0; t0 < T; t0 += ATT_RB) {
        const int nr = T - t0 < ATT_RB ? T - t0 : ATT_RB, tmax = t0 + nr - 1;
        const float *a[ATT_RB];
        for (int r = 0; r < ATT_RB; r++) a[r] = W + (size_t)(r < nr ? t0 + r : tmax) * T;
        for (int j0 = 0; j0 < hd; j0 += ATT_VW) {
            const int w = hd - j0 < ATT_VW ? hd - j0 : ATT_VW;
            att_tile_w(acc, a, 1, M + j0, (size_t)ldm, 0, tmax + 1, w);
            for (int r = 0; r < nr; r++) {
                float *y = Y + (size_t)(t0 + r) * ldy + j0;
                for (int k = 0; k < w; k++) y[k] = acc[r][k];
            }
        }
    }
}

/* Y[u, :] += sum_{t >= u} W[t, u] M[t, :] (the transposed product), W causal with
 * zeroed padding. */
static void causal_wtm_acc(float *Y, int ldy, const float *W, const float *M, int ldm, int T,
                           int hd) {
    float acc[ATT_RB][ATT_VW];
    for (int u0 = 0; u0 < T; u0 += ATT_RB) {
        const int nu = T - u0 < ATT_RB ? T - u0 : ATT_RB;
        const float *a[ATT_RB];
        for (int r = 0; r < ATT_RB; r++) a[r] = W + (r < nu ? u0 + r : u0);
        for (int j0 = 0; j0 < hd; j0 += ATT_VW) {
            const int w = hd - j0 < ATT_VW ? hd - j0 : ATT_VW;
            att_tile_w(acc, a, (size_t)T, M + j0, (size_t)ldm, u0, T, w);
            for (int r = 0; r < nu; r++) {
                float *y = Y + (size_t)(u0 + r) * ldy + j0;
                for (int k = 0; k < w; k++) y[k] += acc[r][k];
            }
        }
    }
}

/* P[t, u] = exp(scale q_t . k_u - lse[t]) for u <= t, zero padding past the diagonal.
 * With lse == NULL the softmax is computed and its log-normalizer stored in lse_out. */
static void causal_probs(float *P, const float *Q, int ldq, const float *Kt, int ldt, int T,
                         int hd, float scale, const float *lse, float *lse_out) {
    causal_scores(P, Q, ldq, Kt, ldt, T, hd, scale);
    for (int t = 0; t < T; t++) {
        float *p = P + (size_t)t * T;
        if (lse) {
            const float l = lse[t];
            for (int u = 0; u <= t; u++) p[u] = exp_vec(p[u] - l);
        } else {
            const float mx = max_array(p, t + 1);
            for (int u = 0; u <= t; u++) p[u] = exp_vec(p[u] - mx);
            const float sum = sum_array(p, t + 1);
            const float inv = 1.0f / sum;
            for (int u = 0; u <= t; u++) p[u] *= inv;
            lse_out[t] = mx + logf(sum);
        }
        zero_past_diagonal(p, t, T);
    }
}

void spectra_attention_forward(float *out, float *lse, const float *qkv, float *scratch,
                               int n_threads, int B, int T, int Hq, int Hkv, int hd) {
    const int C = (Hq + 2 * Hkv) * hd, Cq = Hq * hd, group = Hq / Hkv, Tp = pad16(T);
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t per_thread = spectra_attention_scratch_floats(T, hd);
    /* One task per (batch, kv head) so K is transposed once for its query heads. Hand
     * tiles rather than sgemm: they skip the masked half, need no BLAS call inside the
     * OpenMP region, and have no per-call overhead at T = 64. The probabilities live in
     * per-thread scratch only; the backward recomputes them from q, k and lse, so the
     * saved state is O(T) per head instead of O(T^2). */
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(n_threads) if ((size_t)B * Hq * T * T >= PAR_MIN_WORK)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < Hkv; g++) {
            float *Kt = scratch + (size_t)omp_get_thread_num() * per_thread;
            float *P = Kt + (size_t)Tp * hd;
            const float *base = qkv + (size_t)b * T * C;
            transpose_head(Kt, Tp, base + (size_t)(Hq + g) * hd, C, T, hd);
            for (int h = g * group; h < (g + 1) * group; h++) {
                causal_probs(P, base + (size_t)h * hd, C, Kt, Tp, T, hd, scale, NULL,
                             lse + ((size_t)b * Hq + h) * T);
                causal_wm(out + (size_t)b * T * Cq + (size_t)h * hd, Cq, P,
                          base + (size_t)(Hq + Hkv + g) * hd, C, T, hd);
            }
        }
}

void spectra_attention_backward(float *dqkv, const float *dout, const float *qkv,
                                const float *lse, float *scratch, int n_threads, int B, int T,
                                int Hq, int Hkv, int hd) {
    const int C = (Hq + 2 * Hkv) * hd, Cq = Hq * hd, group = Hq / Hkv, Tp = pad16(T);
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t per_thread = spectra_attention_scratch_floats(T, hd);
    /* One task per (batch, kv head): the query heads that share a kv head all add into
     * its dk/dv, so they must run in the same task to stay race-free. */
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(n_threads) if ((size_t)B * Hq * T * T >= PAR_MIN_WORK)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < Hkv; g++) {
            float *Kt = scratch + (size_t)omp_get_thread_num() * per_thread;
            float *P = Kt + (size_t)Tp * hd;      /* T x T probabilities, recomputed */
            float *Vt = P + (size_t)T * T;
            float *D = Vt + (size_t)Tp * hd;      /* T x T: dP, then dS */
            const float *base = qkv + (size_t)b * T * C;
            const float *K = base + (size_t)(Hq + g) * hd, *V = base + (size_t)(Hq + Hkv + g) * hd;
            float *dbase = dqkv + (size_t)b * T * C;
            float *dK = dbase + (size_t)(Hq + g) * hd, *dV = dbase + (size_t)(Hq + Hkv + g) * hd;
            for (int t = 0; t < T; t++) {
                memset(dK + (size_t)t * C, 0, (size_t)hd * sizeof(float));
                memset(dV + (size_t)t * C, 0, (size_t)hd * sizeof(float));
            }
            transpose_head(Kt, Tp, K, C, T, hd);
            transpose_head(Vt, Tp, V, C, T, hd);
            for (int h = g * group; h < (g + 1) * group; h++) {
                const float *Q = base + (size_t)h * hd;
                const float *dO = dout + (size_t)b * T * Cq + (size_t)h * hd;
                causal_probs(P, Q, C, Kt, Tp, T, hd, scale, lse + ((size_t)b * Hq + h) * T, NULL);
                causal_scores(D, dO, Cq, Vt, Tp, T, hd, 1.0f); /* dP = dO V^T */
                for (int t = 0; t < T; t++) { /* softmax backward */
                    const float *p = P + (size_t)t * T;
                    float *d = D + (size_t)t * T, pdp = 0.0f;
                    for (int u = 0; u <= t; u++) pdp += p[u] * d[u];
                    for (int u = 0; u <= t; u++) d[u] = p[u] * (d[u] - pdp) * scale;
                    zero_past_diagonal(d, t, T);
                }
                causal_wm(dbase + (size_t)h * hd, C, D, K, C, T, hd); /* dQ = dS K */
                causal_wtm_acc(dK, C, D, Q, C, T, hd);                /* dK += dS^T Q */
                causal_wtm_acc(dV, C, P, dO, Cq, T, hd);              /* dV += P^T dO */
            }
        }
}

void spectra_swiglu_forward(float *h, const float *gu, int N, int ff) {
#pragma omp parallel for schedule(static) if ((size_t)N * ff >= PAR_MIN_WORK)
    for (int i = 0; i < N; i++) {
        const float *g = gu + (size_t)i * 2 * ff, *u = g + ff;
        float *hi = h + (size_t)i * ff;
        for (int j = 0; j < ff; j++) hi[j] = g[j] / (1.0f + exp_vec(-g[j])) * u[j];
    }
}

void spectra_swiglu_backward(float *dgu, const float *dh, const float *gu, int N, int ff) {
#pragma omp parallel for schedule(static) if ((size_t)N * ff >= PAR_MIN_WORK)
    for (int i = 0; i < N; i++) {
        const float *g = gu + (size_t)i * 2 * ff, *u = g + ff;
        const float *d = dh + (size_t)i * ff;
        float *dg = dgu + (size_t)i * 2 * ff, *du = dg + ff;
        for (int j = 0; j < ff; j++) {
            float gj = g[j], uj = u[j];
            float s = 1.0f / (1.0f + exp_vec(-gj));
            float silu = gj * s;
            dg[j] = d[j] * uj * s * (1.0f + gj * (1.0f - s));
            du[j] = d[j] * silu;
        }
    }
}

double spectra_crossentropy_forward(float *probs_logits, float *losses, const int32_t *targets,
                                    const float *weights, int N, int V) {
    double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if ((size_t)N * V >= PAR_MIN_WORK)
    for (int i = 0; i < N; i++) {
        float *x = probs_logits + (size_t)i * V;
        float mx = max_array(x, V);
        float target_logit = x[targets[i]];
        for (int j = 0; j < V; j++) x[j] = exp_vec(x[j] - mx);
        float sum = sum_array(x, V);
        float inv = 1.0f / sum;
        for (int j = 0; j < V; j++) x[j] *= inv;
        float l = logf(sum) - (target_logit - mx);
        losses[i] = l;
        total += (double)l * (weights ? weights[i] : 1.0f);
    }
    return total;
}

void spectra_crossentropy_backward(float *probs_dlogits, const int32_t *targets,
                                   const float *weights, float scale, int N, int V) {
#pragma omp parallel for schedule(static) if ((size_t)N * V >= PAR_MIN_WORK)
    for (int i = 0; i < N; i++) {
        float *x = probs_dlogits + (size_t)i * V;
        float c = scale * (weights ? weights[i] : 1.0f);
        for (int j = 0; j < V; j++) x[j] *= c;
        x[targets[i]] -= c;
    }
}
