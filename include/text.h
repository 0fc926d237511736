/* text.h — UTF-8 text utilities: folding for case- and accent-insensitive
 * matching (libunistring), UTF-8 validation, small string helpers. */
#ifndef DEALMAIL_TEXT_H
#define DEALMAIL_TEXT_H
#include <stddef.h>
#include <stdbool.h>

/* Fold for matching: NFKD, drop combining marks, case-fold, map NBSP and
 * other Unicode spaces to ' ', drop zero-width characters (U+200B..U+200D,
 * U+FEFF, U+2060), collapse runs of whitespace to one space, trim both ends.
 * "  Negociação " -> "negociacao", "ESTÁGIO" -> "estagio".  malloc'd. */
char *text_fold(const char *s);
/* text_fold(a) equals text_fold(b). */
bool text_fold_eq(const char *a, const char *b);
/* Bytes of the word at the start of s: letters and the combining marks on
 * them ("do\xCC\x81lares", an "o" with U+0301 as macOS writes it, is one
 * word); 0 when s does not start with a letter. */
size_t text_word_len(const char *s);
/* Levenshtein distance between two folded strings (by code point). */
int text_distance(const char *a, const char *b);
/* true when s is valid UTF-8 (n bytes). */
bool text_valid_utf8(const char *s, size_t n);
/* Copy with invalid UTF-8 replaced by U+FFFD and NUL bytes dropped. */
char *text_sanitize_utf8(const char *s, size_t n);
/* A copy with the control characters (CR, LF, TAB, DEL…) turned into
 * spaces: a value that must stay on one line (a header, a deal's title, a
 * contact's name).  NULL for NULL.  malloc'd. */
char *text_one_line(const char *s);
/* Trim ASCII and Unicode whitespace from both ends, in place; returns s. */
char *text_trim(char *s);
/* strcasecmp-style prefix test, ASCII only. */
bool text_istarts(const char *s, const char *prefix);
/* "Natural" order of two names, as strcmp() returns it: runs of ASCII digits
 * compare by their numeric value (leading zeros ignored: by length, then
 * digit by digit), every other byte bytewise (unsigned); names equal that
 * way (only their leading zeros differ) are ordered by strcmp().  So
 * "1700000000.M98765P1" < "1700000000.M102345P1" and "x_9" < "x_10". */
int text_natcmp(const char *a, const char *b);

#endif
