/* CUDA kernels of the optimizers (docs/GPU.md). Elementwise kernels are grid-stride loops
 * over float4 vectors (bf16 gradients: 4 values per 8-byte load) with a scalar tail; the
 * vector path is taken only when every pointer is 16-byte aligned (8 for bf16).
 * Compiled with --fmad=false: a product followed by a sum rounds twice, as on the CPU
 * (-ffp-contract=off); fmaf appears exactly where the CPU code (and torch) fuses. */
#include "cuda/kernels.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#define SC_THREADS 256

typedef __nv_bfloat16 bf16;

static unsigned grid_for(size_t work) {
    size_t b = (work + SC_THREADS - 1) / SC_THREADS;
    if (b < 1) b = 1;
    if (b > 4096) b = 4096;
    return (unsigned)b;
}

static bool aligned(const void *p, size_t a) { return p == NULL || ((uintptr_t)p % a) == 0; }

__device__ __forceinline__ float ld1(const float *p, size_t i) { return p[i]; }
__device__ __forceinline__ float ld1(const bf16 *p, size_t i) { return __bfloat162float(p[i]); }

__device__ __forceinline__ float4 ld4(const float *p, size_t v) { return reinterpret_cast<const float4 *>(p)[v]; }
__device__ __forceinline__ float4 ld4(const bf16 *p, size_t v) {
    const __nv_bfloat162 *q = reinterpret_cast<const __nv_bfloat162 *>(p) + 2 * v;
    float2 a = __bfloat1622float2(q[0]), b = __bfloat1622float2(q[1]);
    return make_float4(a.x, a.y, b.x, b.y);
}
__device__ __forceinline__ void st4(float *p, size_t v, float4 x) { reinterpret_cast<float4 *>(p)[v] = x; }

__device__ __forceinline__ float lane(const float4 &x, int j) { return j == 0 ? x.x : j == 1 ? x.y : j == 2 ? x.z : x.w; }
__device__ __forceinline__ void set_lane(float4 &x, int j, float val) {
    if (j == 0) x.x = val;
    else if (j == 1) x.y = val;
    else if (j == 2) x.z = val;
    else x.w = val;
}

/* Sum over the block in double; the result is valid in thread 0. */
__device__ double block_sum(double v) {
    __shared__ double warp_sums[SC_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    int w = threadIdx.x / 32, l = threadIdx.x % 32;
    if (l == 0) warp_sums[w] = v;
    __syncthreads();
    double t = 0.0;
    if (w == 0) {
        t = l < SC_THREADS / 32 ? warp_sums[l] : 0.0;
        for (int o = 16; o > 0; o >>= 1) t += __shfl_down_sync(0xffffffffu, t, o);
    }
    __syncthreads();
    return t;
}

/* ---------------- AdamW ---------------- */

struct adamw_args {
    float decay, b1, omb1, b2, omb2, nss, bc2s, eps;
};

__device__ __forceinline__ void adamw_elem(const adamw_args &a, float &w, float &m, float &v, float g) {
    float wi = w * a.decay;
    float mi = fmaf(a.omb1, g, m * a.b1);
    float vi = fmaf(a.omb2 * g, g, v * a.b2);
    float denom = sqrtf(vi) / a.bc2s + a.eps;
    w = wi + (a.nss * mi) / denom;
    m = mi;
    v = vi;
}

template <class GT>
__global__ void k_adamw(float *__restrict__ w, float *__restrict__ m, float *__restrict__ v, const GT *__restrict__ g,
                        size_t n, bool vec, adamw_args a) {
    size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    size_t n4 = vec ? n / 4 : 0;
    for (size_t i = tid; i < n4; i += stride) {
        float4 W = ld4(w, i), M = ld4(m, i), V = ld4(v, i), G = ld4(g, i);
        for (int j = 0; j < 4; j++) {
            float wj = lane(W, j), mj = lane(M, j), vj = lane(V, j);
            adamw_elem(a, wj, mj, vj, lane(G, j));
            set_lane(W, j, wj);
            set_lane(M, j, mj);
            set_lane(V, j, vj);
        }
        st4(w, i, W);
        st4(m, i, M);
        st4(v, i, V);
    }
    for (size_t i = 4 * n4 + tid; i < n; i += stride) adamw_elem(a, w[i], m[i], v[i], ld1(g, i));
}

extern "C" cudaError_t sc_adamw(cudaStream_t s, float *w, float *m, float *v, const void *g, int gbf16, size_t n,
                                float decay, float b1, float one_m_b1, float b2, float one_m_b2, float neg_step_size,
                                float bc2_sqrt, float eps) {
    adamw_args a = {decay, b1, one_m_b1, b2, one_m_b2, neg_step_size, bc2_sqrt, eps};
    bool vec = aligned(w, 16) && aligned(m, 16) && aligned(v, 16) && aligned(g, gbf16 ? 8 : 16);
    unsigned grid = grid_for(vec ? n / 4 + 1 : n);
    if (gbf16) k_adamw<bf16><<<grid, SC_THREADS, 0, s>>>(w, m, v, (const bf16 *)g, n, vec, a);
    else k_adamw<float><<<grid, SC_THREADS, 0, s>>>(w, m, v, (const float *)g, n, vec, a);
    return cudaGetLastError();
}

/* ---------------- Spectra elementwise passes ---------------- */

/* M ← μM + G (two roundings, as the CPU); returns X (M, or G + μM). */
__device__ __forceinline__ float momentum_elem(float &m, float g, float mu, bool nesterov) {
    float mi = mu * m + g;
    m = mi;
    return nesterov ? g + mu * mi : mi;
}

template <class GT>
__global__ void k_momentum_sumsq(float *__restrict__ M, const GT *__restrict__ G, float mu, bool nesterov,
                                 float *__restrict__ xout, size_t n, bool vec, double *__restrict__ partials) {
    size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    size_t n4 = vec ? n / 4 : 0;
    double acc = 0.0;
    for (size_t i = tid; i < n4; i += stride) {
        float4 Mv = ld4(M, i), Gv = ld4(G, i), Xv;
        for (int j = 0; j < 4; j++) {
            float mj = lane(Mv, j);
            float x = momentum_elem(mj, lane(Gv, j), mu, nesterov);
            set_lane(Mv, j, mj);
            set_lane(Xv, j, x);
            acc += (double)x * x;
        }
        st4(M, i, Mv);
        if (xout) st4(xout, i, Xv);
    }
    for (size_t i = 4 * n4 + tid; i < n; i += stride) {
        float x = momentum_elem(M[i], ld1(G, i), mu, nesterov);
        if (xout) xout[i] = x;
        acc += (double)x * x;
    }
    double t = block_sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = t;
}

extern "C" cudaError_t sc_momentum_sumsq(cudaStream_t s, float *M, const void *G, int gbf16, float mu, int nesterov,
                                         float *xout, size_t n, double *partials) {
    bool vec = aligned(M, 16) && aligned(xout, 16) && aligned(G, gbf16 ? 8 : 16);
    if (gbf16)
        k_momentum_sumsq<bf16><<<SC_RED_BLOCKS, SC_THREADS, 0, s>>>(M, (const bf16 *)G, mu, nesterov != 0, xout, n, vec,
                                                                     partials);
    else
        k_momentum_sumsq<float><<<SC_RED_BLOCKS, SC_THREADS, 0, s>>>(M, (const float *)G, mu, nesterov != 0, xout, n, vec,
                                                                      partials);
    return cudaGetLastError();
}

__global__ void k_sum_partials(const double *__restrict__ p, size_t count, double *out) {
    /* Each thread: a Kahan sum over a fixed strided subset; then the block tree. */
    double sum = 0.0, c = 0.0;
    for (size_t i = threadIdx.x; i < count; i += blockDim.x) {
        double y = p[i] - c;
        double t = sum + y;
        c = (t - sum) - y;
        sum = t;
    }
    double t = block_sum(sum);
    if (threadIdx.x == 0) out[0] = t;
}

extern "C" cudaError_t sc_sum_partials(cudaStream_t s, const double *partials, size_t count, double *out) {
    k_sum_partials<<<1, SC_THREADS, 0, s>>>(partials, count, out);
    return cudaGetLastError();
}

template <class GT>
__global__ void k_make_x(const float *__restrict__ M, const GT *__restrict__ G, float mu, float *__restrict__ X, size_t n) {
    size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = tid; i < n; i += stride) X[i] = ld1(G, i) + mu * M[i];
}

extern "C" cudaError_t sc_make_x(cudaStream_t s, const float *M, const void *G, int gbf16, float mu, float *X, size_t n) {
    if (gbf16) k_make_x<bf16><<<grid_for(n), SC_THREADS, 0, s>>>(M, (const bf16 *)G, mu, X, n);
    else k_make_x<float><<<grid_for(n), SC_THREADS, 0, s>>>(M, (const float *)G, mu, X, n);
    return cudaGetLastError();
}

template <class GT>
__global__ void k_decay_axpy(float *__restrict__ W, const float *__restrict__ M, const GT *__restrict__ G, float mu,
                             bool nesterov, float decay, float a, size_t n, bool vec) {
    size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    size_t n4 = vec ? n / 4 : 0;
    for (size_t i = tid; i < n4; i += stride) {
        float4 Wv = ld4(W, i), Mv = ld4(M, i);
        float4 Gv = nesterov ? ld4(G, i) : Mv;
        for (int j = 0; j < 4; j++) {
            float x = nesterov ? lane(Gv, j) + mu * lane(Mv, j) : lane(Mv, j);
            set_lane(Wv, j, decay * lane(Wv, j) - a * x);
        }
        st4(W, i, Wv);
    }
    for (size_t i = 4 * n4 + tid; i < n; i += stride) {
        float x = nesterov ? ld1(G, i) + mu * M[i] : M[i];
        W[i] = decay * W[i] - a * x;
    }
}

extern "C" cudaError_t sc_decay_axpy(cudaStream_t s, float *W, const float *M, const void *G, int gbf16, float mu,
                                     int nesterov, float decay, float a, size_t n) {
    bool vec = aligned(W, 16) && aligned(M, 16) && aligned(G, gbf16 ? 8 : 16);
    unsigned grid = grid_for(vec ? n / 4 + 1 : n);
    if (gbf16)
        k_decay_axpy<bf16><<<grid, SC_THREADS, 0, s>>>(W, M, (const bf16 *)G, mu, nesterov != 0, decay, a, n, vec);
    else
        k_decay_axpy<float><<<grid, SC_THREADS, 0, s>>>(W, M, (const float *)G, mu, nesterov != 0, decay, a, n, vec);
    return cudaGetLastError();
}

/* ---------------- conversions ---------------- */

__global__ void k_f2d(const float *__restrict__ x, double *__restrict__ y, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) y[i] = x[i];
}
__global__ void k_d2f(const double *__restrict__ x, float *__restrict__ y, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = (float)x[i];
}
__global__ void k_f2bf(const float *__restrict__ x, bf16 *__restrict__ y, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = __float2bfloat16_rn(x[i]);
}
__global__ void k_bf2f(const bf16 *__restrict__ x, float *__restrict__ y, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = __bfloat162float(x[i]);
}

extern "C" cudaError_t sc_f2d(cudaStream_t s, const float *x, double *y, size_t n) {
    k_f2d<<<grid_for(n), SC_THREADS, 0, s>>>(x, y, n);
    return cudaGetLastError();
}
extern "C" cudaError_t sc_d2f(cudaStream_t s, const double *x, float *y, size_t n) {
    k_d2f<<<grid_for(n), SC_THREADS, 0, s>>>(x, y, n);
    return cudaGetLastError();
}
extern "C" cudaError_t sc_f2bf(cudaStream_t s, const float *x, void *y, size_t n) {
    k_f2bf<<<grid_for(n), SC_THREADS, 0, s>>>(x, (bf16 *)y, n);
    return cudaGetLastError();
}
extern "C" cudaError_t sc_bf2f(cudaStream_t s, const void *x, float *y, size_t n) {
    k_bf2f<<<grid_for(n), SC_THREADS, 0, s>>>((const bf16 *)x, y, n);
    return cudaGetLastError();
}

/* ---------------- small k-column work ---------------- */

/* One block per column. */
__global__ void k_colnorm_normalize(const float *__restrict__ Z, size_t n, float *__restrict__ V, float *__restrict__ spike) {
    const float *z = Z + (size_t)blockIdx.x * n;
    float *v = V + (size_t)blockIdx.x * n;
    double acc = 0.0;
    for (size_t j = threadIdx.x; j < n; j += blockDim.x) acc += (double)z[j] * z[j];
    __shared__ double s_norm;
    double t = block_sum(acc);
    if (threadIdx.x == 0) s_norm = sqrt(t);
    __syncthreads();
    double s = s_norm;
    if (s > 1e-30) {
        float inv = (float)(1.0 / s);
        for (size_t j = threadIdx.x; j < n; j += blockDim.x) v[j] = z[j] * inv;
        if (threadIdx.x == 0) spike[blockIdx.x] = (float)s;
    } else if (threadIdx.x == 0) {
        spike[blockIdx.x] = 0.0f;
    }
}

extern "C" cudaError_t sc_colnorm_normalize(cudaStream_t s, const float *Z, size_t n, size_t k, float *V, float *spike) {
    k_colnorm_normalize<<<(unsigned)k, SC_THREADS, 0, s>>>(Z, n, V, spike);
    return cudaGetLastError();
}

__global__ void k_scale_cols(float *__restrict__ U, size_t m, size_t k, const float *__restrict__ spike, double lr_eff,
                             double sigma) {
    size_t total = m * k;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (size_t)gridDim.x * blockDim.x) {
        size_t i = idx / m;
        float d = (float)(lr_eff * ((double)spike[i] - sigma));
        U[idx] *= d;
    }
}

extern "C" cudaError_t sc_scale_cols(cudaStream_t s, float *U, size_t m, size_t k, const float *spike, double lr_eff,
                                     double sigma) {
    k_scale_cols<<<grid_for(m * k), SC_THREADS, 0, s>>>(U, m, k, spike, lr_eff, sigma);
    return cudaGetLastError();
}

/* ---------------- Muon ---------------- */

template <class GT>
__global__ void k_muon_momentum(float *__restrict__ buf, const GT *__restrict__ g, float beta, float omb, bool nesterov,
                                float *__restrict__ u, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float gi = ld1(g, i);
        float bi = buf[i] + omb * (gi - buf[i]);
        buf[i] = bi;
        u[i] = nesterov ? gi + beta * (bi - gi) : bi;
    }
}

extern "C" cudaError_t sc_muon_momentum(cudaStream_t s, float *buf, const void *g, int gbf16, float beta, float one_m_beta,
                                        int nesterov, float *u, size_t n) {
    if (gbf16)
        k_muon_momentum<bf16><<<grid_for(n), SC_THREADS, 0, s>>>(buf, (const bf16 *)g, beta, one_m_beta, nesterov != 0, u, n);
    else
        k_muon_momentum<float><<<grid_for(n), SC_THREADS, 0, s>>>(buf, (const float *)g, beta, one_m_beta, nesterov != 0, u,
                                                                   n);
    return cudaGetLastError();
}

template <class T>
__global__ void k_sumsq(const T *__restrict__ x, size_t n, double *__restrict__ partials) {
    double acc = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        double v = ld1(x, i);
        acc += v * v;
    }
    double t = block_sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = t;
}

extern "C" cudaError_t sc_sumsq(cudaStream_t s, const void *x, int xbf16, size_t n, double *partials) {
    if (xbf16) k_sumsq<bf16><<<SC_RED_BLOCKS, SC_THREADS, 0, s>>>((const bf16 *)x, n, partials);
    else k_sumsq<float><<<SC_RED_BLOCKS, SC_THREADS, 0, s>>>((const float *)x, n, partials);
    return cudaGetLastError();
}

__global__ void k_scale_f(float *x, float c, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) x[i] *= c;
}
__global__ void k_scale_bf(bf16 *x, float c, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __float2bfloat16_rn(__bfloat162float(x[i]) * c);
}

extern "C" cudaError_t sc_scale(cudaStream_t s, void *x, int xbf16, float scale, size_t n) {
    if (xbf16) k_scale_bf<<<grid_for(n), SC_THREADS, 0, s>>>((bf16 *)x, scale, n);
    else k_scale_f<<<grid_for(n), SC_THREADS, 0, s>>>((float *)x, scale, n);
    return cudaGetLastError();
}

__global__ void k_decay_sub(float *__restrict__ W, const float *__restrict__ X, float decay, float a, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        W[i] = decay * W[i] - a * X[i];
}

extern "C" cudaError_t sc_decay_sub(cudaStream_t s, float *W, const float *X, float decay, float a, size_t n) {
    k_decay_sub<<<grid_for(n), SC_THREADS, 0, s>>>(W, X, decay, a, n);
    return cudaGetLastError();
}

/* ---------------- transpose ---------------- */

/* dst (cols x rows, row-major) = srcᵀ, src rows x cols row-major; 32x32 tiles via shared memory. */
__global__ void k_transpose(const float *__restrict__ src, float *__restrict__ dst, size_t rows, size_t cols) {
    __shared__ float tile[32][33];
    size_t c0 = (size_t)blockIdx.x * 32, r0 = (size_t)blockIdx.y * 32;
    for (int j = threadIdx.y; j < 32; j += blockDim.y) {
        size_t r = r0 + j, c = c0 + threadIdx.x;
        if (r < rows && c < cols) tile[j][threadIdx.x] = src[r * cols + c];
    }
    __syncthreads();
    for (int j = threadIdx.y; j < 32; j += blockDim.y) {
        size_t c = c0 + j, r = r0 + threadIdx.x; /* dst row c, column r */
        if (c < cols && r < rows) dst[c * rows + r] = tile[threadIdx.x][j];
    }
}

extern "C" cudaError_t sc_transpose(cudaStream_t s, const float *src, float *dst, size_t rows, size_t cols) {
    dim3 block(32, 8), grid((unsigned)((cols + 31) / 32), (unsigned)((rows + 31) / 32));
    k_transpose<<<grid, block, 0, s>>>(src, dst, rows, cols);
    return cudaGetLastError();
}
