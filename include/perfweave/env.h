/* env.h — the measurement environment captured with every result: the machine (CPU, caches,
 * cores, hypervisor, frequency governor, load), the software (kernel, compiler and flags,
 * OpenBLAS, GSL, cmark, jansson, perfweave commit), and the conditions that make timings noisy.
 *
 * Everything is read from files (/proc, /sys), sysconf, uname, CPUID and the libraries' own
 * version calls; nothing is executed.  A value that cannot be read is JSON null, never a guess.
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
 *              "frequency_scaling": "known"|"unknown" },
 *     "hypervisor": { "present": bool,             cpuinfo "hypervisor" flag or CPUID bit
 *                     "vendor": "KVMKVMKVM"|…|null, CPUID leaf 0x40000000
 *                     "sys_type": "xen"|…|null },   /sys/hypervisor/type
 *     "memory_bytes": n|null,                       MemTotal
 *     "load": [1 min, 5 min, 15 min] | null,        getloadavg
 *     "kernel": { "sysname", "release", "version", "machine" },
 *     "compiler": { "name": "gcc"|"clang", "version": __VERSION__, "flags": PW_CFLAGS },
 *     "openblas": { "core": str, "config": str, "threads": n },
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

/* The stable subset of env that identifies the machine and build for the result cache: CPU model
 * and flags, caches, cores online, hypervisor presence and vendor, compiler version and flags,
 * OpenBLAS core.  Excludes everything that varies between two captures on one machine (time,
 * load, governor, commit, host name).  Returns a new reference (an object; members missing from
 * env are null). */
json_t *pw_env_fingerprint(const json_t *env);

/* A short hex digest (16 hex digits: the first 64 bits of the SHA-256 of the fingerprint's
 * canonical JSON, keys sorted) of env's fingerprint.  The caller frees it. */
char *pw_env_fingerprint_hash(const json_t *env);

/* Noisy conditions as sentences for the report, from environments captured before and after a
 * measurement (after may be NULL): 1-minute load above PW_ENV_LOAD_PER_CORE per core at either
 * point, a readable governor other than "performance", a hypervisor, frequency scaling that
 * cannot be read.  Returns a new reference to an array of strings (empty when quiet). */
json_t *pw_env_warnings(const json_t *before, const json_t *after);

#endif
