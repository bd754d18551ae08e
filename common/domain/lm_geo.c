/* lm_geo.c — the ISO 3166-1 country table and E.164 phone normalisation.
 *
 * The table below holds every officially assigned alpha-2 code, sorted, so
 * a lookup is a binary search. Names come from tzdata's iso3166.tab and
 * default zones from zone.tab (the country's most populous business zone
 * where it has several: America/New_York, America/Toronto, Europe/Moscow,
 * Australia/Sydney, America/Sao_Paulo, ...). Regions follow common B2B
 * sales usage: NA = US, Canada and their territories outside the Pacific;
 * LATAM = Mexico, Central and South America, the Caribbean; APAC = Asia
 * from Afghanistan east, and Oceania; EMEA = Europe (Russia included),
 * the Middle East, Central Asia and Africa.
 *
 * Trunk prefixes are best effort: right for the common cases, and where a
 * country has none, stripping a leading 0 is harmless because its national
 * numbers never start with 0 (the exceptions are listed with "").
 *
 * No state; thread-safe. */
#include "lm_geo.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

static const struct lm_geo_country lm_geo_table[] = {
    {"AD", "Andorra", "Europe/Andorra", "EMEA", "376", "0"},
    {"AE", "United Arab Emirates", "Asia/Dubai", "EMEA", "971", "0"},
    {"AF", "Afghanistan", "Asia/Kabul", "APAC", "93", "0"},
    {"AG", "Antigua & Barbuda", "America/Antigua", "LATAM", "1", "1"},
    {"AI", "Anguilla", "America/Anguilla", "LATAM", "1", "1"},
    {"AL", "Albania", "Europe/Tirane", "EMEA", "355", "0"},
    {"AM", "Armenia", "Asia/Yerevan", "EMEA", "374", "0"},
    {"AO", "Angola", "Africa/Luanda", "EMEA", "244", "0"},
    {"AQ", "Antarctica", "Antarctica/McMurdo", "APAC", "672", "0"},
    {"AR", "Argentina", "America/Argentina/Buenos_Aires", "LATAM", "54", "0"},
    {"AS", "Samoa (American)", "Pacific/Pago_Pago", "APAC", "1", "1"},
    {"AT", "Austria", "Europe/Vienna", "EMEA", "43", "0"},
    {"AU", "Australia", "Australia/Sydney", "APAC", "61", "0"},
    {"AW", "Aruba", "America/Aruba", "LATAM", "297", "0"},
    {"AX", "Åland Islands", "Europe/Mariehamn", "EMEA", "358", "0"},
    {"AZ", "Azerbaijan", "Asia/Baku", "EMEA", "994", "0"},
    {"BA", "Bosnia & Herzegovina", "Europe/Sarajevo", "EMEA", "387", "0"},
    {"BB", "Barbados", "America/Barbados", "LATAM", "1", "1"},
    {"BD", "Bangladesh", "Asia/Dhaka", "APAC", "880", "0"},
    {"BE", "Belgium", "Europe/Brussels", "EMEA", "32", "0"},
    {"BF", "Burkina Faso", "Africa/Ouagadougou", "EMEA", "226", "0"},
    {"BG", "Bulgaria", "Europe/Sofia", "EMEA", "359", "0"},
    {"BH", "Bahrain", "Asia/Bahrain", "EMEA", "973", "0"},
    {"BI", "Burundi", "Africa/Bujumbura", "EMEA", "257", "0"},
    {"BJ", "Benin", "Africa/Porto-Novo", "EMEA", "229", "0"},
    {"BL", "St Barthelemy", "America/St_Barthelemy", "LATAM", "590", "0"},
    {"BM", "Bermuda", "Atlantic/Bermuda", "NA", "1", "1"},
    {"BN", "Brunei", "Asia/Brunei", "APAC", "673", "0"},
    {"BO", "Bolivia", "America/La_Paz", "LATAM", "591", "0"},
    {"BQ", "Caribbean NL", "America/Kralendijk", "LATAM", "599", "0"},
    {"BR", "Brazil", "America/Sao_Paulo", "LATAM", "55", "0"},
    {"BS", "Bahamas", "America/Nassau", "LATAM", "1", "1"},
    {"BT", "Bhutan", "Asia/Thimphu", "APAC", "975", "0"},
    {"BV", "Bouvet Island", "Europe/Oslo", "EMEA", "47", "0"},
    {"BW", "Botswana", "Africa/Gaborone", "EMEA", "267", "0"},
    {"BY", "Belarus", "Europe/Minsk", "EMEA", "375", "8"},
    {"BZ", "Belize", "America/Belize", "LATAM", "501", "0"},
    {"CA", "Canada", "America/Toronto", "NA", "1", "1"},
    {"CC", "Cocos (Keeling) Islands", "Indian/Cocos", "APAC", "61", "0"},
    {"CD", "Congo (Dem. Rep.)", "Africa/Kinshasa", "EMEA", "243", "0"},
    {"CF", "Central African Rep.", "Africa/Bangui", "EMEA", "236", "0"},
    {"CG", "Congo (Rep.)", "Africa/Brazzaville", "EMEA", "242", "0"},
    {"CH", "Switzerland", "Europe/Zurich", "EMEA", "41", "0"},
    {"CI", "Côte d'Ivoire", "Africa/Abidjan", "EMEA", "225", ""},
    {"CK", "Cook Islands", "Pacific/Rarotonga", "APAC", "682", "0"},
    {"CL", "Chile", "America/Santiago", "LATAM", "56", "0"},
    {"CM", "Cameroon", "Africa/Douala", "EMEA", "237", "0"},
    {"CN", "China", "Asia/Shanghai", "APAC", "86", "0"},
    {"CO", "Colombia", "America/Bogota", "LATAM", "57", "0"},
    {"CR", "Costa Rica", "America/Costa_Rica", "LATAM", "506", "0"},
    {"CU", "Cuba", "America/Havana", "LATAM", "53", "0"},
    {"CV", "Cape Verde", "Atlantic/Cape_Verde", "EMEA", "238", "0"},
    {"CW", "Curaçao", "America/Curacao", "LATAM", "599", "0"},
    {"CX", "Christmas Island", "Indian/Christmas", "APAC", "61", "0"},
    {"CY", "Cyprus", "Asia/Nicosia", "EMEA", "357", "0"},
    {"CZ", "Czech Republic", "Europe/Prague", "EMEA", "420", "0"},
    {"DE", "Germany", "Europe/Berlin", "EMEA", "49", "0"},
    {"DJ", "Djibouti", "Africa/Djibouti", "EMEA", "253", "0"},
    {"DK", "Denmark", "Europe/Copenhagen", "EMEA", "45", "0"},
    {"DM", "Dominica", "America/Dominica", "LATAM", "1", "1"},
    {"DO", "Dominican Republic", "America/Santo_Domingo", "LATAM", "1", "1"},
    {"DZ", "Algeria", "Africa/Algiers", "EMEA", "213", "0"},
    {"EC", "Ecuador", "America/Guayaquil", "LATAM", "593", "0"},
    {"EE", "Estonia", "Europe/Tallinn", "EMEA", "372", "0"},
    {"EG", "Egypt", "Africa/Cairo", "EMEA", "20", "0"},
    {"EH", "Western Sahara", "Africa/El_Aaiun", "EMEA", "212", "0"},
    {"ER", "Eritrea", "Africa/Asmara", "EMEA", "291", "0"},
    {"ES", "Spain", "Europe/Madrid", "EMEA", "34", "0"},
    {"ET", "Ethiopia", "Africa/Addis_Ababa", "EMEA", "251", "0"},
    {"FI", "Finland", "Europe/Helsinki", "EMEA", "358", "0"},
    {"FJ", "Fiji", "Pacific/Fiji", "APAC", "679", "0"},
    {"FK", "Falkland Islands", "Atlantic/Stanley", "LATAM", "500", "0"},
    {"FM", "Micronesia", "Pacific/Chuuk", "APAC", "691", "0"},
    {"FO", "Faroe Islands", "Atlantic/Faroe", "EMEA", "298", "0"},
    {"FR", "France", "Europe/Paris", "EMEA", "33", "0"},
    {"GA", "Gabon", "Africa/Libreville", "EMEA", "241", "0"},
    {"GB", "Britain (UK)", "Europe/London", "EMEA", "44", "0"},
    {"GD", "Grenada", "America/Grenada", "LATAM", "1", "1"},
    {"GE", "Georgia", "Asia/Tbilisi", "EMEA", "995", "0"},
    {"GF", "French Guiana", "America/Cayenne", "LATAM", "594", "0"},
    {"GG", "Guernsey", "Europe/Guernsey", "EMEA", "44", "0"},
    {"GH", "Ghana", "Africa/Accra", "EMEA", "233", "0"},
    {"GI", "Gibraltar", "Europe/Gibraltar", "EMEA", "350", "0"},
    {"GL", "Greenland", "America/Nuuk", "NA", "299", "0"},
    {"GM", "Gambia", "Africa/Banjul", "EMEA", "220", "0"},
    {"GN", "Guinea", "Africa/Conakry", "EMEA", "224", "0"},
    {"GP", "Guadeloupe", "America/Guadeloupe", "LATAM", "590", "0"},
    {"GQ", "Equatorial Guinea", "Africa/Malabo", "EMEA", "240", "0"},
    {"GR", "Greece", "Europe/Athens", "EMEA", "30", "0"},
    {"GS", "South Georgia & the South Sandwich Islands",
     "Atlantic/South_Georgia", "LATAM", "500", "0"},
    {"GT", "Guatemala", "America/Guatemala", "LATAM", "502", "0"},
    {"GU", "Guam", "Pacific/Guam", "APAC", "1", "1"},
    {"GW", "Guinea-Bissau", "Africa/Bissau", "EMEA", "245", "0"},
    {"GY", "Guyana", "America/Guyana", "LATAM", "592", "0"},
    {"HK", "Hong Kong", "Asia/Hong_Kong", "APAC", "852", "0"},
    {"HM", "Heard Island & McDonald Islands", "Indian/Kerguelen", "APAC", "672",
     "0"},
    {"HN", "Honduras", "America/Tegucigalpa", "LATAM", "504", "0"},
    {"HR", "Croatia", "Europe/Zagreb", "EMEA", "385", "0"},
    {"HT", "Haiti", "America/Port-au-Prince", "LATAM", "509", "0"},
    {"HU", "Hungary", "Europe/Budapest", "EMEA", "36", "06"},
    {"ID", "Indonesia", "Asia/Jakarta", "APAC", "62", "0"},
    {"IE", "Ireland", "Europe/Dublin", "EMEA", "353", "0"},
    {"IL", "Israel", "Asia/Jerusalem", "EMEA", "972", "0"},
    {"IM", "Isle of Man", "Europe/Isle_of_Man", "EMEA", "44", "0"},
    {"IN", "India", "Asia/Kolkata", "APAC", "91", "0"},
    {"IO", "British Indian Ocean Territory", "Indian/Chagos", "APAC", "246",
     "0"},
    {"IQ", "Iraq", "Asia/Baghdad", "EMEA", "964", "0"},
    {"IR", "Iran", "Asia/Tehran", "EMEA", "98", "0"},
    {"IS", "Iceland", "Atlantic/Reykjavik", "EMEA", "354", "0"},
    {"IT", "Italy", "Europe/Rome", "EMEA", "39", ""},
    {"JE", "Jersey", "Europe/Jersey", "EMEA", "44", "0"},
    {"JM", "Jamaica", "America/Jamaica", "LATAM", "1", "1"},
    {"JO", "Jordan", "Asia/Amman", "EMEA", "962", "0"},
    {"JP", "Japan", "Asia/Tokyo", "APAC", "81", "0"},
    {"KE", "Kenya", "Africa/Nairobi", "EMEA", "254", "0"},
    {"KG", "Kyrgyzstan", "Asia/Bishkek", "EMEA", "996", "0"},
    {"KH", "Cambodia", "Asia/Phnom_Penh", "APAC", "855", "0"},
    {"KI", "Kiribati", "Pacific/Tarawa", "APAC", "686", "0"},
    {"KM", "Comoros", "Indian/Comoro", "EMEA", "269", "0"},
    {"KN", "St Kitts & Nevis", "America/St_Kitts", "LATAM", "1", "1"},
    {"KP", "Korea (North)", "Asia/Pyongyang", "APAC", "850", "0"},
    {"KR", "Korea (South)", "Asia/Seoul", "APAC", "82", "0"},
    {"KW", "Kuwait", "Asia/Kuwait", "EMEA", "965", "0"},
    {"KY", "Cayman Islands", "America/Cayman", "LATAM", "1", "1"},
    {"KZ", "Kazakhstan", "Asia/Almaty", "EMEA", "7", "8"},
    {"LA", "Laos", "Asia/Vientiane", "APAC", "856", "0"},
    {"LB", "Lebanon", "Asia/Beirut", "EMEA", "961", "0"},
    {"LC", "St Lucia", "America/St_Lucia", "LATAM", "1", "1"},
    {"LI", "Liechtenstein", "Europe/Vaduz", "EMEA", "423", "0"},
    {"LK", "Sri Lanka", "Asia/Colombo", "APAC", "94", "0"},
    {"LR", "Liberia", "Africa/Monrovia", "EMEA", "231", "0"},
    {"LS", "Lesotho", "Africa/Maseru", "EMEA", "266", "0"},
    {"LT", "Lithuania", "Europe/Vilnius", "EMEA", "370", "0"},
    {"LU", "Luxembourg", "Europe/Luxembourg", "EMEA", "352", "0"},
    {"LV", "Latvia", "Europe/Riga", "EMEA", "371", "0"},
    {"LY", "Libya", "Africa/Tripoli", "EMEA", "218", "0"},
    {"MA", "Morocco", "Africa/Casablanca", "EMEA", "212", "0"},
    {"MC", "Monaco", "Europe/Monaco", "EMEA", "377", "0"},
    {"MD", "Moldova", "Europe/Chisinau", "EMEA", "373", "0"},
    {"ME", "Montenegro", "Europe/Podgorica", "EMEA", "382", "0"},
    {"MF", "St Martin (French)", "America/Marigot", "LATAM", "590", "0"},
    {"MG", "Madagascar", "Indian/Antananarivo", "EMEA", "261", "0"},
    {"MH", "Marshall Islands", "Pacific/Majuro", "APAC", "692", "0"},
    {"MK", "North Macedonia", "Europe/Skopje", "EMEA", "389", "0"},
    {"ML", "Mali", "Africa/Bamako", "EMEA", "223", "0"},
    {"MM", "Myanmar (Burma)", "Asia/Yangon", "APAC", "95", "0"},
    {"MN", "Mongolia", "Asia/Ulaanbaatar", "APAC", "976", "0"},
    {"MO", "Macau", "Asia/Macau", "APAC", "853", "0"},
    {"MP", "Northern Mariana Islands", "Pacific/Saipan", "APAC", "1", "1"},
    {"MQ", "Martinique", "America/Martinique", "LATAM", "596", "0"},
    {"MR", "Mauritania", "Africa/Nouakchott", "EMEA", "222", "0"},
    {"MS", "Montserrat", "America/Montserrat", "LATAM", "1", "1"},
    {"MT", "Malta", "Europe/Malta", "EMEA", "356", "0"},
    {"MU", "Mauritius", "Indian/Mauritius", "EMEA", "230", "0"},
    {"MV", "Maldives", "Indian/Maldives", "APAC", "960", "0"},
    {"MW", "Malawi", "Africa/Blantyre", "EMEA", "265", "0"},
    {"MX", "Mexico", "America/Mexico_City", "LATAM", "52", "0"},
    {"MY", "Malaysia", "Asia/Kuala_Lumpur", "APAC", "60", "0"},
    {"MZ", "Mozambique", "Africa/Maputo", "EMEA", "258", "0"},
    {"NA", "Namibia", "Africa/Windhoek", "EMEA", "264", "0"},
    {"NC", "New Caledonia", "Pacific/Noumea", "APAC", "687", "0"},
    {"NE", "Niger", "Africa/Niamey", "EMEA", "227", "0"},
    {"NF", "Norfolk Island", "Pacific/Norfolk", "APAC", "672", "0"},
    {"NG", "Nigeria", "Africa/Lagos", "EMEA", "234", "0"},
    {"NI", "Nicaragua", "America/Managua", "LATAM", "505", "0"},
    {"NL", "Netherlands", "Europe/Amsterdam", "EMEA", "31", "0"},
    {"NO", "Norway", "Europe/Oslo", "EMEA", "47", "0"},
    {"NP", "Nepal", "Asia/Kathmandu", "APAC", "977", "0"},
    {"NR", "Nauru", "Pacific/Nauru", "APAC", "674", "0"},
    {"NU", "Niue", "Pacific/Niue", "APAC", "683", "0"},
    {"NZ", "New Zealand", "Pacific/Auckland", "APAC", "64", "0"},
    {"OM", "Oman", "Asia/Muscat", "EMEA", "968", "0"},
    {"PA", "Panama", "America/Panama", "LATAM", "507", "0"},
    {"PE", "Peru", "America/Lima", "LATAM", "51", "0"},
    {"PF", "French Polynesia", "Pacific/Tahiti", "APAC", "689", "0"},
    {"PG", "Papua New Guinea", "Pacific/Port_Moresby", "APAC", "675", "0"},
    {"PH", "Philippines", "Asia/Manila", "APAC", "63", "0"},
    {"PK", "Pakistan", "Asia/Karachi", "APAC", "92", "0"},
    {"PL", "Poland", "Europe/Warsaw", "EMEA", "48", "0"},
    {"PM", "St Pierre & Miquelon", "America/Miquelon", "NA", "508", "0"},
    {"PN", "Pitcairn", "Pacific/Pitcairn", "APAC", "64", "0"},
    {"PR", "Puerto Rico", "America/Puerto_Rico", "NA", "1", "1"},
    {"PS", "Palestine", "Asia/Gaza", "EMEA", "970", "0"},
    {"PT", "Portugal", "Europe/Lisbon", "EMEA", "351", "0"},
    {"PW", "Palau", "Pacific/Palau", "APAC", "680", "0"},
    {"PY", "Paraguay", "America/Asuncion", "LATAM", "595", "0"},
    {"QA", "Qatar", "Asia/Qatar", "EMEA", "974", "0"},
    {"RE", "Réunion", "Indian/Reunion", "EMEA", "262", "0"},
    {"RO", "Romania", "Europe/Bucharest", "EMEA", "40", "0"},
    {"RS", "Serbia", "Europe/Belgrade", "EMEA", "381", "0"},
    {"RU", "Russia", "Europe/Moscow", "EMEA", "7", "8"},
    {"RW", "Rwanda", "Africa/Kigali", "EMEA", "250", "0"},
    {"SA", "Saudi Arabia", "Asia/Riyadh", "EMEA", "966", "0"},
    {"SB", "Solomon Islands", "Pacific/Guadalcanal", "APAC", "677", "0"},
    {"SC", "Seychelles", "Indian/Mahe", "EMEA", "248", "0"},
    {"SD", "Sudan", "Africa/Khartoum", "EMEA", "249", "0"},
    {"SE", "Sweden", "Europe/Stockholm", "EMEA", "46", "0"},
    {"SG", "Singapore", "Asia/Singapore", "APAC", "65", "0"},
    {"SH", "St Helena", "Atlantic/St_Helena", "EMEA", "290", "0"},
    {"SI", "Slovenia", "Europe/Ljubljana", "EMEA", "386", "0"},
    {"SJ", "Svalbard & Jan Mayen", "Arctic/Longyearbyen", "EMEA", "47", "0"},
    {"SK", "Slovakia", "Europe/Bratislava", "EMEA", "421", "0"},
    {"SL", "Sierra Leone", "Africa/Freetown", "EMEA", "232", "0"},
    {"SM", "San Marino", "Europe/San_Marino", "EMEA", "378", ""},
    {"SN", "Senegal", "Africa/Dakar", "EMEA", "221", "0"},
    {"SO", "Somalia", "Africa/Mogadishu", "EMEA", "252", "0"},
    {"SR", "Suriname", "America/Paramaribo", "LATAM", "597", "0"},
    {"SS", "South Sudan", "Africa/Juba", "EMEA", "211", "0"},
    {"ST", "Sao Tome & Principe", "Africa/Sao_Tome", "EMEA", "239", "0"},
    {"SV", "El Salvador", "America/El_Salvador", "LATAM", "503", "0"},
    {"SX", "St Maarten (Dutch)", "America/Lower_Princes", "LATAM", "1", "1"},
    {"SY", "Syria", "Asia/Damascus", "EMEA", "963", "0"},
    {"SZ", "Eswatini (Swaziland)", "Africa/Mbabane", "EMEA", "268", "0"},
    {"TC", "Turks & Caicos Is", "America/Grand_Turk", "LATAM", "1", "1"},
    {"TD", "Chad", "Africa/Ndjamena", "EMEA", "235", "0"},
    {"TF", "French S. Terr.", "Indian/Kerguelen", "EMEA", "262", "0"},
    {"TG", "Togo", "Africa/Lome", "EMEA", "228", "0"},
    {"TH", "Thailand", "Asia/Bangkok", "APAC", "66", "0"},
    {"TJ", "Tajikistan", "Asia/Dushanbe", "EMEA", "992", "0"},
    {"TK", "Tokelau", "Pacific/Fakaofo", "APAC", "690", "0"},
    {"TL", "East Timor", "Asia/Dili", "APAC", "670", "0"},
    {"TM", "Turkmenistan", "Asia/Ashgabat", "EMEA", "993", "0"},
    {"TN", "Tunisia", "Africa/Tunis", "EMEA", "216", "0"},
    {"TO", "Tonga", "Pacific/Tongatapu", "APAC", "676", "0"},
    {"TR", "Turkey", "Europe/Istanbul", "EMEA", "90", "0"},
    {"TT", "Trinidad & Tobago", "America/Port_of_Spain", "LATAM", "1", "1"},
    {"TV", "Tuvalu", "Pacific/Funafuti", "APAC", "688", "0"},
    {"TW", "Taiwan", "Asia/Taipei", "APAC", "886", "0"},
    {"TZ", "Tanzania", "Africa/Dar_es_Salaam", "EMEA", "255", "0"},
    {"UA", "Ukraine", "Europe/Kyiv", "EMEA", "380", "0"},
    {"UG", "Uganda", "Africa/Kampala", "EMEA", "256", "0"},
    {"UM", "US minor outlying islands", "Pacific/Wake", "NA", "1", "1"},
    {"US", "United States", "America/New_York", "NA", "1", "1"},
    {"UY", "Uruguay", "America/Montevideo", "LATAM", "598", "0"},
    {"UZ", "Uzbekistan", "Asia/Tashkent", "EMEA", "998", "0"},
    {"VA", "Vatican City", "Europe/Vatican", "EMEA", "39", ""},
    {"VC", "St Vincent", "America/St_Vincent", "LATAM", "1", "1"},
    {"VE", "Venezuela", "America/Caracas", "LATAM", "58", "0"},
    {"VG", "Virgin Islands (UK)", "America/Tortola", "LATAM", "1", "1"},
    {"VI", "Virgin Islands (US)", "America/St_Thomas", "NA", "1", "1"},
    {"VN", "Vietnam", "Asia/Ho_Chi_Minh", "APAC", "84", "0"},
    {"VU", "Vanuatu", "Pacific/Efate", "APAC", "678", "0"},
    {"WF", "Wallis & Futuna", "Pacific/Wallis", "APAC", "681", "0"},
    {"WS", "Samoa (western)", "Pacific/Apia", "APAC", "685", "0"},
    {"YE", "Yemen", "Asia/Aden", "EMEA", "967", "0"},
    {"YT", "Mayotte", "Indian/Mayotte", "EMEA", "262", "0"},
    {"ZA", "South Africa", "Africa/Johannesburg", "EMEA", "27", "0"},
    {"ZM", "Zambia", "Africa/Lusaka", "EMEA", "260", "0"},
    {"ZW", "Zimbabwe", "Africa/Harare", "EMEA", "263", "0"},
};

#define LM_GEO_N_COUNTRIES (sizeof(lm_geo_table) / sizeof(lm_geo_table[0]))

static const char *const lm_geo_region_names[] = {"NA", "LATAM", "EMEA",
                                                  "APAC"};

/* ------------------------------------------------------------------ */
/* Lookups                                                             */
/* ------------------------------------------------------------------ */

const struct lm_geo_country *lm_geo_country(const char *alpha2) {
    char key[3];
    size_t lo = 0, hi = LM_GEO_N_COUNTRIES;

    if (alpha2 == NULL || alpha2[0] == '\0' || alpha2[1] == '\0' ||
        alpha2[2] != '\0')
        return NULL;
    if (!isalpha((unsigned char)alpha2[0]) ||
        !isalpha((unsigned char)alpha2[1]))
        return NULL;
    key[0] = (char)toupper((unsigned char)alpha2[0]);
    key[1] = (char)toupper((unsigned char)alpha2[1]);
    key[2] = '\0';
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        /* two bytes compared inline: strcmp's order, for every lead
           several times (issue 16) */
        const char *t = lm_geo_table[mid].alpha2;
        int c = key[0] != t[0] ? (unsigned char)key[0] - (unsigned char)t[0]
                               : (unsigned char)key[1] - (unsigned char)t[1];
        if (c == 0)
            return &lm_geo_table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t lm_geo_country_count(void) {
    return LM_GEO_N_COUNTRIES;
}

const struct lm_geo_country *lm_geo_country_at(size_t i) {
    return i < LM_GEO_N_COUNTRIES ? &lm_geo_table[i] : NULL;
}

const char *lm_geo_region(const char *name) {
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < sizeof(lm_geo_region_names) / sizeof(*lm_geo_region_names);
         i++)
        if (strcasecmp(name, lm_geo_region_names[i]) == 0)
            return lm_geo_region_names[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Phone numbers                                                       */
/* ------------------------------------------------------------------ */

static int geo_fail(char *out, size_t outsz, char *err, size_t errsz,
                    const char *msg) {
    if (out != NULL && outsz > 0)
        out[0] = '\0';
    if (err != NULL && errsz > 0)
        snprintf(err, errsz, "%s", msg);
    return -1;
}

static int geo_is_space(char c) {
    return c == ' ' || c == '\t';
}

static int geo_is_separator(char c) {
    return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' ||
           c == ')';
}

/* The digits of raw[0..len) into digits (NUL-ended), without blanks
 * around it, separators and the "(0)" trunk hint; *plus is 1 when it
 * began with '+'. 0, or -1 with why into msg. */
static int phone_digits(const char *raw, size_t len, char *digits, int *plus,
                        char *msg, size_t msgsz) {
    size_t nd = 0, i, start = 0, end = len;
    while (start < end && geo_is_space(raw[start]))
        start++;
    while (end > start && geo_is_space(raw[end - 1]))
        end--;
    if (start == end) {
        snprintf(msg, msgsz, "phone number is empty");
        return -1;
    }
    *plus = raw[start] == '+';
    if (*plus)
        start++;
    for (i = start; i < end; i++) {
        char ch = raw[i];
        if (ch >= '0' && ch <= '9') {
            digits[nd++] = ch;
        } else if (ch == '(' && i + 2 < end && raw[i + 1] == '0' &&
                   raw[i + 2] == ')' &&
                   (*plus ||
                    (nd >= 2 && digits[0] == '0' && digits[1] == '0'))) {
            i += 2; /* "+44 (0)20 ...": the trunk hint, not dialled */
        } else if (geo_is_separator(ch)) {
            continue;
        } else if (ch == '+') {
            snprintf(msg, msgsz,
                     "phone number: '+' is only allowed at the start");
            return -1;
        } else if (isalpha((unsigned char)ch)) {
            snprintf(msg, msgsz,
                     "phone number: letter '%c' is not allowed (extensions "
                     "such as \"x123\" are not part of E.164; drop them)",
                     ch);
            return -1;
        } else {
            snprintf(msg, msgsz,
                     "phone number has an unexpected character (byte 0x%02X "
                     "at position %zu); use only digits, '+', spaces, "
                     "dashes, dots and parentheses",
                     (unsigned)(unsigned char)ch, i + 1);
            return -1;
        }
    }
    digits[nd] = '\0';
    if (nd == 0) {
        snprintf(msg, msgsz, "phone number has no digits");
        return -1;
    }
    return 0;
}

/* The number with its country code, no prefix, into intl: after '+',
 * "00" or (NANP) "011" as dialled; else national, with country c's trunk
 * prefix dropped and its calling code put first. 0, or -1 with why into
 * msg (a national number with no country). */
static int phone_international(const char *digits, int plus,
                               const struct lm_geo_country *c, char *intl,
                               size_t intlsz, char *msg, size_t msgsz) {
    const char *national = digits;
    size_t tl;
    if (plus) {
        snprintf(intl, intlsz, "%s", digits);
        return 0;
    }
    if (digits[0] == '0' && digits[1] == '0') {
        snprintf(intl, intlsz, "%s", digits + 2);
        return 0;
    }
    if (c != NULL && strcmp(c->calling_code, "1") == 0 &&
        strncmp(digits, "011", 3) == 0) {
        snprintf(intl, intlsz, "%s", digits + 3); /* NANP's prefix */
        return 0;
    }
    if (c == NULL) {
        snprintf(msg, msgsz,
                 "phone number is a national number and no country is "
                 "given; write it with the country code, e.g. "
                 "\"+49 30 1234567\"");
        return -1;
    }
    tl = strlen(c->trunk_prefix);
    if (tl > 0 && strncmp(national, c->trunk_prefix, tl) == 0)
        national += tl;
    snprintf(intl, intlsz, "%s%s", c->calling_code, national);
    return 0;
}

/* Whether intl (country code first) is an E.164 number: digits, not
 * starting with 0, 8 to 15 of them. 0, or -1 with why into msg. */
static int phone_check(const char *intl, char *msg, size_t msgsz) {
    size_t nd = strlen(intl);
    if (nd == 0) {
        snprintf(msg, msgsz,
                 "phone number has no digits after the international "
                 "prefix");
        return -1;
    }
    if (intl[0] == '0') {
        snprintf(msg, msgsz,
                 "phone number: a country calling code never starts with "
                 "0; write \"+\" or \"00\" only once");
        return -1;
    }
    if (nd < LM_GEO_PHONE_MIN_DIGITS || nd > LM_GEO_PHONE_MAX_DIGITS) {
        snprintf(msg, msgsz,
                 "phone number has %zu digits with the country code; "
                 "E.164 needs %d to %d",
                 nd, LM_GEO_PHONE_MIN_DIGITS, LM_GEO_PHONE_MAX_DIGITS);
        return -1;
    }
    return 0;
}

int lm_geo_phone_e164(const char *raw, const char *alpha2, char *out,
                      size_t outsz, char *err, size_t errsz) {
    char msg[256];
    char digits[LM_GEO_PHONE_RAW_MAX + 1];
    char intl[LM_GEO_PHONE_RAW_MAX + 8];
    size_t len, nd;
    int plus = 0;
    const struct lm_geo_country *c = NULL;

    if (out == NULL || outsz == 0)
        return geo_fail(out, outsz, err, errsz, "no output buffer");
    if (raw == NULL)
        return geo_fail(out, outsz, err, errsz, "phone number is empty");
    len = strnlen(raw, LM_GEO_PHONE_RAW_MAX + 1);
    if (len > LM_GEO_PHONE_RAW_MAX) {
        snprintf(msg, sizeof msg,
                 "phone number is longer than %d characters; give only the "
                 "number",
                 LM_GEO_PHONE_RAW_MAX);
        return geo_fail(out, outsz, err, errsz, msg);
    }
    if (phone_digits(raw, len, digits, &plus, msg, sizeof msg) != 0)
        return geo_fail(out, outsz, err, errsz, msg);
    if (alpha2 != NULL && alpha2[0] != '\0') {
        c = lm_geo_country(alpha2);
        if (c == NULL && !plus) {
            snprintf(msg, sizeof msg,
                     "unknown country \"%.8s\" for a phone number; give an "
                     "ISO 3166-1 alpha-2 code such as \"US\" or \"DE\"",
                     alpha2);
            return geo_fail(out, outsz, err, errsz, msg);
        }
    }
    if (phone_international(digits, plus, c, intl, sizeof intl, msg,
                            sizeof msg) != 0 ||
        phone_check(intl, msg, sizeof msg) != 0)
        return geo_fail(out, outsz, err, errsz, msg);
    nd = strlen(intl);
    if (outsz < nd + 2)
        return geo_fail(out, outsz, err, errsz,
                        "output buffer too small for an E.164 number");
    out[0] = '+';
    memcpy(out + 1, intl, nd + 1);
    if (err != NULL && errsz > 0)
        err[0] = '\0';
    return 0;
}
