/* gw_problem.c — RFC 9457 problem bodies (see gw_problem.h). */
#include "gw_problem.h"

#include "lm_utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_PROBLEM_DETAIL_MAX 1024
#define GW_PROBLEM_ERRORS_MAX 200 /* errors listed in one answer */

void gw_problem_add(gw_problems *pr, const char *field, const char *fmt, ...) {
    char detail[GW_PROBLEM_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    char name[GW_PROBLEM_DETAIL_MAX];
    snprintf(name, sizeof(name), "%s", field);
    /* both may quote the request's bytes: JSON needs UTF-8 */
    lm_utf8_sanitize(name);
    lm_utf8_sanitize(detail);
    field = name;
    if (!pr->errors)
        pr->errors = json_array();
    if (!pr->errors || json_array_size(pr->errors) >= GW_PROBLEM_ERRORS_MAX)
        return;
    json_array_append_new(
        pr->errors, json_pack("{s:s, s:s}", "field", field, "detail", detail));
}

size_t gw_problem_count(const gw_problems *pr) {
    return pr && pr->errors ? json_array_size(pr->errors) : 0;
}

void gw_problems_free(gw_problems *pr) {
    if (!pr)
        return;
    json_decref(pr->errors);
    pr->errors = NULL;
}

void gw_problem_respond(lm_http_response *resp, unsigned status,
                        const char *slug, const char *title, const char *detail,
                        gw_problems *pr) {
    char type[128], text_detail[GW_PROBLEM_DETAIL_MAX];
    snprintf(type, sizeof(type), "urn:lastmile:problem:%s", slug);
    snprintf(text_detail, sizeof(text_detail), "%s", detail);
    lm_utf8_sanitize(text_detail); /* it may quote a request header */
    json_t *j = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", title,
                          "status", (int)status, "detail", text_detail);
    if (j && pr && pr->errors) {
        json_object_set_new(j, "errors", pr->errors);
        pr->errors = NULL;
    }
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        lm_http_text(resp, 500, "out of memory\n");
        return;
    }
    lm_http_respond(resp, status, GW_CT_PROBLEM, text, strlen(text),
                    LM_HTTP_BODY_TAKE);
}
