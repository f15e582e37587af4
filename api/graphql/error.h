/*
 * error.h: GraphQL errors as a response carries them.
 *
 * A request error (syntax, validation, variable coercion) or a field error
 * (a resolver failed, a non-null field was null) is a message, the source
 * locations it concerns, for field errors the response path, and a code for
 * `extensions.code`. The validator and the executor append errors to one
 * list kept in the request's arena.
 *
 * Codes (strings, as clients switch on them): GRAPHQL_PARSE_FAILED,
 * GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT (variables and arguments),
 * QUERY_TOO_COMPLEX (limits), and for field errors whatever the resolver
 * says (INTERNAL_SERVER_ERROR by default, NOT_FOUND, FORBIDDEN,
 * RATE_LIMITED, ...).
 */
#ifndef GM_GQL_ERROR_H
#define GM_GQL_ERROR_H

#include "arena.h"
#include "ast.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define GM_GQL_CODE_PARSE      "GRAPHQL_PARSE_FAILED"
#define GM_GQL_CODE_VALIDATION "GRAPHQL_VALIDATION_FAILED"
#define GM_GQL_CODE_INPUT      "BAD_USER_INPUT"
#define GM_GQL_CODE_COMPLEX    "QUERY_TOO_COMPLEX"
#define GM_GQL_CODE_INTERNAL   "INTERNAL_SERVER_ERROR"

/* One element of a response path: a field's response key, or a list index. */
struct gm_gql_path {
    const struct gm_gql_path *parent; /* NULL at the root */
    const char *key;                  /* NULL for a list index */
    size_t index;
};

struct gm_gql_error {
    struct gm_gql_error *next;
    const char *message;
    const char *code;        /* static string, see above */
    struct gm_gql_loc *locs; /* n_locs, in order */
    size_t n_locs;
    const char **path;   /* n_path keys; list indexes printed as decimal text */
    bool *path_is_index; /* n_path: whether path[i] is a list index */
    size_t n_path;
};

/* The errors of one request, in the order they were found. */
struct gm_gql_errors {
    struct gm_gql_error *head;
    struct gm_gql_error *tail;
    size_t count;
    size_t max;    /* stop recording past this many (0 = 100); count still grows */
    bool overflow; /* an allocation failed: at least one error was dropped */
};

void gm_gql_errors_init(struct gm_gql_errors *l);

/*
 * Appends an error with a printf-style message, allocated in a, with
 * n_locs locations from locs (copied) and the path from path (copied;
 * NULL for none). Returns the new error (NULL when the list is full or the
 * arena's budget is spent; the error still counts).
 */
struct gm_gql_error *gm_gql_errors_add(struct gm_gql_errors *l, struct gm_arena *a,
                                       const char *code, const struct gm_gql_loc *locs,
                                       size_t n_locs, const struct gm_gql_path *path,
                                       const char *fmt, ...) __attribute__((format(printf, 7, 8)));

struct gm_gql_error *gm_gql_errors_addv(struct gm_gql_errors *l, struct gm_arena *a,
                                        const char *code, const struct gm_gql_loc *locs,
                                        size_t n_locs, const struct gm_gql_path *path,
                                        const char *fmt, va_list ap);

/* Adds one more location to e (no-op for NULL e or past the budget). */
void gm_gql_error_add_loc(struct gm_gql_error *e, struct gm_arena *a, struct gm_gql_loc loc);

#endif
