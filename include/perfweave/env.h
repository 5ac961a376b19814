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

#define PW_ENV_SCHEMA 1

/* Load average (1 minute) per online core above which timings are considered disturbed. */
#define PW_ENV_LOAD_PER_CORE 0.5

/* Captures the environment now (layout above).  Returns a new reference; never NULL. */
json_t *pw_env_capture(void);

/* What identifies the hardware (the hardware matrix groups machines by it): CPU vendor, family,
 * model number, stepping and brand string, usable ISA, caches, cores online, threads per core,
 * memory in whole GiB, hypervisor presence and vendor, machine architecture (and, for
 * environments recorded before "cpuid" existed, the raw flags line).  Returns a new reference
 * (an object; members missing from env are null). */
json_t *pw_env_hardware(const json_t *env);
/* What only makes a cached result stale: compiler name, version and flags; OpenBLAS version,
 * config and core in use; BLIS version and kernel set; oneDNN version and effective ISA; GSL
 * version; where the CBLAS symbols bind.  Returns a new reference. */
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
