/* test_mnist.c — IDX parsing on small gzip files made here (good, truncated, wrong magic,
 * mismatched counts, trailing bytes, missing), the real Fashion-MNIST test split when installed,
 * and the MLP: deterministic training on a fixed real subset and the checksummed weight cache;
 * what the shared publishers mark (accuracies fixed-sample, the training time undecidable). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "perfweave/common.h"
#include "perfweave/mlp.h"
#include "perfweave/mnist.h"
#include "perfweave/env.h"
#include "perfweave/store.h"
#include "../../src/experiments/mnistexp.h"

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Writes an IDX file: magic, ndim dims, then `bytes` payload bytes (value i % 251). */
static void write_idx(const char *path, uint32_t magic, int ndim, const uint32_t *dims,
                      size_t bytes)
{
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    unsigned char h[16];
    put32(h, magic);
    for (int i = 0; i < ndim; i++) put32(h + 4 + 4 * i, dims[i]);
    assert_int_equal(gzwrite(f, h, 4 + 4 * (unsigned)ndim), 4 + 4 * ndim);
    for (size_t i = 0; i < bytes; i++) {
        unsigned char c = (unsigned char)(i % 251 % 10 == i % 251 ? i % 251 : i % 10);
        assert_int_equal(gzwrite(f, &c, 1), 1);
    }
    assert_int_equal(gzclose(f), Z_OK);
}

static char *split_path(const char *dir, const char *kind)
{
    return pw_xasprintf("%s/train-%s", dir, kind);
}

static void write_split(const char *dir, uint32_t nimg, size_t img_bytes, uint32_t nlab,
                        size_t lab_bytes, uint32_t img_magic)
{
    char *ip = split_path(dir, "images-idx3-ubyte.gz"), *lp = split_path(dir, "labels-idx1-ubyte.gz");
    uint32_t idims[3] = {nimg, 2, 3}, ldims[1] = {nlab};
    write_idx(ip, img_magic, 3, idims, img_bytes);
    write_idx(lp, 0x801, 1, ldims, lab_bytes);
    free(ip);
    free(lp);
}

static void test_good(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    write_split(dir, 4, 4 * 6, 4, 4, 0x803);
    pw_mnist d;
    char msg[512];
    assert_int_equal(pw_mnist_load(dir, "train", &d, msg, sizeof msg), PW_OK);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.rows, 2);
    assert_int_equal(d.cols, 3);
    for (size_t i = 0; i < 24; i++) assert_int_equal(d.pixels[i], i % 10);
    for (size_t i = 0; i < 4; i++) assert_int_equal(d.labels[i], i);
    pw_mnist_release(&d);
    pw_mnist_release(&d); /* idempotent on a zeroed struct */
    pw_test_rmtree(dir);
    free(dir);
}

static void expect_fail(const char *dir, int status, const char *needle1, const char *needle2)
{
    pw_mnist d;
    char msg[512] = "";
    assert_int_equal(pw_mnist_load(dir, "train", &d, msg, sizeof msg), status);
    assert_null(d.pixels);
    if (!strstr(msg, needle1) || (needle2 && !strstr(msg, needle2)))
        fail_msg("message '%s' lacks '%s' / '%s'", msg, needle1, needle2 ? needle2 : "");
}

static void test_truncated(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    write_split(dir, 4, 3 * 6 + 2, 4, 4, 0x803); /* header says 4 images; 3⅓ present */
    expect_fail(dir, PW_EINVAL, "truncated data", "train-images-idx3-ubyte.gz");
    /* A gzip stream cut in the middle. */
    write_split(dir, 4, 4 * 6, 4, 4, 0x803);
    char *lp = split_path(dir, "labels-idx1-ubyte.gz");
    size_t len;
    char *bytes = pw_read_file(lp, &len);
    assert_non_null(bytes);
    assert_int_equal(pw_write_file_atomic(lp, bytes, len - 9), PW_OK);
    expect_fail(dir, PW_EINVAL, "train-labels-idx1-ubyte.gz", NULL);
    /* Header itself cut short. */
    assert_int_equal(pw_write_file_atomic(lp, "\0\0\x08", 3), PW_OK);
    expect_fail(dir, PW_EINVAL, "truncated header", NULL);
    free(bytes);
    free(lp);
    pw_test_rmtree(dir);
    free(dir);
}

static void test_wrong_magic(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    write_split(dir, 4, 4 * 6, 4, 4, 0x801);
    expect_fail(dir, PW_EINVAL, "wrong magic 0x00000801", "images");
    pw_test_rmtree(dir);
    free(dir);
}

static void test_mismatch_and_trailing(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    write_split(dir, 4, 4 * 6, 3, 3, 0x803);
    expect_fail(dir, PW_EINVAL, "has 3 labels but", "has 4 images");
    write_split(dir, 4, 4 * 6 + 5, 4, 4, 0x803);
    expect_fail(dir, PW_EINVAL, "unexpected bytes after", NULL);
    write_split(dir, 0, 0, 0, 0, 0x803);
    expect_fail(dir, PW_EINVAL, "dimension 0 is 0", NULL);
    /* A label outside 0-9. */
    char *lp = split_path(dir, "labels-idx1-ubyte.gz");
    uint32_t nl[1] = {4};
    write_split(dir, 4, 24, 4, 4, 0x803);
    gzFile f = gzopen(lp, "wb");
    unsigned char h[12] = {0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 42};
    (void)nl;
    gzwrite(f, h, 12);
    gzclose(f);
    expect_fail(dir, PW_EINVAL, "label 42 at index 3", NULL);
    free(lp);
    pw_test_rmtree(dir);
    free(dir);
}

static void test_missing(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    expect_fail(dir, PW_ENOTFOUND, "cannot open", "dataset-fashion-mnist");
    expect_fail(dir, PW_ENOTFOUND, "train-images-idx3-ubyte.gz", NULL);
    pw_mnist d;
    char msg[256];
    assert_int_equal(pw_mnist_load(dir, "valid", &d, msg, sizeof msg), PW_EINVAL);
    pw_test_rmtree(dir);
    free(dir);
}

static int have_dataset(void)
{
    struct stat st;
    return stat(PW_MNIST_DIR "/t10k-images-idx3-ubyte.gz", &st) == 0;
}

static void test_real_test_split(void **state)
{
    (void)state;
    if (!have_dataset()) skip();
    pw_mnist d;
    char msg[512];
    assert_int_equal(pw_mnist_load(NULL, "t10k", &d, msg, sizeof msg), PW_OK);
    assert_int_equal(d.n, 10000);
    assert_int_equal(d.rows, 28);
    assert_int_equal(d.cols, 28);
    /* The published test split is balanced: exactly 1000 images per class. */
    size_t count[10] = {0};
    for (size_t i = 0; i < d.n; i++) count[d.labels[i]]++;
    for (int c = 0; c < 10; c++) assert_int_equal(count[c], 1000);
    pw_mnist_release(&d);
}

/* A fixed real subset: the first 512 test images (small and already loaded quickly). */
static void subset(pw_mnist *sub)
{
    char msg[512];
    assert_int_equal(pw_mnist_load(NULL, "t10k", sub, msg, sizeof msg), PW_OK);
    sub->n = 512;
}

static void small_config(pw_mlp_config *c)
{
    pw_mlp_config_default(c);
    c->epochs = 1;
    c->batch = 64;
    c->seed = 7;
}

static void test_training_deterministic(void **state)
{
    (void)state;
    if (!have_dataset()) skip();
    pw_mnist d;
    subset(&d);
    pw_mlp_config c;
    small_config(&c);
    pw_mlp *a = pw_mlp_new(c.dims), *b = pw_mlp_new(c.dims);
    pw_mlp_history ha, hb;
    assert_int_equal(pw_mlp_train(a, &c, 1, &d, NULL, NULL, &ha), PW_OK);
    assert_int_equal(pw_mlp_train(b, &c, 1, &d, NULL, NULL, &hb), PW_OK);
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        assert_memory_equal(a->w[l], b->w[l], c.dims[l] * c.dims[l + 1] * sizeof(float));
        assert_memory_equal(a->b[l], b->b[l], c.dims[l + 1] * sizeof(float));
    }
    assert_true(ha.curve[0].train_loss == hb.curve[0].train_loss);
    assert_true(isfinite(ha.curve[0].train_loss));
    /* Another seed gives another network. */
    c.seed = 8;
    assert_int_equal(pw_mlp_train(b, &c, 1, &d, NULL, NULL, NULL), PW_OK);
    assert_memory_not_equal(a->w[0], b->w[0], 784 * 256 * sizeof(float));
    /* A few more epochs on the subset lower the loss (the gradient points the right way). */
    c.epochs = 4;
    pw_mlp_history h4;
    assert_int_equal(pw_mlp_train(b, &c, 1, &d, NULL, NULL, &h4), PW_OK);
    assert_true(h4.curve[3].train_loss < h4.curve[0].train_loss);
    /* A mask keeps pruned weights at zero through training. */
    float *mask[PW_MLP_LAYERS] = {NULL, NULL, NULL};
    mask[1] = pw_xmalloc(256 * 128 * sizeof(float));
    for (size_t i = 0; i < 256 * 128; i++) mask[1][i] = (float)(i % 2);
    c.epochs = 1;
    assert_int_equal(pw_mlp_train(b, &c, 0, &d, NULL, mask, NULL), PW_OK);
    for (size_t i = 0; i < 256 * 128; i += 2) assert_true(b->w[1][i] == 0.0f);
    assert_true(pw_mlp_zero_weights(b) >= 128 * 128);
    free(mask[1]);
    pw_mlp_history_release(&ha);
    pw_mlp_history_release(&hb);
    pw_mlp_history_release(&h4);
    pw_mlp_free(a);
    pw_mlp_free(b);
    pw_mnist_release(&d);
}

static void test_cache(void **state)
{
    (void)state;
    if (!have_dataset()) skip();
    pw_mnist d;
    subset(&d);
    pw_mlp_config c;
    small_config(&c);
    char *dir = pw_test_tmpdir();
    char *cache = pw_xasprintf("%s/models", dir);
    char warn[512];
    int trained;
    pw_mlp *m = NULL, *again = NULL;
    pw_mlp_history h, h2;
    assert_int_equal(pw_mlp_obtain(&c, cache, &d, &d, &m, &h, &trained, warn, sizeof warn), PW_OK);
    assert_int_equal(trained, 1);
    assert_string_equal(warn, "");
    assert_int_equal(h.nepochs, 1);
    assert_true(h.curve[0].test_acc >= 0 && h.curve[0].test_acc <= 1);
    assert_int_equal(pw_mlp_obtain(&c, cache, &d, &d, &again, &h2, &trained, warn, sizeof warn), PW_OK);
    assert_int_equal(trained, 0);
    assert_memory_equal(m->w[0], again->w[0], 784 * 256 * sizeof(float));
    assert_true(h2.curve[0].train_loss == h.curve[0].train_loss);
    pw_mlp_free(again);
    pw_mlp_history_release(&h2);
    /* Another configuration does not accept this file. */
    char *path = pw_mlp_cache_path(&c, cache);
    pw_mlp_config other = c;
    other.seed = 99;
    char msg[512];
    assert_int_equal(pw_mlp_load(path, &other, &again, &h2, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "another training configuration"));
    /* One flipped byte fails the checksum; obtain retrains with a warning. */
    size_t len;
    char *bytes = pw_read_file(path, &len);
    bytes[len / 2] ^= 0x40;
    assert_int_equal(pw_write_file_atomic(path, bytes, len), PW_OK);
    assert_int_equal(pw_mlp_load(path, &c, &again, &h2, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "checksum mismatch"));
    assert_int_equal(pw_mlp_obtain(&c, cache, &d, &d, &again, &h2, &trained, warn, sizeof warn), PW_OK);
    assert_int_equal(trained, 1);
    assert_non_null(strstr(warn, "checksum mismatch"));
    assert_memory_equal(m->w[2], again->w[2], 128 * 10 * sizeof(float));
    pw_mlp_free(again);
    pw_mlp_history_release(&h2);
    /* Truncated file. */
    assert_int_equal(pw_write_file_atomic(path, bytes, 20), PW_OK);
    assert_int_equal(pw_mlp_load(path, &c, &again, &h2, msg, sizeof msg), PW_EINVAL);
    free(bytes);
    free(path);

    /* The key includes what the model depends on: a model trained by other code (or on another
     * machine) is another file, a miss that trains again, and refused under the wrong name. */
    pw_mlp_config old = c, now = c;
    snprintf(old.depends, sizeof old.depends, "code=0123456789abcdef machine=aaaaaaaaaaaaaaaa");
    snprintf(now.depends, sizeof now.depends, "code=fedcba9876543210 machine=aaaaaaaaaaaaaaaa");
    char *pold = pw_mlp_cache_path(&old, cache), *pnow = pw_mlp_cache_path(&now, cache);
    assert_string_not_equal(pold, pnow);
    assert_int_equal(pw_mlp_obtain(&old, cache, &d, &d, &again, &h2, &trained, warn, sizeof warn), PW_OK);
    assert_int_equal(trained, 1);
    pw_mlp_free(again);
    pw_mlp_history_release(&h2);
    assert_int_equal(pw_mlp_obtain(&now, cache, &d, &d, &again, &h2, &trained, warn, sizeof warn), PW_OK);
    assert_int_equal(trained, 1); /* not the old code's model, nor its training time */
    pw_mlp_free(again);
    pw_mlp_history_release(&h2);
    assert_int_equal(pw_mlp_obtain(&old, cache, &d, &d, &again, &h2, &trained, warn, sizeof warn), PW_OK);
    assert_int_equal(trained, 0);
    pw_mlp_free(again);
    pw_mlp_history_release(&h2);
    assert_int_equal(pw_mlp_load(pold, &now, &again, &h2, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "another training configuration"));
    free(pold);
    free(pnow);
    pw_mlp_free(m);
    pw_mlp_history_release(&h);
    pw_mnist_release(&d);
    pw_test_rmtree(dir);
    free(dir);
    free(cache);
}

/* The report's depends string names the training code's hash and this machine's fingerprint. */
static void test_model_depends(void **state)
{
    (void)state;
    char a[160], b[160];
    pw_mnistexp_model_depends(a, sizeof a);
    pw_mnistexp_model_depends(b, sizeof b);
    assert_string_equal(a, b);
    json_t *env = pw_env_capture();
    char *fp = pw_env_fingerprint_hash(env);
    char *want = pw_xasprintf(" machine=%s", fp);
    assert_int_equal(strncmp(a, "code=", 5), 0);
    assert_int_equal(strspn(a + 5, "0123456789abcdef"), 16);
    assert_string_equal(a + 21, want);
    assert_non_null(pw_impl_file_hash("src/kernels/mlp.c")); /* the code hashed is in the build */
    /* The report's configuration with it gives another cache file than without. */
    pw_mlp_config c, d;
    pw_mlp_config_default(&c);
    d = c;
    snprintf(d.depends, sizeof d.depends, "%s", a);
    char *pc = pw_mlp_cache_path(&c, "x"), *pd = pw_mlp_cache_path(&d, "x");
    assert_string_not_equal(pc, pd);
    char *key = pw_mlp_config_key(&d);
    assert_non_null(strstr(key, a));
    free(key);
    free(pc);
    free(pd);
    free(want);
    free(fp);
    json_decref(env);
}

/* Every accuracy and paired drop carries its basis and the fixed-sample sentence, whoever
 * publishes it; the training time is one timing that decides no claim, and a cached model's is
 * said to be the earlier run's. */
static void test_publish_marks(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("quantization.mlp", "q");
    assert_close(pw_mnistexp_publish_accuracy(r, "accuracy.fp32", 8000, 10000), 0.8, 1e-12);
    pw_mnistexp_paired mc = {30, 10, 10000, 0.002, 0.002, 0.0008, 0.0032};
    pw_mnistexp_publish_drop(r, "drop.accuracy.int8_vs_fp32", &mc);
    pw_metric m;
    assert_int_equal(pw_result_get_metric(r, "accuracy.fp32", &m), PW_OK);
    assert_close(m.n, 10000, 0);
    assert_non_null(m.fixed_sample);
    assert_non_null(strstr(m.fixed_sample, "10000-image test set is all there is"));
    assert_int_equal(pw_result_get_metric(r, "drop.accuracy.int8_vs_fp32", &m), PW_OK);
    assert_close(m.value, 0.002, 0);
    assert_close(m.lo, 0.0008, 0);
    assert_close(m.n, 10000, 0);
    assert_non_null(strstr(m.fixed_sample, "the same pairs"));

    pw_mnistexp e;
    memset(&e, 0, sizeof e);
    pw_mlp_config_default(&e.cfg);
    e.hist.train_seconds = 12.5;
    e.trained = 1;
    pw_mnistexp_publish_training(&e, r);
    assert_int_equal(pw_result_get_metric(r, "time.training", &m), PW_OK);
    assert_close(m.value, 12.5, 0);
    assert_string_equal(m.undecidable_why, "too_few_samples");
    assert_non_null(strstr(m.undecidable_reason, "one training run"));
    pw_result_free(r);
    r = pw_result_new("quantization.mlp", "q");
    e.trained = 0;
    pw_mnistexp_publish_training(&e, r);
    assert_int_equal(pw_result_get_metric(r, "time.training", &m), PW_OK);
    assert_string_equal(m.undecidable_why, "too_few_samples");
    assert_non_null(strstr(m.undecidable_reason, "cached model"));
    assert_non_null(strstr(m.undecidable_reason, "not measured in this run"));
    pw_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_mismatch_and_trailing),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_real_test_split),
        cmocka_unit_test(test_training_deterministic),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_model_depends),
        cmocka_unit_test(test_publish_marks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
