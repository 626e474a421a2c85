/* The CUDA backend is loaded on first use (src/cuda/cuda_module.h): a program that uses only
 * the CPU library never maps the CUDA libraries; the first spectra_cuda_* call loads
 * libspectra_cuda, which then answers itself (a device, or its own reason for none), not the
 * loader's "could not be loaded". Built only when the backend is a module. */
#include "spectra/cuda.h"
#include "spectra/spectra.h"
#include "test_util.h"

#include <string.h>

/* Whether a mapped file's name contains `part` (/proc/self/maps). */
static int mapped(const char *part) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, part)) found = 1;
    if (f) fclose(f);
    return found;
}

int main(void) {
    /* CPU work first: an optimizer step */
    spectra_optim *opt = NULL;
    float w[64] = {0}, g[64];
    for (int i = 0; i < 64; i++) g[i] = (float)(i % 7) - 3.0f;
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    int grp;
    CHECK_OK(spectra_optim_create(&opt, 1));
    CHECK_OK(spectra_optim_add_group(opt, &hp, &grp));
    CHECK_OK(spectra_optim_add_param(opt, grp, "w", w, g, 8, 8));
    CHECK_OK(spectra_optim_step(opt));
    spectra_optim_destroy(opt);
    CHECK_MSG(!mapped("libcudart") && !mapped("libcublas") && !mapped("libspectra_cuda"),
              "the CUDA libraries are mapped before any CUDA call");

    int avail = spectra_cuda_available();
    const char *why = avail ? "" : spectra_last_error();
    printf("spectra_cuda_available() = %d%s%s\n", avail, avail ? "" : ": ", why);
    CHECK_MSG(mapped("libspectra_cuda"), "libspectra_cuda was not loaded by the first CUDA call");
    CHECK_MSG(avail || strncmp(why, "the CUDA backend", 16) != 0, "the module failed to load: %s", why);
    if (avail) {
        char name[256];
        CHECK_OK(spectra_cuda_device_name(name, sizeof name));
        printf("device: %s\n", name);
    } else {
        spectra_cuda_optim *c = (spectra_cuda_optim *)1;
        CHECK(spectra_cuda_optim_create(&c, 1) != SPECTRA_OK && c == NULL);
    }
    return test_failures ? 1 : 0;
}
