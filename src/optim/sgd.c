/* SGD with momentum, torch.optim.SGD semantics: L2 weight decay added to the gradient,
 * buf ← μ buf + g, step along buf (or g + μ buf with Nesterov). */
#include "optim/optim_internal.h"

#include <math.h>

spectra_status sgd_algo_step(optim_param *p, const spectra_hparams *hp) {
    const size_t n = p->rows * p->cols;
    float *w = p->data, *buf = p->buf0;
    const float *g = p->grad;
    const float neg_lr = (float)-hp->lr, mu = (float)hp->momentum, wd = (float)hp->weight_decay;
    const int nesterov = hp->nesterov;
    /* Same roundings as torch's kernels: add_(x, alpha) is a fused multiply-add. */
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = fmaf(wd, w[i], g[i]);
        float bi = buf[i] * mu + gi;
        buf[i] = bi;
        float d = nesterov ? fmaf(mu, bi, gi) : bi;
        w[i] = fmaf(neg_lr, d, w[i]);
    }
    p->step++;
    return SPECTRA_OK;
}
