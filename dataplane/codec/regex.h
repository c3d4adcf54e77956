/* regex.h - the Java regex subset of AWS models, matched in linear time.
 *
 * botocore patterns are Java regexes that AWS applies to a whole member
 * value. sl_re_compile() turns one into a Thompson NFA at start-up, into a
 * fixed-size struct; matching simulates every NFA state at once with a bitset
 * (Pike's VM without captures), so a subject of n code points costs
 * O(n * states) and nothing is allocated. The subject is fed one code point
 * at a time, so callers can match a JSON-escaped or chunked string without
 * copying it.
 *
 * Supported: literals, `.`, classes `[...]`/`[^...]` with ranges, `\d \w \s`
 * and their negations, `\p{L} \p{N} \p{Z}`, escapes `\t \n \r \f \a \e \0oo
 * \xhh \x{h..} \uhhhh` (a surrogate pair of \u escapes is one code point),
 * escaped punctuation; groups `(...)` and `(?:...)`; `|`; `* + ? {n} {n,}
 * {n,m}`, also lazy (`*?`, the same language for a whole-string match) and
 * possessive only for an exact count (`{n}+`); `^` and `$` as assertions at
 * the start and end of the subject; `(?s)` at the very start; lookaheads
 * `(?=...)` and `(?!...)` only at the start of the pattern (after an optional
 * `^`), which then test a prefix of the subject. Everything else (lookbehind,
 * lookahead elsewhere, backreferences, `\b`, nested classes, other flags) is
 * refused with -EINVAL: scripts/gen-shapes mirrors these rules and leaves
 * such patterns out of the tables.
 */
#ifndef SL_CODEC_REGEX_H
#define SL_CODEC_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* NFA instructions of one pattern. A bounded repetition is unrolled, so
 * `\d{0,128}` alone takes 257; the largest pattern of the served models (a
 * CloudWatch statistic) takes 629. Matching keeps two bitsets of this many
 * bits, and the closure stack two entries per instruction. */
#define SL_RE_INSTS_MAX 1024
/* Character classes and their ranges (after merging) in one pattern. */
#define SL_RE_CLASSES_MAX 64
#define SL_RE_RANGES_MAX 256
/* Leading lookaheads, e.g. `^(?!\s*$).+` has one. */
#define SL_RE_LOOKS_MAX 4
/* Largest count in {n,m}; larger would not fit SL_RE_INSTS_MAX anyway. */
#define SL_RE_REPEAT_MAX 1000
/* Longest pattern text and deepest group nesting the compiler accepts: the
 * parse tree lives on the compiler's stack, one node per pattern byte. */
#define SL_RE_PATTERN_MAX 1024
#define SL_RE_DEPTH_MAX 32

#define SL_RE_WORDS (SL_RE_INSTS_MAX / 64)

_Static_assert(SL_RE_INSTS_MAX % 64 == 0, "state bitsets are whole words");
_Static_assert(SL_RE_INSTS_MAX <= UINT16_MAX, "instruction targets are 16-bit");
_Static_assert(SL_RE_LOOKS_MAX <= 32, "lookahead results are one uint32_t");
_Static_assert(SL_RE_REPEAT_MAX <= UINT16_MAX, "repeat counts are 16-bit");

struct sl_re_inst {
	uint8_t op;    /* private to regex.c */
	uint8_t pad;
	uint16_t x;    /* jump target, class or lookahead index */
	uint32_t arg;  /* code point, or the second target of a split */
};

struct sl_re_class {
	uint16_t first; /* into ranges[] */
	uint16_t n;
	uint8_t neg;
	uint8_t cats;   /* Unicode categories, private bits */
};

struct sl_re_range {
	uint32_t lo, hi;
};

/* One compiled pattern, about 10 KiB. state is 0 until sl_re_compile() runs,
 * then SL_RE_READY or SL_RE_FAILED. */
#define SL_RE_READY 1
#define SL_RE_FAILED 2
struct sl_re {
	uint8_t state;
	uint8_t nlook;
	uint16_t ninst;
	uint16_t nclass;
	uint16_t nrange;
	uint16_t start;                      /* main program's first instruction */
	uint16_t look_start[SL_RE_LOOKS_MAX];
	uint8_t look_neg[SL_RE_LOOKS_MAX];
	struct sl_re_inst inst[SL_RE_INSTS_MAX];
	struct sl_re_class cls[SL_RE_CLASSES_MAX];
	struct sl_re_range range[SL_RE_RANGES_MAX];
};

/* A match in progress: the live NFA states and what the lookaheads saw. */
struct sl_re_run {
	uint64_t cur[SL_RE_WORDS];
	uint32_t look_hit; /* bit k: lookahead k matched some prefix */
	bool at_start;     /* no code point fed yet */
};

/* Compile pattern pat[0..len) into re. Returns 0; -EINVAL for syntax outside
 * the subset above (re->state is SL_RE_FAILED); -E2BIG when it needs more
 * than the SL_RE_* limits. */
int sl_re_compile(struct sl_re *re, const char *pat, size_t len);

/* Match a subject fed code point by code point: start, step per code point,
 * then done answers whether the whole subject matched. sl_re_dead() is true
 * once no state is live, when the answer is already false. */
void sl_re_start(const struct sl_re *re, struct sl_re_run *run);
void sl_re_step(const struct sl_re *re, struct sl_re_run *run, uint32_t cp);
bool sl_re_dead(const struct sl_re_run *run);
bool sl_re_done(const struct sl_re *re, struct sl_re_run *run);

/* Whole-string match of UTF-8 text s[0..n); a byte that does not start a
 * valid sequence counts as one code point U+FFFD. */
bool sl_re_match(const struct sl_re *re, const uint8_t *s, size_t n);

#endif
