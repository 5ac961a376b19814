/* test_sparse.c — CSR storage and the CSR × dense kernel against dense products (exactly on
 * integer-valued data, closely on random data), magnitude pruning (per layer, global,
 * structured) and the sparse and feature-major forward passes against the dense model. */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/sparse.h"

static uint64_t st = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    st ^= st >> 12;
    st ^= st << 25;
    st ^= st >> 27;
    return st * 2685821657736338717ull;
}
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static void dense_ref(const float *A, size_t rows, size_t cols, const float *X, size_t n, double *Y)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t t = 0; t < n; t++) {
            double s = 0;
            for (size_t c = 0; c < cols; c++) s += (double)A[r * cols + c] * X[c * n + t];
            Y[r * n + t] = s;
        }
}

static void test_csr_storage(void **state)
{
    (void)state;
    const size_t rows = 5, cols = 7;
    float w[35] = {0}, back[35];
    w[0] = 1;
    w[8] = -2;
    w[13] = 3;
    w[34] = 4; /* row 3 empty */
    pw_csr m;
    assert_int_equal(pw_csr_from_dense(w, rows, cols, &m), PW_OK);
    assert_int_equal(m.nnz, 4);
    assert_int_equal(pw_csr_bytes(&m), 4 * 6 + 6 * 4);
    assert_int_equal(m.rowptr[3], m.rowptr[4]);
    pw_csr_to_dense(&m, back);
    assert_memory_equal(w, back, sizeof w);
    pw_csr_release(&m);
    pw_csr_release(&m);
    float *wide = pw_xcalloc(70000, sizeof(float));
    assert_int_equal(pw_csr_from_dense(wide, 1, 70000, &m), PW_ERANGE);
    free(wide);
}

static void test_spmm(void **state)
{
    (void)state;
    static const size_t ns[] = {1, 7, 8, 31, 32, 33, 100};
    const size_t rows = 37, cols = 53;
    float *A = pw_xmalloc(rows * cols * sizeof(float));
    float *X = pw_xmalloc(cols * 100 * sizeof(float)), *Y = pw_xmalloc(rows * 100 * sizeof(float));
    double *R = pw_xmalloc(rows * 100 * sizeof(double));
    for (int integer = 1; integer >= 0; integer--)
        for (double density = 0.05; density < 1.01; density += 0.45) {
            for (size_t i = 0; i < rows * cols; i++) {
                double v = integer ? (double)((int)(rnd() % 9) - 4) : unif() - 0.5;
                A[i] = unif() < density ? (float)v : 0.0f;
            }
            pw_csr m;
            assert_int_equal(pw_csr_from_dense(A, rows, cols, &m), PW_OK);
            for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
                size_t n = ns[a];
                for (size_t i = 0; i < cols * n; i++)
                    X[i] = integer ? (float)((int)(rnd() % 7) - 3) : (float)(unif() * 2 - 1);
                dense_ref(A, rows, cols, X, n, R);
                /* The host's path, then the portable one forced by a CPU without AVX2. */
                pw_cpu_info none;
                memset(&none, 0, sizeof none);
                assert_false(pw_csr_spmm_simd(&none));
                for (int path = 0; path < 2; path++) {
                    if (path == 0) pw_csr_spmm(&m, X, n, n, Y, n);
                    else pw_csr_spmm_on(&none, &m, X, n, n, Y, n);
                    for (size_t i = 0; i < rows * n; i++) {
                        if (integer) assert_true(Y[i] == (float)R[i]); /* exact: small integers */
                        else if (fabs(Y[i] - R[i]) > 1e-5 * (1 + fabs(R[i])))
                            fail_msg("path %d n %zu: %g vs %g", path, n, (double)Y[i], R[i]);
                    }
                }
            }
            pw_csr_release(&m);
        }
    free(A);
    free(X);
    free(Y);
    free(R);
}

static void test_prune_magnitude(void **state)
{
    (void)state;
    float w[10] = {0.5f, -0.1f, 0.3f, -0.3f, 0.0f, 2.0f, -0.05f, 0.3f, 1.0f, -0.7f};
    pw_prune_magnitude(w, 10, 0.5);
    /* Smallest five magnitudes: 0 (idx 4), 0.05 (6), 0.1 (1), then ties at 0.3: idx 2, 3. */
    const float want[10] = {0.5f, 0, 0, 0, 0, 2.0f, 0, 0.3f, 1.0f, -0.7f};
    assert_memory_equal(w, want, sizeof w);
    pw_prune_magnitude(w, 10, 0.0);
    assert_memory_equal(w, want, sizeof w);
    pw_prune_magnitude(w, 10, 1.0);
    for (int i = 0; i < 10; i++) assert_true(w[i] == 0);
}

static pw_mlp *random_mlp(const size_t dims[4])
{
    pw_mlp *m = pw_mlp_new(dims);
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < dims[l] * dims[l + 1]; i++)
            m->w[l][i] = (float)((unif() - 0.5) * (l + 1));
        for (size_t j = 0; j < dims[l + 1]; j++) m->b[l][j] = (float)(unif() - 0.5);
    }
    return m;
}

static void test_prune_layers_global(void **state)
{
    (void)state;
    const size_t dims[4] = {30, 20, 10, 4};
    pw_mlp *m = random_mlp(dims), *g = pw_mlp_clone(m);
    pw_prune_layers(m, 0.7);
    for (int l = 0; l < 3; l++) {
        size_t n = dims[l] * dims[l + 1], z = 0;
        for (size_t i = 0; i < n; i++) z += m->w[l][i] == 0;
        assert_int_equal(z, (size_t)floor(0.7 * (double)n + 1e-9));
    }
    pw_mlp *orig = pw_mlp_clone(g);
    pw_prune_global(g, 0.7);
    size_t total = 0, z = 0;
    float maxpruned = 0, minkept = INFINITY;
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < dims[l] * dims[l + 1]; i++) {
            total++;
            float a = fabsf(orig->w[l][i]);
            if (g->w[l][i] == 0) {
                z++;
                maxpruned = a > maxpruned ? a : maxpruned;
            } else {
                minkept = a < minkept ? a : minkept;
                assert_true(g->w[l][i] == orig->w[l][i]);
            }
        }
    assert_int_equal(z, (size_t)floor(0.7 * (double)total + 1e-9));
    assert_true(maxpruned <= minkept);
    /* Global pruning removes more of the layer with the smallest weights (layer 1 here). */
    size_t z0 = 0;
    for (size_t i = 0; i < 600; i++) z0 += g->w[0][i] == 0;
    assert_true(z0 > 420);
    float *masks[3];
    pw_prune_masks(g, masks);
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < dims[l] * dims[l + 1]; i++)
            assert_true(masks[l][i] == (g->w[l][i] != 0 ? 1.0f : 0.0f));
        free(masks[l]);
    }
    assert_int_equal(pw_mlp_zero_weights(g), z);
    pw_mlp_free(m);
    pw_mlp_free(g);
    pw_mlp_free(orig);
}

static void forward_rows(const pw_mlp *m, const uint8_t *px, size_t n, float *logits)
{
    float *work = pw_xmalloc(pw_mlp_work_floats(m, n) * sizeof(float));
    pw_mlp_forward(m, px, n, logits, work);
    free(work);
}

static void test_structured_and_sparse_forward(void **state)
{
    (void)state;
    const size_t dims[4] = {30, 20, 12, 4}, n = 9;
    pw_mlp *m = random_mlp(dims);
    uint8_t px[9 * 30];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(rnd() & 255);
    /* Structured: the shrunk network equals the original with those neurons silenced. */
    pw_mlp *s = pw_prune_neurons(m, 0.25);
    assert_int_equal(s->dims[1], 15);
    assert_int_equal(s->dims[2], 9);
    assert_int_equal(s->dims[0], 30);
    assert_int_equal(s->dims[3], 4);
    pw_mlp *silenced = pw_mlp_clone(m);
    for (int l = 1; l <= 2; l++) {
        /* A dropped neuron's incoming row has one of the smallest norms; find kept rows by
         * matching the shrunk network's rows. */
        size_t in = dims[l - 1];
        for (size_t j = 0; j < dims[l]; j++) {
            int kept = 0;
            for (size_t r = 0; r < s->dims[l] && !kept; r++) {
                if (l == 1) kept = memcmp(s->w[0] + r * in, m->w[0] + j * in, in * sizeof(float)) == 0;
                else kept = s->b[1][r] == m->b[1][j];
            }
            if (!kept) {
                memset(silenced->w[l - 1] + j * in, 0, in * sizeof(float));
                silenced->b[l - 1][j] = 0;
                for (size_t o = 0; o < dims[l + 1]; o++) silenced->w[l][o * dims[l] + j] = 0;
            }
        }
    }
    float a[9 * 4], b[9 * 4];
    forward_rows(s, px, n, a);
    forward_rows(silenced, px, n, b);
    for (size_t i = 0; i < n * 4; i++) assert_close(a[i], b[i], 1e-4);
    /* Sparse and dense feature-major passes of a pruned network match the row-major pass. */
    pw_prune_layers(m, 0.6);
    float xt[30 * 9], lt[4 * 9], ld[4 * 9], lr[9 * 4];
    pw_pixels_to_t(px, n, 30, xt);
    pw_sparse_mlp sp;
    assert_int_equal(pw_sparse_mlp_init(&sp, m), PW_OK);
    size_t nnz = sp.w[0].nnz + sp.w[1].nnz + sp.w[2].nnz;
    assert_int_equal(nnz, 600 + 240 + 48 - pw_mlp_zero_weights(m));
    assert_int_equal(pw_sparse_mlp_bytes(&sp),
                     nnz * 6 + (21 + 13 + 5) * 4 + (20 + 12 + 4) * 4);
    float *work = pw_xmalloc(pw_mlpt_work_floats(dims, n) * sizeof(float));
    pw_sparse_mlp_forward(&sp, xt, n, lt, work);
    pw_mlp_forward_t(m, xt, n, ld, work);
    forward_rows(m, px, n, lr);
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < 4; o++) {
            assert_close(lt[o * n + i], lr[i * 4 + o], 1e-4);
            assert_close(ld[o * n + i], lr[i * 4 + o], 1e-4);
        }
    /* Batch of one (the sgemv / gather-dot paths). */
    pw_pixels_to_t(px, 1, 30, xt);
    pw_sparse_mlp_forward(&sp, xt, 1, lt, work);
    pw_mlp_forward_t(m, xt, 1, ld, work);
    for (size_t o = 0; o < 4; o++) {
        assert_close(lt[o], lr[o], 1e-4);
        assert_close(ld[o], lr[o], 1e-4);
    }
    free(work);
    pw_sparse_mlp_release(&sp);
    pw_mlp_free(m);
    pw_mlp_free(s);
    pw_mlp_free(silenced);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csr_storage),
        cmocka_unit_test(test_spmm),
        cmocka_unit_test(test_prune_magnitude),
        cmocka_unit_test(test_prune_layers_global),
        cmocka_unit_test(test_structured_and_sparse_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
