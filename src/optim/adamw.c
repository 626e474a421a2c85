/* AdamW with torch.optim.AdamW(foreach=False) arithmetic (SPEC.md §2). The operation order
 * and the float/double split of the scalars mirror torch's _single_tensor_adamw so the
 * results agree element by element (tests/optim/adamw_vs_torch.py). */
#include "optim/optim_internal.h"

#include <math.h>

spectra_status adamw_algo_step(optim_param *p, const spectra_hparams *hp) {
    const size_t n = p->rows * p->cols;
    float *w = p->data, *m = p->buf0, *v = p->buf1;
    const float *g = p->grad;
    p->step++;
    /* torch computes these in Python (double) and passes them to float kernels. */
    const double step = (double)p->step;
    const float decay = (float)(1.0 - (double)hp->lr * hp->weight_decay);
    const float b1 = (float)hp->beta1, one_m_b1 = (float)(1.0 - hp->beta1);
    const float b2 = (float)hp->beta2, one_m_b2 = (float)(1.0 - hp->beta2);
    const double bc1 = 1.0 - pow(hp->beta1, step);
    const double bc2 = 1.0 - pow(hp->beta2, step);
    const float neg_step_size = (float)(-(hp->lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    const float eps = (float)hp->eps;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float wi = w[i] * decay;
        /* torch's add_(alpha) and addcmul_ kernels are fused multiply-adds; addcdiv_ is not. */
        float mi = fmaf(one_m_b1, gi, m[i] * b1);
        float vi = fmaf(one_m_b2 * gi, gi, v[i] * b2);
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        w[i] = wi + (neg_step_size * mi) / denom;
        m[i] = mi;
        v[i] = vi;
    }
    return SPECTRA_OK;
}
