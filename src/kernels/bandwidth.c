/* bandwidth.c — the memory roof: the STREAM triad a[i] = b[i] + s·c[i] on one core, with the
 * widest vector width the CPU runs (a scalar loop cannot saturate L2, and -O2 does not vectorize
 * a loop of unknown length).  The experiments time it over a working set far larger than the
 * last-level cache (the DRAM roof) and over one inside L2 (the L2 roof). */
#include <stddef.h>

#include "perfweave/matmul.h"
#include "simd.h"

static void triad_portable(double *restrict a, const double *restrict b,
                           const double *restrict c, double s, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
}

#ifdef PW_X86_SIMD
PW_TARGET_AVX2 static void triad_avx2(double *restrict a, const double *restrict b,
                                      const double *restrict c, double s, size_t n)
{
    const __m256d sv = _mm256_set1_pd(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_pd(a + i, _mm256_fmadd_pd(sv, _mm256_loadu_pd(c + i), _mm256_loadu_pd(b + i)));
        _mm256_storeu_pd(a + i + 4,
                         _mm256_fmadd_pd(sv, _mm256_loadu_pd(c + i + 4), _mm256_loadu_pd(b + i + 4)));
    }
    for (; i < n; i++) a[i] = b[i] + s * c[i];
}

PW_TARGET_AVX512 static void triad_avx512(double *restrict a, const double *restrict b,
                                          const double *restrict c, double s, size_t n)
{
    const __m512d sv = _mm512_set1_pd(s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_pd(a + i, _mm512_fmadd_pd(sv, _mm512_loadu_pd(c + i), _mm512_loadu_pd(b + i)));
        _mm512_storeu_pd(a + i + 8,
                         _mm512_fmadd_pd(sv, _mm512_loadu_pd(c + i + 8), _mm512_loadu_pd(b + i + 8)));
    }
    for (; i < n; i++) a[i] = b[i] + s * c[i];
}
#endif

void pw_triad(pw_ukernel isa, double *restrict a, const double *restrict b,
              const double *restrict c, double s, size_t n)
{
    if (isa == PW_UKERNEL_AUTO) isa = pw_ukernel_widest(pw_cpu_host());
    switch (isa) {
#ifdef PW_X86_SIMD
    case PW_UKERNEL_AVX512: triad_avx512(a, b, c, s, n); return;
    case PW_UKERNEL_AVX2: triad_avx2(a, b, c, s, n); return;
#endif
    default: triad_portable(a, b, c, s, n); return;
    }
}

double pw_triad_bytes(size_t n)
{
    return 3.0 * sizeof(double) * (double)n;
}
