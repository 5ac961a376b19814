/* prune.c — magnitude pruning of the MLP: unstructured per layer or global (one threshold), and
 * structured (whole hidden neurons by the L2 norm of their incoming weights). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/sparse.h"

typedef struct {
    float mag;
    size_t layer, index;  /* index within the layer; (layer, index) orders ties */
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->mag != y->mag) return x->mag < y->mag ? -1 : 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Zeros the k smallest-magnitude entries among nl arrays. */
static void prune_k(float *const *w, const size_t *n, size_t nl, size_t k)
{
    size_t total = 0;
    for (size_t l = 0; l < nl; l++) total += n[l];
    if (k == 0 || total == 0) return;
    if (k > total) k = total;
    entry *e = pw_xmalloc(total * sizeof *e);
    size_t t = 0;
    for (size_t l = 0; l < nl; l++)
        for (size_t i = 0; i < n[l]; i++) e[t++] = (entry){fabsf(w[l][i]), l, i};
    qsort(e, total, sizeof *e, cmp_entry);
    for (size_t i = 0; i < k; i++) w[e[i].layer][e[i].index] = 0.0f;
    free(e);
}

static size_t count_for(double sparsity, size_t n)
{
    if (!(sparsity > 0)) return 0;
    if (sparsity >= 1) return n;
    return (size_t)floor(sparsity * (double)n + 1e-9);
}

void pw_prune_magnitude(float *w, size_t n, double sparsity)
{
    prune_k(&w, &n, 1, count_for(sparsity, n));
}

void pw_prune_layers(pw_mlp *m, double sparsity)
{
    for (int l = 0; l < PW_MLP_LAYERS; l++)
        pw_prune_magnitude(m->w[l], m->dims[l] * m->dims[l + 1], sparsity);
}

void pw_prune_global(pw_mlp *m, double sparsity)
{
    size_t n[PW_MLP_LAYERS], total = 0;
    for (int l = 0; l < PW_MLP_LAYERS; l++) total += n[l] = m->dims[l] * m->dims[l + 1];
    prune_k(m->w, n, PW_MLP_LAYERS, count_for(sparsity, total));
}

typedef struct {
    double norm;
    size_t index;
} neuron;

static int cmp_neuron(const void *a, const void *b)
{
    const neuron *x = a, *y = b;
    if (x->norm != y->norm) return x->norm < y->norm ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

pw_mlp *pw_prune_neurons(const pw_mlp *m, double fraction)
{
    /* keep[l][j]: whether neuron j of hidden layer l (output of layer l) stays. */
    unsigned char *keep[PW_MLP_LAYERS + 1] = {NULL};
    size_t nd[PW_MLP_LAYERS + 1];
    memcpy(nd, m->dims, sizeof nd);
    for (int l = 0; l <= PW_MLP_LAYERS; l++) {
        keep[l] = pw_xmalloc(m->dims[l]);
        memset(keep[l], 1, m->dims[l]);
    }
    for (int l = 1; l < PW_MLP_LAYERS; l++) {
        size_t width = m->dims[l], in = m->dims[l - 1];
        size_t drop = (size_t)llround(fraction * (double)width);
        if (drop >= width) drop = width - 1;
        neuron *nn = pw_xmalloc(width * sizeof *nn);
        for (size_t j = 0; j < width; j++) {
            double s = 0;
            for (size_t k = 0; k < in; k++) s += (double)m->w[l - 1][j * in + k] * m->w[l - 1][j * in + k];
            nn[j] = (neuron){sqrt(s), j};
        }
        qsort(nn, width, sizeof *nn, cmp_neuron);
        for (size_t i = 0; i < drop; i++) keep[l][nn[i].index] = 0;
        nd[l] = width - drop;
        free(nn);
    }
    pw_mlp *s = pw_mlp_new(nd);
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        size_t r2 = 0;
        for (size_t r = 0; r < m->dims[l + 1]; r++) {
            if (!keep[l + 1][r]) continue;
            size_t c2 = 0;
            for (size_t c = 0; c < m->dims[l]; c++)
                if (keep[l][c]) s->w[l][r2 * nd[l] + c2++] = m->w[l][r * m->dims[l] + c];
            s->b[l][r2++] = m->b[l][r];
        }
    }
    for (int l = 0; l <= PW_MLP_LAYERS; l++) free(keep[l]);
    return s;
}

void pw_prune_masks(const pw_mlp *m, float *masks[PW_MLP_LAYERS])
{
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        size_t n = m->dims[l] * m->dims[l + 1];
        masks[l] = pw_xmalloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) masks[l][i] = m->w[l][i] != 0.0f ? 1.0f : 0.0f;
    }
}
