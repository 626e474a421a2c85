/* Test driver for the Python oracles: runs one optimizer on one matrix over a sequence of
 * gradients read from a file and writes the final weights (and momentum) back.
 *
 *   optim_driver --algo NAME --rows R --cols C --steps S --in IN --out OUT [hparams]
 * IN:  float32 W0 (R*C) then S gradients (R*C each), little-endian.
 * OUT: float32 W_final (R*C) then the first state buffer (R*C).
 * For Dion, OUT.q0 receives the initial Q (b x r column-major) so the oracle starts equal. */
#include "spectra/spectra.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *msg) {
    fprintf(stderr, "optim_driver: %s\n", msg);
    return 2;
}

int main(int argc, char **argv) {
    const char *algo_name = NULL, *in = NULL, *out = NULL;
    size_t rows = 0, cols = 0;
    int steps = 0;
    spectra_hparams hp;
    int have_hp = 0;
    /* First pass: the algorithm, so defaults can be filled before overrides. */
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--algo")) algo_name = argv[i + 1];
    if (!algo_name) return die("--algo is required");
    spectra_algo algo;
    if (spectra_algo_from_name(algo_name, &algo) != SPECTRA_OK) return die(spectra_last_error());
    hp = spectra_hparams_default(algo);
    have_hp = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--algo")) continue;
        else if (!strcmp(k, "--rows")) rows = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--cols")) cols = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--steps")) steps = atoi(v);
        else if (!strcmp(k, "--in")) in = v;
        else if (!strcmp(k, "--out")) out = v;
        else if (!strcmp(k, "--lr")) hp.lr = strtod(v, NULL);
        else if (!strcmp(k, "--wd")) hp.weight_decay = strtod(v, NULL);
        else if (!strcmp(k, "--momentum")) hp.momentum = strtod(v, NULL);
        else if (!strcmp(k, "--nesterov")) hp.nesterov = atoi(v);
        else if (!strcmp(k, "--beta1")) hp.beta1 = strtod(v, NULL);
        else if (!strcmp(k, "--beta2")) hp.beta2 = strtod(v, NULL);
        else if (!strcmp(k, "--eps")) hp.eps = strtod(v, NULL);
        else if (!strcmp(k, "--ns-steps")) hp.ns_steps = atoi(v);
        else if (!strcmp(k, "--lr-adjust")) hp.lr_adjust = (spectra_muon_lr_adjust)atoi(v);
        else if (!strcmp(k, "--rank-fraction")) hp.rank_fraction = strtod(v, NULL);
        else {
            fprintf(stderr, "optim_driver: unknown option %s\n", k);
            return 2;
        }
    }
    if (!have_hp || !in || !out || !rows || !cols || steps < 0) return die("missing --rows/--cols/--steps/--in/--out");
    size_t mn = rows * cols;
    float *w = malloc(mn * sizeof *w), *g = malloc(mn * sizeof *g);
    FILE *f = fopen(in, "rb");
    if (!f) return die("cannot open input");
    if (fread(w, sizeof *w, mn, f) != mn) return die("short input (W0)");
    spectra_optim *opt;
    int gid;
    if (spectra_optim_create(&opt, 1234) || spectra_optim_add_group(opt, &hp, &gid) ||
        spectra_optim_add_param(opt, gid, "w", w, g, rows, cols))
        return die(spectra_last_error());
    if (algo == SPECTRA_ALGO_DION) {
        const float *q;
        size_t qr, qc;
        spectra_optim_get_state(opt, "w", "Q", &q, &qr, &qc);
        char path[4096];
        snprintf(path, sizeof path, "%s.q0", out);
        FILE *qf = fopen(path, "wb");
        if (!qf || fwrite(q, sizeof *q, qr * qc, qf) != qr * qc) return die("cannot write q0");
        fclose(qf);
    }
    for (int s = 0; s < steps; s++) {
        if (fread(g, sizeof *g, mn, f) != mn) return die("short input (gradients)");
        if (spectra_optim_step(opt) != SPECTRA_OK) return die(spectra_optim_last_error(opt));
    }
    fclose(f);
    const float *m0;
    const char *buf0 = algo == SPECTRA_ALGO_ADAMW ? "exp_avg" : "momentum";
    spectra_optim_get_state(opt, "w", buf0, &m0, NULL, NULL);
    FILE *o = fopen(out, "wb");
    if (!o || fwrite(w, sizeof *w, mn, o) != mn || fwrite(m0, sizeof *m0, mn, o) != mn) return die("cannot write output");
    fclose(o);
    spectra_optim_destroy(opt);
    free(w);
    free(g);
    return 0;
}
