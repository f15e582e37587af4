/*
 * error.c: the list of GraphQL errors of one request (error.h).
 *
 * Everything is allocated in the request's arena. A list holds at most
 * `max` errors (graphql-js stops validating after 100); past it, or when
 * the arena's budget is spent, errors are counted but not kept.
 */
#include "error.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_MAX 100

void
gm_gql_errors_init(struct gm_gql_errors *l)
{
    memset(l, 0, sizeof(*l));
}

static int
path_fill(struct gm_gql_error *e, struct gm_arena *a, const struct gm_gql_path *path)
{
    size_t n = 0;
    for (const struct gm_gql_path *p = path; p; p = p->parent)
        n++;
    if (n == 0)
        return 0;
    e->path = gm_arena_alloc(a, n * sizeof(*e->path));
    e->path_is_index = gm_arena_alloc(a, n * sizeof(*e->path_is_index));
    if (!e->path || !e->path_is_index)
        return -1;
    size_t i = n;
    for (const struct gm_gql_path *p = path; p; p = p->parent) {
        i--;
        if (p->key) {
            e->path[i] = p->key;
        } else {
            char num[24];
            int len = snprintf(num, sizeof(num), "%zu", p->index);
            e->path[i] = gm_arena_strndup(a, num, (size_t)len);
            if (!e->path[i])
                return -1;
            e->path_is_index[i] = true;
        }
    }
    e->n_path = n;
    return 0;
}

struct gm_gql_error *
gm_gql_errors_addv(struct gm_gql_errors *l, struct gm_arena *a, const char *code,
                   const struct gm_gql_loc *locs, size_t n_locs, const struct gm_gql_path *path,
                   const char *fmt, va_list ap)
{
    size_t max = l->max ? l->max : DEFAULT_MAX;
    l->count++;
    if (l->count > max)
        return NULL;
    struct gm_gql_error *e = gm_arena_alloc(a, sizeof(*e));
    if (!e)
        goto fail;
    char buf[1024];
    int len = vsnprintf(buf, sizeof(buf), fmt, ap);
    if (len < 0)
        len = 0;
    if ((size_t)len >= sizeof(buf))
        len = sizeof(buf) - 1;
    e->message = gm_arena_strndup(a, buf, (size_t)len);
    if (!e->message)
        goto fail;
    e->code = code ? code : GM_GQL_CODE_INTERNAL;
    if (n_locs) {
        e->locs = gm_arena_alloc(a, n_locs * sizeof(*e->locs));
        if (!e->locs)
            goto fail;
        memcpy(e->locs, locs, n_locs * sizeof(*e->locs));
        e->n_locs = n_locs;
    }
    if (path_fill(e, a, path) < 0)
        goto fail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    return e;
fail:
    l->overflow = true;
    return NULL;
}

struct gm_gql_error *
gm_gql_errors_add(struct gm_gql_errors *l, struct gm_arena *a, const char *code,
                  const struct gm_gql_loc *locs, size_t n_locs, const struct gm_gql_path *path,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct gm_gql_error *e = gm_gql_errors_addv(l, a, code, locs, n_locs, path, fmt, ap);
    va_end(ap);
    return e;
}

void
gm_gql_error_add_loc(struct gm_gql_error *e, struct gm_arena *a, struct gm_gql_loc loc)
{
    if (!e)
        return;
    struct gm_gql_loc *locs = gm_arena_alloc(a, (e->n_locs + 1) * sizeof(*locs));
    if (!locs)
        return;
    if (e->n_locs)
        memcpy(locs, e->locs, e->n_locs * sizeof(*locs));
    locs[e->n_locs++] = loc;
    e->locs = locs;
}
