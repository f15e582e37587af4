/*
 * fuzz_httpbody.c: gamify-api's jansson-free reading of a POST /graphql
 * body (gm__api_body_simple, api/http/body.c) against jansson on the same
 * bytes. The fast reading may refuse any body (the server then parses it
 * with jansson); what it takes it must read exactly as jansson does:
 *
 * - the body is a JSON object jansson reads (json_loadb, flags 0, as the
 *   server's slow path);
 * - its keys are among query, operationName, variables and extensions;
 * - query and operationName are jansson's strings, or NULL where jansson
 *   has null or no such key;
 * - variables and extensions are absent, null or empty objects (anything
 *   more is for the slow path, which passes them to the engine);
 * - the body itself is left as it was.
 */
#include "fuzz.h"
#include "server_int.h"

#include <jansson.h>
#include <string.h>

/* Whether v is absent, null or an empty object. */
static int
nothing(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0);
}

/* Whether the fast reading's s (NULL: none) is what jansson read, v. */
static int
same_string(const char *s, const json_t *v)
{
    if (!s)
        return !v || json_is_null(v);
    return json_is_string(v) && json_string_length(v) == strlen(s) &&
           memcmp(json_string_value(v), s, strlen(s)) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > GM_FUZZ_INPUT_MAX)
        return 0;
    char *body = malloc(size ? size : 1), *before = malloc(size ? size : 1);
    char *scratch = malloc(size + 1);
    if (!body || !before || !scratch)
        abort();
    memcpy(body, data, size);
    memcpy(before, data, size);
    const char *query, *opname;
    bool taken = gm__api_body_simple(body, size, scratch, &query, &opname);
    GM_FUZZ_CHECK(memcmp(body, before, size) == 0, "the body is left as it was");
    if (taken) {
        json_error_t je;
        json_t *j = json_loadb(body, size, 0, &je);
        GM_FUZZ_CHECK(j != NULL, "a body taken is JSON to jansson");
        GM_FUZZ_CHECK(json_is_object(j), "a body taken is an object");
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
        {
            GM_FUZZ_CHECK(!strcmp(key, "query") || !strcmp(key, "operationName") ||
                              !strcmp(key, "variables") || !strcmp(key, "extensions"),
                          "only the four keys");
        }
        GM_FUZZ_CHECK(same_string(query, json_object_get(j, "query")), "the same query");
        GM_FUZZ_CHECK(same_string(opname, json_object_get(j, "operationName")),
                      "the same operation name");
        GM_FUZZ_CHECK(nothing(json_object_get(j, "variables")), "no variables");
        GM_FUZZ_CHECK(nothing(json_object_get(j, "extensions")), "no extensions");
        json_decref(j);
    }
    free(scratch);
    free(before);
    free(body);
    return 0;
}
