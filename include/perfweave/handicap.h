/* handicap.h — a library baseline judged handicapped, as results record it: which comparisons of
 * a result are against which library, the marking of those comparisons as undecidable, and the
 * carrying of a judgement made in one result (where the library's speed was measured against
 * the machine's peak) into every other result of a report that compares against the same
 * library, run the same way on the same machine.
 *
 * The rule that judges a library is baselines.h's pw_baseline_judge; experiments apply it
 * (src/experiments/baseline.h) and record here what they compared with; the weave carries the
 * measured judgements across results before claims are decided (src/weave/decide.c).
 *
 * What a result records:
 *   extra "libraries":      { variant: description } — each library it compares against, as the
 *                           measuring process ran it (baselines.h: pw_openblas_json,
 *                           pw_blis_json, pw_onednn_json)
 *   extra "baseline_sides": { side: key } — a comparison speedup.A_vs_B.S with A or B == side
 *                           is against the library that extra[key] names: one variant for
 *                           every S (a string), or { S: variant } (an object).  Comparisons
 *                           whose A or B is the variant's own name need no entry.
 *   extra "baseline_metrics": { metric: variant } — other metrics that rest on a comparison
 *                           with the library (a score computed from its speedup)
 *   extra "handicapped":    { variant: sentence } — judged handicapped in this result: by its
 *                           measured speed against the machine's peak, or by what its vector
 *                           code can reach at best (a result that judged a library itself
 *                           takes no other result's judgement of it)
 *   "baseline_warnings":    [ sentence ] — what the report lists at the top for this result
 * A comparison is a metric named speedup.A_vs_B.S (S may be empty), or one that extra
 * "baseline_metrics" names. */
#ifndef PERFWEAVE_HANDICAP_H
#define PERFWEAVE_HANDICAP_H

#include <stdbool.h>

#include "perfweave/result.h"

/* Marks every comparison of r against variant — those whose A or B is variant, and, when side
 * is not NULL, those whose A or B is side at the suffixes where extra[key] names variant (key
 * defaults to side) — undecidable with code "baseline" and reason (result.h), replacing any
 * earlier mark; appends reason to r's "baseline_warnings" unless it is there already.  Returns
 * how many comparisons were marked. */
int pw_handicap_mark(pw_result *r, const char *variant, const char *side, const char *key,
                     const char *reason);

/* Records that r's comparisons through side are against the library extra[key] names (above).
 * Recording a side twice keeps one entry. */
void pw_handicap_add_side(pw_result *r, const char *side, const char *key);

/* Records that metric of r rests on a comparison with variant (above). */
void pw_handicap_add_metric(pw_result *r, const char *metric, const char *variant);

/* Records variant as judged handicapped in r, with the judgement's sentence (the one
 * pw_handicap_mark put beside the comparisons). */
void pw_handicap_judged(pw_result *r, const char *variant, const char *sentence);

/* Whether a and b ran variant the same way on the same machine: both record its description,
 * the fields that decide its code and speed agree (OpenBLAS: version, file, core and tuning
 * variables; BLIS: version, file and kernel set; oneDNN: version, file and effective ISA), and
 * their environments name the same hardware (env.h's pw_env_hardware_hash). */
bool pw_handicap_same_library(const pw_result *a, const pw_result *b, const char *variant);

/* Carries every judgement of from (whose directive id is from_id) into to: for each variant
 * from judged handicapped and to did not, when pw_handicap_same_library(to, from, variant), each
 * comparison of to against variant (directly or through its recorded sides) that is not already
 * marked undecidable for another reason is marked "baseline", with from's sentence and where it
 * was measured; when to has any comparison against variant (marked now or before), from's
 * sentence joins to's "baseline_warnings" (a library measured only as a candidate that was never
 * chosen leaves no warning).  A result never carries into itself.  Returns how many comparisons
 * were marked. */
int pw_handicap_carry(pw_result *to, const pw_result *from, const char *from_id);

#endif
