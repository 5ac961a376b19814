/* env.h — the measurement environment captured with every result: the machine (CPU, caches,
 * cores, SMT, hypervisor, frequency governor, load), the software (kernel, compiler and flags,
 * OpenBLAS as used, BLIS, oneDNN, GSL, cmark, jansson, perfweave commit), and the conditions that
 * make timings noisy.
 *
 * Everything is read from files (/proc, /sys), sysconf, uname, CPUID and the libraries' own
 * version calls; nothing is executed.  BLIS and oneDNN are asked in a forked child
 * (pw_baselines_probe), so that the capturing process never loads oneDNN's OpenMP runtime.  A
 * value that cannot be read is JSON null, never a guess.
 *
 * Layout of the document returned by pw_env_capture (schema PW_ENV_SCHEMA):
 *
 *   { "schema": 1,
 *     "captured": "2026-11-29T02:40:18Z",           UTC, ISO 8601
 *     "host": "name",                               gethostname
 *     "cpu": { "model": "AMD EPYC …", "flags": "fpu vme …" (raw /proc/cpuinfo line),
 *              "avx2": bool, "fma": bool, "avx512f": bool,
 *              "cores_online": n, "cores_configured": n,
 *              "caches": { "l1d": bytes|null, "l1i": …, "l2": …, "l3": … },
 *              "governor": "performance"|…|null, "scaling_driver": str|null,
 *              "frequency_scaling": "known"|"unknown",
 *              "cpuid": pw_cpu_json() (vendor, family, model, stepping, usable ISA, widest),
 *              "smt": { "threads_per_core": n|null, "cpu0_siblings": "0-1"|null,
 *                       "active": bool|null } },
 *     "hypervisor": { "present": bool,             cpuinfo "hypervisor" flag or CPUID bit
 *                     "vendor": "KVMKVMKVM"|…|null, CPUID leaf 0x40000000
 *                     "sys_type": "xen"|…|null },   /sys/hypervisor/type
 *     "memory_bytes": n|null,                       MemTotal
 *     "load": [1 min, 5 min, 15 min] | null,        getloadavg
 *     "kernel": { "sysname", "release", "version", "machine" },
 *     "compiler": { "name": "gcc"|"clang", "version": __VERSION__, "flags": PW_CFLAGS },
 *     "openblas": pw_openblas_json() (baselines.h: version, config, core in use, what the library
 *                 detected, who chose — library, perfweave or user — and whether it took,
 *                 threads, library file, a summary sentence),
 *     "blis": pw_blis_json(), "onednn": pw_onednn_json() (version, kernel set / effective ISA,
 *                 threads, library file; or { "available": false, "error" }),
 *     "cblas": { "cblas_sgemm": file, "cblas_sdot": file, "sgemm_": file } (where they bind),
 *     "libraries": { "gsl": str, "cmark": str, "jansson": str },
 *     "perfweave": { "version": str, "commit": str } }
 */
#ifndef PERFWEAVE_ENV_H
#define PERFWEAVE_ENV_H

#include <jansson.h>
#include <stdbool.h>

#define PW_ENV_SCHEMA 1

/* Load average (1 minute) per online core above which timings are considered disturbed. */
#define PW_ENV_LOAD_PER_CORE 0.5

/* Captures the environment now (layout above).  Returns a new reference; never NULL. */
json_t *pw_env_capture(void);

/* What identifies the hardware — the one definition perfweave has: the hardware half of the
 * cache fingerprint, what the hardware matrix groups columns by (store.h) and what `diff` calls
 * the same machine.  Never the compiler or library versions, which only make a result stale.
 *   { "cpu_vendor", "cpu_family", "cpu_model_number", "cpu_stepping"   from the CPUID description
 *                          (env.cpu.cpuid; also found in env.cpu itself, another member object of
 *                          env.cpu, or a member object of env with a family and a stepping),
 *     "cpu_model"          env.cpu.model, else the CPUID brand string,
 *     "isa"                the usable instruction sets (the CPUID description's list; for records
 *                          without one derived from the /proc/cpuinfo flags line, same names),
 *     "caches", "cores_online", "threads_per_core",
 *     "memory_gib"         memory_bytes rounded to whole GiB (MemTotal moves by a few MiB),
 *     "hypervisor", "hypervisor_vendor", "machine" (the architecture),
 *     "cpu_flags"          null, except for records without the CPUID description: their raw
 *                          flags line (pw_env_hardware_is_legacy) }
 * Members missing from env are null (env may be NULL).  Returns a new reference. */
json_t *pw_env_hardware(const json_t *env);
/* True when hardware (pw_env_hardware's object) comes from a record without the CPUID
 * description (an environment written before env.cpu.cpuid existed): no family, model number or
 * stepping, so it can only be matched to a machine by its model name, instruction sets, cores
 * and memory. */
bool pw_env_hardware_is_legacy(const json_t *hardware);
/* What only makes a cached result stale: compiler name, version and flags; OpenBLAS version,
 * config and core in use; BLIS version and kernel set; oneDNN version and effective ISA; GSL
 * version; where the CBLAS symbols bind; on CPUs with AMX, whether this process was granted the
 * tiles (amx_granted, absent elsewhere).  Returns a new reference. */
json_t *pw_env_software(const json_t *env);

/* The stable subset of env for the result cache: { "hardware": pw_env_hardware, "software":
 * pw_env_software }.  Excludes everything that varies between two captures on one machine
 * (time, load, governor, commit, host name).  Returns a new reference. */
json_t *pw_env_fingerprint(const json_t *env);

/* Short hex digests (16 hex digits: the first 64 bits of the SHA-256 of the canonical JSON, keys
 * sorted) of env's fingerprint (hardware and software: the cache key's machine field) and of its
 * hardware alone.  The caller frees them. */
char *pw_env_fingerprint_hash(const json_t *env);
char *pw_env_hardware_hash(const json_t *env);

/* Noisy conditions as sentences for the report, from environments captured before and after a
 * measurement (after may be NULL): 1-minute load above PW_ENV_LOAD_PER_CORE per core at either
 * point, a readable governor other than "performance", a hypervisor, frequency scaling that
 * cannot be read.  Returns a new reference to an array of strings (empty when quiet). */
json_t *pw_env_warnings(const json_t *before, const json_t *after);

#endif
