/* cmd_archive.c — `perfweave archive export RUN > FILE` and `perfweave archive import FILE…`:
 * archived runs as files that travel between machines (format and checks in store.h). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/store.h"

#define DEFAULT_ROOT "validation_results"
#define USAGE "usage: perfweave archive export [--root DIR] RUN > FILE\n" \
              "       perfweave archive import [--root DIR] [--skip-present] FILE...\n"

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "perfweave archive: %s%s%s\n" USAGE, what, arg ? " " : "", arg ? arg : "");
    return PW_EXIT_USAGE;
}

/* Takes --root DIR / --root=DIR out of argv; the rest stays in order in *rest.  Returns 0, or
 * the exit status of a usage error. */
static int parse_args(int argc, char **argv, const char **root, bool *skip, char ***rest, int *nrest)
{
    *rest = pw_xcalloc((size_t)argc + 1, sizeof **rest);
    *nrest = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--root") == 0) {
            if (++i >= argc) return usage_error("--root needs a directory", NULL);
            *root = argv[i];
        } else if (strncmp(argv[i], "--root=", 7) == 0) *root = argv[i] + 7;
        else if (strcmp(argv[i], "--skip-present") == 0 && strcmp(argv[1], "import") == 0) *skip = true;
        else if (strcmp(argv[i], "--") == 0) {
            while (++i < argc) (*rest)[(*nrest)++] = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) return usage_error("unknown option", argv[i]);
        else (*rest)[(*nrest)++] = argv[i];
    }
    return 0;
}

static int do_export(const char *root, char **runs, int n)
{
    if (n != 1) return usage_error("export takes one run", NULL);
    if (isatty(STDOUT_FILENO)) {
        fprintf(stderr, "perfweave archive: export writes a compressed file: redirect it, e.g. "
                        "perfweave archive export %s > %s.json.gz\n", runs[0], runs[0]);
        return PW_EXIT_USAGE;
    }
    char msg[600], *path;
    json_t *doc = NULL;
    int status = pw_archive_resolve(root, runs[0], &path, msg, sizeof msg);
    if (status == PW_OK) status = pw_archive_load_msg(root, path, &doc, msg, sizeof msg);
    if (status != PW_OK) {
        fprintf(stderr, "perfweave archive: %s\n", msg);
        free(path);
        return PW_EXIT_USAGE;
    }
    /* The run's name is its directory's name, wherever it was found. */
    char *slash = strrchr(path, '/');
    if (slash) *slash = '\0';
    slash = strrchr(path, '/');
    char *name = pw_xstrdup(slash ? slash + 1 : path);
    free(path);
    pw_buf out;
    pw_buf_init(&out);
    status = pw_archive_export(doc, name, &out, msg, sizeof msg);
    int code = PW_EXIT_OK;
    if (status != PW_OK) {
        fprintf(stderr, "perfweave archive: %s\n", msg);
        code = PW_EXIT_USAGE;
    } else if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        fprintf(stderr, "perfweave archive: cannot write the archive to standard output\n");
        code = PW_EXIT_INTERNAL;
    } else {
        fprintf(stderr, "perfweave archive: exported run %s (%zu bytes)\n", name, out.len);
    }
    pw_buf_release(&out);
    free(name);
    json_decref(doc);
    return code;
}

typedef struct {
    const char *file;
    json_t *doc;
    char *run;
    char hash[65];
    bool present;  /* already in the archive, skipped (--skip-present) */
} unpacked;

/* Every file is checked before any is imported: one bad file imports nothing.  A run already in
 * the archive is refused too, unless skip_present (for importing a folder of committed archives
 * again after new ones arrived): then it is skipped with a note. */
static int do_import(const char *root, bool skip_present, char **files, int n)
{
    if (n < 1) return usage_error("import needs at least one file", NULL);
    unpacked *u = pw_xcalloc((size_t)n, sizeof *u);
    int bad = 0;
    char msg[600];
    for (int i = 0; i < n; i++) {
        u[i].file = files[i];
        size_t len;
        char *data = pw_read_file(files[i], &len);
        if (!data) {
            fprintf(stderr, "%s: cannot read the file\n", files[i]);
            bad++;
            continue;
        }
        int status = pw_archive_unpack(data, len, &u[i].doc, &u[i].run, msg, sizeof msg);
        free(data);
        if (status != PW_OK) {
            fprintf(stderr, "%s: %s\n", files[i], msg);
            bad++;
            continue;
        }
        pw_archive_content_hash(u[i].doc, u[i].hash);
        char *present = NULL;
        status = pw_archive_find_content(root, u[i].hash, &present);
        if (status == PW_OK) {
            fprintf(stderr, "%s: run %s is already in %s as %s (same content)%s\n", files[i],
                    u[i].run, root, present, skip_present ? ": skipped" : "");
            free(present);
            if (skip_present) u[i].present = true;
            else bad++;
        } else if (status == PW_EIO) {
            fprintf(stderr, "perfweave archive: cannot read the archive %s\n", root);
            bad++;
        }
        for (int k = 0; k < i; k++)
            if (u[k].doc && strcmp(u[k].hash, u[i].hash) == 0) {
                fprintf(stderr, "%s: the same run as %s (given twice)\n", files[i], u[k].file);
                bad++;
                break;
            }
    }
    int code = PW_EXIT_OK;
    if (bad) {
        fprintf(stderr, "perfweave archive: %d of %d file%s refused: nothing imported\n", bad, n,
                n == 1 ? "" : "s");
        code = PW_EXIT_USAGE;
    }
    for (int i = 0; i < n && !bad; i++) {
        if (u[i].present) continue;
        char *path;
        if (pw_archive_import(root, u[i].doc, u[i].run, &path, msg, sizeof msg) != PW_OK) {
            fprintf(stderr, "%s: %s\n", files[i], msg);
            code = PW_EXIT_INTERNAL;
            break;
        }
        printf("imported %s as %s\n", files[i], path);
        free(path);
    }
    for (int i = 0; i < n; i++) {
        json_decref(u[i].doc);
        free(u[i].run);
    }
    free(u);
    return code;
}

int pw_cmd_archive(int argc, char **argv)
{
    if (argc < 2) return usage_error("which action? export or import", NULL);
    const char *root = DEFAULT_ROOT;
    bool skip = false;
    char **rest;
    int nrest, code = parse_args(argc, argv, &root, &skip, &rest, &nrest);
    if (code == 0) {
        if (strcmp(argv[1], "export") == 0) code = do_export(root, rest, nrest);
        else if (strcmp(argv[1], "import") == 0) code = do_import(root, skip, rest, nrest);
        else code = usage_error("unknown action", argv[1]);
    }
    free(rest);
    return code;
}
