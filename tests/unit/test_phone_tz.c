/* test_phone_tz.c — phone numbers to time zones (lm_phone_tz.h): area
 * codes of every North American zone, calling codes of one-zone
 * countries, the lead's rule (the phone counts in the lead's own country
 * only, else the country's default), and the table itself (every entry a
 * valid area code, listed once, in a zone tzdata knows). Pure. */
#include "lm_geo.h"
#include "lm_phone_tz.h"
#include "lm_tz.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(phone_tz, area_codes_place_north_american_numbers) {
    static const struct {
        const char *e164, *zone, *country;
    } cases[] = {
        {"+14155550100", "America/Los_Angeles", "US"}, /* San Francisco */
        {"+12125550100", "America/New_York", "US"},    /* Manhattan */
        {"+13125550100", "America/Chicago", "US"},     /* Chicago */
        {"+13035550100", "America/Denver", "US"},      /* Denver */
        {"+16025550100", "America/Phoenix", "US"},     /* Phoenix, no DST */
        {"+18085550100", "Pacific/Honolulu", "US"},    /* Hawaii */
        {"+19075550100", "America/Anchorage", "US"},   /* Alaska */
        {"+14165550100", "America/Toronto", "CA"},     /* Toronto */
        {"+16045550100", "America/Vancouver", "CA"},   /* Vancouver */
        {"+13065550100", "America/Regina", "CA"},      /* Saskatchewan */
        {"+19025550100", "America/Halifax", "CA"},     /* Nova Scotia */
        {"+17095550100", "America/St_Johns", "CA"},    /* Newfoundland */
        {"+12085550100", "America/Boise", "US"},       /* Idaho */
        {"+19155550100", "America/Denver", "US"},      /* El Paso */
        {"+18505550100", "America/Chicago", "US"},     /* Pensacola (split) */
        {"+15145550100", "America/Toronto", "CA"},     /* Montreal */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *country = "x";
        const char *z = lm_phone_tz(cases[i].e164, &country);
        cr_expect(z && strcmp(z, cases[i].zone) == 0, "%s: %s, want %s",
                  cases[i].e164, z ? z : "NULL", cases[i].zone);
        cr_expect(country && strcmp(country, cases[i].country) == 0,
                  "%s: country %s", cases[i].e164, country ? country : "NULL");
    }
}

Test(phone_tz, calling_codes_place_one_zone_countries) {
    const char *country = NULL;
    cr_expect_str_eq(lm_phone_tz("+442079460018", &country), "Europe/London");
    cr_expect_str_eq(country, "GB", "+44 is shared; Britain is its main");
    cr_expect_str_eq(lm_phone_tz("+4930901820", &country), "Europe/Berlin");
    cr_expect_str_eq(country, "DE");
    cr_expect_str_eq(lm_phone_tz("+33142685300", NULL), "Europe/Paris");
    cr_expect_str_eq(lm_phone_tz("+81312345678", &country), "Asia/Tokyo");
    cr_expect_str_eq(country, "JP");
    cr_expect_str_eq(lm_phone_tz("+35312345678", NULL), "Europe/Dublin");
    /* several zones: the calling code alone does not tell */
    cr_expect_null(lm_phone_tz("+74951234567", &country), "Russia");
    cr_expect_str_eq(country, "RU");
    cr_expect_null(lm_phone_tz("+5511987654321", NULL), "Brazil");
    cr_expect_null(lm_phone_tz("+61212345678", NULL), "Australia");
    cr_expect_null(lm_phone_tz("+525512345678", NULL), "Mexico");
}

Test(phone_tz, what_does_not_place_a_number) {
    static const char *const none[] = {
        NULL,
        "",
        "+",
        "14155550100", /* no '+' */
        "+1415555010",
        "+141555501000",   /* wrong length */
        "+15555550100",    /* 555: not an area code */
        "+11155550100",    /* NPA starting 1 */
        "+14151550100",    /* exchange starting 1 */
        "+1 415 555 0100", /* not E.164: spaces */
        "+18765550100",    /* Jamaica: not US/CA */
        "+999123456789",   /* no such calling code */
        "+44abc"};
    for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
        const char *country = "x";
        cr_expect_null(lm_phone_tz(none[i], &country), "%s",
                       none[i] ? none[i] : "NULL");
    }
}

Test(phone_tz, a_lead_gets_the_phones_zone_in_its_own_country) {
    static const struct {
        const char *phone, *country, *want;
    } cases[] = {
        {"(415) 555-0100", "US", "America/Los_Angeles"},
        {"415.555.0100", "us", "America/Los_Angeles"},
        {"+1 212 555 0100", "US", "America/New_York"},
        {"1-312-555-0100", "US", "America/Chicago"},
        {"(303) 555 0100", "US", "America/Denver"},
        {"602 555 0100", "US", "America/Phoenix"},
        {"808-555-0100", "US", "Pacific/Honolulu"},
        {"907-555-0100", "US", "America/Anchorage"},
        {"416-555-0100", "CA", "America/Toronto"},
        {"604-555-0100", "CA", "America/Vancouver"},
        {"+44 20 7946 0018", "GB", "Europe/London"},
        {"020 7946 0018", "GB", "Europe/London"},
        {"+49 30 901820", "DE", "Europe/Berlin"},
        /* unknown area code: the country's default */
        {"(555) 555-0100", "US", "America/New_York"},
        {"(555) 555-0100", "CA", "America/Toronto"},
        /* malformed or missing: the country's default */
        {"415-CALL-NOW", "US", "America/New_York"},
        {"12", "US", "America/New_York"},
        {"", "US", "America/New_York"},
        {NULL, "US", "America/New_York"},
        {"++1 415 555 0100", "US", "America/New_York"},
        /* the phone's country is not the lead's: the lead's default */
        {"+1 415 555 0100", "CA", "America/Toronto"},
        {"+1 604 555 0100", "US", "America/New_York"},
        {"+44 20 7946 0018", "US", "America/New_York"},
        {"+1 415 555 0100", "DE", "Europe/Berlin"},
        /* several zones, no area code that tells: the default */
        {"+7 495 123 4567", "RU", "Europe/Moscow"},
        {"+61 2 1234 5678", "AU", "Australia/Sydney"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *z = lm_phone_tz_lead(cases[i].phone, cases[i].country);
        cr_expect(z && strcmp(z, cases[i].want) == 0, "%s in %s: %s, want %s",
                  cases[i].phone ? cases[i].phone : "NULL", cases[i].country,
                  z ? z : "NULL", cases[i].want);
    }
    cr_expect_null(lm_phone_tz_lead("(415) 555-0100", "ZZ"));
    cr_expect_null(lm_phone_tz_lead("(415) 555-0100", NULL));
}

Test(phone_tz, the_table_is_well_formed) {
    int n = lm_phone_tz_nanp_count();
    static char seen[1000];
    memset(seen, 0, sizeof seen);
    cr_expect_gt(n, 380, "every US and Canadian area code: %d", n);
    for (int i = 0; i < n; i++) {
        const char *zone = NULL, *country = NULL;
        int npa = lm_phone_tz_nanp_at(i, &zone, &country);
        cr_assert(npa >= 200 && npa <= 999, "entry %d: %d", i, npa);
        cr_expect(npa % 100 != 11, "%d: N11 is a service code", npa);
        cr_expect(npa / 10 % 10 != 9, "%d: N9X is reserved", npa);
        cr_expect_eq(seen[npa], 0, "%d is listed twice", npa);
        seen[npa] = 1;
        cr_expect(lm_tz_valid(zone), "%d: zone %s is not in tzdata", npa, zone);
        cr_expect(strcmp(country, "US") == 0 || strcmp(country, "CA") == 0,
                  "%d: %s", npa, country);
        /* every entry is found by a lookup of a number in it */
        char e164[16];
        snprintf(e164, sizeof e164, "+1%d5550100", npa);
        const char *c2 = NULL;
        cr_expect_str_eq(lm_phone_tz(e164, &c2), zone, "%s", e164);
    }
    cr_expect_eq(lm_phone_tz_nanp_at(n, NULL, NULL), -1);
    cr_expect_eq(lm_phone_tz_nanp_at(-1, NULL, NULL), -1);
    /* the easily-recognised ones */
    cr_expect(seen[212] && seen[415] && seen[312] && seen[303] && seen[602] &&
              seen[808] && seen[907] && seen[416] && seen[604]);
    cr_expect(!seen[555] && !seen[800] && !seen[876], "not geographic US/CA");
}
