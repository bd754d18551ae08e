/* lm_phone_tz.h — the time zone a phone number places a lead in.
 *
 * A lead that comes without a time zone is placed by its phone number
 * before its country: a (415) number is in San Francisco, not New York.
 *   North American numbers (+1): the area code (NPA) says the zone, from a
 *     table of every US and Canadian area code in service (and the
 *     overlays announced), grouped by zone. An area code that spans two
 *     zones gets the zone most of its people live in (said where so).
 *     Other +1 countries (the Caribbean, the US territories in the
 *     Pacific) have one zone each: their country's default.
 *   Other numbers: the country calling code says the country; a country
 *     with one zone gives its zone (+44 Europe/London, +49 Europe/Berlin).
 *     A country with several zones (Russia, Brazil, Mexico, Australia,
 *     ...) is not placed by its calling code alone.
 * The lead's rule (lm_phone_tz_lead): the phone's zone counts only when
 * the phone's country is the lead's country; a US lead with a +44 number,
 * or a Canadian lead with a (415) number, keeps its country's default (the
 * country is what the lead or its CRM said; a foreign phone is as likely
 * a travelling mobile as a home). So: explicit zone > phone > country.
 *
 * Invariants: the tables are static, never change, and name only zones in
 * tzdata. Every string returned points into static storage (this module's
 * or lm_geo's), valid for the life of the process, never freed.
 * Threads: no state; every function is thread-safe. */
#ifndef LM_PHONE_TZ_H
#define LM_PHONE_TZ_H

/* The zone an E.164 number ("+14155550100", as lm_geo_phone_e164 writes
 * it) alone gives, or NULL when it gives none: not E.164, an area code
 * that is not a US or Canadian one, a calling code of a country with
 * several zones, or an unknown calling code. *alpha2 (alpha2 may be NULL)
 * gets the phone's country ("US", "CA", "GB"), or NULL when the number
 * does not say it; for a calling code several countries share (+44: GB,
 * GG, IM, JE) the main one ("GB"). Static storage. */
const char *lm_phone_tz(const char *e164, const char **alpha2);

/* The time zone for a lead that has none: the zone of its phone when the
 * phone's country is the lead's country (alpha2, case-insensitive), else
 * the country's default zone (lm_geo). phone: raw, any form
 * lm_geo_phone_e164 accepts (a national number is read in the lead's
 * country: "(415) 555-0100" for a US lead); NULL, "" or malformed: the
 * country's default. NULL only when alpha2 is not a known country.
 * Static storage. */
const char *lm_phone_tz_lead(const char *phone, const char *alpha2);

/* The table, for tests: the number of area codes in it, and the i-th
 * (0 <= i < count, else -1) as its NPA with its zone and country. */
int lm_phone_tz_nanp_count(void);
int lm_phone_tz_nanp_at(int i, const char **zone, const char **alpha2);

#endif
