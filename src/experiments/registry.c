/* registry.c — the list of every experiment perfweave can run.  To add one: define a
 * `const pw_experiment` in src/experiments/<module>.c and add it here, keeping the list sorted
 * by name (a unit test checks the order). */
#include <string.h>

#include "perfweave/experiment.h"

extern const pw_experiment pw_exp_acceleration_blocksize, pw_exp_acceleration_dispatch,
    pw_exp_acceleration_matmul, pw_exp_acceleration_threads;
extern const pw_experiment pw_exp_benchmarking_detection, pw_exp_benchmarking_events,
    pw_exp_benchmarking_reproducibility;
extern const pw_experiment pw_exp_caching_generate;
extern const pw_experiment pw_exp_compression_prune;
extern const pw_experiment pw_exp_machine_ceilings;
extern const pw_experiment pw_exp_profiling_flops, pw_exp_profiling_memory,
    pw_exp_profiling_overhead, pw_exp_profiling_timer;
extern const pw_experiment pw_exp_quantization_mlp;
extern const pw_experiment pw_exp_selftest_crash;
extern const pw_experiment pw_exp_selftest_fixed;
extern const pw_experiment pw_exp_selftest_spin;

static const pw_experiment *const experiments[] = {
    &pw_exp_acceleration_blocksize,
    &pw_exp_acceleration_dispatch,
    &pw_exp_acceleration_matmul,
    &pw_exp_acceleration_threads,
    &pw_exp_benchmarking_detection,
    &pw_exp_benchmarking_events,
    &pw_exp_benchmarking_reproducibility,
    &pw_exp_caching_generate,
    &pw_exp_compression_prune,
    &pw_exp_machine_ceilings,
    &pw_exp_profiling_flops,
    &pw_exp_profiling_memory,
    &pw_exp_profiling_overhead,
    &pw_exp_profiling_timer,
    &pw_exp_quantization_mlp,
    &pw_exp_selftest_crash,
    &pw_exp_selftest_fixed,
    &pw_exp_selftest_spin,
};

const pw_experiment *const *pw_registry_all(size_t *n)
{
    *n = sizeof experiments / sizeof experiments[0];
    return experiments;
}

const pw_experiment *pw_registry_find(const char *name)
{
    size_t n;
    const pw_experiment *const *all = pw_registry_all(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i]->name, name) == 0) return all[i];
    return NULL;
}
