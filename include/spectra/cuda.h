/* spectra/cuda.h — the optimizers on an NVIDIA GPU (docs/GPU.md).
 *
 * The same handle as spectra/optim.h, for matrices that live in device memory:
 *   spectra_cuda_optim *opt;
 *   spectra_cuda_optim_create(&opt, seed);           // fails with UNSUPPORTED without CUDA
 *   spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
 *   int g; spectra_cuda_optim_add_group(opt, &hp, &g);
 *   spectra_cuda_optim_add_param(opt, g, "mlp.up", d_w, d_dw, SPECTRA_CUDA_FP32, rows, cols);
 *   for (...) { compute d_dw on the device; spectra_cuda_optim_step(opt); }
 *
 * Parameters are row-major fp32 master weights on the device; gradients are fp32 or bf16
 * device arrays; all optimizer state is fp32 on the device. Supported algorithms:
 * Spectra, AdamW and Muon (others fail with SPECTRA_ERR_UNSUPPORTED). The step runs on
 * the optimizer's own CUDA stream and returns after it has completed (the step needs a few
 * scalars on the host: ‖X‖², the spike values, the QR status). That stream is a blocking
 * one, so it waits for work queued on the legacy default stream; gradients written on
 * another stream must be complete (cudaStreamSynchronize) before step() is called.
 *
 * Every function is always declared and always linked; in a build without CUDA (or on a
 * machine without a device) they return SPECTRA_ERR_UNSUPPORTED.
 *
 * State files are the CPU format (spectra_optim_save): a file written here loads into a
 * CPU optimizer with the same groups and parameters, and vice versa. */
#ifndef SPECTRA_CUDA_H
#define SPECTRA_CUDA_H

#include "spectra/optim.h"
#include "spectra/status.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum spectra_cuda_dtype {
    SPECTRA_CUDA_FP32 = 0,
    SPECTRA_CUDA_BF16 = 1
} spectra_cuda_dtype;

typedef struct spectra_cuda_optim spectra_cuda_optim;

/* 1 if the library was built with CUDA and a device is visible, else 0 with the reason in
 * spectra_last_error() (no CUDA in this build, the backend module could not be loaded, no
 * device or no driver). */
int spectra_cuda_available(void);

/* Creates a handle on the current device. `seed` drives the bootstrap's Gaussian test
 * matrices exactly as on the CPU (same parameter names give the same draws). */
spectra_status spectra_cuda_optim_create(spectra_cuda_optim **out, uint64_t seed);
void spectra_cuda_optim_destroy(spectra_cuda_optim *opt);
const char *spectra_cuda_optim_last_error(const spectra_cuda_optim *opt);

spectra_status spectra_cuda_optim_add_group(spectra_cuda_optim *opt, const spectra_hparams *hp, int *group);
/* Muon's Newton–Schulz precision for a group: 0 = fp32 (default), 1 = bf16 (as torch). */
spectra_status spectra_cuda_optim_set_muon_bf16(spectra_cuda_optim *opt, int group, int bf16);
spectra_status spectra_cuda_optim_set_lr(spectra_cuda_optim *opt, int group, double lr);

/* `data` and `grad` are device pointers (rows x cols, row-major); `grad` has type `gtype`. */
spectra_status spectra_cuda_optim_add_param(spectra_cuda_optim *opt, int group, const char *name, float *data,
                                            const void *grad, spectra_cuda_dtype gtype, size_t rows, size_t cols);

/* One step over every parameter (no finiteness scan on the device). */
spectra_status spectra_cuda_optim_step(spectra_cuda_optim *opt);

int spectra_cuda_optim_num_params(const spectra_cuda_optim *opt);
size_t spectra_cuda_optim_state_bytes(const spectra_cuda_optim *opt);

/* Copies a state buffer to the host (names as spectra_optim_get_state). `host` must hold
 * rows*cols floats; pass host = NULL to query the shape only. */
spectra_status spectra_cuda_optim_get_state(const spectra_cuda_optim *opt, const char *param, const char *buffer,
                                            float *host, size_t *rows, size_t *cols);

/* Diagnostics of the last Spectra step of parameter `index` (as spectra_optim_spike_diag;
 * `s` points into host memory owned by the handle). */
spectra_status spectra_cuda_optim_spike_diag(const spectra_cuda_optim *opt, int index, spectra_spike_diag *out);

/* State files in the CPU format (through a temporary CPU optimizer on the host). */
spectra_status spectra_cuda_optim_save(const spectra_cuda_optim *opt, const char *path);
spectra_status spectra_cuda_optim_load(spectra_cuda_optim *opt, const char *path);

/* Benchmark helpers (spectra bench optim --device cuda).
 * Times `iters` steps one by one with CUDA events; times_ms receives each step's time. */
spectra_status spectra_cuda_optim_time_steps(spectra_cuda_optim *opt, int iters, double *times_ms);
/* Device-to-device copy bandwidth in GB/s (bytes read + written / time), best of `iters`
 * copies of `bytes` bytes. */
spectra_status spectra_cuda_copy_bandwidth(size_t bytes, int iters, double *gbps);
/* Device helpers for tools and tests: allocate/free/copy/fill (fill: uniform in [-a, a]
 * from a seed, generated on the host, fp32 or bf16). */
spectra_status spectra_cuda_malloc(void **ptr, size_t bytes);
void spectra_cuda_free(void *ptr);
spectra_status spectra_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes);
spectra_status spectra_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes);
/* Converts n host floats to bf16 (round to nearest even) into dst (device). */
spectra_status spectra_cuda_upload_bf16(void *dst, const float *src, size_t n);
/* A one-line device description, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)". */
spectra_status spectra_cuda_device_name(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
