/*
 * test_api_body.c: the jansson-free reading of common POST /graphql bodies
 * (api/http/body.c): what it takes it reads as jansson does; everything
 * else it leaves to jansson, untouched.
 */
#include "server_int.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Reads body both ways; the fast way must take it and agree with jansson. */
static void
same(const char *body)
{
    size_t len = strlen(body);
    char *copy = strdup(body);
    char *scratch = malloc(len + 1);
    const char *q, *op;
    cr_assert(gm__api_body_simple(copy, len, scratch, &q, &op), "not taken: %s", body);
    cr_assert_str_eq(copy, body, "the body was changed");
    json_t *j = json_loads(body, 0, NULL);
    cr_assert(j, "bad test body %s", body);
    const char *jq = json_string_value(json_object_get(j, "query"));
    const char *jop = json_string_value(json_object_get(j, "operationName"));
    cr_assert((q == NULL) == (jq == NULL) && (!q || strcmp(q, jq) == 0), "query of %s", body);
    cr_assert((op == NULL) == (jop == NULL) && (!op || strcmp(op, jop) == 0), "op of %s", body);
    json_decref(j);
    free(scratch);
    free(copy);
}

static void
left(const char *body)
{
    size_t len = strlen(body);
    char *copy = strdup(body);
    char *scratch = malloc(len + 1);
    const char *q, *op;
    cr_assert(!gm__api_body_simple(copy, len, scratch, &q, &op), "taken: %s", body);
    cr_assert_str_eq(copy, body, "the body was changed");
    free(scratch);
    free(copy);
}

Test(api_body, common_bodies_read_as_jansson_reads_them)
{
    same("{\"query\":\"{ leaderboard(first: 10) { totalCount } }\"}");
    same(" { \"query\" : \"{ a }\" , \"operationName\" : null , \"variables\" : { } } \n");
    same("{\"operationName\":\"Q\",\"query\":\"query Q { a(s: \\\"x\\\\y\\\") "
         "}\",\"extensions\":null}");
    same("{\"query\":\"{ a }\\n\\t# c\\r\\/\",\"variables\":null,\"extensions\":{}}");
    same("{\"query\":null}");
    same("{}");
}

Test(api_body, everything_else_is_left_to_jansson)
{
    left("{\"query\":\"{ a }\",\"variables\":{\"x\":1}}");
    left("{\"query\":\"{ a(s: \\\"\\u00e9\\\") }\"}");
    left("{\"query\":\"{ a(s: \\\"\xc3\xa9\\\") }\"}");
    left("{\"query\":\"{ a }\",\"query\":\"{ b }\"}");
    left("{\"query\":\"{ a }\",\"other\":1}");
    left("{\"query\":\"{ a }\",\"extensions\":{\"persistedQuery\":{}}}");
    left("{\"query\":\"{ a }\"} x");
    left("{\"query\":\"{ a }\",}");
    left("{\"query\":\"{ a }\"");
    left("{\"query\":\"{ a }");
    left("{\"query\":1}");
    left("[\"query\"]");
    left("");
    left("{\"query\":\"a\tb\"}");
    left("{\"query\":\"a\\x\"}");
}
