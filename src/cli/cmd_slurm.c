/* cmd_slurm.c — `perfweave slurm check [--dir DIR] [--json] PARTITION[,PARTITION…] [PATH…]`:
 * before measuring on a cluster, can perfweave measure there?  The controller answers, each
 * partition exists, is up and holds one kind of node, and a probe job on each finds this binary,
 * the work folder and the given paths (chapters) on its node and reports the node's machine
 * fingerprint (slurm.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/isolate.h"
#include "perfweave/slurm.h"

#define USAGE "usage: perfweave slurm check [--dir DIR] [--json] PARTITION[,PARTITION...] [PATH...]\n"

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "perfweave slurm: %s%s%s\n" USAGE, what, arg ? " " : "", arg ? arg : "");
    return PW_EXIT_USAGE;
}

static int check(const char *dir, bool json, const char *list, char **paths, int npaths)
{
    size_t n;
    char **parts = pw_slurm_split_partitions(list, &n);
    if (!parts) return usage_error("not a list of partition names:", list);
    char msg[1024];
    int code = PW_EXIT_OK;
    if (pw_slurm_check_partitions((const char *const *)parts, n, 30, NULL, msg, sizeof msg) != PW_OK) {
        fprintf(stderr, "perfweave slurm: %s\n", msg);
        pw_slurm_strv_free(parts);
        return PW_EXIT_USAGE;
    }
    pw_slurm_ctx ctx;
    if (pw_slurm_ctx_init(&ctx, dir, msg, sizeof msg) != PW_OK) {
        fprintf(stderr, "perfweave slurm: %s\n", msg);
        pw_slurm_strv_free(parts);
        return PW_EXIT_USAGE;
    }
    pw_isolate_catch_signals();
    json_t *out = json_object();
    for (size_t i = 0; i < n && !pw_isolate_interrupted(); i++) {
        json_t *env = NULL;
        int status = pw_slurm_probe(&ctx, parts[i], (const char *const *)paths, (size_t)npaths, &env,
                                    msg, sizeof msg);
        json_t *entry;
        if (status == PW_OK) {
            char *fp = pw_env_fingerprint_hash(env);
            const json_t *cpu = json_object_get(env, "cpu");
            entry = json_pack("{s:b, s:s, s:O, s:O, s:O}", "ok", 1, "fingerprint", fp, "host",
                              json_object_get(env, "host"), "cpu", json_object_get(cpu, "model"),
                              "cores", json_object_get(cpu, "cores_online"));
            if (!json)
                printf("partition %s: node %s, %s, %lld cores; fingerprint %s; binary, work folder "
                       "and %d path%s visible\n", parts[i], json_string_value(json_object_get(env, "host")),
                       json_string_value(json_object_get(cpu, "model")) ? json_string_value(json_object_get(cpu, "model")) : "unknown CPU",
                       (long long)json_integer_value(json_object_get(cpu, "cores_online")), fp, npaths,
                       npaths == 1 ? "" : "s");
            free(fp);
            json_decref(env);
        } else {
            entry = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
            if (!json) printf("partition %s: %s\n", parts[i], msg);
            code = status == PW_EINTR ? 128 + pw_isolate_interrupted() : PW_EXIT_USAGE;
        }
        json_object_set_new(out, parts[i], entry);
    }
    /* Partitions whose nodes are the same kind of machine share a fingerprint (and cache entries). */
    for (size_t i = 0; i < n && !json; i++) {
        const char *fi = json_string_value(json_object_get(json_object_get(out, parts[i]), "fingerprint"));
        for (size_t k = i + 1; fi && k < n; k++) {
            const char *fk = json_string_value(json_object_get(json_object_get(out, parts[k]), "fingerprint"));
            if (fk && strcmp(fi, fk) == 0)
                printf("partitions %s and %s measure the same kind of machine (fingerprint %s)\n",
                       parts[i], parts[k], fi);
        }
    }
    if (json) {
        json_dumpf(out, stdout, JSON_INDENT(2));
        putchar('\n');
    }
    json_decref(out);
    pw_slurm_ctx_release(&ctx);
    pw_slurm_strv_free(parts);
    return code;
}

int pw_cmd_slurm(int argc, char **argv)
{
    if (argc < 2) return usage_error("which action? check", NULL);
    if (strcmp(argv[1], "check") != 0) return usage_error("unknown action", argv[1]);
    const char *dir = ".cache/slurm", *list = NULL;
    bool json = false;
    char **paths = pw_xcalloc((size_t)argc, sizeof *paths);
    int npaths = 0, code;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
        else if (argv[i][0] == '-') {
            free(paths);
            return usage_error("unknown option", argv[i]);
        } else if (!list) list = argv[i];
        else paths[npaths++] = argv[i];
    }
    if (!list) code = usage_error("which partitions?", NULL);
    else code = check(dir, json, list, paths, npaths);
    free(paths);
    return code;
}
