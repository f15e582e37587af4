/*
 * lexer.h: the GraphQL lexical grammar (October 2021 specification).
 *
 * The lexer turns a UTF-8 document into tokens one at a time. Ignored tokens
 * (the byte order mark, white space, line terminators, commas and comments)
 * are skipped. String and block string tokens are decoded (escapes resolved,
 * the spec's BlockStringValue applied) into the arena; names and numbers
 * point into the source.
 *
 * Positions: lines and columns are 1-based. A line ends at "\n", "\r\n" or
 * "\r". Columns count Unicode code points from the start of the line (the
 * BOM and a tab each count one), so "é" is one column. graphql-js counts
 * UTF-16 code units instead; the two differ only after a character outside
 * the Basic Multilingual Plane on the same line.
 *
 * Errors are GraphQL syntax errors ("Syntax Error: Unterminated string.")
 * with the position of the offending character, code GM_EINVAL; GM_ETOOBIG
 * when the arena's budget runs out.
 */
#ifndef GM_GQL_LEXER_H
#define GM_GQL_LEXER_H

#include "arena.h"
#include "err.h"

#include <stddef.h>

enum gm_gql_tok_kind {
    GM_TOK_EOF,
    GM_TOK_BANG,      /* ! */
    GM_TOK_DOLLAR,    /* $ */
    GM_TOK_AMP,       /* & */
    GM_TOK_PAREN_L,   /* ( */
    GM_TOK_PAREN_R,   /* ) */
    GM_TOK_SPREAD,    /* ... */
    GM_TOK_COLON,     /* : */
    GM_TOK_EQUALS,    /* = */
    GM_TOK_AT,        /* @ */
    GM_TOK_BRACKET_L, /* [ */
    GM_TOK_BRACKET_R, /* ] */
    GM_TOK_BRACE_L,   /* { */
    GM_TOK_PIPE,      /* | */
    GM_TOK_BRACE_R,   /* } */
    GM_TOK_NAME,
    GM_TOK_INT,
    GM_TOK_FLOAT,
    GM_TOK_STRING,
    GM_TOK_BLOCK_STRING,
};

struct gm_gql_token {
    enum gm_gql_tok_kind kind;
    const char *start; /* the token's source text (borrowed from the source) */
    size_t len;
    /*
     * STRING, BLOCK_STRING: the decoded value in the arena, NUL-terminated
     * (it may also contain NUL bytes: use value_len). Otherwise NULL.
     */
    char *value;
    size_t value_len;
    size_t offset; /* byte offset of start in the source */
    int line;
    int column;
};

struct gm_gql_lexer {
    const char *src; /* borrowed; must outlive the lexer and its tokens */
    size_t len;
    size_t pos;
    int line;
    size_t line_start; /* offset of the current line's first byte */
    size_t col_pos;    /* a position on the current line whose column is known */
    int col;           /* ...and that column */
    struct gm_arena *arena;
};

/*
 * Prepares lx over src[0..len) (borrowed). Checks that src is valid UTF-8
 * (no overlong forms, surrogates or code points past U+10FFFF): on failure
 * fills err with the position of the first bad byte and returns GM_EINVAL.
 */
int gm_gql_lexer_init(struct gm_gql_lexer *lx, const char *src, size_t len, struct gm_arena *a,
                      struct gm_err *err);

/* Reads the next token into tok; 0, GM_EINVAL (syntax) or GM_ETOOBIG (arena). */
int gm_gql_lexer_next(struct gm_gql_lexer *lx, struct gm_gql_token *tok, struct gm_err *err);

/* The kind as graphql-js names it in messages: "Name", "<EOF>", "!"... */
const char *gm_gql_tok_kind_name(enum gm_gql_tok_kind kind);

/* True for the punctuator kinds (quoted in messages). */
int gm_gql_tok_is_punct(enum gm_gql_tok_kind kind);

#endif
