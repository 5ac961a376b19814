/* plot.c — gnuplot scripts and data for result charts, and running gnuplot (see plot.h). */
#include "perfweave/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/escape.h"

static double num(const json_t *v, double fallback)
{
    return json_is_number(v) ? json_number_value(v) : fallback;
}

void pw_plot_data(pw_buf *b, const json_t *chart)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(chart, "series"), i, s) {
        if (i) pw_buf_puts(b, "\n\n");
        pw_buf_printf(b, "# series %zu: x y lo hi\n", i);
        json_t *xs = json_object_get(s, "x"), *ys = json_object_get(s, "y");
        json_t *los = json_object_get(s, "lo"), *his = json_object_get(s, "hi");
        for (size_t k = 0; k < json_array_size(xs); k++) {
            double x = num(json_array_get(xs, k), NAN), y = num(json_array_get(ys, k), NAN);
            if (!isfinite(x) || !isfinite(y)) continue;
            double lo = num(json_array_get(los, k), y), hi = num(json_array_get(his, k), y);
            pw_buf_printf(b, "%.10g %.10g %.10g %.10g\n", x, y, lo, hi);
        }
    }
}

/* Log axes need positive data; a chart whose data is not positive falls back to linear. */
static bool all_positive(const json_t *chart, const char *axis)
{
    size_t i, k;
    json_t *s, *v;
    json_array_foreach(json_object_get(chart, "series"), i, s)
        json_array_foreach(json_object_get(s, axis), k, v)
            if (json_is_number(v) && json_number_value(v) <= 0) return false;
    return true;
}

/* The series colours: Okabe and Ito's palette for colour-blind readers (2008), without its
 * yellow (1.3:1 against white) and with its orange and sky blue darkened until every line has at
 * least 3:1 contrast against the white background (WCAG's figure for graphical objects):
 * blue 5.2, vermillion 3.9, bluish green 3.4, reddish purple 3.1, orange #B07800 3.8 (was
 * #E69F00, 2.3), sky blue #2F8AC4 3.8 (was #56B4E9, 2.3), black 21.  Dash types and point types
 * cycle with other periods, so a series never depends on its colour alone: series i and i + 7
 * share a colour but not a dash or a point. */
static const char *const palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                      "#B07800", "#2F8AC4", "#000000"};
static const int dashes[] = {1, 2, 4, 3, 5};                 /* solid, dash, dash-dot, dot, dash-dot-dot */
static const int points[] = {7, 5, 9, 11, 13, 6, 4, 8, 10, 12}; /* filled, then open shapes */
#define COUNT(a) (sizeof (a) / sizeof (a)[0])

void pw_plot_script(pw_buf *b, const json_t *chart, const char *base, const char *format)
{
    bool svg = strcmp(format, "svg") == 0;
    if (svg)
        pw_buf_puts(b, "set terminal svg size 720,420 dynamic noenhanced font 'Helvetica,12' background '#ffffff'\n");
    else
        pw_buf_puts(b, "set terminal pdfcairo size 5.5in,3.2in noenhanced font 'Helvetica,9'\n");
    pw_buf_printf(b, "set output '%s.%s'\n", base, format);
    /* The legend below the plot, in rows, in a smaller font: the plot keeps the full width. */
    pw_buf_printf(b, "set encoding utf8\nset key outside below center horizontal Left reverse nobox "
                     "samplen 2.5 spacing 1.1 width 1 font ',%d'\n"
                     "set grid xtics ytics mxtics mytics lc rgb '#dddddd'\n"
                     "set border 3\nset tics nomirror\nset bars small\n", svg ? 10 : 8);
    pw_buf_puts(b, "set xlabel ");
    pw_escape_gnuplot(b, json_string_value(json_object_get(chart, "xlabel")));
    pw_buf_puts(b, "\nset ylabel ");
    pw_escape_gnuplot(b, json_string_value(json_object_get(chart, "ylabel")));
    pw_buf_putc(b, '\n');
    if (json_is_true(json_object_get(chart, "logx")) && all_positive(chart, "x"))
        pw_buf_puts(b, "set logscale x 2\n");
    if (json_is_true(json_object_get(chart, "logy")) && all_positive(chart, "y") && all_positive(chart, "lo"))
        pw_buf_puts(b, "set logscale y 10\n");
    if (json_is_true(json_object_get(chart, "intx"))) {
        /* Whole-number x (run 1, 2, 3, …): ticks on whole numbers, at most about a dozen of
         * them, and half a step of room at either end, so a single run is not drawn on an
         * axis of fractions. */
        double lo = INFINITY, hi = -INFINITY;
        size_t si, k;
        json_t *s, *x;
        json_array_foreach(json_object_get(chart, "series"), si, s)
            json_array_foreach(json_object_get(s, "x"), k, x) {
                double xv = num(x, NAN);
                if (isfinite(xv)) lo = xv < lo ? xv : lo, hi = xv > hi ? xv : hi;
            }
        if (isfinite(lo)) {
            long step = (long)ceil((hi - lo + 1) / 12.0);
            pw_buf_printf(b, "set xtics %ld\nset mxtics 1\nset xrange [%.10g:%.10g]\n", step > 0 ? step : 1,
                          lo - 0.5, hi + 0.5);
        }
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(chart, "vlines"), i, v) {
        double x = num(json_object_get(v, "x"), NAN);
        if (!isfinite(x)) continue;
        pw_buf_printf(b, "set arrow from first %.10g, graph 0 to first %.10g, graph 1 nohead dt 3 lc rgb '#888888'\n", x, x);
        pw_buf_puts(b, "set label ");
        pw_escape_gnuplot(b, json_string_value(json_object_get(v, "label")));
        pw_buf_printf(b, " at first %.10g, graph 0.97 rotate by 90 right offset -0.6,0 textcolor rgb '#666666'\n", x);
    }
    pw_buf_puts(b, "plot ");
    bool first = true;
    json_t *series = json_object_get(chart, "series");
    json_array_foreach(series, i, v) {
        if (!first) pw_buf_puts(b, ", \\\n     ");
        first = false;
        /* The interval as a solid error bar, then the line in its dash with the legend entry. */
        const char *color = palette[i % COUNT(palette)];
        int pt = points[i % COUNT(points)];
        pw_buf_printf(b, "'%s.dat' index %zu using 1:2:3:4 with yerrorbars lw 1.2 lc rgb '%s' dt 1 pt %d "
                         "ps 0.8 notitle, \\\n     ", base, i, color, pt);
        pw_buf_printf(b, "'%s.dat' index %zu using 1:2 with linespoints lw 1.5 lc rgb '%s' dt %d pt %d "
                         "ps 0.8 title ", base, i, color, dashes[i % COUNT(dashes)], pt);
        pw_escape_gnuplot(b, json_string_value(json_object_get(v, "label")));
    }
    /* Reference lines (a peak, a threshold) in dark grey, told apart by their dashes. */
    static const int ref_dashes[] = {2, 4, 3, 5};
    size_t nref = 0;
    json_array_foreach(json_object_get(chart, "hlines"), i, v) {
        double y = num(json_object_get(v, "y"), NAN);
        if (!isfinite(y)) continue;
        if (!first) pw_buf_puts(b, ", \\\n     ");
        first = false;
        pw_buf_printf(b, "%.10g with lines dt %d lw 1.5 lc rgb '#444444' title ", y,
                      ref_dashes[nref++ % COUNT(ref_dashes)]);
        pw_escape_gnuplot(b, json_string_value(json_object_get(v, "label")));
    }
    if (first) pw_buf_puts(b, "NaN notitle");
    pw_buf_puts(b, "\n");
}

int pw_spawn(char *const argv[], const char *dir, const char *log_path, double timeout_s)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = log_path ? open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open("/dev/null", O_WRONLY);
        if (in >= 0) dup2(in, 0);
        if (out >= 0) { dup2(out, 1); dup2(out, 2); }
        if (dir && chdir(dir) != 0) _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double elapsed = (double)(now.tv_sec - start.tv_sec) + 1e-9 * (double)(now.tv_nsec - start.tv_nsec);
        if (timeout_s > 0 && elapsed > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        struct timespec nap = {0, 5 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

static int write_in(const char *dir, const char *name, const pw_buf *b)
{
    char *path = pw_xasprintf("%s/%s", dir, name);
    int status = pw_write_file_atomic(path, b->data, b->len);
    free(path);
    return status;
}

/* True when reuse_dir/name holds exactly len bytes equal to data. */
static bool same_file(const char *reuse_dir, const char *name, const char *data, size_t len)
{
    char *path = pw_xasprintf("%s/%s", reuse_dir, name);
    size_t old_len = 0;
    char *old = pw_read_file(path, &old_len);
    bool same = old && old_len == len && memcmp(old, data, len) == 0;
    free(old);
    free(path);
    return same;
}

/* Copies reuse_dir/name to dir/name (atomically); false when it cannot. */
static bool copy_file(const char *reuse_dir, const char *dir, const char *name)
{
    char *from = pw_xasprintf("%s/%s", reuse_dir, name);
    char *to = pw_xasprintf("%s/%s", dir, name);
    size_t len = 0;
    char *data = pw_read_file(from, &len);
    bool ok = data && pw_write_file_atomic(to, data, len) == PW_OK;
    free(data);
    free(from);
    free(to);
    return ok;
}

int pw_plot_render(const json_t *chart, const char *dir, const char *base, bool svg, bool pdf,
                   const char *reuse_dir, char *msg, size_t msgsize)
{
    pw_buf b;
    pw_buf_init(&b);
    int status = PW_OK;
    pw_plot_data(&b, chart);
    char *name = pw_xasprintf("%s.dat", base);
    if (write_in(dir, name, &b) != PW_OK) {
        snprintf(msg, msgsize, "cannot write %s/%s: %s", dir, name, strerror(errno));
        status = PW_EIO;
        goto out;
    }
    bool same_data = reuse_dir && same_file(reuse_dir, name, b.data, b.len);
    const char *formats[2] = {svg ? "svg" : NULL, pdf ? "pdf" : NULL};
    for (int f = 0; f < 2 && status == PW_OK; f++) {
        if (!formats[f]) continue;
        free(name);
        name = pw_xasprintf("%s-%s.gp", base, formats[f]);
        pw_buf_reset(&b);
        pw_plot_script(&b, chart, base, formats[f]);
        if (write_in(dir, name, &b) != PW_OK) {
            snprintf(msg, msgsize, "cannot write %s/%s: %s", dir, name, strerror(errno));
            status = PW_EIO;
            break;
        }
        char *figure = pw_xasprintf("%s.%s", base, formats[f]);
        bool reused = same_data && same_file(reuse_dir, name, b.data, b.len) && copy_file(reuse_dir, dir, figure);
        free(figure);
        if (reused) continue;
        char *log = pw_xasprintf("%s/%s-%s.log", dir, base, formats[f]);
        char *const argv[] = {"gnuplot", name, NULL};
        int rc = pw_spawn(argv, dir, log, 60);
        if (rc != 0) {
            char *text = pw_read_file(log, NULL);
            if (rc < 0)
                snprintf(msg, msgsize, "cannot run gnuplot (is it installed? make setup installs it)");
            else
                snprintf(msg, msgsize, "gnuplot failed on %s/%s (status %d): %.300s", dir, name, rc,
                         text ? text : "");
            free(text);
            status = PW_ECHILD;
        } else {
            unlink(log);
        }
        free(log);
    }
out:
    free(name);
    pw_buf_release(&b);
    return status;
}
