/* libspectra's spectra_cuda_* when the CUDA backend is a module (cuda_module.h says why):
 * the first call loads libspectra_cuda from the directory libspectra was loaded from (then by
 * the loader's search path), and every call forwards to it. If it cannot be loaded (no CUDA
 * runtime on this machine, a missing file), the functions behave as in a build without CUDA,
 * with the loader's reason as the message. */
#include "cuda/cuda_module.h"

#ifdef SPECTRA_CUDA_LAZY

#include "spectra/cuda.h"

#include "core/error.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MOD_FIELD(name) __typeof__(spectra_cuda_##name) *name;
static struct {
    SPECTRA_CUDA_FUNCS(MOD_FIELD)
} mod;
static int mod_ok;
static char mod_error[1024];
static pthread_once_t mod_once = PTHREAD_ONCE_INIT;

static void mod_load(void) {
    const char *name = SPECTRA_CUDA_MODULE_NAME;
    char path[4096] = "";
    Dl_info info;
    if (dladdr((void *)spectra_cuda_available, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        if (slash) snprintf(path, sizeof path, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, name);
    }
    void *h = path[0] ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!h) {
        const char *e = dlerror(); /* the reason beside libspectra is the one to report */
        snprintf(mod_error, sizeof mod_error, "the CUDA backend %s could not be loaded: %s", path[0] ? path : name,
                 e ? e : "not found");
        h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!h) return;
    }
#define MOD_RESOLVE(fn)                                                                                \
    do {                                                                                               \
        void *s_ = dlsym(h, "spectra_cudamod_" #fn);                                                   \
        if (!s_) {                                                                                     \
            snprintf(mod_error, sizeof mod_error, "the CUDA backend %s lacks spectra_cudamod_%s", name, #fn); \
            dlclose(h);                                                                                \
            return;                                                                                    \
        }                                                                                              \
        memcpy(&mod.fn, &s_, sizeof s_);                                                               \
    } while (0);
    SPECTRA_CUDA_FUNCS(MOD_RESOLVE)
#undef MOD_RESOLVE
    mod_ok = 1;
}

static int mod_ready(void) {
    pthread_once(&mod_once, mod_load);
    return mod_ok;
}
static spectra_status mod_fail(void) { return spectra_set_error(SPECTRA_ERR_UNSUPPORTED, "%s", mod_error); }

int spectra_cuda_available(void) {
    if (mod_ready()) return mod.available();
    mod_fail();
    return 0;
}
spectra_status spectra_cuda_optim_create(spectra_cuda_optim **out, uint64_t seed) {
    if (mod_ready()) return mod.optim_create(out, seed);
    if (out) *out = NULL;
    return mod_fail();
}
/* An optimizer exists only if the module was loaded. */
void spectra_cuda_optim_destroy(spectra_cuda_optim *opt) {
    if (opt && mod_ready()) mod.optim_destroy(opt);
}
const char *spectra_cuda_optim_last_error(const spectra_cuda_optim *opt) {
    return mod_ready() ? mod.optim_last_error(opt) : mod_error;
}
spectra_status spectra_cuda_optim_add_group(spectra_cuda_optim *opt, const spectra_hparams *hp, int *group) {
    return mod_ready() ? mod.optim_add_group(opt, hp, group) : mod_fail();
}
spectra_status spectra_cuda_optim_set_muon_bf16(spectra_cuda_optim *opt, int group, int bf16) {
    return mod_ready() ? mod.optim_set_muon_bf16(opt, group, bf16) : mod_fail();
}
spectra_status spectra_cuda_optim_set_lr(spectra_cuda_optim *opt, int group, double lr) {
    return mod_ready() ? mod.optim_set_lr(opt, group, lr) : mod_fail();
}
spectra_status spectra_cuda_optim_add_param(spectra_cuda_optim *opt, int group, const char *name, float *data,
                                            const void *grad, spectra_cuda_dtype gtype, size_t rows, size_t cols) {
    return mod_ready() ? mod.optim_add_param(opt, group, name, data, grad, gtype, rows, cols) : mod_fail();
}
spectra_status spectra_cuda_optim_step(spectra_cuda_optim *opt) { return mod_ready() ? mod.optim_step(opt) : mod_fail(); }
int spectra_cuda_optim_num_params(const spectra_cuda_optim *opt) { return mod_ready() ? mod.optim_num_params(opt) : 0; }
size_t spectra_cuda_optim_state_bytes(const spectra_cuda_optim *opt) {
    return mod_ready() ? mod.optim_state_bytes(opt) : 0;
}
spectra_status spectra_cuda_optim_get_state(const spectra_cuda_optim *opt, const char *param, const char *buffer,
                                            float *host, size_t *rows, size_t *cols) {
    return mod_ready() ? mod.optim_get_state(opt, param, buffer, host, rows, cols) : mod_fail();
}
spectra_status spectra_cuda_optim_spike_diag(const spectra_cuda_optim *opt, int index, spectra_spike_diag *out) {
    return mod_ready() ? mod.optim_spike_diag(opt, index, out) : mod_fail();
}
spectra_status spectra_cuda_optim_save(const spectra_cuda_optim *opt, const char *path) {
    return mod_ready() ? mod.optim_save(opt, path) : mod_fail();
}
spectra_status spectra_cuda_optim_load(spectra_cuda_optim *opt, const char *path) {
    return mod_ready() ? mod.optim_load(opt, path) : mod_fail();
}
spectra_status spectra_cuda_optim_time_steps(spectra_cuda_optim *opt, int iters, double *times_ms) {
    return mod_ready() ? mod.optim_time_steps(opt, iters, times_ms) : mod_fail();
}
spectra_status spectra_cuda_copy_bandwidth(size_t bytes, int iters, double *gbps) {
    return mod_ready() ? mod.copy_bandwidth(bytes, iters, gbps) : mod_fail();
}
spectra_status spectra_cuda_malloc(void **ptr, size_t bytes) {
    if (mod_ready()) return mod.malloc(ptr, bytes);
    if (ptr) *ptr = NULL;
    return mod_fail();
}
void spectra_cuda_free(void *ptr) {
    if (ptr && mod_ready()) mod.free(ptr);
}
spectra_status spectra_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes) {
    return mod_ready() ? mod.memcpy_h2d(dst, src, bytes) : mod_fail();
}
spectra_status spectra_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes) {
    return mod_ready() ? mod.memcpy_d2h(dst, src, bytes) : mod_fail();
}
spectra_status spectra_cuda_upload_bf16(void *dst, const float *src, size_t n) {
    return mod_ready() ? mod.upload_bf16(dst, src, n) : mod_fail();
}
spectra_status spectra_cuda_device_name(char *buf, size_t len) {
    if (mod_ready()) return mod.device_name(buf, len);
    if (buf && len) buf[0] = '\0';
    return mod_fail();
}

#else
typedef int spectra_cuda_module_unused; /* the backend is linked in (or absent): nothing here */
#endif
