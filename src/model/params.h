/* The parameter table: names, shapes and offsets of every tensor in the one parameter
 * allocation (the gradient allocation uses the same offsets). */
#ifndef SPECTRA_MODEL_PARAMS_H
#define SPECTRA_MODEL_PARAMS_H

#include "spectra/model.h"

/* head_dim with the 0 = d_model / n_heads default applied. */
int spectra_model_head_dim(const spectra_model_config *c);

/* Number of tensors a (valid) config has. */
size_t spectra_model_num_tensors_for(const spectra_model_config *c);

/* Fills table[0 .. spectra_model_num_tensors_for(c)) (table may be NULL to only count)
 * and returns the total number of floats. Within a layer wq, wk, wv are adjacent, as
 * are w_gate and w_up, so each group is also one fused [rows_sum x d_model] matrix that
 * a single sgemm can use. */
size_t spectra_model_build_table(const spectra_model_config *c, spectra_tensor_info *table);

/* Indices of a layer's tensors within the table, in table order. */
enum {
    SPECTRA_LT_ATTN_NORM = 0,
    SPECTRA_LT_WQ,
    SPECTRA_LT_WK,
    SPECTRA_LT_WV,
    SPECTRA_LT_WO,
    SPECTRA_LT_MLP_NORM,
    SPECTRA_LT_W_GATE,
    SPECTRA_LT_W_UP,
    SPECTRA_LT_W_DOWN,
    SPECTRA_LT_COUNT
};
/* Table index of tensor `which` of layer l (tok_emb is index 0). */
static inline size_t spectra_layer_tensor_index(int l, int which) {
    return 1 + (size_t)l * SPECTRA_LT_COUNT + (size_t)which;
}

#endif
