/* Transformer layer kernels: each a forward/backward pair over flat row-major fp32
 * arrays (llm.c style). N = number of token positions (B*T). Backward functions
 * ACCUMULATE (+=) into parameter gradients; what they do with input gradients is stated
 * per function. None allocates; none calls OpenBLAS from inside an OpenMP region. */
#ifndef SPECTRA_MODEL_LAYERS_H
#define SPECTRA_MODEL_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* out[N,d] = emb[tokens[i], :] */
void spectra_embedding_forward(float *out, const int32_t *tokens, const float *emb, int N, int d);
/* demb[tokens[i], :] += dout[i, :] */
void spectra_embedding_backward(float *demb, const float *dout, const int32_t *tokens, int N,
                                int d);

/* out = x * rstd * g with rstd[i] = 1/sqrt(mean_j x[i,j]^2 + eps). rstd saved for backward. */
void spectra_rmsnorm_forward(float *out, float *rstd, const float *x, const float *g, int N,
                             int d, float eps);
/* dx += d/dx, dg += d/dg. */
void spectra_rmsnorm_backward(float *dx, float *dg, const float *dout, const float *x,
                              const float *g, const float *rstd, int N, int d);

/* out[N,n_out] = x[N,n_in] W^T (+ out if accumulate), W row-major [n_out, n_in]. */
void spectra_linear_forward(float *out, const float *x, const float *W, int N, int n_in,
                            int n_out, int accumulate);
/* dx = dout W (+ dx if accumulate_dx; skipped if dx NULL); dW += dout^T x. */
void spectra_linear_backward(float *dx, float *dW, const float *dout, const float *x,
                             const float *W, int N, int n_in, int n_out, int accumulate_dx);

/* RoPE tables for positions [0, T) and head_dim hd: cos/sin[t*hd/2 + i] of angle
 * t * theta^(-2i/hd). Computed in double so long positions keep full fp32 accuracy. */
void spectra_rope_tables(float *cos_t, float *sin_t, int T, int hd, float theta);
/* In-place rotation of n_heads heads of size hd in each of the B*T rows of x (row
 * stride `stride` floats), pairing element i with i + hd/2 (the "rotate_half" layout of
 * Llama/Qwen in HF transformers). Row b*T + t uses position t. */
void spectra_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T,
                          int n_heads, int hd, int stride);
/* The rotation is orthogonal, so its backward is the inverse rotation, in place on dx. */
void spectra_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T,
                           int n_heads, int hd, int stride);

/* Causal attention. qkv rows (N = B*T, row stride (Hq + 2 Hkv) hd) hold
 * [q heads | k heads | v heads]; query head h reads kv head h / (Hq/Hkv).
 * out[N, Hq*hd] = softmax(q k^T / sqrt(hd), causal) v. lse[B, Hq, T] receives each
 * softmax row's log-normalizer, all the backward needs to rebuild the probabilities.
 * scratch holds n_threads * spectra_attention_scratch_floats(T, hd) floats; the parallel
 * region uses at most n_threads threads so each owns one slice. */
size_t spectra_attention_scratch_floats(int T, int hd);
void spectra_attention_forward(float *out, float *lse, const float *qkv, float *scratch,
                               int n_threads, int B, int T, int Hq, int Hkv, int hd);
/* dqkv = gradient w.r.t. qkv (overwritten, same layout), from dout and the forward's
 * qkv and lse. */
void spectra_attention_backward(float *dqkv, const float *dout, const float *qkv,
                                const float *lse, float *scratch, int n_threads, int B, int T,
                                int Hq, int Hkv, int hd);

/* SwiGLU: gu rows are [gate (ff) | up (ff)]; h[N, ff] = silu(gate) * up. */
void spectra_swiglu_forward(float *h, const float *gu, int N, int ff);
/* dgu[N, 2ff] = gradient w.r.t. gu (overwritten). dgu may alias gu. */
void spectra_swiglu_backward(float *dgu, const float *dh, const float *gu, int N, int ff);

/* In place: logits[N, V] -> softmax probabilities. losses[i] = -log p_i(targets[i]).
 * Returns sum_i w_i losses[i] (w = weights or 1) accumulated in double. */
double spectra_crossentropy_forward(float *probs_logits, float *losses, const int32_t *targets,
                                    const float *weights, int N, int V);
/* In place: probs -> dlogits = scale * w_i * (probs - onehot(targets)). */
void spectra_crossentropy_backward(float *probs_dlogits, const int32_t *targets,
                                   const float *weights, float scale, int N, int V);

#endif
