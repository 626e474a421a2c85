/* SGD with momentum, torch.optim.SGD semantics: L2 weight decay added to the gradient,
 * buf ← μ buf + g, step along buf (or g + μ buf with Nesterov). */
#include "optim/optim_internal.h"

spectra_status sgd_algo_step(optim_param *p, const spectra_hparams *hp) {
    const size_t n = p->rows * p->cols;
    float *w = p->data, *buf = p->buf0;
    const float *g = p->grad;
    const float lr = hp->lr, mu = hp->momentum, wd = hp->weight_decay;
    const int nesterov = hp->nesterov;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        float bi = mu * buf[i] + gi;
        buf[i] = bi;
        float d = nesterov ? gi + mu * bi : bi;
        w[i] -= lr * d;
    }
    p->step++;
    return SPECTRA_OK;
}
