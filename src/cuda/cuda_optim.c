/* The device optimizer handle (include/spectra/cuda.h, docs/GPU.md): registration,
 * validation and the host side of every step; the kernels are in kernels.cu. Without
 * SPECTRA_HAVE_CUDA every entry point returns SPECTRA_ERR_UNSUPPORTED.
 *
 * Spectra step on the device (T power iterations, X = M or G + μM):
 *   pass 1   per row chunk (sized to stay in L2): M ← μM + G with ‖X‖² partials, then
 *            P[chunk] = X[chunk] V by cuBLAS on the chunk just written (an L2 hit);
 *   small    CholeskyQR2 of P in double (cublasDsyrk + cusolverDnDpotrf + cublasDtrsm),
 *            Householder on the host only if the Gram matrix is not positive definite;
 *            Z = Xᵀ U; s and V from Z's columns with the zero-column guard;
 *            T > 1: one more P = X V and Z = Xᵀ U per iteration;
 *   scalars  ‖X‖² and s come back to the host; σ_tail, RMS, η' from the identities (SPEC §1);
 *   pass 2   per row chunk: W ← (1−ηλ)W − η'X, then W[chunk] += U_s[chunk] Vᵀ by cuBLAS.
 * The bootstrap (first step) runs the randomized range finder with device gemms and does
 * the QRs and the small SVD on the host with the CPU library's code and the same random
 * draws, so the GPU and the CPU bootstrap agree to rounding. */
#include "cuda/cuda_module.h" /* first: in the module build it renames the public functions */
#include "spectra/cuda.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "optim/optim_internal.h"

#include <stdlib.h>
#include <string.h>

#ifndef SPECTRA_HAVE_CUDA

static spectra_status nocuda(void) {
    return spectra_set_error(SPECTRA_ERR_UNSUPPORTED, "libspectra was built without CUDA (SPECTRA_CUDA=OFF or no nvcc)");
}
int spectra_cuda_available(void) {
    nocuda();
    return 0;
}
spectra_status spectra_cuda_optim_create(spectra_cuda_optim **out, uint64_t seed) {
    if (out) *out = NULL;
    return nocuda();
}
void spectra_cuda_optim_destroy(spectra_cuda_optim *opt) { (void)opt; }
const char *spectra_cuda_optim_last_error(const spectra_cuda_optim *opt) { return "libspectra was built without CUDA"; }
spectra_status spectra_cuda_optim_add_group(spectra_cuda_optim *opt, const spectra_hparams *hp, int *group) {
    return nocuda();
}
spectra_status spectra_cuda_optim_set_muon_bf16(spectra_cuda_optim *opt, int group, int bf16) { return nocuda(); }
spectra_status spectra_cuda_optim_set_lr(spectra_cuda_optim *opt, int group, double lr) { return nocuda(); }
spectra_status spectra_cuda_optim_add_param(spectra_cuda_optim *opt, int group, const char *name, float *data,
                                            const void *grad, spectra_cuda_dtype gtype, size_t rows, size_t cols) {
    return nocuda();
}
spectra_status spectra_cuda_optim_step(spectra_cuda_optim *opt) { return nocuda(); }
int spectra_cuda_optim_num_params(const spectra_cuda_optim *opt) { return 0; }
size_t spectra_cuda_optim_state_bytes(const spectra_cuda_optim *opt) { return 0; }
spectra_status spectra_cuda_optim_get_state(const spectra_cuda_optim *opt, const char *param, const char *buffer,
                                            float *host, size_t *rows, size_t *cols) {
    return nocuda();
}
spectra_status spectra_cuda_optim_spike_diag(const spectra_cuda_optim *opt, int index, spectra_spike_diag *out) {
    return nocuda();
}
spectra_status spectra_cuda_optim_save(const spectra_cuda_optim *opt, const char *path) { return nocuda(); }
spectra_status spectra_cuda_optim_load(spectra_cuda_optim *opt, const char *path) { return nocuda(); }
spectra_status spectra_cuda_optim_time_steps(spectra_cuda_optim *opt, int iters, double *times_ms) { return nocuda(); }
spectra_status spectra_cuda_copy_bandwidth(size_t bytes, int iters, double *gbps) { return nocuda(); }
spectra_status spectra_cuda_malloc(void **ptr, size_t bytes) {
    if (ptr) *ptr = NULL;
    return nocuda();
}
void spectra_cuda_free(void *ptr) { (void)ptr; }
spectra_status spectra_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes) { return nocuda(); }
spectra_status spectra_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes) { return nocuda(); }
spectra_status spectra_cuda_upload_bf16(void *dst, const float *src, size_t n) { return nocuda(); }
spectra_status spectra_cuda_device_name(char *buf, size_t len) {
    if (buf && len) buf[0] = '\0';
    return nocuda();
}

#else /* SPECTRA_HAVE_CUDA */

#include "cuda/kernels.h"
#include "linalg/linalg.h"

#include <cblas.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>

typedef struct cparam {
    char *name;
    int group;
    float *data;      /* device */
    const void *grad; /* device, fp32 or bf16 */
    int gbf16;
    size_t rows, cols, rank;
    size_t chunk; /* rows per chunk of the fused passes, fixed at registration */
    uint64_t step;
    int cache_valid;
    uint64_t rng_seed;
    spectra_rng rng;
    float *buf0, *buf1; /* device state */
    size_t len0, len1;  /* floats */
    float *spike_dev;   /* k, device */
    float *spike_host;  /* k, host (diagnostics and scalars) */
    spectra_step_diag diag;
} cparam;

typedef struct cgroup {
    spectra_hparams hp;
    int muon_bf16;
} cgroup;

/* A device buffer that only grows (sized at registration; step() never allocates on the device). */
typedef struct dbuf {
    void *p;
    size_t bytes;
} dbuf;

struct spectra_cuda_optim {
    cgroup *groups;
    int n_groups;
    cparam *params;
    int n_params;
    uint64_t seed;
    char err[512];
    cudaStream_t stream;
    cublasHandle_t blas;
    cusolverDnHandle_t sol;
    /* workspace */
    dbuf f0, f1, f2, h0, d0, d1, xch, partials, dsum, info, potrf;
    int potrf_lwork;
};

static spectra_status fail(spectra_cuda_optim *opt, spectra_status st) {
    if (opt) spectra_copy_error(opt->err, sizeof opt->err);
    return st;
}
#define FAIL(opt, ...) fail((opt), spectra_set_error(__VA_ARGS__))

#define CU(opt, call)                                                                                                   \
    do {                                                                                                                \
        cudaError_t e_ = (call);                                                                                        \
        if (e_ != cudaSuccess)                                                                                          \
            return FAIL(opt, SPECTRA_ERR_NUMERIC, "CUDA error %s at %s:%d: %s", cudaGetErrorName(e_), __FILE__, __LINE__, \
                        cudaGetErrorString(e_));                                                                        \
    } while (0)
#define CB(opt, call)                                                                                                   \
    do {                                                                                                                \
        cublasStatus_t e_ = (call);                                                                                     \
        if (e_ != CUBLAS_STATUS_SUCCESS)                                                                                \
            return FAIL(opt, SPECTRA_ERR_NUMERIC, "cuBLAS status %d at %s:%d", (int)e_, __FILE__, __LINE__);             \
    } while (0)
#define CS(opt, call)                                                                                                   \
    do {                                                                                                                \
        cusolverStatus_t e_ = (call);                                                                                   \
        if (e_ != CUSOLVER_STATUS_SUCCESS)                                                                              \
            return FAIL(opt, SPECTRA_ERR_NUMERIC, "cuSOLVER status %d at %s:%d", (int)e_, __FILE__, __LINE__);           \
    } while (0)
#define TRY(call)                                                                                                       \
    do {                                                                                                                \
        spectra_status s_ = (call);                                                                                     \
        if (s_ != SPECTRA_OK) return s_;                                                                                \
    } while (0)

static spectra_status grow(spectra_cuda_optim *opt, dbuf *b, size_t bytes) {
    if (bytes <= b->bytes) return SPECTRA_OK;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) return FAIL(opt, SPECTRA_ERR_NOMEM, "cudaMalloc of %zu bytes failed: %s", bytes, cudaGetErrorString(e));
    cudaFree(b->p);
    b->p = p;
    b->bytes = bytes;
    return SPECTRA_OK;
}

int spectra_cuda_available(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaSuccess && n > 0) return 1;
    spectra_set_error(SPECTRA_ERR_UNSUPPORTED, "no CUDA device: %s", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 0;
}

spectra_status spectra_cuda_optim_create(spectra_cuda_optim **out, uint64_t seed) {
    if (!out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "spectra_cuda_optim_create: out is NULL");
    *out = NULL;
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0)
        return spectra_set_error(SPECTRA_ERR_UNSUPPORTED, "no CUDA device: %s", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    spectra_cuda_optim *opt = spectra_zalloc(1, sizeof *opt);
    if (!opt) return spectra_set_error(SPECTRA_ERR_NOMEM, "out of memory creating the CUDA optimizer");
    opt->seed = seed;
    if (cudaStreamCreate(&opt->stream) != cudaSuccess || cublasCreate(&opt->blas) != CUBLAS_STATUS_SUCCESS ||
        cusolverDnCreate(&opt->sol) != CUSOLVER_STATUS_SUCCESS) {
        spectra_cuda_optim_destroy(opt);
        return spectra_set_error(SPECTRA_ERR_UNSUPPORTED, "could not create a CUDA stream / cuBLAS / cuSOLVER handle");
    }
    /* A blocking stream: work the caller queued on the legacy default stream (e.g. the
     * backward pass that wrote the gradients) completes before the step's first kernel. */
    cublasSetStream(opt->blas, opt->stream);
    cusolverDnSetStream(opt->sol, opt->stream);
    /* Default math: fp32 gemms stay fp32 (TF32 is opt-in since CUDA 11; NVIDIA_TF32_OVERRIDE
     * must not be set), bf16 GemmEx uses tensor cores. SPECTRA_CUDA_TF32=1 opts into TF32
     * tensor cores for the fp32 gemms (experimental, docs/GPU.md). */
    const char *tf32 = getenv("SPECTRA_CUDA_TF32");
    cublasSetMathMode(opt->blas, tf32 && !strcmp(tf32, "1") ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
    *out = opt;
    return SPECTRA_OK;
}

static void free_param(cparam *p) {
    free(p->name);
    cudaFree(p->buf0);
    cudaFree(p->buf1);
    cudaFree(p->spike_dev);
    free(p->spike_host);
}

void spectra_cuda_optim_destroy(spectra_cuda_optim *opt) {
    if (!opt) return;
    if (opt->stream) cudaStreamSynchronize(opt->stream);
    for (int i = 0; i < opt->n_params; i++) free_param(&opt->params[i]);
    free(opt->params);
    free(opt->groups);
    dbuf *bufs[] = {&opt->f0, &opt->f1, &opt->f2, &opt->h0, &opt->d0, &opt->d1, &opt->xch, &opt->partials, &opt->dsum, &opt->info, &opt->potrf};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) cudaFree(bufs[i]->p);
    if (opt->sol) cusolverDnDestroy(opt->sol);
    if (opt->blas) cublasDestroy(opt->blas);
    if (opt->stream) cudaStreamDestroy(opt->stream);
    free(opt);
}

const char *spectra_cuda_optim_last_error(const spectra_cuda_optim *opt) { return opt ? opt->err : "optimizer is NULL"; }

spectra_status spectra_cuda_optim_add_group(spectra_cuda_optim *opt, const spectra_hparams *hp, int *group) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "add_group: optimizer is NULL");
    spectra_status st = spectra_hparams_validate(hp);
    if (st != SPECTRA_OK) return fail(opt, st);
    if (hp->algo != SPECTRA_ALGO_SPECTRA && hp->algo != SPECTRA_ALGO_ADAMW && hp->algo != SPECTRA_ALGO_MUON)
        return FAIL(opt, SPECTRA_ERR_UNSUPPORTED, "add_group: %s has no CUDA implementation (spectra, adamw, muon do)",
                    spectra_algo_name(hp->algo));
    cgroup *g = spectra_realloc(opt->groups, (size_t)(opt->n_groups + 1) * sizeof *g);
    if (!g) return FAIL(opt, SPECTRA_ERR_NOMEM, "out of memory adding a group");
    opt->groups = g;
    g[opt->n_groups].hp = *hp;
    g[opt->n_groups].muon_bf16 = 0;
    if (group) *group = opt->n_groups;
    opt->n_groups++;
    return SPECTRA_OK;
}

static spectra_status reserve(spectra_cuda_optim *opt, const cparam *p, const cgroup *g);

spectra_status spectra_cuda_optim_set_muon_bf16(spectra_cuda_optim *opt, int group, int bf16) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "set_muon_bf16: optimizer is NULL");
    if (group < 0 || group >= opt->n_groups) return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "set_muon_bf16: no group %d", group);
    opt->groups[group].muon_bf16 = bf16 ? 1 : 0;
    for (int i = 0; i < opt->n_params; i++)
        if (opt->params[i].group == group) TRY(reserve(opt, &opt->params[i], &opt->groups[group]));
    return SPECTRA_OK;
}

spectra_status spectra_cuda_optim_set_lr(spectra_cuda_optim *opt, int group, double lr) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "set_lr: optimizer is NULL");
    if (group < 0 || group >= opt->n_groups) return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "set_lr: no group %d", group);
    spectra_hparams hp = opt->groups[group].hp;
    hp.lr = lr;
    spectra_status st = spectra_hparams_validate(&hp);
    if (st != SPECTRA_OK) return fail(opt, st);
    opt->groups[group].hp = hp;
    return SPECTRA_OK;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int find_param(const spectra_cuda_optim *opt, const char *name) {
    if (!opt || !name) return -1;
    for (int i = 0; i < opt->n_params; i++)
        if (!strcmp(opt->params[i].name, name)) return i;
    return -1;
}

/* Columns of the bootstrap sketch (as the CPU): k + p, at most min(m, n). */
static size_t sketch_cols(const cparam *p, const spectra_hparams *hp) {
    size_t r = p->rows < p->cols ? p->rows : p->cols;
    size_t l = p->rank + (size_t)hp->oversample;
    return l > r ? r : l;
}

/* Rows per chunk of the fused passes: ~8 MiB of X, so a chunk written by the elementwise
 * kernel is still in L2 (50 MiB on H100) when cuBLAS reads it. SPECTRA_CUDA_CHUNK_ROWS overrides. */
static size_t chunk_rows(size_t m, size_t n) {
    const char *e = getenv("SPECTRA_CUDA_CHUNK_ROWS");
    long v = e ? strtol(e, NULL, 10) : 0;
    size_t b = v > 0 ? (size_t)v : ((size_t)8 << 20) / (4 * n);
    if (b < 1) b = 1;
    return b > m ? m : b;
}

/* Grows the shared workspace for parameter p. */
static spectra_status reserve(spectra_cuda_optim *opt, const cparam *p, const cgroup *g) {
    const spectra_hparams *hp = &g->hp;
    size_t m = p->rows, n = p->cols, mn = m * n;
    if (hp->algo == SPECTRA_ALGO_SPECTRA) {
        size_t k = p->rank, l = sketch_cols(p, hp), b = p->chunk, nch = (m + b - 1) / b;
        TRY(grow(opt, &opt->f0, m * l * sizeof(float)));
        TRY(grow(opt, &opt->f1, n * l * sizeof(float)));
        TRY(grow(opt, &opt->f2, n * l * sizeof(float)));
        TRY(grow(opt, &opt->d0, m * k * sizeof(double)));
        TRY(grow(opt, &opt->d1, k * k * sizeof(double)));
        if (hp->nesterov) TRY(grow(opt, &opt->xch, b * n * sizeof(float)));
        TRY(grow(opt, &opt->partials, nch * SC_RED_BLOCKS * sizeof(double)));
        int lw = 0;
        CS(opt, cusolverDnDpotrf_bufferSize(opt->sol, CUBLAS_FILL_MODE_UPPER, (int)k, (double *)opt->d1.p, (int)k, &lw));
        if (lw > opt->potrf_lwork) {
            TRY(grow(opt, &opt->potrf, (size_t)lw * sizeof(double)));
            opt->potrf_lwork = lw;
        }
    } else if (hp->algo == SPECTRA_ALGO_MUON) {
        size_t s = m < n ? m : n;
        TRY(grow(opt, &opt->f0, mn * sizeof(float)));
        TRY(grow(opt, &opt->f1, mn * sizeof(float)));
        TRY(grow(opt, &opt->f2, 2 * s * s * sizeof(float)));
        if (g->muon_bf16) TRY(grow(opt, &opt->h0, (2 * mn + 2 * s * s) * 2)); /* bf16 X, Xn, A, B */
        TRY(grow(opt, &opt->partials, SC_RED_BLOCKS * sizeof(double)));
    }
    TRY(grow(opt, &opt->dsum, sizeof(double)));
    TRY(grow(opt, &opt->info, 2 * sizeof(int)));
    return SPECTRA_OK;
}

spectra_status spectra_cuda_optim_add_param(spectra_cuda_optim *opt, int group, const char *name, float *data,
                                            const void *grad, spectra_cuda_dtype gtype, size_t rows, size_t cols) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "add_param: optimizer is NULL");
    if (group < 0 || group >= opt->n_groups)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param: group %d does not exist (%d groups)", group, opt->n_groups);
    if (!name || !name[0] || strlen(name) > SPECTRA_NAME_MAX)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param: name is NULL, empty or too long");
    if (!data || !grad) return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param '%s': NULL device pointer", name);
    if ((const void *)data == grad) return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param '%s': data and grad are the same buffer", name);
    if (gtype != SPECTRA_CUDA_FP32 && gtype != SPECTRA_CUDA_BF16)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param '%s': gradient dtype must be fp32 or bf16", name);
    if (rows == 0 || cols == 0) return FAIL(opt, SPECTRA_ERR_SHAPE, "add_param '%s': zero size", name);
    if (rows > INT_MAX || cols > INT_MAX || rows > (size_t)PTRDIFF_MAX / sizeof(float) / cols)
        return FAIL(opt, SPECTRA_ERR_SHAPE, "add_param '%s': shape %zu x %zu is too large", name, rows, cols);
    if (find_param(opt, name) >= 0) return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param: duplicate parameter name '%s'", name);
    const cgroup *g = &opt->groups[group];
    size_t r = rows < cols ? rows : cols;
    if (r < 2 && g->hp.algo != SPECTRA_ALGO_ADAMW)
        return FAIL(opt, SPECTRA_ERR_SHAPE, "add_param '%s': %s needs min(rows, cols) >= 2; put vectors in an AdamW group", name,
                    spectra_algo_name(g->hp.algo));

    cparam p;
    memset(&p, 0, sizeof p);
    p.group = group;
    p.data = data;
    p.grad = grad;
    p.gbf16 = gtype == SPECTRA_CUDA_BF16;
    p.rows = rows;
    p.cols = cols;
    if (g->hp.algo == SPECTRA_ALGO_SPECTRA) p.rank = spectra_algo_rank(rows, cols, g->hp.rank_ratio);
    p.chunk = chunk_rows(rows, cols);
    p.rng_seed = opt->seed ^ fnv1a(name);
    spectra_rng_seed(&p.rng, p.rng_seed);
    p.len0 = rows * cols;
    p.len1 = g->hp.algo == SPECTRA_ALGO_ADAMW ? rows * cols : g->hp.algo == SPECTRA_ALGO_SPECTRA ? cols * p.rank : 0;
    spectra_status st = reserve(opt, &p, g);
    if (st != SPECTRA_OK) return st;
    p.name = spectra_strdup(name);
    int ok = p.name != NULL;
    ok = ok && cudaMalloc((void **)&p.buf0, p.len0 * sizeof(float)) == cudaSuccess;
    ok = ok && (!p.len1 || cudaMalloc((void **)&p.buf1, p.len1 * sizeof(float)) == cudaSuccess);
    if (p.rank) {
        ok = ok && cudaMalloc((void **)&p.spike_dev, p.rank * sizeof(float)) == cudaSuccess;
        ok = ok && (p.spike_host = spectra_zalloc(p.rank, sizeof(float))) != NULL;
    }
    ok = ok && cudaMemset(p.buf0, 0, p.len0 * sizeof(float)) == cudaSuccess;
    ok = ok && (!p.len1 || cudaMemset(p.buf1, 0, p.len1 * sizeof(float)) == cudaSuccess);
    cparam *np = ok ? spectra_realloc(opt->params, (size_t)(opt->n_params + 1) * sizeof *np) : NULL;
    if (!np) {
        free_param(&p);
        return FAIL(opt, SPECTRA_ERR_NOMEM, "add_param '%s': out of device memory for optimizer state (%zu x %zu)", name, rows, cols);
    }
    opt->params = np;
    np[opt->n_params++] = p;
    return SPECTRA_OK;
}

int spectra_cuda_optim_num_params(const spectra_cuda_optim *opt) { return opt ? opt->n_params : 0; }

size_t spectra_cuda_optim_state_bytes(const spectra_cuda_optim *opt) {
    size_t t = 0;
    for (int i = 0; opt && i < opt->n_params; i++) t += (opt->params[i].len0 + opt->params[i].len1) * sizeof(float);
    return t;
}

/* ---------------- AdamW ---------------- */

static spectra_status adamw_step(spectra_cuda_optim *opt, cparam *p, const spectra_hparams *hp) {
    const size_t n = p->rows * p->cols;
    p->step++;
    const double step = (double)p->step;
    const float decay = (float)(1.0 - (double)hp->lr * hp->weight_decay);
    const float b1 = (float)hp->beta1, one_m_b1 = (float)(1.0 - hp->beta1);
    const float b2 = (float)hp->beta2, one_m_b2 = (float)(1.0 - hp->beta2);
    const double bc1 = 1.0 - pow(hp->beta1, step);
    const double bc2 = 1.0 - pow(hp->beta2, step);
    const float neg_step_size = (float)(-(hp->lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    CU(opt, sc_adamw(opt->stream, p->data, p->buf0, p->buf1, p->grad, p->gbf16, n, decay, b1, one_m_b1, b2, one_m_b2,
                     neg_step_size, bc2_sqrt, (float)hp->eps));
    return SPECTRA_OK;
}

/* ---------------- Spectra ---------------- */

static const void *grad_at(const cparam *p, size_t elem) {
    return (const char *)p->grad + elem * (p->gbf16 ? 2 : 4);
}

/* out (m x c, ld m) = X B, B n x c (ld n). */
static spectra_status x_times(spectra_cuda_optim *opt, const cparam *p, const spectra_hparams *hp, size_t c, const float *B,
                              float *out) {
    const int m = (int)p->rows, n = (int)p->cols;
    const float one = 1.0f, zero = 0.0f;
    if (!hp->nesterov) {
        CB(opt, cublasSgemm(opt->blas, CUBLAS_OP_T, CUBLAS_OP_N, m, (int)c, n, &one, p->buf0, n, B, n, &zero, out, m));
        return SPECTRA_OK;
    }
    size_t b = p->chunk;
    float *xch = (float *)opt->xch.p;
    for (size_t r0 = 0; r0 < p->rows; r0 += b) {
        size_t rb = r0 + b < p->rows ? b : p->rows - r0;
        CU(opt, sc_make_x(opt->stream, p->buf0 + r0 * p->cols, grad_at(p, r0 * p->cols), p->gbf16, (float)hp->momentum, xch,
                          rb * p->cols));
        CB(opt, cublasSgemm(opt->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)rb, (int)c, n, &one, xch, n, B, n, &zero, out + r0, m));
    }
    return SPECTRA_OK;
}

/* out (n x c, ld n) = Xᵀ C, C m x c (ld m). */
static spectra_status xt_times(spectra_cuda_optim *opt, const cparam *p, const spectra_hparams *hp, size_t c, const float *C,
                               float *out) {
    const int m = (int)p->rows, n = (int)p->cols;
    const float one = 1.0f, zero = 0.0f;
    if (!hp->nesterov) {
        CB(opt, cublasSgemm(opt->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, (int)c, m, &one, p->buf0, n, C, m, &zero, out, n));
        return SPECTRA_OK;
    }
    size_t b = p->chunk;
    float *xch = (float *)opt->xch.p;
    for (size_t r0 = 0; r0 < p->rows; r0 += b) {
        size_t rb = r0 + b < p->rows ? b : p->rows - r0;
        CU(opt, sc_make_x(opt->stream, p->buf0 + r0 * p->cols, grad_at(p, r0 * p->cols), p->gbf16, (float)hp->momentum, xch,
                          rb * p->cols));
        CB(opt, cublasSgemm(opt->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, (int)c, (int)rb, &one, xch, n, C + r0, m,
                            r0 ? &one : &zero, out, n));
    }
    return SPECTRA_OK;
}

static spectra_status download(spectra_cuda_optim *opt, void *dst, const void *src, size_t bytes) {
    CU(opt, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, opt->stream));
    CU(opt, cudaStreamSynchronize(opt->stream));
    return SPECTRA_OK;
}
static spectra_status upload(spectra_cuda_optim *opt, void *dst, const void *src, size_t bytes) {
    CU(opt, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, opt->stream));
    CU(opt, cudaStreamSynchronize(opt->stream)); /* src may be freed by the caller next */
    return SPECTRA_OK;
}

/* Host Householder QR of a device panel (m x c, ld m), in place. */
static spectra_status host_qr(spectra_cuda_optim *opt, size_t m, size_t c, float *dP, float *hP, float *work) {
    TRY(download(opt, hP, dP, m * c * sizeof(float)));
    spectra_status st = spectra_qr_householder(m, c, hP, NULL, work);
    if (st != SPECTRA_OK) return fail(opt, st);
    return upload(opt, dP, hP, m * c * sizeof(float));
}

/* Randomized range finder with device gemms and host QR/SVD (the CPU's bootstrap, same draws).
 * Leaves U (m x k, ld m) in f0, V in the cache, s in spike_dev / spike_host. */
static spectra_status bootstrap(spectra_cuda_optim *opt, cparam *p, const spectra_hparams *hp) {
    size_t m = p->rows, n = p->cols, k = p->rank, l = sketch_cols(p, hp);
    float *dQ = (float *)opt->f0.p, *dZ = (float *)opt->f1.p, *dOm = (float *)opt->f2.p;
    size_t qa = spectra_qr_householder_work(m, l), qb = spectra_qr_householder_work(n, l);
    size_t nqr = qa > qb ? qa : qb, nsvd = spectra_svd_thin_work(n, l);
    size_t big = m > n ? m : n;
    size_t total = big * l /* panel */ + n * l /* Ub */ + l + l * l + nqr + nsvd + m * k;
    float *h = spectra_malloc(total * sizeof(float));
    int *iw = spectra_malloc(8 * l * sizeof(int));
    if (!h || !iw) {
        free(h);
        free(iw);
        return FAIL(opt, SPECTRA_ERR_NOMEM, "bootstrap: out of host memory");
    }
    float *hP = h, *Ub = hP + big * l, *S = Ub + n * l, *VbT = S + l, *qrw = VbT + l * l, *svdw = qrw + nqr, *U = svdw + nsvd;
    spectra_status st = SPECTRA_OK;
#define BT(call)                                                                                                        \
    do {                                                                                                                \
        if ((st = (call)) != SPECTRA_OK) goto done;                                                                    \
    } while (0)
    spectra_rng_fill_normal(&p->rng, Ub, n * l, 1.0f); /* Ω, n x l */
    BT(upload(opt, dOm, Ub, n * l * sizeof(float)));
    BT(x_times(opt, p, hp, l, dOm, dQ));
    BT(host_qr(opt, m, l, dQ, hP, qrw));
    for (int it = 0; it < 2; it++) {
        BT(xt_times(opt, p, hp, l, dQ, dZ));
        BT(host_qr(opt, n, l, dZ, hP, qrw));
        BT(x_times(opt, p, hp, l, dZ, dQ));
        BT(host_qr(opt, m, l, dQ, hP, qrw));
    }
    /* hP holds Q (m x l). Bᵀ = Xᵀ Q (n x l); its SVD Bᵀ = Ub S Vbᵀ. */
    {
        float *hZ = spectra_malloc(n * l * sizeof(float));
        if (!hZ) {
            st = FAIL(opt, SPECTRA_ERR_NOMEM, "bootstrap: out of host memory");
            goto done;
        }
        st = xt_times(opt, p, hp, l, dQ, dZ);
        if (st == SPECTRA_OK) st = download(opt, hZ, dZ, n * l * sizeof(float));
        if (st == SPECTRA_OK) {
            st = spectra_svd_thin(n, l, hZ, S, Ub, VbT, svdw, iw);
            if (st != SPECTRA_OK) st = fail(opt, st);
        }
        free(hZ);
        if (st != SPECTRA_OK) goto done;
    }
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)l, 1.0f, hP, (int)m, VbT, (int)l, 0.0f, U, (int)m);
    for (size_t i = 0; i < k; i++) p->spike_host[i] = S[i];
    BT(upload(opt, dQ, U, m * k * sizeof(float)));
    BT(upload(opt, p->buf1, Ub, n * k * sizeof(float)));
    BT(upload(opt, p->spike_dev, p->spike_host, k * sizeof(float)));
done:
#undef BT
    free(h);
    free(iw);
    return st;
}

/* CholeskyQR2 of P (m x k in f0) in double on the device; Householder on the host when the
 * Gram matrix is not positive definite (rank-deficient panel, e.g. M = 0). */
static spectra_status panel_qr(spectra_cuda_optim *opt, const cparam *p) {
    size_t m = p->rows, k = p->rank;
    float *P = (float *)opt->f0.p;
    double *D = (double *)opt->d0.p, *Gm = (double *)opt->d1.p;
    int *info = (int *)opt->info.p;
    const double one = 1.0, zero = 0.0;
    CU(opt, sc_f2d(opt->stream, P, D, m * k));
    for (int round = 0; round < 2; round++) {
        CB(opt, cublasDsyrk(opt->blas, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, (int)k, (int)m, &one, D, (int)m, &zero, Gm, (int)k));
        CS(opt, cusolverDnDpotrf(opt->sol, CUBLAS_FILL_MODE_UPPER, (int)k, Gm, (int)k, (double *)opt->potrf.p,
                                 opt->potrf_lwork, info + round));
        CB(opt, cublasDtrsm(opt->blas, CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, (int)m,
                            (int)k, &one, Gm, (int)k, D, (int)m));
    }
    int hinfo[2];
    TRY(download(opt, hinfo, info, sizeof hinfo));
    if (hinfo[0] == 0 && hinfo[1] == 0) {
        CU(opt, sc_d2f(opt->stream, D, P, m * k));
        return SPECTRA_OK;
    }
    size_t nw = spectra_qr_householder_work(m, k);
    float *h = spectra_malloc((m * k + nw) * sizeof(float));
    if (!h) return FAIL(opt, SPECTRA_ERR_NOMEM, "QR fallback: out of host memory");
    spectra_status st = host_qr(opt, m, k, P, h, h + m * k);
    free(h);
    return st;
}

static spectra_status spectra_step(spectra_cuda_optim *opt, cparam *p, const spectra_hparams *hp) {
    const size_t m = p->rows, n = p->cols, mn = m * n, k = p->rank;
    const size_t r = m < n ? m : n;
    const float mu = (float)hp->momentum;
    const int boot = !p->cache_valid;
    const size_t b = p->chunk, nch = (m + b - 1) / b;
    float *P = (float *)opt->f0.p, *Z = (float *)opt->f1.p;
    double *partials = (double *)opt->partials.p, *dsum = (double *)opt->dsum.p;
    const float one = 1.0f, zero = 0.0f;

    /* Pass 1: momentum + ‖X‖² (+ P = X V per chunk when the cache is valid). */
    if (boot) {
        CU(opt, sc_momentum_sumsq(opt->stream, p->buf0, p->grad, p->gbf16, mu, hp->nesterov, NULL, mn, partials));
        CU(opt, sc_sum_partials(opt->stream, partials, SC_RED_BLOCKS, dsum));
    } else {
        float *xch = hp->nesterov ? (float *)opt->xch.p : NULL;
        for (size_t c = 0; c < nch; c++) {
            size_t r0 = c * b, rb = r0 + b < m ? b : m - r0;
            float *Mb = p->buf0 + r0 * n;
            CU(opt, sc_momentum_sumsq(opt->stream, Mb, grad_at(p, r0 * n), p->gbf16, mu, hp->nesterov, xch, rb * n,
                                      partials + c * SC_RED_BLOCKS));
            CB(opt, cublasSgemm(opt->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)rb, (int)k, (int)n, &one, xch ? xch : Mb, (int)n,
                                p->buf1, (int)n, &zero, P + r0, (int)m));
        }
        CU(opt, sc_sum_partials(opt->stream, partials, nch * SC_RED_BLOCKS, dsum));
    }

    /* Spike subspace. */
    if (boot) {
        TRY(bootstrap(opt, p, hp));
    } else {
        for (int t = 0; t < hp->power_iters; t++) {
            if (t > 0) TRY(x_times(opt, p, hp, k, p->buf1, P));
            TRY(panel_qr(opt, p));
            TRY(xt_times(opt, p, hp, k, P, Z));
            CU(opt, sc_colnorm_normalize(opt->stream, Z, n, k, p->buf1, p->spike_dev));
        }
        CU(opt, cudaMemcpyAsync(p->spike_host, p->spike_dev, k * sizeof(float), cudaMemcpyDeviceToHost, opt->stream));
    }
    p->cache_valid = 1;
    double norm_sq = 0.0;
    TRY(download(opt, &norm_sq, dsum, sizeof norm_sq)); /* also completes the spike copy */

    /* Scalars from the identities (as src/optim/spectra.c). */
    double spike_sq = 0.0;
    for (size_t i = 0; i < k; i++) spike_sq += (double)p->spike_host[i] * p->spike_host[i];
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

    /* Pass 2: W ← (1−ηλ)W − η'X, then W[chunk]ᵀ += V U_s[chunk]ᵀ with U_s = U diag(η'(s−σ)). */
    const float decay = (float)(1.0 - hp->lr * hp->weight_decay);
    const float a = (float)lr_eff;
    CU(opt, sc_scale_cols(opt->stream, P, m, k, p->spike_dev, lr_eff, sigma_tail));
    for (size_t c = 0; c < nch; c++) {
        size_t r0 = c * b, rb = r0 + b < m ? b : m - r0;
        CU(opt, sc_decay_axpy(opt->stream, p->data + r0 * n, p->buf0 + r0 * n, grad_at(p, r0 * n), p->gbf16, mu, hp->nesterov,
                              decay, a, rb * n));
        CB(opt, cublasSgemm(opt->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)n, (int)rb, (int)k, &one, p->buf1, (int)n, P + r0, (int)m,
                            &one, p->data + r0 * n, (int)n));
    }
    p->step++;
    return SPECTRA_OK;
}

/* ---------------- Muon ---------------- */

/* Row-major src (rows x cols) -> row-major dst (cols x rows). */
static spectra_status transpose(spectra_cuda_optim *opt, const float *src, float *dst, size_t rows, size_t cols) {
    CU(opt, sc_transpose(opt->stream, src, dst, rows, cols));
    return SPECTRA_OK;
}

static spectra_status muon_step(spectra_cuda_optim *opt, cparam *p, const cgroup *g) {
    const spectra_hparams *hp = &g->hp;
    const size_t rows = p->rows, cols = p->cols, mn = rows * cols;
    const int tall = rows > cols;
    const size_t s = tall ? cols : rows, L = tall ? rows : cols; /* X is s x L row-major */
    float *X = (float *)opt->f0.p, *Xn = (float *)opt->f1.p, *A = (float *)opt->f2.p, *B = A + s * s;
    const float beta = (float)hp->momentum, one_m_beta = 1.0f - beta;
    const int bf = g->muon_bf16;
    double *partials = (double *)opt->partials.p, *dsum = (double *)opt->dsum.p;

    CU(opt, sc_muon_momentum(opt->stream, p->buf0, p->grad, p->gbf16, beta, one_m_beta, hp->nesterov, tall ? Xn : X, mn));
    if (tall) TRY(transpose(opt, Xn, X, rows, cols));
    /* Working copy: fp32 X, or bf16 Xh (torch: grad.bfloat16()). */
    void *Xw = X, *Xnw = Xn, *Aw = A, *Bw = B;
    if (bf) {
        char *h = (char *)opt->h0.p;
        Xw = h;
        Xnw = h + 2 * mn;
        Aw = h + 4 * mn;
        Bw = h + 4 * mn + 2 * s * s;
        CU(opt, sc_f2bf(opt->stream, X, Xw, mn));
    }
    CU(opt, sc_sumsq(opt->stream, Xw, bf, mn, partials));
    CU(opt, sc_sum_partials(opt->stream, partials, SC_RED_BLOCKS, dsum));
    double nrm_sq = 0.0;
    TRY(download(opt, &nrm_sq, dsum, sizeof nrm_sq));
    double nrm = sqrt(nrm_sq);
    CU(opt, sc_scale(opt->stream, Xw, bf, (float)(1.0 / (nrm > hp->eps ? nrm : hp->eps)), mn));

    /* X ← aX + (bA + cA²)X, A = XXᵀ. Column-major view: Xc = Xᵀ (L x s, ld L). */
    const cudaDataType_t ty = bf ? CUDA_R_16BF : CUDA_R_32F;
    const size_t esz = bf ? 2 : 4;
    const float one = 1.0f, zero = 0.0f, na = 3.4445f, nb = -4.7750f, nc = 2.0315f;
    const int is = (int)s, iL = (int)L;
    for (int it = 0; it < hp->ns_steps; it++) {
        /* A = X Xᵀ = Xcᵀ Xc (s x s). */
        CB(opt, cublasGemmEx(opt->blas, CUBLAS_OP_T, CUBLAS_OP_N, is, is, iL, &one, Xw, ty, iL, Xw, ty, iL, &zero, Aw, ty, is,
                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        /* B = c A A + b A. */
        CU(opt, cudaMemcpyAsync(Bw, Aw, s * s * esz, cudaMemcpyDeviceToDevice, opt->stream));
        CB(opt, cublasGemmEx(opt->blas, CUBLAS_OP_N, CUBLAS_OP_N, is, is, is, &nc, Aw, ty, is, Aw, ty, is, &nb, Bw, ty, is,
                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        /* Xn = a X + B X; column-major: Xnc = a Xc + Xc Bᵀ. */
        CU(opt, cudaMemcpyAsync(Xnw, Xw, mn * esz, cudaMemcpyDeviceToDevice, opt->stream));
        CB(opt, cublasGemmEx(opt->blas, CUBLAS_OP_N, CUBLAS_OP_T, iL, is, is, &one, Xw, ty, iL, Bw, ty, is, &na, Xnw, ty, iL,
                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        void *t = Xw;
        Xw = Xnw;
        Xnw = t;
    }
    /* Result back to fp32 row-major rows x cols in some buffer R. */
    const float *R;
    if (bf) {
        CU(opt, sc_bf2f(opt->stream, Xw, X, mn));
        if (tall) {
            TRY(transpose(opt, X, Xn, cols, rows));
            R = Xn;
        } else {
            R = X;
        }
    } else if (tall) {
        float *dst = (float *)Xnw;
        TRY(transpose(opt, (const float *)Xw, dst, cols, rows));
        R = dst;
    } else {
        R = (const float *)Xw;
    }
    double lr_adj;
    if (hp->lr_adjust == SPECTRA_MUON_LR_MATCH_RMS_ADAMW)
        lr_adj = 0.2 * hp->lr * sqrt((double)(rows > cols ? rows : cols));
    else
        lr_adj = hp->lr * sqrt(fmax(1.0, (double)rows / (double)cols));
    const float decay = (float)(1.0 - (double)hp->lr * hp->weight_decay);
    CU(opt, sc_decay_sub(opt->stream, p->data, R, decay, (float)lr_adj, mn));
    p->step++;
    return SPECTRA_OK;
}

spectra_status spectra_cuda_optim_step(spectra_cuda_optim *opt) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "step: optimizer is NULL");
    for (int i = 0; i < opt->n_params; i++) {
        cparam *p = &opt->params[i];
        const cgroup *g = &opt->groups[p->group];
        spectra_status st;
        switch (g->hp.algo) {
        case SPECTRA_ALGO_SPECTRA: st = spectra_step(opt, p, &g->hp); break;
        case SPECTRA_ALGO_ADAMW: st = adamw_step(opt, p, &g->hp); break;
        case SPECTRA_ALGO_MUON: st = muon_step(opt, p, g); break;
        default: st = FAIL(opt, SPECTRA_ERR_UNSUPPORTED, "step: algorithm has no CUDA implementation"); break;
        }
        if (st != SPECTRA_OK) return st;
    }
    CU(opt, cudaStreamSynchronize(opt->stream));
    return SPECTRA_OK;
}

/* ---------------- state access ---------------- */

static spectra_status state_buffer(const spectra_cuda_optim *opt, const cparam *p, const char *buffer, const float **dev,
                                   size_t *rows, size_t *cols, int *valid) {
    spectra_algo algo = opt->groups[p->group].hp.algo;
    *valid = 1;
    if (!strcmp(buffer, "momentum") && algo != SPECTRA_ALGO_ADAMW) {
        *dev = p->buf0, *rows = p->rows, *cols = p->cols;
    } else if (!strcmp(buffer, "exp_avg") && algo == SPECTRA_ALGO_ADAMW) {
        *dev = p->buf0, *rows = p->rows, *cols = p->cols;
    } else if (!strcmp(buffer, "exp_avg_sq") && algo == SPECTRA_ALGO_ADAMW) {
        *dev = p->buf1, *rows = p->rows, *cols = p->cols;
    } else if (!strcmp(buffer, "V") && algo == SPECTRA_ALGO_SPECTRA) {
        *dev = p->buf1, *rows = p->cols, *cols = p->rank;
        *valid = p->cache_valid;
    } else {
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "get_state: '%s' has no buffer '%s'", p->name, buffer);
    }
    return SPECTRA_OK;
}

spectra_status spectra_cuda_optim_get_state(const spectra_cuda_optim *opt, const char *param, const char *buffer,
                                            float *host, size_t *rows, size_t *cols) {
    if (!opt || !param || !buffer) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "get_state: NULL argument");
    int i = find_param(opt, param);
    if (i < 0) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "get_state: no parameter '%s'", param);
    const float *dev = NULL;
    size_t r = 0, c = 0;
    int valid = 0;
    spectra_status st = state_buffer(opt, &opt->params[i], buffer, &dev, &r, &c, &valid);
    if (st != SPECTRA_OK) return st;
    if (rows) *rows = r;
    if (cols) *cols = c;
    if (!host) return SPECTRA_OK;
    if (!valid) return spectra_set_error(SPECTRA_ERR_STATE, "get_state: '%s' has no '%s' yet (no step taken)", param, buffer);
    cudaError_t e = cudaMemcpy(host, dev, r * c * sizeof(float), cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) return spectra_set_error(SPECTRA_ERR_NUMERIC, "get_state: %s", cudaGetErrorString(e));
    return SPECTRA_OK;
}

spectra_status spectra_cuda_optim_spike_diag(const spectra_cuda_optim *opt, int index, spectra_spike_diag *out) {
    if (!opt || !out || index < 0 || index >= opt->n_params)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "spike_diag: bad arguments");
    const cparam *p = &opt->params[index];
    if (opt->groups[p->group].hp.algo != SPECTRA_ALGO_SPECTRA || p->step == 0)
        return spectra_set_error(SPECTRA_ERR_STATE, "spike_diag: '%s' is not a Spectra parameter that has stepped", p->name);
    out->k = p->rank;
    out->s = p->spike_host;
    out->norm = sqrt(p->diag.norm_sq);
    out->spike_energy = p->diag.norm_sq > 0 ? p->diag.spike_sq / p->diag.norm_sq : 0.0;
    out->sigma_tail = p->diag.sigma_tail;
    out->rms = p->diag.rms;
    out->lr_eff = p->diag.lr_eff;
    out->bootstrapped = p->diag.bootstrapped;
    /* The GPU step is asynchronous; its phases are not timed on the host. */
    memset(out->phase_s, 0, sizeof out->phase_s);
    return SPECTRA_OK;
}

/* ---------------- save / load through a CPU mirror ---------------- */

/* A CPU optimizer with the same seed, groups and parameters (host dummies for data/grad). */
static spectra_status make_mirror(const spectra_cuda_optim *opt, spectra_optim **out, float **dummy) {
    size_t big = 1;
    for (int i = 0; i < opt->n_params; i++)
        if (opt->params[i].rows * opt->params[i].cols > big) big = opt->params[i].rows * opt->params[i].cols;
    *dummy = spectra_zalloc(2 * big, sizeof(float));
    if (!*dummy) return spectra_set_error(SPECTRA_ERR_NOMEM, "save/load: out of host memory");
    spectra_status st = spectra_optim_create(out, opt->seed);
    for (int g = 0; st == SPECTRA_OK && g < opt->n_groups; g++) st = spectra_optim_add_group(*out, &opt->groups[g].hp, NULL);
    for (int i = 0; st == SPECTRA_OK && i < opt->n_params; i++) {
        const cparam *p = &opt->params[i];
        st = spectra_optim_add_param(*out, p->group, p->name, *dummy, *dummy + big, p->rows, p->cols);
    }
    if (st != SPECTRA_OK) {
        spectra_optim_destroy(*out);
        free(*dummy);
        *out = NULL;
        *dummy = NULL;
    }
    return st;
}

spectra_status spectra_cuda_optim_save(const spectra_cuda_optim *opt, const char *path) {
    if (!opt || !path) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "save: NULL argument");
    spectra_optim *cpu;
    float *dummy;
    spectra_status st = make_mirror(opt, &cpu, &dummy);
    if (st != SPECTRA_OK) return st;
    for (int i = 0; st == SPECTRA_OK && i < opt->n_params; i++) {
        const cparam *p = &opt->params[i];
        optim_param *q = &cpu->params[i];
        if (cudaMemcpy(q->buf0, p->buf0, p->len0 * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess ||
            (p->len1 && cudaMemcpy(q->buf1, p->buf1, p->len1 * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess))
            st = spectra_set_error(SPECTRA_ERR_NUMERIC, "save: device copy failed");
        q->step = p->step;
        q->cache_valid = p->cache_valid;
        q->rng = p->rng;
    }
    if (st == SPECTRA_OK) st = spectra_optim_save(cpu, path);
    spectra_optim_destroy(cpu);
    free(dummy);
    return st;
}

spectra_status spectra_cuda_optim_load(spectra_cuda_optim *opt, const char *path) {
    if (!opt || !path) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "load: NULL argument");
    spectra_optim *cpu;
    float *dummy;
    spectra_status st = make_mirror(opt, &cpu, &dummy);
    if (st != SPECTRA_OK) return fail(opt, st);
    st = spectra_optim_load(cpu, path);
    if (st != SPECTRA_OK) {
        spectra_copy_error(opt->err, sizeof opt->err);
        snprintf(opt->err, sizeof opt->err, "%s", spectra_optim_last_error(cpu));
    }
    for (int i = 0; st == SPECTRA_OK && i < opt->n_params; i++) {
        cparam *p = &opt->params[i];
        const optim_param *q = &cpu->params[i];
        if (cudaMemcpy(p->buf0, q->buf0, p->len0 * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess ||
            (p->len1 && cudaMemcpy(p->buf1, q->buf1, p->len1 * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess))
            st = FAIL(opt, SPECTRA_ERR_NUMERIC, "load: device copy failed");
        p->step = q->step;
        p->cache_valid = q->cache_valid;
        p->rng = q->rng;
    }
    for (int g = 0; st == SPECTRA_OK && g < opt->n_groups; g++) opt->groups[g].hp = cpu->groups[g].hp;
    spectra_optim_destroy(cpu);
    free(dummy);
    return st;
}

/* ---------------- benchmark and device helpers ---------------- */

spectra_status spectra_cuda_optim_time_steps(spectra_cuda_optim *opt, int iters, double *times_ms) {
    if (!opt || iters < 1 || !times_ms) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "time_steps: bad arguments");
    cudaEvent_t e0, e1;
    CU(opt, cudaEventCreate(&e0));
    CU(opt, cudaEventCreate(&e1));
    spectra_status st = SPECTRA_OK;
    for (int i = 0; i < iters && st == SPECTRA_OK; i++) {
        cudaEventRecord(e0, opt->stream);
        st = spectra_cuda_optim_step(opt);
        cudaEventRecord(e1, opt->stream);
        cudaEventSynchronize(e1);
        float ms = 0.0f;
        cudaEventElapsedTime(&ms, e0, e1);
        times_ms[i] = ms;
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return st;
}

spectra_status spectra_cuda_copy_bandwidth(size_t bytes, int iters, double *gbps) {
    if (!gbps || bytes == 0 || iters < 1) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "copy_bandwidth: bad arguments");
    void *a = NULL, *b = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL;
    spectra_status st = SPECTRA_OK;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess || cudaEventCreate(&e0) != cudaSuccess ||
        cudaEventCreate(&e1) != cudaSuccess || cudaMemset(a, 0, bytes) != cudaSuccess) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "copy_bandwidth: device allocation failed");
    }
    double best = 0.0;
    for (int i = 0; st == SPECTRA_OK && i < iters + 1; i++) {
        cudaEventRecord(e0, 0);
        cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0);
        cudaEventRecord(e1, 0);
        if (cudaEventSynchronize(e1) != cudaSuccess) st = spectra_set_error(SPECTRA_ERR_NUMERIC, "copy_bandwidth: copy failed");
        float ms = 0.0f;
        cudaEventElapsedTime(&ms, e0, e1);
        double g = ms > 0 ? 2.0 * (double)bytes / (ms * 1e-3) / 1e9 : 0.0;
        if (i > 0 && g > best) best = g; /* the first copy is a warm-up */
    }
    *gbps = best;
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    cudaFree(a);
    cudaFree(b);
    return st;
}

spectra_status spectra_cuda_malloc(void **ptr, size_t bytes) {
    if (!ptr) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "cuda_malloc: NULL");
    cudaError_t e = cudaMalloc(ptr, bytes);
    if (e != cudaSuccess) {
        *ptr = NULL;
        return spectra_set_error(SPECTRA_ERR_NOMEM, "cudaMalloc(%zu): %s", bytes, cudaGetErrorString(e));
    }
    return SPECTRA_OK;
}
void spectra_cuda_free(void *ptr) { cudaFree(ptr); }
spectra_status spectra_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes) {
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? SPECTRA_OK : spectra_set_error(SPECTRA_ERR_NUMERIC, "cudaMemcpy H2D: %s", cudaGetErrorString(e));
}
spectra_status spectra_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes) {
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? SPECTRA_OK : spectra_set_error(SPECTRA_ERR_NUMERIC, "cudaMemcpy D2H: %s", cudaGetErrorString(e));
}
spectra_status spectra_cuda_upload_bf16(void *dst, const float *src, size_t n) {
    float *tmp = NULL;
    cudaError_t e = cudaMalloc((void **)&tmp, n * sizeof(float));
    if (e == cudaSuccess) e = cudaMemcpy(tmp, src, n * sizeof(float), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = sc_f2bf(0, tmp, dst, n);
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    cudaFree(tmp);
    return e == cudaSuccess ? SPECTRA_OK : spectra_set_error(SPECTRA_ERR_NUMERIC, "upload_bf16: %s", cudaGetErrorString(e));
}
spectra_status spectra_cuda_device_name(char *buf, size_t len) {
    int dev = 0;
    struct cudaDeviceProp prop;
    if (!buf || !len) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "device_name: bad buffer");
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess) {
        buf[0] = '\0';
        return spectra_set_error(SPECTRA_ERR_UNSUPPORTED, "no CUDA device");
    }
    snprintf(buf, len, "%s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    return SPECTRA_OK;
}

#endif /* SPECTRA_HAVE_CUDA */
