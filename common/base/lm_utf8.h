/* lm_utf8.h — keep text that quotes input valid UTF-8.
 *
 * Dead-letter reasons and log lines quote parts of the input (a country
 * code, a time zone), and a truncated message can split a character. JSON
 * (jansson refuses invalid UTF-8) and proto3 strings must be UTF-8, so such
 * text is cleaned first. Pure, in place, thread-safe. */
#ifndef LM_UTF8_H
#define LM_UTF8_H

#include <stddef.h>

/* lm_utf8_seq of a sequence that starts with a byte >= 0x80. */
size_t lm_utf8_seq_multi(const unsigned char *s, size_t n);

/* Length of the well-formed UTF-8 sequence at s (at most n bytes, n >= 1),
 * or 0 when there is none (overlong forms, surrogates and code points past
 * U+10FFFF are not well-formed). Inline for ASCII: the decoder checks every
 * byte of every input string with it (issue 16). */
static inline size_t lm_utf8_seq(const unsigned char *s, size_t n) {
    return s[0] < 0x80 ? 1 : lm_utf8_seq_multi(s, n);
}

/* Replaces every byte that is not part of a well-formed UTF-8 sequence
 * (overlong forms and surrogates included) with '?'. */
void lm_utf8_sanitize(char *s);

#endif
