/* lm_geo.h — countries: time zone, sales region, calling code; phones.
 *
 * A static table of every officially assigned ISO 3166-1 alpha-2 code (249
 * of them), each with a default IANA time zone (the zone most of the
 * country's business population lives in), a sales region ("NA", "LATAM",
 * "EMEA", "APAC") and the E.164 country calling code. Intake uses it to
 * normalise phone numbers and to give a lead a time zone when it has none;
 * the decision config uses the regions for routing and segments.
 *
 * Invariants: the table is sorted by alpha2 and never changes; every
 * pointer this module returns points into static storage, valid for the
 * life of the process and never freed by anyone.
 * Threads: no state at all; every function is thread-safe. */
#ifndef LM_GEO_H
#define LM_GEO_H

#include <stddef.h>

#define LM_GEO_PHONE_MIN_DIGITS 8  /* E.164 digits, country code included */
#define LM_GEO_PHONE_MAX_DIGITS 15 /* ITU-T E.164 maximum */
#define LM_GEO_PHONE_RAW_MAX    64 /* longest raw phone string accepted */
/* Large enough for any result of lm_geo_phone_e164: '+', 15 digits, NUL. */
#define LM_GEO_E164_BUFSZ (LM_GEO_PHONE_MAX_DIGITS + 2)

/* One country. All strings are static. (No typedef: the name
 * `lm_geo_country` is the lookup function; write `struct lm_geo_country`.)
 */
struct lm_geo_country {
    const char *alpha2;       /* "DE" (upper case) */
    const char *name;         /* "Germany" (English short name, UTF-8) */
    const char *tz;           /* default IANA zone, "Europe/Berlin" */
    const char *region;       /* "NA", "LATAM", "EMEA" or "APAC" */
    const char *calling_code; /* E.164 country code, digits only: "49" */
    const char *trunk_prefix; /* national trunk prefix dropped when a
                                 national number is made international:
                                 "0" mostly, "1" NANP, "8" RU/KZ/BY, "06" HU,
                                 "" where a leading 0 is part of the number
                                 (IT, SM, VA, CI) */
};

/* The country for an alpha-2 code, case-insensitive ("de", "DE"); NULL if
 * the code is not officially assigned or alpha2 is NULL. Static storage. */
const struct lm_geo_country *lm_geo_country(const char *alpha2);

/* Iteration over the table in alpha2 order: i in [0, lm_geo_country_count())
 * (NULL past the end). Static storage. */
size_t lm_geo_country_count(void);
const struct lm_geo_country *lm_geo_country_at(size_t i);

/* The canonical spelling ("EMEA") of a sales region name given in any case,
 * or NULL if it is not one of LM_GEO_REGIONS. Static storage. */
const char *lm_geo_region(const char *name);
#define LM_GEO_REGIONS "NA, LATAM, EMEA, APAC" /* for error messages */

/* Normalises a phone number to E.164 ("+4930123456") into out.
 * raw: digits with optional spaces, dashes, dots and parentheses; an
 *   international number starts with '+' or "00" (NANP countries also
 *   accept "011"), and may carry the "(0)" trunk hint ("+44 (0)20 ...");
 *   otherwise it is national and alpha2 says which country: its trunk
 *   prefix (usually a leading 0) is dropped and the calling code prepended.
 * alpha2: the lead's country; may be NULL/"" for international numbers.
 * The result must have 8..15 digits including the country code.
 * Returns 0, or -1 with the reason in err (e.g. "phone \"+49 1234\" has 6
 * digits with the country code; E.164 needs 8 to 15"); out is then "".
 * err may be NULL; errsz of 256 holds any message. */
int lm_geo_phone_e164(const char *raw, const char *alpha2, char *out,
                      size_t outsz, char *err, size_t errsz);

#endif
