/* lm_phone_tz.c — area codes and calling codes to time zones (see
 * lm_phone_tz.h).
 *
 * The NANP table lists US and Canadian area codes by zone, one group of
 * "NNN " tokens per zone and country, states and provinces commented.
 * Zones are the main zone of each offset (America/New_York for Eastern,
 * America/Chicago for Central, ...), with the exceptions that keep a
 * different clock: Arizona (America/Phoenix, no DST), Saskatchewan
 * (America/Regina, no DST), southern Idaho (America/Boise), Alaska and
 * Hawaii. Area codes split between two zones take the zone of most of
 * their people; each is marked "split" below with the other zone.
 * tests/unit/test_phone_tz.c checks that every token is three digits, a
 * valid NPA, and listed once, and that every zone exists in tzdata.
 *
 * No state; thread-safe. */
#include "lm_phone_tz.h"

#include "lm_geo.h"

#include <string.h>
#include <strings.h>

#define NANP_E164_LEN 12 /* "+1", a 3-digit area code, 7 digits */

/* ------------------------------------------------------------------ */
/* North American area codes                                           */
/* ------------------------------------------------------------------ */

typedef struct nanp_group {
    const char *zone;
    const char *alpha2;
    const char *codes; /* "NNN " tokens */
} nanp_group;

static const nanp_group nanp_groups[] = {
    /* ---- United States, Eastern ---- */
    {"America/New_York", "US",
     /* Connecticut */
     "203 475 860 959 "
     /* Delaware */ "302 "
     /* District of Columbia */ "202 771 "
     /* Florida, all but the western panhandle */
     "239 305 321 324 352 386 407 561 645 656 689 727 728 754 772 786 813 "
     "863 904 941 954 "
     /* Georgia */ "229 404 470 478 678 706 762 770 912 943 "
     /* Indiana, all but the northwest; 812/930 split: Evansville is
        Central, most of the south (Bloomington, Columbus, the Louisville
        side) Eastern */
     "260 317 463 574 765 812 930 "
     /* Kentucky, east */ "502 606 859 "
     /* Maine */ "207 "
     /* Maryland */ "227 240 301 410 443 667 "
     /* Massachusetts */ "339 351 413 508 617 774 781 857 978 "
     /* Michigan; 906 split: the Upper Peninsula's four western counties
        are Central */
     "231 248 269 313 517 586 616 679 734 810 906 947 989 "
     /* New Hampshire */ "603 "
     /* New Jersey */ "201 551 609 640 732 848 856 862 908 973 "
     /* New York */
     "212 315 329 332 347 363 516 518 585 607 624 631 646 680 716 718 838 "
     "845 914 917 929 934 "
     /* North Carolina */ "252 336 472 704 743 828 910 919 980 984 "
     /* Ohio */
     "216 220 234 283 326 330 380 419 436 440 513 567 614 740 937 "
     /* Pennsylvania */
     "215 223 267 272 412 445 484 570 582 610 717 724 814 835 878 "
     /* Rhode Island */ "401 "
     /* South Carolina */ "803 821 839 843 854 864 "
     /* Tennessee, east; 423 split: Chattanooga and the Tri-Cities are
        Eastern, a few counties west of Chattanooga Central */
     "423 865 "
     /* Vermont */ "802 "
     /* Virginia */ "276 434 540 571 686 703 757 804 826 948 "
     /* West Virginia */ "304 681 "},
    /* ---- United States, Central ---- */
    {"America/Chicago", "US",
     /* Alabama */
     "205 251 256 334 659 938 "
     /* Arkansas */ "327 479 501 870 "
     /* Florida, western panhandle; 850/448 split: Pensacola, Fort Walton
        and Panama City are Central, Tallahassee Eastern */
     "448 850 "
     /* Illinois */
     "217 224 309 312 331 447 464 618 630 708 730 773 779 815 847 861 872 "
     /* Indiana, northwest (Gary, Hammond, Valparaiso) */ "219 "
     /* Iowa */ "319 515 563 641 712 "
     /* Kansas; 620/785 split: four western counties are Mountain */
     "316 620 785 913 "
     /* Kentucky, west; 270/364 split: Bowling Green, Owensboro and
        Paducah are Central, Elizabethtown Eastern */
     "270 364 "
     /* Louisiana */ "225 318 337 504 985 "
     /* Minnesota */ "218 320 507 612 651 763 952 "
     /* Mississippi */ "228 601 662 769 "
     /* Missouri */ "235 314 417 557 573 636 660 816 975 "
     /* Nebraska; 308 split: the panhandle is Mountain */ "308 402 531 "
     /* North Dakota; split: the southwest is Mountain */ "701 "
     /* Oklahoma */ "405 539 572 580 918 "
     /* South Dakota; split: the west (Rapid City) is Mountain */ "605 "
     /* Tennessee, middle and west */ "615 629 731 901 931 "
     /* Texas, all but El Paso */
     "210 214 254 281 325 346 361 409 430 432 469 512 682 713 726 737 806 "
     "817 830 832 903 936 940 945 956 972 979 "
     /* Wisconsin */ "262 274 353 414 534 608 715 920 "},
    /* ---- United States, Mountain ---- */
    {"America/Denver", "US",
     /* Colorado */
     "303 719 720 970 983 "
     /* Montana */ "406 "
     /* New Mexico */ "505 575 "
     /* Texas, El Paso */ "915 "
     /* Utah */ "385 435 801 "
     /* Wyoming */ "307 "},
    /* Idaho; split: the panhandle (Coeur d'Alene) is Pacific, the south
       (Boise, Idaho Falls), most people, Mountain */
    {"America/Boise", "US", "208 986 "},
    /* Arizona: Mountain Standard Time all year */
    {"America/Phoenix", "US", "480 520 602 623 928 "},
    /* ---- United States, Pacific ---- */
    {"America/Los_Angeles", "US",
     /* California */
     "209 213 279 310 323 341 350 357 369 408 415 424 442 510 530 559 562 "
     "619 626 628 650 657 661 669 707 714 738 747 760 805 818 820 831 837 "
     "840 858 909 916 925 949 951 "
     /* Nevada; 775 split: West Wendover is Mountain */ "702 725 775 "
     /* Oregon; 541/458 split: Malheur County is Mountain */
     "458 503 541 971 "
     /* Washington */ "206 253 360 425 509 564 "},
    /* Alaska; split: the western Aleutians keep Hawaii-Aleutian time */
    {"America/Anchorage", "US", "907 "},
    {"Pacific/Honolulu", "US", "808 "},
    /* ---- Canada ---- */
    /* Ontario and Quebec; 807 split: Thunder Bay is Eastern, the far
       west (Kenora) Central */
    {"America/Toronto", "CA",
     /* Ontario */
     "226 249 289 343 365 382 416 437 519 548 613 647 683 705 742 753 807 "
     "905 942 "
     /* Quebec */ "263 354 367 418 438 450 468 514 579 581 819 873 "},
    /* New Brunswick, Nova Scotia, Prince Edward Island */
    {"America/Halifax", "CA", "428 506 782 902 "},
    /* Newfoundland and Labrador; split: most of Labrador is Atlantic */
    {"America/St_Johns", "CA", "709 879 "},
    /* Manitoba */
    {"America/Winnipeg", "CA", "204 431 584 "},
    /* Saskatchewan: Central Standard Time all year */
    {"America/Regina", "CA", "306 474 639 "},
    /* Alberta; and 867, the three territories: split, the Northwest
       Territories (Yellowknife) and western Nunavut keep Mountain time,
       Yukon keeps UTC-7 all year (Mountain in winter, Pacific in summer),
       eastern Nunavut Central and Eastern */
    {"America/Edmonton", "CA", "368 403 587 780 825 867 "},
    /* British Columbia; 250 split: the Kootenays and Peace River are
       Mountain */
    {"America/Vancouver", "CA", "236 250 257 604 672 778 "},
};

#define NANP_GROUPS (sizeof(nanp_groups) / sizeof(*nanp_groups))

/* The group listing npa (3 digits, not NUL-terminated), or NULL. */
static const nanp_group *nanp_find(const char *npa) {
    for (size_t g = 0; g < NANP_GROUPS; g++)
        for (const char *p = nanp_groups[g].codes; p[0] && p[1] && p[2];
             p += 4) {
            if (p[0] == npa[0] && p[1] == npa[1] && p[2] == npa[2])
                return &nanp_groups[g];
            if (p[3] != ' ')
                break; /* malformed: the table test catches it */
        }
    return NULL;
}

int lm_phone_tz_nanp_count(void) {
    int n = 0;
    for (size_t g = 0; g < NANP_GROUPS; g++)
        n += (int)(strlen(nanp_groups[g].codes) / 4);
    return n;
}

int lm_phone_tz_nanp_at(int i, const char **zone, const char **alpha2) {
    if (i < 0)
        return -1;
    for (size_t g = 0; g < NANP_GROUPS; g++) {
        int n = (int)(strlen(nanp_groups[g].codes) / 4);
        if (i < n) {
            const char *p = nanp_groups[g].codes + 4 * i;
            if (zone)
                *zone = nanp_groups[g].zone;
            if (alpha2)
                *alpha2 = nanp_groups[g].alpha2;
            return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
        }
        i -= n;
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Calling codes                                                       */
/* ------------------------------------------------------------------ */

/* Countries with more than one zone (more than one UTC offset): their
 * calling code alone does not place a number. US and CA are read by area
 * code above. */
static const char *const multi_zone[] = {
    "AQ", "AU", "BR", "CA", "CD", "CL", "EC", "ES", "FM", "GL", "ID",
    "KI", "KZ", "MN", "MX", "NZ", "PF", "PG", "PT", "RU", "UM", "US"};

/* The main country of a calling code several countries share. */
static const struct {
    const char *code, *alpha2;
} shared_main[] = {{"212", "MA"}, {"262", "RE"}, {"358", "FI"}, {"39", "IT"},
                   {"44", "GB"},  {"47", "NO"},  {"590", "GP"}, {"599", "CW"},
                   {"61", "AU"},  {"64", "NZ"},  {"672", "NF"}, {"7", "RU"}};

static int is_multi_zone(const char *alpha2) {
    for (size_t i = 0; i < sizeof(multi_zone) / sizeof(*multi_zone); i++)
        if (strcmp(multi_zone[i], alpha2) == 0)
            return 1;
    return 0;
}

/* The country whose calling code starts the digits (E.164 codes are
 * prefix-free), the main one where several share it; NULL if none. */
static const struct lm_geo_country *by_calling_code(const char *digits) {
    const struct lm_geo_country *hit = NULL;
    size_t n = lm_geo_country_count();

    for (size_t i = 0; i < n; i++) {
        const struct lm_geo_country *c = lm_geo_country_at(i);
        size_t len = strlen(c->calling_code);
        if (len == 0 || strncmp(digits, c->calling_code, len) != 0)
            continue;
        if (hit == NULL)
            hit = c;
        for (size_t k = 0; k < sizeof(shared_main) / sizeof(*shared_main); k++)
            if (strcmp(shared_main[k].code, c->calling_code) == 0)
                return lm_geo_country(shared_main[k].alpha2);
    }
    return hit;
}

static int all_digits(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* The lookups                                                         */
/* ------------------------------------------------------------------ */

const char *lm_phone_tz(const char *e164, const char **alpha2) {
    const struct lm_geo_country *c;

    if (alpha2)
        *alpha2 = NULL;
    if (e164 == NULL || e164[0] != '+' || !all_digits(e164 + 1))
        return NULL;
    if (e164[1] == '1') {
        const nanp_group *g;
        /* NPA and exchange both start 2..9 */
        if (strlen(e164) != NANP_E164_LEN || e164[2] < '2' || e164[5] < '2')
            return NULL;
        if ((g = nanp_find(e164 + 2)) == NULL)
            return NULL;
        if (alpha2)
            *alpha2 = g->alpha2;
        return g->zone;
    }
    if ((c = by_calling_code(e164 + 1)) == NULL)
        return NULL;
    if (alpha2)
        *alpha2 = c->alpha2;
    return is_multi_zone(c->alpha2) ? NULL : c->tz;
}

const char *lm_phone_tz_lead(const char *phone, const char *alpha2) {
    const struct lm_geo_country *c = lm_geo_country(alpha2);
    char e164[LM_GEO_E164_BUFSZ];
    const char *zone, *phone_country;

    if (c == NULL)
        return NULL;
    if (phone == NULL || !*phone ||
        lm_geo_phone_e164(phone, c->alpha2, e164, sizeof(e164), NULL, 0) != 0)
        return c->tz;
    zone = lm_phone_tz(e164, &phone_country);
    if (zone == NULL || phone_country == NULL ||
        strcasecmp(phone_country, c->alpha2) != 0)
        return c->tz;
    return zone;
}
