/*
 * test_redis_message.c: the leaderboard-changed message the Redis projector
 * publishes (gm__redis_message): valid JSON whatever the board names hold
 * (quotes, backslashes, control characters, bytes that are not UTF-8), the
 * pairs and pruned periods in order, "truncated" past the limit. No server.
 */
#include "redis_int.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void
add(struct gm__pairs *l, const char *board, const char *period)
{
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    cr_assert_not_null(l->v);
    l->v[l->n].board = strdup(board);
    l->v[l->n].period = strdup(period);
    l->n++;
}

static json_t *
parse(const char *s)
{
    json_error_t e;
    json_t *m = json_loads(s, 0, &e);
    cr_assert_not_null(m, "%s: %s", s, e.text);
    return m;
}

Test(redis_message, odd_names_arrive_as_they_are)
{
    struct gm__pairs l = {0};
    add(&l, "global", "all");
    add(&l, "a\"b\\c", "2026-W48");
    add(&l, "tab\there\nnl\x01", "2026-11");
    add(&l, "\xc5\xbc\xc3\xb3\xc5\x82w \xf0\x9f\x90\xa2", "all");
    char *pruned[] = {"2026-W40", "2026-08"};
    char *s = gm__redis_message(&l, 1000, pruned, 2, 3, 12345);
    json_t *m = parse(s);
    cr_assert_eq(json_integer_value(json_object_get(m, "partition")), 3);
    cr_assert_eq(json_integer_value(json_object_get(m, "next")), 12345);
    json_t *changed = json_object_get(m, "changed");
    cr_assert_eq(json_array_size(changed), l.n);
    for (size_t i = 0; i < l.n; i++) {
        json_t *e = json_array_get(changed, i);
        cr_assert_str_eq(json_string_value(json_object_get(e, "board")), l.v[i].board);
        cr_assert_str_eq(json_string_value(json_object_get(e, "period")), l.v[i].period);
    }
    json_t *p = json_object_get(m, "pruned");
    cr_assert_eq(json_array_size(p), 2);
    cr_assert_str_eq(json_string_value(json_array_get(p, 1)), "2026-08");
    cr_assert_null(json_object_get(m, "truncated"));
    json_decref(m);
    free(s);
    gm__pairs_clear(&l);
}

Test(redis_message, bytes_that_are_not_utf8_become_replacement_characters)
{
    struct gm__pairs l = {0};
    add(&l,
        "x\xff"
        "y\xc3",
        "all");                     /* a stray byte and a cut sequence */
    add(&l, "\xed\xa0\x80", "all"); /* a surrogate */
    add(&l, "\xc0\xaf", "all");     /* an overlong '/' */
    char *s = gm__redis_message(&l, 1000, NULL, 0, 0, 1);
    json_t *m = parse(s);
    json_t *changed = json_object_get(m, "changed");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(changed, 0), "board")),
                     "x\xef\xbf\xbdy\xef\xbf\xbd");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(changed, 1), "board")),
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(changed, 2), "board")),
                     "\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(m);
    free(s);
    gm__pairs_clear(&l);
}

Test(redis_message, past_the_limit_it_says_truncated)
{
    struct gm__pairs l = {0};
    for (int i = 0; i < 5; i++) {
        char b[16];
        snprintf(b, sizeof b, "g%d", i);
        add(&l, b, "all");
    }
    char *s = gm__redis_message(&l, 3, NULL, 0, 0, 9);
    json_t *m = parse(s);
    cr_assert_eq(json_array_size(json_object_get(m, "changed")), 3);
    cr_assert(json_is_true(json_object_get(m, "truncated")));
    cr_assert_eq(json_array_size(json_object_get(m, "pruned")), 0);
    json_decref(m);
    free(s);
    /* empty */
    l.n = 0;
    s = gm__redis_message(&l, 3, NULL, 0, 1, 0);
    cr_assert_str_eq(s, "{\"partition\":1,\"next\":0,\"changed\":[],\"pruned\":[]}");
    free(s);
    l.n = 5;
    gm__pairs_clear(&l);
}
