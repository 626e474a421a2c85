/* spectra/model.h — a decoder-only transformer (Llama-style) in fp32 on the CPU.
 *
 * Architecture: token embedding -> n_layers x [RMSNorm -> causal multi-head attention
 * with RoPE and optional grouped KV heads -> residual add -> RMSNorm -> SwiGLU MLP ->
 * residual add] -> final RMSNorm -> LM head (tied to the embedding or separate) ->
 * softmax cross-entropy. No biases anywhere. See docs/MODEL.md.
 *
 * Usage:
 *   spectra_model_config cfg;
 *   spectra_model_config_from_preset("small", &cfg);
 *   spectra_model *m;
 *   spectra_model_create(&m, &cfg, seed);
 *   spectra_model_zero_grad(m);
 *   float loss;
 *   spectra_model_forward(m, inputs, targets, NULL, B, T, &loss);
 *   spectra_model_backward(m);              // grads += d loss / d params
 *   ... optimizer reads spectra_model_params(m) / spectra_model_grads(m) ...
 *   spectra_model_destroy(m);
 *
 * Memory: parameters, gradients and activations are each one 64-byte aligned allocation.
 * Every tensor is a row-major view into them (see spectra_model_tensor()). Linear weights
 * are stored `out x in` like torch.nn.Linear.weight, so y = x W^T.
 *
 * Threading: a model handle is not thread-safe; the calls themselves use OpenMP and
 * OpenBLAS internally (OMP_NUM_THREADS). */
#ifndef SPECTRA_MODEL_H
#define SPECTRA_MODEL_H

#include "spectra/status.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spectra_model_config {
    int vocab_size;
    int max_seq_len;     /* longest T accepted by forward; sizes the RoPE tables */
    int d_model;         /* residual stream width */
    int n_layers;
    int n_heads;         /* query heads */
    int n_kv_heads;      /* key/value heads; must divide n_heads (== n_heads: plain MHA) */
    int head_dim;        /* 0 = d_model / n_heads; may differ from it (Qwen3: 128) */
    int d_ff;            /* SwiGLU hidden width */
    int tied_embeddings; /* nonzero: the LM head is the token embedding matrix */
    float rope_theta;    /* RoPE base, 10000 for Llama 2 */
    float norm_eps;      /* RMSNorm epsilon (presets: 1e-5) */
} spectra_model_config;

/* Fills *config from a preset name: "tiny", "small", "llama-124m", "qwen3-0.6b",
 * "llama3-8b". Unknown name: SPECTRA_ERR_INVALID_ARG. Fields may be edited afterwards
 * (e.g. vocab_size for a trained tokenizer) before spectra_model_create. */
spectra_status spectra_model_config_from_preset(const char *name, spectra_model_config *config);

/* Names of the presets, NULL-terminated. */
const char *const *spectra_model_preset_names(void);

/* The largest parameter count a config may have (2^36, 69e9 floats; LLaMA3-8B has 8e9). */
#define SPECTRA_MODEL_PARAMS_MAX ((size_t)1 << 36)

/* The most layers a config may have (LLaMA3-405B has 126). */
#define SPECTRA_MODEL_LAYERS_MAX 4096

/* The largest RoPE table, max_seq_len * head_dim / 2 entries (two of them, 256 MiB each at
 * the bound; 1 M positions at head_dim 128). */
#define SPECTRA_MODEL_ROPE_MAX ((size_t)1 << 26)

/* Checks a config for consistency; the message says which field is wrong. Every dimension
 * is at most 2^24, n_layers at most SPECTRA_MODEL_LAYERS_MAX, the RoPE tables at most
 * SPECTRA_MODEL_ROPE_MAX entries and the parameter count at most SPECTRA_MODEL_PARAMS_MAX. */
spectra_status spectra_model_config_validate(const spectra_model_config *config);

/* Parameter count of a config without allocating (0 if invalid). */
size_t spectra_model_config_num_params(const spectra_model_config *config);

/* Bytes spectra_model_reserve(model, B, T) would allocate for the activations of a model
 * of this config, with the threads OpenMP would use now, without allocating anything: what
 * a program checks against the memory it has before building a large model (0 and a
 * message if the config or the shape is invalid). */
size_t spectra_model_config_activation_bytes(const spectra_model_config *config, int B, int T);

typedef enum spectra_tensor_kind {
    SPECTRA_TENSOR_EMBEDDING = 0, /* tok_emb */
    SPECTRA_TENSOR_HEAD = 1,      /* lm_head (untied only) */
    SPECTRA_TENSOR_NORM = 2,      /* RMSNorm gains (rows = 1) */
    SPECTRA_TENSOR_HIDDEN = 3     /* attention q/k/v/o and MLP gate/up/down matrices */
} spectra_tensor_kind;

#define SPECTRA_TENSOR_NAME_MAX 48

/* One named view into the parameter (and, at the same offset, the gradient) array. */
typedef struct spectra_tensor_info {
    char name[SPECTRA_TENSOR_NAME_MAX]; /* e.g. "layers.3.attn.wq", "tok_emb" */
    size_t offset;                      /* in floats from spectra_model_params() */
    size_t rows, cols;                  /* row-major; rows*cols floats */
    spectra_tensor_kind kind;
    int is_hidden_matrix;               /* kind == SPECTRA_TENSOR_HIDDEN */
    int layer;                          /* -1 for tok_emb, final_norm, lm_head */
} spectra_tensor_info;

typedef struct spectra_model spectra_model;

/* Allocates parameters and gradients and initializes the weights deterministically
 * from seed: normal(0, 0.02); attn.wo and mlp.w_down additionally scaled by
 * 1/sqrt(2 n_layers); norm gains 1; gradients 0. */
spectra_status spectra_model_create(spectra_model **model, const spectra_model_config *config,
                                    uint64_t seed);
void spectra_model_destroy(spectra_model *model);

/* Allocates the activations for batches up to B x T now rather than at the first
 * forward (keeps allocation out of timed loops). */
spectra_status spectra_model_reserve(spectra_model *model, int B, int T);

/* Runs the model on inputs[B*T] (row-major B x T token ids).
 * targets == NULL: computes the logits (spectra_model_logits), no loss.
 * targets != NULL: *loss (may be NULL) = (1/(B*T)) * sum_i w_i * (-log p_i(targets[i]))
 *   with w_i = loss_weights[i] if given, else 1; afterwards spectra_model_backward may
 *   be called once. The logits buffer then holds softmax probabilities. */
spectra_status spectra_model_forward(spectra_model *model, const int32_t *inputs,
                                     const int32_t *targets, const float *loss_weights, int B,
                                     int T, float *loss);

/* Adds d loss / d params of the last forward (which must have had targets) to the
 * gradients. Consumes the saved activations: a second backward needs a new forward. */
spectra_status spectra_model_backward(spectra_model *model);

void spectra_model_zero_grad(spectra_model *model);

const spectra_model_config *spectra_model_get_config(const spectra_model *model);
size_t spectra_model_num_params(const spectra_model *model);
float *spectra_model_params(spectra_model *model);
float *spectra_model_grads(spectra_model *model);
size_t spectra_model_num_tensors(const spectra_model *model);
/* NULL if index is out of range. */
const spectra_tensor_info *spectra_model_tensor(const spectra_model *model, size_t index);
/* NULL if no tensor has that name. */
const spectra_tensor_info *spectra_model_find_tensor(const spectra_model *model, const char *name);

/* After a forward without targets: logits of shape (B*T) x vocab_size, row-major, row
 * b*T + t for position t of sequence b. spectra_model_last_logits gives row b*T + T-1,
 * the next-token distribution for sampling. NULL before any forward. */
const float *spectra_model_logits(const spectra_model *model);
const float *spectra_model_last_logits(const spectra_model *model, int b);

/* After a forward with targets: the unweighted per-position loss -log p_i(targets[i]),
 * B*T floats. NULL otherwise. */
const float *spectra_model_token_losses(const spectra_model *model);

/* Bytes held by the activations currently allocated. */
size_t spectra_model_activation_bytes(const spectra_model *model);

#ifdef __cplusplus
}
#endif
#endif
