/* lm_utf8.h — keep text that quotes input valid UTF-8.
 *
 * Dead-letter reasons and log lines quote parts of the input (a country
 * code, a time zone), and a truncated message can split a character. JSON
 * (jansson refuses invalid UTF-8) and proto3 strings must be UTF-8, so such
 * text is cleaned first. Pure, in place, thread-safe. */
#ifndef LM_UTF8_H
#define LM_UTF8_H

/* Replaces every byte that is not part of a well-formed UTF-8 sequence
 * (overlong forms and surrogates included) with '?'. */
void lm_utf8_sanitize(char *s);

#endif
