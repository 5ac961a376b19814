/* fuzz_slurm.c — libFuzzer harness for the parsers of what Slurm's commands print (slurm_job.c):
 * squeue, scontrol, sacct, sinfo and sbatch output and state words, on any text, without a crash
 * or leak; a job found is the job asked for, and sinfo's kinds hold every node.  Built and run by
 * `make fuzz`; seeds in tests/fuzz/corpus/slurm/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/slurm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = pw_xstrndup((const char *)data, size);  /* stops at a NUL, as a C string does */
    pw_slurm_info info;
    if (pw_slurm_parse_squeue(text, "12", &info) == PW_OK && strcmp(info.job_id, "12") != 0) abort();
    if (pw_slurm_parse_sacct(text, "12", &info) == PW_OK && strcmp(info.job_id, "12") != 0) abort();
    if (pw_slurm_parse_scontrol(text, &info) == PW_OK && (!info.state[0] || !info.job_id[0])) abort();
    pw_slurm_state_parse(text);
    char *id = NULL;
    if (pw_slurm_parse_job_id(text, &id) == PW_OK && (!id || !*id)) abort();
    free(id);
    char msg[256] = "";
    json_t *doc = pw_slurm_parse_sinfo(text, msg, sizeof msg);
    if (!doc && !msg[0]) abort();
    const char *part;
    json_t *p;
    json_object_foreach(doc, part, p) {
        size_t nodes = json_array_size(json_object_get(p, "nodes")), in_kinds = 0, i;
        json_t *k;
        json_array_foreach(json_object_get(p, "kinds"), i, k) in_kinds += json_array_size(json_object_get(k, "nodes"));
        if (nodes != in_kinds) abort();
    }
    json_decref(doc);
    size_t n;
    char **v = pw_slurm_split_partitions(text, &n);
    pw_slurm_strv_free(v);
    free(text);
    return 0;
}
