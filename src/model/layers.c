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

static inline float dotf(const float *a, const float *b, int n) {
    float s = 0.0f;
    /* simd reduction lets the compiler use several vector accumulators without
     * -ffast-math; the reassociation changes rounding only at the 1e-7 level. */
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Max over 16 independent lanes: vectorizes under gcc and clang without fast-math. */
static float max_array(const float *x, int n) {
    float m[16];
    for (int k = 0; k < 16; k++) m[k] = -INFINITY;
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int k = 0; k < 16; k++) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
    for (; j < n; j++) m[0] = x[j] > m[0] ? x[j] : m[0];
    float r = m[0];
    for (int k = 1; k < 16; k++) r = m[k] > r ? m[k] : r;
    return r;
}

static inline void axpyf(float *y, float a, const float *x, int n) {
#pragma omp simd
    for (int i = 0; i < n; i++) y[i] += a * x[i];
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
#pragma omp simd
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
#pragma omp simd
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
        float r = rstd[i], s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < d; j++) s += di[j] * g[j] * xi[j];
        float c = s * r * r / (float)d; /* mean(dn * n) / rstd */
#pragma omp simd
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
#pragma omp simd
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
#pragma omp simd
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

void spectra_attention_forward(float *out, float *att, const float *qkv, int B, int T, int Hq,
                               int Hkv, int hd) {
    const int C = (Hq + 2 * Hkv) * hd, group = Hq / Hkv;
    const float scale = 1.0f / sqrtf((float)hd);
    /* Per (batch, head) hand loops rather than a batched sgemm: at T <= 1024 and hd
     * 64..128 the blocks are small, the causal half is skipped, and the loop stays one
     * flat OpenMP region with no BLAS call inside it. */
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if ((size_t)B * Hq * T * T >= PAR_MIN_WORK)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < Hq; h++) {
            const int kvh = h / group;
            const float *base = qkv + (size_t)b * T * C;
            float *A = att + ((size_t)b * Hq + h) * T * T;
            for (int t = 0; t < T; t++) {
                const float *q = base + (size_t)t * C + (size_t)h * hd;
                float *a = A + (size_t)t * T;
                float mx = -INFINITY;
                for (int u = 0; u <= t; u++) {
                    const float *k = base + (size_t)u * C + (size_t)(Hq + kvh) * hd;
                    float s = dotf(q, k, hd) * scale;
                    a[u] = s;
                    mx = s > mx ? s : mx;
                }
                float sum = 0.0f;
                for (int u = 0; u <= t; u++) {
                    float e = expf(a[u] - mx);
                    a[u] = e;
                    sum += e;
                }
                float inv = 1.0f / sum;
                float *o = out + ((size_t)b * T + t) * Hq * hd + (size_t)h * hd;
                memset(o, 0, (size_t)hd * sizeof(float));
                for (int u = 0; u <= t; u++) {
                    a[u] *= inv;
                    const float *v = base + (size_t)u * C + (size_t)(Hq + Hkv + kvh) * hd;
                    axpyf(o, a[u], v, hd);
                }
            }
        }
}

void spectra_attention_backward(float *dqkv, const float *dout, const float *qkv, float *att,
                                float *scratch, int n_threads, int B, int T, int Hq, int Hkv,
                                int hd) {
    const int C = (Hq + 2 * Hkv) * hd, group = Hq / Hkv;
    const float scale = 1.0f / sqrtf((float)hd);
    /* One task per (batch, kv head): the query heads that share a kv head all add into
     * its dk/dv, so they must run in the same task to stay race-free. */
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(n_threads) if ((size_t)B * Hq * T * T >= PAR_MIN_WORK)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < Hkv; g++) {
            float *dp = scratch + (size_t)omp_get_thread_num() * T;
            const float *base = qkv + (size_t)b * T * C;
            float *dbase = dqkv + (size_t)b * T * C;
            for (int t = 0; t < T; t++) {
                memset(dbase + (size_t)t * C + (size_t)(Hq + g) * hd, 0, (size_t)hd * sizeof(float));
                memset(dbase + (size_t)t * C + (size_t)(Hq + Hkv + g) * hd, 0,
                       (size_t)hd * sizeof(float));
            }
            for (int h = g * group; h < (g + 1) * group; h++) {
                float *A = att + ((size_t)b * Hq + h) * T * T;
                for (int t = 0; t < T; t++) {
                    const float *q = base + (size_t)t * C + (size_t)h * hd;
                    const float *dO = dout + ((size_t)b * T + t) * Hq * hd + (size_t)h * hd;
                    float *a = A + (size_t)t * T;
                    float pdp = 0.0f;
                    for (int u = 0; u <= t; u++) {
                        const float *v = base + (size_t)u * C + (size_t)(Hq + Hkv + g) * hd;
                        dp[u] = dotf(dO, v, hd);
                        pdp += a[u] * dp[u];
                    }
                    float *dq = dbase + (size_t)t * C + (size_t)h * hd;
                    memset(dq, 0, (size_t)hd * sizeof(float));
                    for (int u = 0; u <= t; u++) {
                        const float *k = base + (size_t)u * C + (size_t)(Hq + g) * hd;
                        float *dk = dbase + (size_t)u * C + (size_t)(Hq + g) * hd;
                        float *dv = dbase + (size_t)u * C + (size_t)(Hq + Hkv + g) * hd;
                        float p = a[u];
                        float ds = p * (dp[u] - pdp) * scale; /* softmax backward */
                        a[u] = ds;
                        axpyf(dv, p, dO, hd);
                        axpyf(dq, ds, k, hd);
                        axpyf(dk, ds, q, hd);
                    }
                }
            }
        }
}

void spectra_swiglu_forward(float *h, const float *gu, int N, int ff) {
#pragma omp parallel for schedule(static) if ((size_t)N * ff >= PAR_MIN_WORK)
    for (int i = 0; i < N; i++) {
        const float *g = gu + (size_t)i * 2 * ff, *u = g + ff;
        float *hi = h + (size_t)i * ff;
        for (int j = 0; j < ff; j++) hi[j] = g[j] / (1.0f + expf(-g[j])) * u[j];
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
            float s = 1.0f / (1.0f + expf(-gj));
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
        float sum = 0.0f;
        for (int j = 0; j < V; j++) {
            float e = expf(x[j] - mx);
            x[j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
#pragma omp simd
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
#pragma omp simd
        for (int j = 0; j < V; j++) x[j] *= c;
        x[targets[i]] -= c;
    }
}
