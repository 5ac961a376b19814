/* mnist.c — reads MNIST-style gzip'd IDX files (Fashion-MNIST from dataset-fashion-mnist) with
 * zlib, checking magic, dimensions, truncation, trailing bytes and image/label agreement. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "perfweave/common.h"
#include "perfweave/mnist.h"

#define IDX_IMAGES 0x00000803u
#define IDX_LABELS 0x00000801u
#define MAX_ITEMS 10000000u
#define MAX_SIDE 4096u

static void say(char *msg, size_t msgsize, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t msgsize, const char *fmt, ...)
{
    if (!msg || msgsize == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msgsize, fmt, ap);
    va_end(ap);
}

/* Reads exactly len bytes; returns PW_OK, PW_EINVAL for a short (truncated) read, PW_EIO. */
static int read_exact(gzFile f, const char *path, void *buf, size_t len, const char *what,
                      char *msg, size_t msgsize)
{
    size_t got = 0;
    unsigned char *p = buf;
    while (got < len) {
        size_t want = len - got > (1u << 30) ? (1u << 30) : len - got;
        int r = gzread(f, p + got, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *e = gzerror(f, &zerr);
            if (zerr == Z_BUF_ERROR || zerr == Z_DATA_ERROR) {
                say(msg, msgsize, "%s: truncated or corrupt %s (%s)", path, what, e);
                return PW_EINVAL;
            }
            say(msg, msgsize, "%s: read error in %s (%s)", path, what, e);
            return PW_EIO;
        }
        if (r == 0) {
            say(msg, msgsize, "%s: truncated %s (%zu of %zu bytes)", path, what, got, len);
            return PW_EINVAL;
        }
        got += (size_t)r;
    }
    return PW_OK;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Opens path, checks the magic and reads ndim dimensions, then reads the payload into a new
 * buffer (*data) and checks that nothing follows it. */
static int read_idx(const char *path, uint32_t magic, int ndim, uint32_t *dims, uint8_t **data,
                    size_t *len, char *msg, size_t msgsize)
{
    int st = PW_OK;
    uint8_t *buf = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        say(msg, msgsize, "cannot open %s: %s (the Fashion-MNIST files come from the Debian "
            "package %s)", path, errno ? strerror(errno) : "out of memory", PW_MNIST_PACKAGE);
        return PW_ENOTFOUND;
    }
    gzbuffer(f, 1u << 17);
    unsigned char hdr[16];
    if ((st = read_exact(f, path, hdr, 4 + 4 * (size_t)ndim, "header", msg, msgsize)) != PW_OK)
        goto out_close;
    uint32_t m = be32(hdr);
    if (m != magic) {
        say(msg, msgsize, "%s: wrong magic 0x%08x (expected 0x%08x: an IDX %s file)", path, m,
            magic, magic == IDX_IMAGES ? "uint8 image" : "uint8 label");
        st = PW_EINVAL;
        goto out_close;
    }
    size_t total = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        uint32_t lim = i == 0 ? MAX_ITEMS : MAX_SIDE;
        if (dims[i] == 0 || dims[i] > lim) {
            say(msg, msgsize, "%s: dimension %d is %u (expected 1 to %u)", path, i, dims[i], lim);
            st = PW_EINVAL;
            goto out_close;
        }
        total *= dims[i];
    }
    buf = pw_xmalloc(total);
    if ((st = read_exact(f, path, buf, total, "data", msg, msgsize)) != PW_OK) goto out_free;
    unsigned char extra;
    int r = gzread(f, &extra, 1);
    if (r > 0) {
        say(msg, msgsize, "%s: unexpected bytes after the %zu declared data bytes", path, total);
        st = PW_EINVAL;
        goto out_free;
    }
    int zerr;
    const char *zmsg = gzerror(f, &zerr);
    if (r < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        say(msg, msgsize, "%s: truncated or corrupt stream after %zu data bytes (%s)", path,
            total, zmsg);
        st = PW_EINVAL;
        goto out_free;
    }
    *data = buf;
    *len = total;
    buf = NULL;
out_free:
    free(buf);
out_close:
    gzclose(f);
    return st;
}

int pw_mnist_read_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows,
                         size_t *cols, char *msg, size_t msgsize)
{
    uint32_t d[3];
    size_t len;
    int st = read_idx(path, IDX_IMAGES, 3, d, pixels, &len, msg, msgsize);
    if (st != PW_OK) return st;
    *n = d[0];
    *rows = d[1];
    *cols = d[2];
    return PW_OK;
}

int pw_mnist_read_labels(const char *path, uint8_t **labels, size_t *n, char *msg,
                         size_t msgsize)
{
    uint32_t d[1];
    size_t len;
    int st = read_idx(path, IDX_LABELS, 1, d, labels, &len, msg, msgsize);
    if (st != PW_OK) return st;
    *n = d[0];
    return PW_OK;
}

int pw_mnist_load(const char *dir, const char *split, pw_mnist *out, char *msg, size_t msgsize)
{
    memset(out, 0, sizeof *out);
    if (!dir) dir = PW_MNIST_DIR;
    if (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0) {
        say(msg, msgsize, "unknown split '%s' (expected train or t10k)", split);
        return PW_EINVAL;
    }
    char *ipath = pw_xasprintf("%s/%s-images-idx3-ubyte.gz", dir, split);
    char *lpath = pw_xasprintf("%s/%s-labels-idx1-ubyte.gz", dir, split);
    uint8_t *pix = NULL, *lab = NULL;
    size_t n, rows, cols, nl;
    int st = pw_mnist_read_images(ipath, &pix, &n, &rows, &cols, msg, msgsize);
    if (st != PW_OK) goto out;
    if ((st = pw_mnist_read_labels(lpath, &lab, &nl, msg, msgsize)) != PW_OK) goto out;
    if (nl != n) {
        say(msg, msgsize, "%s has %zu labels but %s has %zu images", lpath, nl, ipath, n);
        st = PW_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (lab[i] >= PW_MNIST_CLASSES) {
            say(msg, msgsize, "%s: label %u at index %zu is not a class 0-9", lpath, lab[i], i);
            st = PW_EINVAL;
            goto out;
        }
    out->n = n;
    out->rows = rows;
    out->cols = cols;
    out->pixels = pix;
    out->labels = lab;
    pix = lab = NULL;
out:
    free(pix);
    free(lab);
    free(ipath);
    free(lpath);
    return st;
}

void pw_mnist_release(pw_mnist *d)
{
    if (!d) return;
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof *d);
}
