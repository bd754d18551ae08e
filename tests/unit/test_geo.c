/* test_geo.c — the country table and E.164 phone normalisation.
 *
 * Table-driven: lookups, table invariants (every code assigned, sorted,
 * every default zone loadable), good and bad phone numbers with the
 * fragment of the error each bad one must name. Pure code, no I/O besides
 * the system's zoneinfo. Single-threaded. */
#include "lm_geo.h"
#include "lm_tz.h"

#include <criterion/criterion.h>
#include <string.h>

/* ---- the table ---------------------------------------------------------- */

Test(geo, table_has_every_assigned_code_sorted_and_sane) {
    size_t i, n = lm_geo_country_count();

    cr_assert_eq(n, 249, "ISO 3166-1 assigns 249 codes, table has %zu", n);
    cr_assert_null(lm_geo_country_at(n));
    for (i = 0; i < n; i++) {
        const struct lm_geo_country *c = lm_geo_country_at(i);
        size_t j;
        cr_assert_not_null(c);
        cr_expect_eq(strlen(c->alpha2), 2, "%s", c->alpha2);
        cr_expect(c->alpha2[0] >= 'A' && c->alpha2[0] <= 'Z' &&
                      c->alpha2[1] >= 'A' && c->alpha2[1] <= 'Z',
                  "%s", c->alpha2);
        if (i > 0)
            cr_expect_lt(strcmp(lm_geo_country_at(i - 1)->alpha2, c->alpha2), 0,
                         "not sorted at %s", c->alpha2);
        cr_expect_not_null(lm_geo_region(c->region), "%s region %s", c->alpha2,
                           c->region);
        cr_expect(strlen(c->calling_code) >= 1 &&
                      strlen(c->calling_code) <= 3 && c->calling_code[0] != '0',
                  "%s calling code %s", c->alpha2, c->calling_code);
        for (j = 0; c->calling_code[j] != '\0'; j++)
            cr_expect(c->calling_code[j] >= '0' && c->calling_code[j] <= '9',
                      "%s", c->alpha2);
        cr_expect(lm_tz_valid(c->tz), "%s: zone %s does not load", c->alpha2,
                  c->tz);
        cr_expect_eq(lm_geo_country(c->alpha2), c);
    }
}

Test(geo, lookups) {
    static const struct {
        const char *code, *alpha2, *tz, *region, *cc;
    } cases[] = {
        {"DE", "DE", "Europe/Berlin", "EMEA", "49"},
        {"de", "DE", "Europe/Berlin", "EMEA", "49"},
        {"US", "US", "America/New_York", "NA", "1"},
        {"Ca", "CA", "America/Toronto", "NA", "1"},
        {"IN", "IN", "Asia/Kolkata", "APAC", "91"},
        {"BR", "BR", "America/Sao_Paulo", "LATAM", "55"},
        {"MX", "MX", "America/Mexico_City", "LATAM", "52"},
        {"GB", "GB", "Europe/London", "EMEA", "44"},
        {"AU", "AU", "Australia/Sydney", "APAC", "61"},
        {"RU", "RU", "Europe/Moscow", "EMEA", "7"},
        {"JP", "JP", "Asia/Tokyo", "APAC", "81"},
        {"ZA", "ZA", "Africa/Johannesburg", "EMEA", "27"},
        {"AD", "AD", "Europe/Andorra", "EMEA", "376"},
        {"ZW", "ZW", "Africa/Harare", "EMEA", "263"},
        {"NA", "NA", "Africa/Windhoek", "EMEA", "264"}, /* Namibia */
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct lm_geo_country *c = lm_geo_country(cases[i].code);
        cr_assert_not_null(c, "%s", cases[i].code);
        cr_expect_str_eq(c->alpha2, cases[i].alpha2);
        cr_expect_str_eq(c->tz, cases[i].tz, "%s", cases[i].code);
        cr_expect_str_eq(c->region, cases[i].region, "%s", cases[i].code);
        cr_expect_str_eq(c->calling_code, cases[i].cc, "%s", cases[i].code);
    }
}

Test(geo, unknown_codes) {
    static const char *const bad[] = {"",   "D",  "DEU", "UK",  "XK", "EU",
                                      "1A", "D1", "ZZ",  " DE", "D "};
    size_t i;

    cr_expect_null(lm_geo_country(NULL));
    for (i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_null(lm_geo_country(bad[i]), "\"%s\"", bad[i]);
}

Test(geo, regions) {
    cr_expect_str_eq(lm_geo_region("emea"), "EMEA");
    cr_expect_str_eq(lm_geo_region("Latam"), "LATAM");
    cr_expect_str_eq(lm_geo_region("NA"), "NA");
    cr_expect_str_eq(lm_geo_region("apac"), "APAC");
    cr_expect_null(lm_geo_region("EU"));
    cr_expect_null(lm_geo_region(""));
    cr_expect_null(lm_geo_region(NULL));
}

/* ---- phones ------------------------------------------------------------- */

Test(geo, phone_good) {
    static const struct {
        const char *raw, *country, *want;
    } cases[] = {
        {"+49 30 1234567", NULL, "+49301234567"},
        {"030 1234567", "DE", "+49301234567"},
        {"0049 (30) 123-4567", NULL, "+49301234567"},
        {"(415) 555-0132", "US", "+14155550132"},
        {"1-415-555-0132", "US", "+14155550132"},
        {"415.555.0132", "us", "+14155550132"},
        {"011 44 20 7946 0958", "US", "+442079460958"},
        {"+44 (0)20 7946 0958", NULL, "+442079460958"},
        {"0044 (0)20 7946 0958", "", "+442079460958"},
        {"020 7946 0958", "GB", "+442079460958"},
        {"06 12 34 56 78", "FR", "+33612345678"},
        {"02 1234 5678", "IT", "+390212345678"}, /* Italy keeps its 0 */
        {"8 (912) 345-67-89", "RU", "+79123456789"},
        {"98765 43210", "IN", "+919876543210"},
        {"  +61 2 9374 4000  ", NULL, "+61293744000"},
        {"+1 415 555 0132", "DE", "+14155550132"}, /* + wins over country */
        {"+1 415 555 0132", "ZZ", "+14155550132"},
        {"+123456789012345", NULL, "+123456789012345"}, /* 15 digits */
        {"+12345678", NULL, "+12345678"},               /* 8 digits */
        {"\t0301234567\t", "de", "+49301234567"},
        {"0301234", "DE", "+49301234"}, /* 49 + 301234: just 8 digits */
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[LM_GEO_E164_BUFSZ], err[256];
        memset(out, 'x', sizeof out);
        cr_expect_eq(lm_geo_phone_e164(cases[i].raw, cases[i].country, out,
                                       sizeof out, err, sizeof err),
                     0, "\"%s\": %s", cases[i].raw, err);
        cr_expect_str_eq(out, cases[i].want, "\"%s\"", cases[i].raw);
    }
}

Test(geo, phone_bad) {
    static const struct {
        const char *raw, *country, *fragment;
    } cases[] = {
        {NULL, "DE", "phone number is empty"},
        {"", "DE", "phone number is empty"},
        {"   ", "DE", "phone number is empty"},
        {"+49 30 12a4567", NULL, "letter 'a' is not allowed"},
        {"555-0132 x12", "US", "extensions such as \"x123\""},
        {"+49+30 1234567", NULL, "'+' is only allowed at the start"},
        {"030 1234567", NULL, "is a national number and no country is given"},
        {"030 1234567", "", "is a national number and no country is given"},
        {"030 1234567", "ZZ", "unknown country \"ZZ\""},
        {"+1234567", NULL,
         "has 7 digits with the country code; E.164 needs "
         "8 to 15"},
        {"+1234567890123456", NULL, "has 16 digits"},
        {"030 12", "DE", "has 6 digits"},
        {"+0 30 1234567", NULL, "a country calling code never starts with 0"},
        {"000 30 1234567", NULL, "never starts with 0"},
        {"12#34567890", "DE", "unexpected character (byte 0x23 at position 3)"},
        {"(-)", "DE", "has no digits"},
        {"00", NULL, "no digits after the international prefix"},
        {"+", NULL, "has no digits"},
        {"1234567890123456789012345678901234567890123456789012345678901234567",
         "DE", "longer than 64 characters"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[LM_GEO_E164_BUFSZ] = "junk", err[256] = "";
        int rc = lm_geo_phone_e164(cases[i].raw, cases[i].country, out,
                                   sizeof out, err, sizeof err);
        cr_expect_eq(rc, -1, "\"%s\" was accepted as %s", cases[i].raw, out);
        cr_expect_str_eq(out, "", "\"%s\"", cases[i].raw);
        cr_expect_not_null(
            strstr(err, cases[i].fragment), "\"%s\": error \"%s\" lacks \"%s\"",
            cases[i].raw ? cases[i].raw : "(null)", err, cases[i].fragment);
    }
}

Test(geo, phone_buffers) {
    char out[8], err[256];

    cr_expect_eq(lm_geo_phone_e164("+49301234567", NULL, out, sizeof out, err,
                                   sizeof err),
                 -1);
    cr_expect_not_null(strstr(err, "too small"));
    cr_expect_eq(
        lm_geo_phone_e164("+49301234567", NULL, NULL, 0, err, sizeof err), -1);
    /* err may be NULL */
    cr_expect_eq(lm_geo_phone_e164("nope", "DE", out, sizeof out, NULL, 0), -1);
}
