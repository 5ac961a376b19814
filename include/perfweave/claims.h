/* claims.h — claims a directive makes about its measurements, and their verdicts.
 *
 * Syntax (one claim per `claim:` line of a directive):
 *
 *     claim     := target cmp number [ "where" var cmp number ]
 *                | target "in" "[" number "," number "]" [ "where" … ]
 *     target    := func "(" word { "," word } ")" | metric-name
 *     cmp       := ">=" | ">" | "<=" | "<" | "=="
 *
 * A target names a family of metrics: `speedup(a, b)` is "speedup.a_vs_b"; any other
 * `f(a, b, …)` is "f.a.b…"; a bare name is itself.  The points of a claim are the metrics named
 * exactly so, or so plus one final component `<letters><number>` (e.g. "n1024", "t512", "b32");
 * `where n >= 256` keeps the points whose final component has letters "n" and a number >= 256.
 *
 * Verdicts come from the 95% intervals, never from point estimates: a point holds when its
 * interval lies wholly on the claimed side, fails when wholly on the other, and is undecided
 * otherwise.  With several points and claims in one chapter, each point also gets a one-sided
 * p-value (normal approximation on the interval, on log scale for ratios) and a Holm-adjusted
 * p-value across the chapter; a point counts as holding (failing) only when its interval says
 * so and its adjusted p is below 0.05.  A point on a metric marked undecidable, or a sampled
 * (non-exact) point of a result marked disturbed (result.h), is UNDECIDED whatever its interval says, with that reason, and
 * stays out of the Holm family.  Claim verdict: PASS all points hold, FAIL all fail,
 * UNDECIDED all undecided, PARTIAL any mixture, ERROR when the experiment failed or no point
 * matched.
 *
 * Kinds.  A *claim* states what the optimization promises: its PASS means the optimization
 * helped.  A *counterclaim* states that it does not deliver (e.g. "CSR is slower than dense at
 * 50% sparsity"): its PASS means it did not help.  A *condition* is decided the same way but
 * only chooses prose (weave.h, conditional text): it has no badge, no outcome, and is decided on
 * its own, outside any chapter's Holm family.  The outcome for the optimization: a claim's PASS
 * or a counterclaim's FAIL is "helped", the reverse "did not help", PARTIAL and UNDECIDED are
 * "undecided", ERROR is "could not be measured". */
#ifndef PERFWEAVE_CLAIMS_H
#define PERFWEAVE_CLAIMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "perfweave/result.h"

typedef enum { PW_CMP_GE, PW_CMP_GT, PW_CMP_LE, PW_CMP_LT, PW_CMP_EQ, PW_CMP_IN } pw_cmp;

typedef enum { PW_CLAIM_CLAIM, PW_CLAIM_COUNTERCLAIM, PW_CLAIM_CONDITION } pw_claim_kind;

typedef struct {
    char *text;            /* the claim as written (trimmed) */
    char *target;          /* metric family, e.g. "speedup.openblas_vs_naive" */
    pw_cmp cmp;
    double threshold;      /* for PW_CMP_IN: the lower bound */
    double threshold_hi;   /* for PW_CMP_IN: the upper bound */
    bool scoped;
    char *scope_var;       /* "n" */
    pw_cmp scope_cmp;      /* not PW_CMP_IN */
    double scope_value;
    pw_claim_kind kind;    /* PW_CLAIM_CLAIM from pw_claim_parse; the directive sets it */
    char *label;           /* NULL, or the label prose refers to it by (owned) */
} pw_claim;

/* Parses text into *out (owned strings; pw_claim_release frees them, the label included): kind
 * PW_CLAIM_CLAIM, no label.  On a malformed claim returns PW_EINVAL and writes a lowercase
 * message naming the problem into msg. */
int pw_claim_parse(const char *text, pw_claim *out, char *msg, size_t msgsize);
void pw_claim_release(pw_claim *c);

typedef enum {
    PW_VERDICT_PASS, PW_VERDICT_PARTIAL, PW_VERDICT_FAIL, PW_VERDICT_UNDECIDED, PW_VERDICT_ERROR
} pw_verdict;

/* "PASS", "PARTIAL", "FAIL", "UNDECIDED", "ERROR". */
const char *pw_verdict_name(pw_verdict v);
/* Parses a verdict name; returns -1 when unknown. */
int pw_verdict_parse(const char *name);
/* Aggregates claim verdicts into a module/report verdict: ERROR if any ERROR; else PASS when all
 * PASS, FAIL when all FAIL, UNDECIDED when all UNDECIDED, PARTIAL otherwise.  n == 0 → PASS is
 * wrong, so it returns UNDECIDED. */
pw_verdict pw_verdict_aggregate(const pw_verdict *v, size_t n);

/* "claim", "counterclaim", "condition". */
const char *pw_claim_kind_name(pw_claim_kind k);

/* What a verdict says happened to the optimization.  MIXED: some points of a PARTIAL claim hold
 * and others fail (it helped at some sizes, decidedly not at others); a PARTIAL claim whose other
 * points are only undecided stays UNDECIDED. */
typedef enum {
    PW_OUTCOME_HELPED, PW_OUTCOME_NOT_HELPED, PW_OUTCOME_MIXED, PW_OUTCOME_UNDECIDED,
    PW_OUTCOME_UNMEASURED
} pw_outcome;
#define PW_OUTCOMES 5

/* "helped", "did not help", "mixed", "undecided", "could not be measured". */
const char *pw_outcome_name(pw_outcome o);
/* Parses an outcome name; returns -1 when unknown. */
int pw_outcome_parse(const char *name);
/* The outcome of verdict v for a claim of kind k (a condition reads as a claim); a PARTIAL
 * verdict reads as UNDECIDED here, since only the points tell MIXED apart (pw_claim_outcome_of). */
pw_outcome pw_claim_outcome(pw_claim_kind k, pw_verdict v);
/* The same, with the claim's counts of points that hold and that fail: a PARTIAL verdict with at
 * least one of each is MIXED. */
pw_outcome pw_claim_outcome_of(pw_claim_kind k, pw_verdict v, size_t holds, size_t fails);

/* Evaluates m claims together (one chapter), claims[i] against results[i], with Holm
 * correction across all their points.  Returns a new JSON array with one object per claim:
 *   { "claim": text, "kind": "claim"|"counterclaim"|"condition", "label": text (when labelled),
 *     "verdict": "PASS"|…, "outcome": pw_outcome_name (not for conditions),
 *     "reason": text (for ERROR/UNDECIDED),
 *     "points": [ { "metric", "value", "lo", "hi", "unit", "state": "holds"|"fails"|"undecided",
 *                   "p", "p_holm", "mde" (relative, when the metric has n and cv),
 *                   "samples_needed" (rough, for undecided points whose metric has n), or
 *                   "on_threshold": true instead when the estimate lies within a tenth of its
 *                   interval's half-width of the threshold (over 100× the samples: no count),
 *                   "fixed_sample" (undecided points on a metric so marked, result.h: the
 *                   sentence saying why more samples cannot decide it; no samples_needed then),
 *                   "why" (undecided points only: "interval" straddles the threshold, "holm"
 *                   loses significance after correction, or the metric's undecidable code such
 *                   as "baseline", "too_few_samples", "disturbed", "stale"),
 *                   "reason" (the sentence for a blocked point) } ] }
 * A claim whose undecided points include blocked ones has a "reason" naming the first. */
json_t *pw_claims_evaluate(const pw_claim *claims, const pw_result *const *results, size_t m);

/* The verdict object of claim c when there is nothing to decide it from yet (a directive not
 * measured yet, exec.h): UNDECIDED (outcome "undecided"), the reason given, no points, in the
 * layout above; it stays out of every Holm family.  A new reference. */
json_t *pw_claim_undecided(const pw_claim *c, const char *reason);

#endif
