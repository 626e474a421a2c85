/* Built against an installed libspectra (find_package or pkg-config): one Spectra step. */
#include <spectra/spectra.h>
#include <stdio.h>

int main(void) {
    float w[4 * 6] = {0}, g[4 * 6];
    for (int i = 0; i < 24; i++) g[i] = (float)((i * 7) % 5) - 2.0f;
    spectra_optim *opt;
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    int grp;
    if (spectra_optim_create(&opt, 1) || spectra_optim_add_group(opt, &hp, &grp) ||
        spectra_optim_add_param(opt, grp, "w", w, g, 4, 6) || spectra_optim_step(opt)) {
        fprintf(stderr, "consumer: %s\n", spectra_last_error());
        return 1;
    }
    printf("consumer: libspectra %s, one Spectra step ok, w[0] = %g\n", spectra_version(), (double)w[0]);
    spectra_optim_destroy(opt);
    return w[0] == 0.0f; /* the step must have moved the weights */
}
