/* spectra/analysis.h — the gradient-spectrum measurements of the paper's section 2
 * (SPEC.md §3, docs/ANALYSIS.md): exact singular spectra, spike size and gap, energy CDFs,
 * AdamW tail suppression, relative variance per singular direction, Newton–Schulz
 * alignment, and helpers that compute mean gradients of a model over a loader with the
 * FreqNorm and Shuffle interventions.
 *
 * Matrices are row-major rows x cols fp32 as everywhere in the library; results are in
 * double. Singular vectors are returned column-major: U is rows x r (column k = u_k), V is
 * cols x r (column k = v_k), r = min(rows, cols). Every function returns a spectra_status
 * and records a message (spectra_last_error) on failure; nothing prints. */
#ifndef SPECTRA_ANALYSIS_H
#define SPECTRA_ANALYSIS_H

#include "spectra/data.h"
#include "spectra/model.h"
#include "spectra/status.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- spectra ---- */

/* Exact thin SVD by LAPACK dgesdd (in double, with the optimal workspace from the query
 * call): X = U diag(s) Vᵀ, s descending (r values). U and/or V may be NULL when only the
 * singular values are wanted (then the cheaper values-only driver runs). Every element of X
 * must be finite: a NaN or Inf gives SPECTRA_ERR_NONFINITE naming the first one's row and
 * column, before anything is written (dgesdd itself may loop forever on an Inf). */
spectra_status spectra_svd_exact(const float *X, size_t rows, size_t cols, double *s, double *U, double *V);

/* Spike size per SPEC §3: k* = the i in 1..max(1, floor(r/4)) maximizing s_i / s_{i+1}
 * (first one on ties; a zero s_{i+1} after a positive s_i counts as an infinite gap). */
typedef struct spectra_spike_stats {
    size_t r;          /* number of singular values */
    size_t k_star;     /* 1-based */
    double k_frac;     /* k* / r */
    double gap;        /* s_{k*} / s_{k*+1} (INFINITY if s_{k*+1} == 0) */
    double energy;     /* CDF(k*): share of Σ s² in the top k* */
} spectra_spike_stats;
spectra_status spectra_spike_size(const double *s, size_t r, spectra_spike_stats *out);

/* cdf[j-1] = Σ_{i<=j} s_i² / Σ_i s_i² for j = 1..r (all zeros for an all-zero s). */
spectra_status spectra_energy_cdf(const double *s, size_t r, double *cdf);
/* Σ_{i<=k} s_i² / Σ s_i² (k clamped to r). */
double spectra_energy_share(const double *s, size_t r, size_t k);

/* ---- AdamW tail suppression (paper §2.3) ----
 * M_s = P_k(M), M_t = M − M_s, V_s = P_k(V), V_t = V − V_s with P_k the rank-k truncated
 * SVD. Elementwise: full = |M_t| / (sqrt(V_s + V_t) + eps) (= the tail of AdamW's actual
 * update, V_s + V_t = V clamped at 0), tail_only = |M_t| / (sqrt(|V_t|) + eps). */
typedef struct spectra_tail_stats {
    size_t k;
    double q_full[5], q_tail[5]; /* quantiles at 10, 25, 50, 75, 90 % */
    double median_ratio;         /* q_tail[2] / q_full[2] */
    double mean_log10_ratio;     /* mean over elements of log10(tail_only / full) */
} spectra_tail_stats;
/* full and tail_only (rows*cols floats each) receive the elementwise values; either may be
 * NULL. M and V are taken as given (no bias correction: it scales M_t and sqrt(V) alike up
 * to (1−β1^t)/sqrt(1−β2^t), which is 1 to within 1e-3 after a few hundred steps).
 * eps must be finite and >= 0 (else SPECTRA_ERR_INVALID_ARG); M and V must be finite (else
 * SPECTRA_ERR_NONFINITE naming the matrix, row and column). On error nothing is written. */
spectra_status spectra_tail_suppression(const float *M, const float *V, size_t rows, size_t cols, size_t k,
                                        double eps, float *full, float *tail_only, spectra_tail_stats *out);

/* Quantile q in [0, 1] of x[0..n) by linear interpolation between order statistics
 * (numpy's default); x is not modified. NaN, with the reason recorded for
 * spectra_last_error (SPECTRA_ERR_INVALID_ARG or _NOMEM), if x is NULL, n == 0, q is not
 * in [0, 1] (NaN included) or on allocation failure. */
double spectra_quantile(const float *x, size_t n, double q);

/* Histogram of log10(x) for x > 0 over [lo, hi) in `bins` equal bins, normalized to a
 * density (integrates to the fraction of x inside the range). Non-positive x are skipped.
 * lo and hi must be finite with lo < hi and a bin width (hi − lo) / bins that is finite
 * and nonzero, else SPECTRA_ERR_INVALID_ARG and density is not touched. */
spectra_status spectra_log10_histogram(const float *x, size_t n, double lo, double hi, size_t bins, double *density);

/* ---- relative variance (paper §2.4) ----
 * a[k] = u_kᵀ G v_k for k < nk, with U (rows x r) and V (cols x r) column-major from
 * spectra_svd_exact of the reference gradient. */
spectra_status spectra_spectral_projections(const float *G, size_t rows, size_t cols, const double *U, const double *V,
                                            size_t r, size_t nk, double *a);
/* relvar[k] = Var_i(a[i*nk + k]) / s[k]², the sample variance with n−1 (unbiased) over the
 * n >= 2 rows of a (n x nk, row i = micro-batch i). s[k] == 0 gives INFINITY. */
spectra_status spectra_relvar(const double *a, size_t n, size_t nk, const double *s, double *relvar);

/* ---- Newton–Schulz alignment (paper §2.5) ----
 * align[i] = max_j |⟨v_i, v̂_j⟩| for i < r, v the right singular vectors of G and v̂ those
 * of NS(G) = `steps` steps of Muon's iteration (eps 1e-7, Muon's default). s_g and s_ns
 * (r each, may be NULL) receive the singular values of G and NS(G).
 * bf16_emulation = 0: the fp32 iteration of this library's Muon (spectra_newton_schulz).
 * In exact arithmetic NS(G) = U f(Σ) Vᵀ keeps G's singular vectors, so any misalignment is
 * numerical; 1: Keller Jordan's muon.py as torch runs it, every op rounded to bfloat16
 * (products accumulated in fp32), the setting in which the paper measured §2.5.
 * G must be finite (else SPECTRA_ERR_NONFINITE naming the row and column). */
spectra_status spectra_ns_alignment(const float *G, size_t rows, size_t cols, int steps, int bf16_emulation,
                                    double *align, double *s_g, double *s_ns);

/* ---- gradients of a model ---- */

/* FreqNorm weights: weight[t] = N / (V_seen · max(c_t, 1)) with c_t the count of token t in
 * the shards, N their total token count and V_seen the number of distinct tokens seen —
 * i.e. 1/f(t) scaled so that the mean weight over the corpus' token occurrences is 1
 * (the loss keeps its scale on average; unseen tokens get the weight of a single
 * occurrence). `weights` has vocab_size floats. */
spectra_status spectra_token_weights_freqnorm(const char *const *shards, size_t n_shards, uint32_t vocab_size,
                                              float *weights);

/* Shuffle: sentence_end[t] = 1 when token t decodes to ".", "!" or "?" (ignoring
 * surrounding ASCII whitespace) or is end-of-text; `sentence_end` has vocab_size bytes. */
spectra_status spectra_sentence_end_tokens(const spectra_tokenizer *tok, uint32_t vocab_size, uint8_t *sentence_end);

/* Permutes the tokens of a window w[0..n) in place within each sentence: a sentence is a
 * maximal run of tokens not flagged in sentence_end; the flagged tokens stay where they
 * are, so sentence boundaries and the bag of tokens per sentence are kept. Uniform
 * (Fisher–Yates) with a generator seeded from `seed`. */
void spectra_shuffle_sentences(int32_t *w, size_t n, const uint8_t *sentence_end, uint64_t seed);

typedef struct spectra_grad_opts {
    int n_batches;               /* batches drawn from the loader (>= 1) */
    const float *token_weights;  /* vocab_size weights of the target token (FreqNorm), or NULL */
    const uint8_t *sentence_end; /* non-NULL: Shuffle each window (inputs + last target) first */
    uint64_t shuffle_seed;
} spectra_grad_opts;

/* Zeroes the model's gradients and leaves in spectra_model_grads(model) the mean over
 * n_batches of the gradient of the (optionally weighted) mean token loss of each B x T
 * batch from `loader`. *mean_loss (may be NULL) = mean of the batch losses. Shuffle
 * permutes the window before it is split into inputs and targets, so the model sees and
 * predicts the shuffled text. The loader's batch geometry (spectra_loader_get_config) must
 * be B x T, its vocab_size at most the model's, and T at most the model's max_seq_len:
 * otherwise SPECTRA_ERR_INVALID_ARG naming both values, before the gradients are zeroed or
 * the loader advances. */
spectra_status spectra_mean_gradient(spectra_model *model, spectra_loader *loader, int B, int T,
                                     const spectra_grad_opts *opts, double *mean_loss);

#ifdef __cplusplus
}
#endif
#endif
