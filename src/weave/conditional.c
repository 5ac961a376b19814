/* conditional.c — conditional text (weave.h): a `when LABEL` block split into its passages,
 * each parsed as Markdown, and the inline `?LABEL|…|…|…` form; and which passage a verdict
 * selects.  The report splices the chosen one into the chapter after claims are decided
 * (decide.c), so a passage goes through cmark's renderers like the prose around it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/weave.h"

const char *const pw_passage_names[] = {"holds", "fails", "partial", "undecided", "error",
                                        "otherwise", NULL};

static const char when_word[] = "when";
static const char inline_usage[] = "`?LABEL|if it holds|if it fails|if undecided`";

/* A keyword line: one lowercase word and a colon, alone on the line (spaces around allowed).
 * Returns the word's length (its start in *word), or 0 when the line is prose. */
static size_t keyword_line(const char *line, size_t len, const char **word)
{
    while (len && (*line == ' ' || *line == '\t')) line++, len--;
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) len--;
    if (len < 2 || line[len - 1] != ':') return 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (!islower((unsigned char)line[i])) return 0;
    *word = line;
    return len - 1;
}

static int passage_index(const char *word, size_t n)
{
    for (int i = 0; i < PW_PASSAGE_NONE; i++)
        if (strlen(pw_passage_names[i]) == n && strncmp(pw_passage_names[i], word, n) == 0) return i;
    return -1;
}

/* The label of a `when` info string ("when LABEL"); errors go to diag. */
static char *block_label(const char *file, int line, const char *info, pw_diag *diag)
{
    const char *s = info + strlen(when_word);
    while (isspace((unsigned char)*s)) s++;
    const char *e = s;
    while (*e && !isspace((unsigned char)*e)) e++;
    const char *after = e;
    while (isspace((unsigned char)*after)) after++;
    if (e == s) {
        pw_diag_add(diag, file, line, "when block without a label (write ```when LABEL, naming "
                    "a labelled claim, counterclaim or condition)");
        return NULL;
    }
    char *label = pw_xstrndup(s, (size_t)(e - s));
    if (!pw_label_valid(label)) {
        pw_diag_add(diag, file, line, "label '%s' must be lowercase letters, digits and '-', "
                    "starting with a letter or digit", label);
        free(label);
        return NULL;
    }
    if (*after) {
        pw_diag_add(diag, file, line, "unexpected '%s' after the label of a when block", after);
        free(label);
        return NULL;
    }
    return label;
}

static void parse_passage(pw_when *w, int which, const char *text, size_t len)
{
    w->passage[which] = cmark_parse_document(text, len, CMARK_OPT_SOURCEPOS | CMARK_OPT_VALIDATE_UTF8);
}

bool pw_when_parse_block(const char *file, int line, const char *info, const char *literal,
                         pw_when *out, pw_diag *diag)
{
    memset(out, 0, sizeof *out);
    out->line = line;
    size_t before = diag->n;
    out->label = block_label(file, line, info, diag);
    if (!literal) literal = "";
    /* Line by line: a keyword line closes the passage before it and opens its own. */
    int current = -1, lineno = line;
    const char *start = NULL; /* text of the current passage */
    for (const char *s = literal; *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        const char *next = nl ? nl + 1 : s + len;
        lineno++;
        const char *word;
        size_t wl = keyword_line(s, len, &word);
        if (wl) {
            int k = passage_index(word, wl);
            if (k < 0) {
                char *w = pw_xstrndup(word, wl);
                const char *hint = pw_suggest(w, (const char *const *)pw_passage_names, PW_PASSAGE_NONE);
                if (hint)
                    pw_diag_add(diag, file, lineno, "unknown passage '%s:' (did you mean '%s:'?)", w, hint);
                else
                    pw_diag_add(diag, file, lineno, "unknown passage '%s:' (holds, fails, partial, "
                                "undecided, error, otherwise; write '%s\\:' for prose)", w, w);
                free(w);
            } else if (out->passage_line[k]) {
                pw_diag_add(diag, file, lineno, "passage '%s:' given twice (first on line %d)",
                            pw_passage_names[k], out->passage_line[k] - 1);
            } else {
                if (current >= 0) parse_passage(out, current, start, (size_t)(s - start));
                current = k;
                start = next;
                out->passage_line[k] = lineno + 1;
                s = next;
                continue;
            }
            /* A bad keyword line ends the passage before it; what follows is not kept. */
            if (current >= 0) parse_passage(out, current, start, (size_t)(s - start));
            current = -1;
        } else if (current < 0 && before == diag->n) {
            const char *t = s;
            while (t < s + len && isspace((unsigned char)*t)) t++;
            if (t < s + len)
                pw_diag_add(diag, file, lineno, "text before the first passage of a when block "
                            "(start with a line such as 'holds:')");
        }
        s = next;
    }
    if (current >= 0) parse_passage(out, current, start, strlen(start));
    bool any = false;
    for (int k = 0; k < PW_PASSAGE_NONE; k++) any |= out->passage_line[k] != 0;
    if (!any && before == diag->n)
        pw_diag_add(diag, file, line, "when block without a passage (holds:, fails:, partial:, "
                    "undecided:, error:, otherwise:)");
    if (diag->n != before) {
        pw_when_release(out);
        return false;
    }
    return true;
}

bool pw_when_parse_inline(const char *file, int line, const char *literal, pw_when *out, pw_diag *diag)
{
    memset(out, 0, sizeof *out);
    out->line = line;
    out->is_inline = true;
    const char *bar = strchr(literal + 1, '|');
    size_t n = bar ? (size_t)(bar - literal - 1) : strlen(literal + 1);
    char *label = pw_xstrndup(literal + 1, n);
    if (!pw_label_valid(label)) {
        if (!*label)
            pw_diag_add(diag, file, line, "conditional text '%s' needs a label: %s", literal, inline_usage);
        else
            pw_diag_add(diag, file, line, "label '%s' in '%s' must be lowercase letters, digits and "
                        "'-', starting with a letter or digit", label, literal);
        free(label);
        return false;
    }
    size_t count = 0;
    for (const char *s = bar; s; s = strchr(s + 1, '|')) count++;
    if (count != 3) {
        pw_diag_add(diag, file, line, "conditional text '%s' has %zu alternative%s, not 3: %s",
                    literal, count, count == 1 ? "" : "s", inline_usage);
        free(label);
        return false;
    }
    out->label = label;
    const char *s = bar + 1;
    /* Each alternative trimmed: the span sits between words of the sentence. */
    for (int i = 0; i < 3; i++) {
        const char *e = i < 2 ? strchr(s, '|') : s + strlen(s);
        const char *b = s, *f = e;
        while (b < f && isspace((unsigned char)*b)) b++;
        while (f > b && isspace((unsigned char)f[-1])) f--;
        out->alt[i] = pw_xstrndup(b, (size_t)(f - b));
        s = e + 1;
    }
    return true;
}

void pw_when_release(pw_when *w)
{
    if (!w) return;
    free(w->label);
    for (int k = 0; k < PW_PASSAGE_NONE; k++)
        if (w->passage[k]) cmark_node_free(w->passage[k]);
    for (int i = 0; i < 3; i++) free(w->alt[i]);
    memset(w, 0, sizeof *w);
}

pw_passage pw_when_choose(const pw_when *w, pw_verdict v)
{
    pw_passage want[2] = {PW_PASSAGE_NONE, PW_PASSAGE_NONE};
    switch (v) {
    case PW_VERDICT_PASS: want[0] = PW_PASSAGE_HOLDS; break;
    case PW_VERDICT_FAIL: want[0] = PW_PASSAGE_FAILS; break;
    case PW_VERDICT_PARTIAL: want[0] = PW_PASSAGE_PARTIAL; want[1] = PW_PASSAGE_UNDECIDED; break;
    case PW_VERDICT_UNDECIDED: want[0] = PW_PASSAGE_UNDECIDED; break;
    case PW_VERDICT_ERROR: want[0] = PW_PASSAGE_ERROR; break;
    }
    for (int i = 0; i < 2; i++)
        if (want[i] != PW_PASSAGE_NONE && w->passage_line[want[i]]) return want[i];
    return w->passage_line[PW_PASSAGE_OTHERWISE] ? PW_PASSAGE_OTHERWISE : PW_PASSAGE_NONE;
}

const char *pw_when_choose_inline(const pw_when *w, pw_verdict v)
{
    switch (v) {
    case PW_VERDICT_PASS: return w->alt[0];
    case PW_VERDICT_FAIL: return w->alt[1];
    case PW_VERDICT_PARTIAL:
    case PW_VERDICT_UNDECIDED: return w->alt[2];
    case PW_VERDICT_ERROR: break;
    }
    return NULL;
}
