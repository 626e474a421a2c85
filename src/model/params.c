/* Parameter table layout. The order is fixed and part of the checkpoint format:
 * tok_emb, then per layer attn_norm, attn.{wq,wk,wv,wo}, mlp_norm, mlp.{w_gate,w_up,w_down},
 * then final_norm and (untied only) lm_head. No padding: the tensors tile the whole
 * array, so an optimizer may also treat params/grads as one flat vector. */
#include "model/params.h"

#include <stdio.h>
#include <string.h>

int spectra_model_head_dim(const spectra_model_config *c) {
    return c->head_dim > 0 ? c->head_dim : (c->n_heads > 0 ? c->d_model / c->n_heads : 0);
}

size_t spectra_model_num_tensors_for(const spectra_model_config *c) {
    return 1 + (size_t)c->n_layers * SPECTRA_LT_COUNT + 1 + (c->tied_embeddings ? 0 : 1);
}

static size_t add(spectra_tensor_info *table, size_t *idx, size_t offset, const char *name,
                  size_t rows, size_t cols, spectra_tensor_kind kind, int layer) {
    if (table) {
        spectra_tensor_info *t = &table[*idx];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->offset = offset;
        t->rows = rows;
        t->cols = cols;
        t->kind = kind;
        t->is_hidden_matrix = kind == SPECTRA_TENSOR_HIDDEN;
        t->layer = layer;
    }
    (*idx)++;
    return offset + rows * cols;
}

size_t spectra_model_build_table(const spectra_model_config *c, spectra_tensor_info *table) {
    const size_t d = (size_t)c->d_model, hd = (size_t)spectra_model_head_dim(c);
    const size_t q = (size_t)c->n_heads * hd, kv = (size_t)c->n_kv_heads * hd;
    const size_t ff = (size_t)c->d_ff, V = (size_t)c->vocab_size;
    size_t idx = 0, off = 0;
    char name[SPECTRA_TENSOR_NAME_MAX] = ""; /* named only when a table is filled */
    off = add(table, &idx, off, "tok_emb", V, d, SPECTRA_TENSOR_EMBEDDING, -1);
    for (int l = 0; l < c->n_layers; l++) {
#define LAYER(suffix, rows, cols, kind)                                        \
    if (table) snprintf(name, sizeof name, "layers.%d.%s", l, suffix);       \
    off = add(table, &idx, off, name, rows, cols, kind, l)
        LAYER("attn_norm", 1, d, SPECTRA_TENSOR_NORM);
        LAYER("attn.wq", q, d, SPECTRA_TENSOR_HIDDEN);
        LAYER("attn.wk", kv, d, SPECTRA_TENSOR_HIDDEN);
        LAYER("attn.wv", kv, d, SPECTRA_TENSOR_HIDDEN);
        LAYER("attn.wo", d, q, SPECTRA_TENSOR_HIDDEN);
        LAYER("mlp_norm", 1, d, SPECTRA_TENSOR_NORM);
        LAYER("mlp.w_gate", ff, d, SPECTRA_TENSOR_HIDDEN);
        LAYER("mlp.w_up", ff, d, SPECTRA_TENSOR_HIDDEN);
        LAYER("mlp.w_down", d, ff, SPECTRA_TENSOR_HIDDEN);
#undef LAYER
    }
    off = add(table, &idx, off, "final_norm", 1, d, SPECTRA_TENSOR_NORM, -1);
    if (!c->tied_embeddings) off = add(table, &idx, off, "lm_head", V, d, SPECTRA_TENSOR_HEAD, -1);
    return off;
}
