/* mnist.h — Fashion-MNIST (and any MNIST-style data) read from gzip'd IDX files through zlib.
 *
 * The report's data is Debian's `dataset-fashion-mnist` package, installed at PW_MNIST_DIR as
 * train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
 * t10k-labels-idx1-ubyte.gz.  IDX: a big-endian header (magic 0x00000803 for uint8 images with
 * three dimensions, 0x00000801 for uint8 labels with one), the dimension sizes as big-endian
 * uint32, then the bytes.  Every reader checks the magic, the dimensions, that the data is not
 * truncated and that nothing follows it, and (for a split) that images and labels agree in count
 * and that labels are 0–9.  Errors come back as a status with a lowercase message naming the
 * file (and, when the file is missing, the package that provides it). */
#ifndef PERFWEAVE_MNIST_H
#define PERFWEAVE_MNIST_H

#include <stddef.h>
#include <stdint.h>

#define PW_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define PW_MNIST_PACKAGE "dataset-fashion-mnist"
#define PW_MNIST_CLASSES 10

/* One split: n images of rows × cols uint8 pixels (row-major, image after image) and n labels. */
typedef struct {
    size_t n, rows, cols;
    uint8_t *pixels;  /* n × rows × cols, owned */
    uint8_t *labels;  /* n, each < PW_MNIST_CLASSES, owned */
} pw_mnist;

/* Reads an IDX image file (gzip'd or plain; zlib reads both).  On PW_OK *pixels is a new
 * buffer (caller frees) of *n × *rows × *cols bytes.  Returns PW_ENOTFOUND when the file cannot
 * be opened, PW_EINVAL for a wrong magic, a zero or absurd dimension, truncated or trailing
 * data, PW_EIO for a read error; msg receives the reason (may be NULL). */
int pw_mnist_read_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows,
                         size_t *cols, char *msg, size_t msgsize);
/* Reads an IDX label file likewise; *labels is a new buffer of *n bytes (caller frees). */
int pw_mnist_read_labels(const char *path, uint8_t **labels, size_t *n, char *msg,
                         size_t msgsize);

/* Loads split "train" or "t10k" from dir (PW_MNIST_DIR when NULL) into *out: both files, with
 * matching counts and labels below 10.  On failure *out is left empty and msg names the file
 * and, when a file is missing, the Debian package.  Release with pw_mnist_release. */
int pw_mnist_load(const char *dir, const char *split, pw_mnist *out, char *msg, size_t msgsize);
/* Frees the buffers and zeroes *d (no-op on a zeroed struct). */
void pw_mnist_release(pw_mnist *d);

#endif
