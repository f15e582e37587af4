/*
 * suggest.h: "Did you mean ...?" as graphql-js words it, for the validator
 * (unknown fields, types, arguments, fragments) and the executor (enum
 * values and input fields in variables). One implementation, so the two
 * rank and print suggestions the same way.
 */
#ifndef GM_GQL_SUGGEST_H
#define GM_GQL_SUGGEST_H

#include "arena.h"

#include <stddef.h>

/*
 * graphql-js's suggestionList(input, options): the options within lexical
 * distance of input[0..len) (any UTF-8, compared as JavaScript compares
 * lower-cased UTF-16 text), closest first, then in natural order; an
 * option listed twice counts once. Writes them into out (room for n) and
 * returns how many. Scratch comes from a; none are found when a is full.
 */
size_t gm__gql_suggest(struct gm_arena *a, const char *input, size_t len,
                       const char *const *options, size_t n, const char **out);

/* graphql-js's naturalCompare: digit runs compare by value. */
int gm__gql_natural_cmp(const char *x, const char *y);

/*
 * graphql-js's didYouMean([sub,] suggestions): appends
 * ` Did you mean [sub ]"a", "b", or "c"?` (at most five) to the
 * NUL-terminated buf of size n, truncating; nothing when n_sugg is 0.
 */
void gm__gql_did_you_mean(char *buf, size_t n, const char *sub, const char *const *sugg,
                          size_t n_sugg);

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
size_t gm__gql_utf8_len(const unsigned char *s, size_t n);

#endif
