/* Named model shapes and config validation. */
#include "core/error.h"
#include "model/params.h"

#include <math.h>
#include <string.h>

typedef struct preset {
    const char *name;
    spectra_model_config config;
} preset;

/* vocab, max_seq_len, d_model, n_layers, n_heads, n_kv_heads, head_dim, d_ff, tied, theta, eps */
static const preset presets[] = {
    /* Unit tests: every code path (GQA, untied head) at a size a double-precision
     * reference can finite-difference in seconds. */
    {"tiny", {128, 16, 32, 2, 4, 2, 0, 96, 0, 10000.0f, 1e-5f}},
    /* CPU experiments: ~6.9M parameters, d_ff ~ 8/3 d rounded to 64. */
    {"small", {8192, 256, 256, 6, 8, 8, 0, 704, 1, 10000.0f, 1e-5f}},
    /* GPT-2-small budget with a Llama block: 123.6M parameters with the tied head. */
    {"llama-124m", {50257, 1024, 768, 12, 12, 12, 0, 2048, 1, 10000.0f, 1e-5f}},
    /* Benchmark shapes only (no q/k norms). Qwen3: head_dim 128 != 1024/16. */
    {"qwen3-0.6b", {151936, 4096, 1024, 28, 16, 8, 128, 3072, 1, 1000000.0f, 1e-6f}},
    {"llama3-8b", {128256, 8192, 4096, 32, 32, 8, 128, 14336, 0, 500000.0f, 1e-5f}},
};
#define N_PRESETS (sizeof presets / sizeof presets[0])

static const char *const preset_names[] = {"tiny", "small", "llama-124m", "qwen3-0.6b",
                                           "llama3-8b", NULL};

const char *const *spectra_model_preset_names(void) { return preset_names; }

spectra_status spectra_model_config_from_preset(const char *name, spectra_model_config *config) {
    if (!name || !config)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "model preset: NULL argument");
    for (size_t i = 0; i < N_PRESETS; i++)
        if (!strcmp(presets[i].name, name)) {
            *config = presets[i].config;
            return SPECTRA_OK;
        }
    return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                             "unknown model preset '%s' (known: tiny, small, llama-124m, "
                             "qwen3-0.6b, llama3-8b)",
                             name);
}

/* Dimensions are ints in the kernels; products are formed in size_t. 2^24 keeps every
 * per-row product (e.g. (n_heads + 2 n_kv_heads) * head_dim) far from INT_MAX. */
#define DIM_MAX (1 << 24)

spectra_status spectra_model_config_validate(const spectra_model_config *c) {
    if (!c) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "model config: NULL");
    struct {
        const char *name;
        int v;
    } dims[] = {{"vocab_size", c->vocab_size}, {"max_seq_len", c->max_seq_len},
                {"d_model", c->d_model},       {"n_layers", c->n_layers},
                {"n_heads", c->n_heads},       {"n_kv_heads", c->n_kv_heads},
                {"d_ff", c->d_ff}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v <= 0 || dims[i].v > DIM_MAX)
            return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                     "model config: %s = %d must be in [1, %d]", dims[i].name,
                                     dims[i].v, DIM_MAX);
    /* Bounded apart from the parameter count: with tiny widths, millions of layers fit in
     * it, and a model is built (and a checkpoint's config checked) layer by layer. */
    if (c->n_layers > SPECTRA_MODEL_LAYERS_MAX)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "model config: n_layers = %d must be at most %d",
                                 c->n_layers, SPECTRA_MODEL_LAYERS_MAX);
    if (c->n_heads % c->n_kv_heads != 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "model config: n_kv_heads = %d does not divide n_heads = %d",
                                 c->n_kv_heads, c->n_heads);
    if (c->head_dim < 0 || c->head_dim > DIM_MAX)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "model config: head_dim = %d must be 0 (auto) or positive",
                                 c->head_dim);
    if (c->head_dim == 0 && c->d_model % c->n_heads != 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "model config: n_heads = %d does not divide d_model = %d (set "
                                 "head_dim explicitly otherwise)",
                                 c->n_heads, c->d_model);
    int hd = spectra_model_head_dim(c);
    if (hd % 2 != 0)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "model config: head_dim = %d must be even for RoPE", hd);
    /* The tables are built when the model is: a checkpoint's config must not be able to ask
     * for gigabytes that its parameter count does not show. */
    if ((size_t)c->max_seq_len * (size_t)(hd / 2) > SPECTRA_MODEL_ROPE_MAX)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "model config: max_seq_len * head_dim / 2 = %zu RoPE entries; at most %zu",
                                 (size_t)c->max_seq_len * (size_t)(hd / 2), SPECTRA_MODEL_ROPE_MAX);
    if ((long long)(c->n_heads + 2LL * c->n_kv_heads) * hd > DIM_MAX)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "model config: (n_heads + 2 n_kv_heads) * head_dim too large");
    if (!(c->rope_theta > 1.0f) || !isfinite(c->rope_theta))
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "model config: rope_theta = %g must be finite and > 1",
                                 (double)c->rope_theta);
    if (!(c->norm_eps > 0.0f) || !isfinite(c->norm_eps))
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "model config: norm_eps = %g must be finite and > 0",
                                 (double)c->norm_eps);
    /* Each dimension is bounded, their products are not: counted in size_t, a config of
     * large but valid dimensions wrapped to a small count, and the model wrote past its
     * allocation. Counted in double (exact far beyond the cap) the same way as the table. */
    const double d = c->d_model, q = (double)c->n_heads * hd, kv = (double)c->n_kv_heads * hd, ff = c->d_ff;
    const double per_layer = 2 * d + q * d + 2 * kv * d + d * q + 3 * ff * d;
    const double total = (double)c->vocab_size * d * (c->tied_embeddings ? 1 : 2) + d + (double)c->n_layers * per_layer;
    if (total > (double)SPECTRA_MODEL_PARAMS_MAX)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "model config: %.3g parameters; at most %.3g (2^36) are supported", total,
                                 (double)SPECTRA_MODEL_PARAMS_MAX);
    return SPECTRA_OK;
}

size_t spectra_model_config_num_params(const spectra_model_config *config) {
    if (spectra_model_config_validate(config) != SPECTRA_OK) return 0;
    return spectra_model_build_table(config, NULL);
}
