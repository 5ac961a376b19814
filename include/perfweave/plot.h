/* plot.h — charts through gnuplot, run as a program (fork/exec with an argv, no shell).  The
 * .dat and .gp files stay beside the figures so that every chart can be reproduced by hand. */
#ifndef PERFWEAVE_PLOT_H
#define PERFWEAVE_PLOT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "perfweave/common.h"

/* Writes the script for one chart (a result's chart object) into b: terminal and output lines
 * for format "svg" or "pdf" (output file <base>.<format>), axes (log where asked), the legend in
 * rows below the plot, series with their intervals as solid error bars from <base>.dat (colours
 * from a colour-blind-safe palette with at least 3:1 contrast on white, and a dash and a point
 * type of their own), reference lines in dark grey with their own dashes.  Every string from the
 * chart is escaped with pw_escape_gnuplot and drawn as noenhanced text. */
void pw_plot_script(pw_buf *b, const json_t *chart, const char *base, const char *format);

/* Writes the data file for a chart into b: one block per series ("x y lo hi"), blocks separated
 * by two blank lines (gnuplot's `index`). */
void pw_plot_data(pw_buf *b, const json_t *chart);

/* Writes <dir>/<base>.dat, <dir>/<base>-<fmt>.gp for each requested format and runs gnuplot on
 * them in dir.  When reuse_dir (the previous report's figures, or NULL) holds the same data and
 * script byte for byte and the figure they made, that figure is copied instead of re-plotted:
 * a prose edit does not redraw unchanged charts.  Returns PW_OK, or PW_EIO / PW_ECHILD with a
 * message in msg. */
int pw_plot_render(const json_t *chart, const char *dir, const char *base, bool svg, bool pdf,
                   const char *reuse_dir, char *msg, size_t msgsize);

/* Runs argv[0] with argv in directory dir (NULL: current), stdin from /dev/null, stdout and
 * stderr to log_path (NULL: discarded), waiting at most timeout_s.  Returns the exit status
 * (0 success), 128+signal when killed, or -1 when it could not start (errno set). */
int pw_spawn(char *const argv[], const char *dir, const char *log_path, double timeout_s);

#endif
