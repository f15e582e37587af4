/*
 * test_gql_lexer.c: the GraphQL lexer: every token kind, string escapes and
 * block strings, ignored tokens, positions (lines after \n, \r\n and \r;
 * columns in code points), and every lexical error with its message and
 * position.
 */
#include "lexer.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_TOKS 64

struct lexed {
    struct gm_arena a;
    struct gm_gql_token toks[MAX_TOKS];
    size_t n; /* tokens before EOF */
    int rc;
    struct gm_err err;
};

/* Lexes src[0..len) to the end or the first error. */
static void
lex_n(struct lexed *l, const char *src, size_t len)
{
    struct gm_gql_lexer lx;
    memset(l, 0, sizeof *l);
    gm_arena_init(&l->a, 0);
    l->rc = gm_gql_lexer_init(&lx, src, len, &l->a, &l->err);
    while (l->rc == 0) {
        cr_assert_lt(l->n, MAX_TOKS);
        l->rc = gm_gql_lexer_next(&lx, &l->toks[l->n], &l->err);
        if (l->rc < 0 || l->toks[l->n].kind == GM_TOK_EOF)
            break;
        l->n++;
    }
}

static void
lex(struct lexed *l, const char *src)
{
    lex_n(l, src, strlen(src));
}

static void
lexed_free(struct lexed *l)
{
    gm_arena_deinit(&l->a);
}

/* Lexes a single string token and checks its decoded value. */
static void
expect_string(const char *src, const char *want, size_t want_len, enum gm_gql_tok_kind kind)
{
    struct lexed l;
    lex(&l, src);
    cr_assert_eq(l.rc, 0, "%s: %s", src, l.err.msg);
    cr_assert_eq(l.n, 1, "%s: %zu tokens", src, l.n);
    cr_assert_eq(l.toks[0].kind, kind, "%s", src);
    cr_assert_eq(l.toks[0].value_len, want_len, "%s: length %zu, want %zu ('%s')", src,
                 l.toks[0].value_len, want_len, l.toks[0].value);
    cr_assert(memcmp(l.toks[0].value, want, want_len) == 0, "%s: got '%s' want '%s'", src,
              l.toks[0].value, want);
    cr_assert_eq(l.toks[0].value[want_len], '\0');
    lexed_free(&l);
}

Test(gql_lexer, punctuators)
{
    struct lexed l;
    lex(&l, "! $ & ( ) ... : = @ [ ] { | }");
    cr_assert_eq(l.rc, 0, "%s", l.err.msg);
    enum gm_gql_tok_kind want[] = {
        GM_TOK_BANG,      GM_TOK_DOLLAR,  GM_TOK_AMP,    GM_TOK_PAREN_L, GM_TOK_PAREN_R,
        GM_TOK_SPREAD,    GM_TOK_COLON,   GM_TOK_EQUALS, GM_TOK_AT,      GM_TOK_BRACKET_L,
        GM_TOK_BRACKET_R, GM_TOK_BRACE_L, GM_TOK_PIPE,   GM_TOK_BRACE_R};
    cr_assert_eq(l.n, sizeof want / sizeof want[0]);
    int col = 1;
    for (size_t i = 0; i < l.n; i++) {
        cr_assert_eq(l.toks[i].kind, want[i], "token %zu", i);
        cr_assert_eq(l.toks[i].line, 1);
        cr_assert_eq(l.toks[i].column, col, "token %zu at %d, want %d", i, l.toks[i].column, col);
        cr_assert_eq(l.toks[i].offset, (size_t)(col - 1));
        col += (int)l.toks[i].len + 1;
    }
    cr_assert_str_eq(gm_gql_tok_kind_name(GM_TOK_SPREAD), "...");
    cr_assert_str_eq(gm_gql_tok_kind_name(GM_TOK_EOF), "<EOF>");
    cr_assert_str_eq(gm_gql_tok_kind_name(GM_TOK_BLOCK_STRING), "BlockString");
    cr_assert(gm_gql_tok_is_punct(GM_TOK_BRACE_R));
    cr_assert_not(gm_gql_tok_is_punct(GM_TOK_NAME));
    cr_assert_not(gm_gql_tok_is_punct(GM_TOK_EOF));
    lexed_free(&l);
}

Test(gql_lexer, names)
{
    struct lexed l;
    lex(&l, "a _ __typename A9_z on true null");
    cr_assert_eq(l.rc, 0, "%s", l.err.msg);
    const char *want[] = {"a", "_", "__typename", "A9_z", "on", "true", "null"};
    cr_assert_eq(l.n, 7);
    for (size_t i = 0; i < l.n; i++) {
        cr_assert_eq(l.toks[i].kind, GM_TOK_NAME);
        cr_assert_eq(l.toks[i].len, strlen(want[i]));
        cr_assert(memcmp(l.toks[i].start, want[i], l.toks[i].len) == 0);
        cr_assert_null(l.toks[i].value);
    }
    lexed_free(&l);
}

Test(gql_lexer, numbers)
{
    struct lexed l;
    lex(&l, "0 -0 7 123 -123 0.0 1.5 -1.5e10 1E+3 2e-2 6.02e23 0e0 9007199254740993");
    cr_assert_eq(l.rc, 0, "%s", l.err.msg);
    const char *want[] = {"0",
                          "-0",
                          "7",
                          "123",
                          "-123",
                          "0.0",
                          "1.5",
                          "-1.5e10",
                          "1E+3",
                          "2e-2",
                          "6.02e23",
                          "0e0",
                          "9007199254740993"};
    int is_float[] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0};
    cr_assert_eq(l.n, 13);
    for (size_t i = 0; i < l.n; i++) {
        cr_assert_eq(l.toks[i].kind, is_float[i] ? GM_TOK_FLOAT : GM_TOK_INT, "%s", want[i]);
        cr_assert_eq(l.toks[i].len, strlen(want[i]), "%s", want[i]);
        cr_assert(memcmp(l.toks[i].start, want[i], l.toks[i].len) == 0, "%s", want[i]);
    }
    lexed_free(&l);
}

Test(gql_lexer, number_followed_by_punctuator)
{
    struct lexed l;
    lex(&l, "[1,2]{x:-3}(4)");
    cr_assert_eq(l.rc, 0, "%s", l.err.msg);
    cr_assert_eq(l.n, 12);
    cr_assert_eq(l.toks[1].kind, GM_TOK_INT);
    cr_assert_eq(l.toks[2].kind, GM_TOK_INT);
    cr_assert_eq(l.toks[3].kind, GM_TOK_BRACKET_R);
    cr_assert_eq(l.toks[7].kind, GM_TOK_INT);
    cr_assert_eq(l.toks[7].len, 2);
    lexed_free(&l);
}

Test(gql_lexer, strings)
{
    expect_string("\"\"", "", 0, GM_TOK_STRING);
    expect_string("\"simple\"", "simple", 6, GM_TOK_STRING);
    expect_string("\" white space \"", " white space ", 13, GM_TOK_STRING);
    expect_string("\"quote \\\"\"", "quote \"", 7, GM_TOK_STRING);
    expect_string("\"escaped \\n\\r\\b\\t\\f\"", "escaped \n\r\b\t\f", 13, GM_TOK_STRING);
    expect_string("\"slashes \\\\ \\/\"", "slashes \\ /", 11, GM_TOK_STRING);
    expect_string("\"unicode \\u1234\\u5678\\u90AB\\uCDEF\"",
                  "unicode \xe1\x88\xb4\xe5\x99\xb8\xe9\x82\xab\xec\xb7\xaf", 20, GM_TOK_STRING);
    expect_string("\"\\u0041\\u00e9\"", "A\xc3\xa9", 3, GM_TOK_STRING);
    expect_string("\"nul \\u0000 inside\"", "nul \0 inside", 12, GM_TOK_STRING);
    expect_string("\"\\u{1F600}\"", "\xf0\x9f\x98\x80", 4, GM_TOK_STRING);
    expect_string("\"\\u{41}\\u{0000041}\"", "AA", 2, GM_TOK_STRING);
    expect_string("\"\\u{00000041}\"", "A", 1, GM_TOK_STRING); /* 8 digits, the most */
    expect_string("\"\\u{10FFFF}\"", "\xf4\x8f\xbf\xbf", 4, GM_TOK_STRING);
    expect_string("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4, GM_TOK_STRING);
    expect_string("\"\\ud83d\\ude00!\"", "\xf0\x9f\x98\x80!", 5, GM_TOK_STRING);
    expect_string("\"raw \xf0\x9f\x98\x80 \xc3\xa9\"", "raw \xf0\x9f\x98\x80 \xc3\xa9", 11,
                  GM_TOK_STRING);
    /* Control characters other than line terminators are source characters. */
    expect_string("\"bell \x07 tab \t\"", "bell \x07 tab \t", 12, GM_TOK_STRING);
    expect_string("\"# not a comment, \"", "# not a comment, ", 17, GM_TOK_STRING);
}

Test(gql_lexer, block_strings)
{
    expect_string("\"\"\"\"\"\"", "", 0, GM_TOK_BLOCK_STRING);
    expect_string("\"\"\"simple\"\"\"", "simple", 6, GM_TOK_BLOCK_STRING);
    expect_string("\"\"\" white space \"\"\"", " white space ", 13, GM_TOK_BLOCK_STRING);
    expect_string("\"\"\"contains \" quote\"\"\"", "contains \" quote", 16, GM_TOK_BLOCK_STRING);
    expect_string("\"\"\"contains \\\"\"\" triple quote\"\"\"", "contains \"\"\" triple quote", 25,
                  GM_TOK_BLOCK_STRING);
    expect_string("\"\"\"multi\nline\"\"\"", "multi\nline", 10, GM_TOK_BLOCK_STRING);
    expect_string("\"\"\"multi\rline\r\nnormalized\"\"\"", "multi\nline\nnormalized", 21,
                  GM_TOK_BLOCK_STRING);
    expect_string("\"\"\"unescaped \\n\\r\\b\\t\\f\\u1234\"\"\"",
                  "unescaped \\n\\r\\b\\t\\f\\u1234", 26, GM_TOK_BLOCK_STRING);
    expect_string("\"\"\"slashes \\\\ \\/\"\"\"", "slashes \\\\ \\/", 13, GM_TOK_BLOCK_STRING);
    /* The spec's example: common indentation and blank edge lines go. */
    expect_string(
        "\"\"\"\n\n        spans\n          multiple\n            lines\n\n        \"\"\"",
        "spans\n  multiple\n    lines", 26, GM_TOK_BLOCK_STRING);
    /* The first line is not part of the common indentation. */
    expect_string("\"\"\"  first\n    second\n      third\"\"\"", "  first\nsecond\n  third", 22,
                  GM_TOK_BLOCK_STRING);
    /* Whitespace-only lines do not count towards the indentation. */
    expect_string("\"\"\"\n    a\n  \n    b\n\"\"\"", "a\n\nb", 4, GM_TOK_BLOCK_STRING);
    expect_string("\"\"\"\n\ta\n\t\tb\n\"\"\"", "a\n\tb", 4, GM_TOK_BLOCK_STRING);
    expect_string("\"\"\"   \n  \n\"\"\"", "", 0, GM_TOK_BLOCK_STRING);
}

Test(gql_lexer, ignored_tokens_and_positions)
{
    struct lexed l;
    /* BOM, comments, commas; \n, \r\n and \r each end one line. */
    lex(&l, "\xef\xbb\xbf a,,b # comment , x\r\n  c\rd\n\n\t e # end");
    cr_assert_eq(l.rc, 0, "%s", l.err.msg);
    cr_assert_eq(l.n, 5);
    int lines[] = {1, 1, 2, 3, 5};
    int cols[] = {3, 6, 3, 1, 3};
    for (size_t i = 0; i < l.n; i++) {
        cr_assert_eq(l.toks[i].kind, GM_TOK_NAME);
        cr_assert_eq(l.toks[i].line, lines[i], "token %zu line %d", i, l.toks[i].line);
        cr_assert_eq(l.toks[i].column, cols[i], "token %zu column %d", i, l.toks[i].column);
    }
    lexed_free(&l);
}

Test(gql_lexer, columns_count_code_points)
{
    struct lexed l;
    /* "é" is 2 bytes, the emoji 4; each is one column. */
    lex(&l, "\"\xc3\xa9\xf0\x9f\x98\x80\" x\n\"\"\"\xc3\xa9\n\xc3\xa9\"\"\" y");
    cr_assert_eq(l.rc, 0, "%s", l.err.msg);
    cr_assert_eq(l.n, 4);
    cr_assert_eq(l.toks[1].column, 6);
    cr_assert_eq(l.toks[1].offset, 9);
    cr_assert_eq(l.toks[2].line, 2);
    cr_assert_eq(l.toks[3].line, 3);
    cr_assert_eq(l.toks[3].column, 6);
    lexed_free(&l);
}

Test(gql_lexer, eof_position)
{
    struct lexed l;
    lex(&l, "a\n  ");
    cr_assert_eq(l.rc, 0);
    cr_assert_eq(l.toks[1].kind, GM_TOK_EOF);
    cr_assert_eq(l.toks[1].line, 2);
    cr_assert_eq(l.toks[1].column, 3);
    lexed_free(&l);
    lex(&l, "");
    cr_assert_eq(l.rc, 0);
    cr_assert_eq(l.n, 0);
    cr_assert_eq(l.toks[0].kind, GM_TOK_EOF);
    cr_assert_eq(l.toks[0].line, 1);
    cr_assert_eq(l.toks[0].column, 1);
    lexed_free(&l);
}

struct bad {
    const char *src;
    size_t len; /* 0: strlen */
    int line;
    int column;
    const char *msg;
};

static const struct bad bad_inputs[] = {
    /* Numbers */
    {"00", 0, 1, 2, "Invalid number, unexpected digit after 0: \"0\"."},
    {"01", 0, 1, 2, "Invalid number, unexpected digit after 0: \"1\"."},
    {"-01", 0, 1, 3, "Invalid number, unexpected digit after 0: \"1\"."},
    {"1.", 0, 1, 3, "Invalid number, expected digit but got: <EOF>."},
    {".5", 0, 1, 1, "Unexpected character: \".\"."},
    {"1e", 0, 1, 3, "Invalid number, expected digit but got: <EOF>."},
    {"1e+", 0, 1, 4, "Invalid number, expected digit but got: <EOF>."},
    {"1E-x", 0, 1, 4, "Invalid number, expected digit but got: \"x\"."},
    {"0x1", 0, 1, 2, "Invalid number, expected digit but got: \"x\"."},
    {"123abc", 0, 1, 4, "Invalid number, expected digit but got: \"a\"."},
    {"1_000", 0, 1, 2, "Invalid number, expected digit but got: \"_\"."},
    {"1.2.3", 0, 1, 4, "Invalid number, expected digit but got: \".\"."},
    {"1.e1", 0, 1, 3, "Invalid number, expected digit but got: \"e\"."},
    {"1.5e3e", 0, 1, 6, "Invalid number, expected digit but got: \"e\"."},
    {"-", 0, 1, 2, "Invalid number, expected digit but got: <EOF>."},
    {"-a", 0, 1, 2, "Invalid number, expected digit but got: \"a\"."},
    {"+1", 0, 1, 1, "Unexpected character: \"+\"."},
    {"1.-2", 0, 1, 3, "Invalid number, expected digit but got: \"-\"."},
    {"  \n 12.\"x\"", 0, 2, 5, "Invalid number, expected digit but got: \"\\\"\"."},
    /* Strings */
    {"\"abc", 0, 1, 5, "Unterminated string."},
    {"\"", 0, 1, 2, "Unterminated string."},
    {"\"abc\ndef\"", 0, 1, 5, "Unterminated string."},
    {"\"abc\rdef\"", 0, 1, 5, "Unterminated string."},
    /* A backslash before a line break or the end is an escape, as in graphql-js. */
    {"x\n  \"ab\\", 0, 2, 6, "Invalid character escape sequence: \"\\\"."},
    {"\"ab\\\n\"", 0, 1, 4, "Invalid character escape sequence: \"\\\n\"."},
    {"\"ab\\\r\n\"", 0, 1, 4, "Invalid character escape sequence: \"\\\r\"."},
    {"\"\\x\"", 0, 1, 2, "Invalid character escape sequence: \"\\x\"."},
    {"\"ok \\z\"", 0, 1, 5, "Invalid character escape sequence: \"\\z\"."},
    {"\"\\\xc3\xa9\"", 0, 1, 2, "Invalid character escape sequence: \"\\\xc3\xa9\"."},
    /* The message quotes six characters from the backslash, past the string's end. */
    {"\"\\u12\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u12\"\"."},
    {"\"\\u12\") { a }", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u12\")\"."},
    {"\"\\u1\n\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u1\n\"\"."},
    {"\"\\u\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u\"\"."},
    {"\"\\u1", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u1\"."},
    {"\"\\u1\xc3\xa9\xe2\x98\x95xyz\"", 0, 1, 2,
     "Invalid Unicode escape sequence: \"\\u1\xc3\xa9\xe2\x98\x95x\"."},
    /* graphql-js would quote half of the emoji (a lone surrogate): we stop before it. */
    {"\"\\u1\xc3\xa9\xe2\x98\x95\xf0\x9f\x98\x80x\"", 0, 1, 2,
     "Invalid Unicode escape sequence: \"\\u1\xc3\xa9\xe2\x98\x95\"."},
    {"\"\\uD83D\\uDE0\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\uD83D\"."},
    {"\"\\uXYZW\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\uXYZW\"."},
    {"\"\\u12G4 \"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u12G4\"."},
    {"\"\\uD83D\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\uD83D\"."},
    {"\"a\\uD83Dx\"", 0, 1, 3, "Invalid Unicode escape sequence: \"\\uD83D\"."},
    {"\"\\uD83D\\u0041\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\uD83D\"."},
    {"\"\\uD83D\\uD83D\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\uD83D\"."},
    {"\"\\uDE00\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\uDE00\"."},
    {"\"\\u{110000}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{110000}\"."},
    /* Braced: at most 8 digits (12 characters), the value within 31 bits. */
    {"\"\\u{FFFFFFFFFFFF}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{FFFFFFFF\"."},
    {"\"\\u{80000000}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{80000000\"."},
    {"\"\\u{7FFFFFFF}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{7FFFFFFF}\"."},
    {"\"\\u{000000041}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{000000041\"."},
    {"\"\\u{0000000041}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{000000004\"."},
    {"\"\\u{110000\n}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{110000\n\"."},
    {"\"\\u{\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{\"\"."},
    {"\"\\u{1\xe2\x98\x95}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{1\xe2\x98\x95\"."},
    {"\"\\u{}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{}\"."},
    {"\"\\u{D800}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{D800}\"."},
    {"\"\\u{DFFF}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{DFFF}\"."},
    {"\"\\u{12x}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{12x\"."},
    {"\"\\u{1F600\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{1F600\"\"."},
    {"\"\\u{D83D}\\u{DE00}\"", 0, 1, 2, "Invalid Unicode escape sequence: \"\\u{D83D}\"."},
    /* Block strings */
    {"\"\"\"abc", 0, 1, 7, "Unterminated string."},
    {"\"\"\"a\n\nb", 0, 3, 2, "Unterminated string."},
    {"\"\"\"a\r\nb\\\"\"\"", 0, 2, 6, "Unterminated string."},
    {"\"\"\"ends in two quotes\"\"", 0, 1, 24, "Unterminated string."},
    /* Other characters */
    {"'abc'", 0, 1, 1,
     "Unexpected single quote character ('), did you mean to use a double quote (\")?"},
    {"%", 0, 1, 1, "Unexpected character: \"%\"."},
    {"a ~", 0, 1, 3, "Unexpected character: \"~\"."},
    {"\\", 0, 1, 1, "Unexpected character: \"\\\\\"."},
    {"..", 0, 1, 1, "Unexpected character: \".\"."},
    {"a . b", 0, 1, 3, "Unexpected character: \".\"."},
    {"\x07", 0, 1, 1, "Unexpected character: U+0007."},
    {"x\n\x01", 0, 2, 1, "Unexpected character: U+0001."},
    {"\xc3\xa9", 0, 1, 1, "Unexpected character: U+00E9."},
    {"\xf0\x9f\x98\x80", 0, 1, 1, "Unexpected character: U+1F600."},
    {"\xef\xbb\xbf\xef\xbb\xbf?", 0, 1, 3, "Unexpected character: \"?\"."},
    {"a\0b", 3, 1, 2, "Unexpected character: U+0000."},
    /* Invalid UTF-8, anywhere in the document */
    {"ab\xff", 0, 1, 3, "Invalid UTF-8 byte 0xFF; documents must be UTF-8."},
    {"\"\xc3\x28\"", 0, 1, 2, "Invalid UTF-8 byte 0xC3; documents must be UTF-8."},
    {"# \xc0\xaf overlong", 0, 1, 3, "Invalid UTF-8 byte 0xC0; documents must be UTF-8."},
    {"\"\xe0\x80\xaf\"", 0, 1, 2, "Invalid UTF-8 byte 0xE0; documents must be UTF-8."},
    {"\"\xed\xa0\x80\"", 0, 1, 2, "Invalid UTF-8 byte 0xED; documents must be UTF-8."},
    {"\"\xf4\x90\x80\x80\"", 0, 1, 2, "Invalid UTF-8 byte 0xF4; documents must be UTF-8."},
    {"\"\xf0\x80\x80\xaf\"", 0, 1, 2, "Invalid UTF-8 byte 0xF0; documents must be UTF-8."},
    {"\xe2\x82", 0, 1, 1, "Invalid UTF-8 byte 0xE2; documents must be UTF-8."},
    {"\x80", 0, 1, 1, "Invalid UTF-8 byte 0x80; documents must be UTF-8."},
    {"a\r\n\xc3\xa9 \xf8", 0, 2, 3, "Invalid UTF-8 byte 0xF8; documents must be UTF-8."},
    {"{ a }\n\"\"\"\n\xfe\"\"\"", 0, 3, 1, "Invalid UTF-8 byte 0xFE; documents must be UTF-8."},
};

Test(gql_lexer, errors)
{
    for (size_t i = 0; i < sizeof bad_inputs / sizeof bad_inputs[0]; i++) {
        const struct bad *b = &bad_inputs[i];
        struct lexed l;
        char want[600];
        lex_n(&l, b->src, b->len ? b->len : strlen(b->src));
        snprintf(want, sizeof want, "Syntax Error: %s", b->msg);
        cr_assert_eq(l.rc, GM_EINVAL, "case %zu '%s': rc %d", i, b->src, l.rc);
        cr_assert_eq(l.err.code, GM_EINVAL, "case %zu", i);
        cr_assert_str_eq(l.err.msg, want, "case %zu '%s'", i, b->src);
        cr_assert_eq(l.err.line, b->line, "case %zu '%s': line %d, want %d", i, b->src, l.err.line,
                     b->line);
        cr_assert_eq(l.err.column, b->column, "case %zu '%s': column %d, want %d", i, b->src,
                     l.err.column, b->column);
        lexed_free(&l);
    }
}

Test(gql_lexer, arena_budget_exhausted)
{
    /* A string longer than what the arena may hold fails with GM_ETOOBIG. */
    static char src[70000];
    memset(src, 'x', sizeof src);
    src[0] = '"';
    src[sizeof src - 1] = '"';
    struct gm_arena a;
    struct gm_gql_lexer lx;
    struct gm_gql_token tok;
    struct gm_err err;
    gm_arena_init(&a, 32 * 1024);
    cr_assert_eq(gm_gql_lexer_init(&lx, src, sizeof src, &a, &err), 0);
    cr_assert_eq(gm_gql_lexer_next(&lx, &tok, &err), GM_ETOOBIG);
    cr_assert_eq(err.line, 1);
    cr_assert_eq(err.column, 1);
    cr_assert_not_null(strstr(err.msg, "more memory than allowed"));
    gm_arena_deinit(&a);
}

Test(gql_lexer, arena)
{
    struct gm_arena a;
    gm_arena_init(&a, 64 * 1024);
    char *p = gm_arena_alloc(&a, 3);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % _Alignof(max_align_t), 0);
    char *q = gm_arena_alloc(&a, 5);
    cr_assert_eq((uintptr_t)q % _Alignof(max_align_t), 0);
    cr_assert_neq(p, q);
    char *s = gm_arena_strndup(&a, "hello\0world", 11);
    cr_assert_eq(memcmp(s, "hello\0world", 12), 0);
    /* A big block gets its own chunk; past the budget allocation fails. */
    cr_assert_not_null(gm_arena_alloc(&a, 20000));
    cr_assert_null(gm_arena_alloc(&a, 60000));
    size_t before = gm_arena_reserved(&a);
    cr_assert_leq(before, 64 * 1024);
    for (int i = 0; i < 10000; i++)
        if (!gm_arena_alloc(&a, 16))
            break;
    cr_assert_leq(gm_arena_reserved(&a), 64 * 1024);
    gm_arena_reset(&a);
    cr_assert_leq(gm_arena_reserved(&a), 17 * 1024);
    char *z = gm_arena_alloc(&a, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(z[i], 0);
    gm_arena_deinit(&a);
    cr_assert_eq(gm_arena_reserved(&a), 0);
    /* Unlimited arena: many chunks. */
    gm_arena_init(&a, 0);
    for (int i = 0; i < 1000; i++)
        cr_assert_not_null(gm_arena_alloc(&a, 1000));
    cr_assert_geq(gm_arena_reserved(&a), 1000 * 1000);
    gm_arena_deinit(&a);
}
