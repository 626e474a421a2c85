/* The CUDA backend as a module loaded on first use.
 *
 * Linked into libspectra, the CUDA runtime, cuBLAS and cuSOLVER are mapped and relocated at
 * every program start: 0.2 s and 260 MB of resident memory for every `spectra` command, a CPU
 * training run included (measured on the development machine: `spectra --version` 0.21 s /
 * 267 MB against 0.01 s / 6 MB without them), and that memory sits in every peak-RSS figure
 * `spectra experiment` records. So in a shared build with CUDA, the backend (cuda_optim.c and
 * the kernels) is its own library, libspectra_cuda, and libspectra's spectra_cuda_* functions
 * (cuda_module.c) dlopen it from libspectra's own directory the first time one is called.
 * In the module build (SPECTRA_CUDA_MODULE_BUILD) the implementation's names are the ones
 * below; static builds link the backend directly under the public names. */
#ifndef SPECTRA_CUDA_MODULE_H
#define SPECTRA_CUDA_MODULE_H

/* Every public function of include/spectra/cuda.h, without the spectra_cuda_ prefix. */
#define SPECTRA_CUDA_FUNCS(X)                                                                          \
    X(available) X(optim_create) X(optim_destroy) X(optim_last_error) X(optim_add_group)             \
    X(optim_set_muon_bf16) X(optim_set_lr) X(optim_add_param) X(optim_step) X(optim_num_params)      \
    X(optim_state_bytes) X(optim_get_state) X(optim_spike_diag) X(optim_save) X(optim_load)          \
    X(optim_time_steps) X(copy_bandwidth) X(malloc) X(free) X(memcpy_h2d) X(memcpy_d2h)              \
    X(upload_bf16) X(device_name)

#ifdef SPECTRA_CUDA_MODULE_BUILD
#define spectra_cuda_available spectra_cudamod_available
#define spectra_cuda_optim_create spectra_cudamod_optim_create
#define spectra_cuda_optim_destroy spectra_cudamod_optim_destroy
#define spectra_cuda_optim_last_error spectra_cudamod_optim_last_error
#define spectra_cuda_optim_add_group spectra_cudamod_optim_add_group
#define spectra_cuda_optim_set_muon_bf16 spectra_cudamod_optim_set_muon_bf16
#define spectra_cuda_optim_set_lr spectra_cudamod_optim_set_lr
#define spectra_cuda_optim_add_param spectra_cudamod_optim_add_param
#define spectra_cuda_optim_step spectra_cudamod_optim_step
#define spectra_cuda_optim_num_params spectra_cudamod_optim_num_params
#define spectra_cuda_optim_state_bytes spectra_cudamod_optim_state_bytes
#define spectra_cuda_optim_get_state spectra_cudamod_optim_get_state
#define spectra_cuda_optim_spike_diag spectra_cudamod_optim_spike_diag
#define spectra_cuda_optim_save spectra_cudamod_optim_save
#define spectra_cuda_optim_load spectra_cudamod_optim_load
#define spectra_cuda_optim_time_steps spectra_cudamod_optim_time_steps
#define spectra_cuda_copy_bandwidth spectra_cudamod_copy_bandwidth
#define spectra_cuda_malloc spectra_cudamod_malloc
#define spectra_cuda_free spectra_cudamod_free
#define spectra_cuda_memcpy_h2d spectra_cudamod_memcpy_h2d
#define spectra_cuda_memcpy_d2h spectra_cudamod_memcpy_d2h
#define spectra_cuda_upload_bf16 spectra_cudamod_upload_bf16
#define spectra_cuda_device_name spectra_cudamod_device_name
#endif

#endif
