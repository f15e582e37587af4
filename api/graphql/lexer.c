/*
 * lexer.c: GraphQL tokens (see lexer.h).
 *
 * The whole source is checked for valid UTF-8 once, up front, so the rest of
 * the lexer can decode code points without checks. Messages follow the
 * wording of graphql-js so that clients see familiar errors. Columns are
 * computed lazily from a per-line cache: token starts only move forward, so
 * counting code points stays linear in the document size.
 */
#include "lexer.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int
column_at(struct gm_gql_lexer *lx, size_t pos)
{
    if (lx->col_pos < lx->line_start || pos < lx->col_pos) {
        lx->col_pos = lx->line_start;
        lx->col = 1;
    }
    for (size_t i = lx->col_pos; i < pos; i++)
        if (((unsigned char)lx->src[i] & 0xC0) != 0x80)
            lx->col++;
    lx->col_pos = pos;
    return lx->col;
}

static int syntax_error(struct gm_gql_lexer *lx, size_t pos, struct gm_err *err, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

static int
syntax_error(struct gm_gql_lexer *lx, size_t pos, struct gm_err *err, const char *fmt, ...)
{
    char msg[GM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gm_err_setpos(err, GM_EINVAL, lx->line, column_at(lx, pos), "Syntax Error: %s", msg);
}

static int
oom(struct gm_gql_lexer *lx, size_t pos, struct gm_err *err)
{
    return gm_err_setpos(err, GM_ETOOBIG, lx->line, column_at(lx, pos),
                         "Document too large: parsing needs more memory than allowed.");
}

/* Length of the UTF-8 sequence starting with byte b (source is valid). */
static size_t
utf8_len(unsigned char b)
{
    if (b < 0x80)
        return 1;
    if (b < 0xE0)
        return 2;
    if (b < 0xF0)
        return 3;
    return 4;
}

static uint32_t
cp_at(const struct gm_gql_lexer *lx, size_t pos)
{
    const unsigned char *s = (const unsigned char *)lx->src + pos;
    switch (utf8_len(s[0])) {
    case 1:
        return s[0];
    case 2:
        return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    case 3:
        return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    default:
        return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
               ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    }
}

/* Describes the character at pos as graphql-js does: "x", U+0007 or <EOF>. */
static const char *
describe_char(const struct gm_gql_lexer *lx, size_t pos, char buf[16])
{
    if (pos >= lx->len)
        return "<EOF>";
    uint32_t cp = cp_at(lx, pos);
    if (cp == '"')
        return "\"\\\"\"";
    if (cp == '\\')
        return "\"\\\\\"";
    if (cp >= 0x20 && cp < 0x7F)
        snprintf(buf, 16, "\"%c\"", (char)cp);
    else
        snprintf(buf, 16, "U+%04X", (unsigned)cp);
    return buf;
}

int
gm_gql_lexer_init(struct gm_gql_lexer *lx, const char *src, size_t len, struct gm_arena *a,
                  struct gm_err *err)
{
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->len = len;
    lx->line = 1;
    lx->col = 1;
    lx->arena = a;

    const unsigned char *s = (const unsigned char *)src;
    /* Most documents are ASCII: eight bytes a step, and nothing more to check. */
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull)
            break;
    }
    while (i < len && s[i] < 0x80)
        i++;
    if (i == len)
        return 0;
    int line = 1, col = 1;
    i = 0;
    while (i < len) {
        unsigned char b = s[i];
        size_t n;
        uint32_t cp;
        if (b < 0x80) {
            n = 1;
            cp = b;
        } else if (b >= 0xC2 && b <= 0xDF) {
            n = 2;
            cp = b & 0x1F;
        } else if (b >= 0xE0 && b <= 0xEF) {
            n = 3;
            cp = b & 0x0F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            n = 4;
            cp = b & 0x07;
        } else {
            goto bad;
        }
        if (n > len - i)
            goto bad;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        if (b == '\n' || (b == '\r' && !(i + 1 < len && s[i + 1] == '\n'))) {
            line++;
            col = 1;
        } else if (b != '\r') {
            col++;
        }
        i += n;
        continue;
    bad:
        return gm_err_setpos(err, GM_EINVAL, line, col,
                             "Syntax Error: Invalid UTF-8 byte 0x%02X; documents must be UTF-8.",
                             b);
    }
    return 0;
}

static int
is_name_start(int c)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
is_name_cont(int c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static int
is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int
hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The byte at pos, or -1 at the end. */
static int
peek(const struct gm_gql_lexer *lx, size_t pos)
{
    return pos < lx->len ? (unsigned char)lx->src[pos] : -1;
}

static void
newline(struct gm_gql_lexer *lx, size_t next_line_start)
{
    lx->line++;
    lx->line_start = next_line_start;
}

static int
read_digits(struct gm_gql_lexer *lx, size_t *pos, struct gm_err *err)
{
    char buf[16];
    if (!is_digit(peek(lx, *pos)))
        return syntax_error(lx, *pos, err, "Invalid number, expected digit but got: %s.",
                            describe_char(lx, *pos, buf));
    while (is_digit(peek(lx, *pos)))
        (*pos)++;
    return 0;
}

/* IntValue and FloatValue, including the rule on what may follow them. */
static int
read_number(struct gm_gql_lexer *lx, struct gm_gql_token *tok, struct gm_err *err)
{
    char buf[16];
    size_t pos = lx->pos;
    int is_float = 0;
    int rc;
    if (peek(lx, pos) == '-')
        pos++;
    if (peek(lx, pos) == '0') {
        pos++;
        if (is_digit(peek(lx, pos)))
            return syntax_error(lx, pos, err, "Invalid number, unexpected digit after 0: %s.",
                                describe_char(lx, pos, buf));
    } else if ((rc = read_digits(lx, &pos, err)) < 0) {
        return rc;
    }
    if (peek(lx, pos) == '.') {
        is_float = 1;
        pos++;
        if ((rc = read_digits(lx, &pos, err)) < 0)
            return rc;
    }
    if (peek(lx, pos) == 'e' || peek(lx, pos) == 'E') {
        is_float = 1;
        pos++;
        if (peek(lx, pos) == '+' || peek(lx, pos) == '-')
            pos++;
        if ((rc = read_digits(lx, &pos, err)) < 0)
            return rc;
    }
    if (peek(lx, pos) == '.' || is_name_start(peek(lx, pos)))
        return syntax_error(lx, pos, err, "Invalid number, expected digit but got: %s.",
                            describe_char(lx, pos, buf));
    tok->kind = is_float ? GM_TOK_FLOAT : GM_TOK_INT;
    tok->len = pos - lx->pos;
    lx->pos = pos;
    return 0;
}

/* Appends code point cp as UTF-8 at out[*n]. */
static void
put_utf8(char *out, size_t *n, uint32_t cp)
{
    unsigned char *o = (unsigned char *)out + *n;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        *n += 1;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        *n += 2;
    } else if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        *n += 3;
    } else {
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        *n += 4;
    }
}

/* Reads 4 hex digits at pos; -1 when they are not all there before end. */
static long
hex4(const struct gm_gql_lexer *lx, size_t pos, size_t end)
{
    if (end < 4 || pos > end - 4)
        return -1;
    long v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = hex_val(peek(lx, pos + i));
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static bool
is_scalar_value(uint32_t v)
{
    return v <= 0xD7FF || (v >= 0xE000 && v <= 0x10FFFF);
}

/*
 * The end of graphql-js's body.slice(pos, pos + units): units UTF-16 code
 * units of the source from pos, which may run past the string's end (the
 * quote, a line break) up to the end of the document. A character outside
 * the BMP counts two; where graphql-js would cut one in half (a lone
 * surrogate, which UTF-8 cannot carry) the slice stops before it.
 */
static size_t
slice_end(const struct gm_gql_lexer *lx, size_t pos, size_t units)
{
    while (pos < lx->len) {
        size_t n = utf8_len((unsigned char)lx->src[pos]);
        size_t u = n == 4 ? 2 : 1;
        if (u > units)
            break;
        units -= u;
        pos += n;
    }
    return pos;
}

/* "Invalid ... escape sequence" quoting units UTF-16 code units from pos. */
static int
bad_escape(struct gm_gql_lexer *lx, size_t pos, size_t units, const char *what, struct gm_err *err)
{
    size_t end = slice_end(lx, pos, units);
    return syntax_error(lx, pos, err, "Invalid %s escape sequence: \"%.*s\".", what,
                        (int)(end - pos), lx->src + pos);
}

/* A StringValue between double quotes, one line, with escapes. */
static int
read_string(struct gm_gql_lexer *lx, struct gm_gql_token *tok, struct gm_err *err)
{
    size_t begin = lx->pos + 1;
    size_t end = begin;
    /* Find the closing quote first, to size the decoded value. */
    while (end < lx->len) {
        int c = peek(lx, end);
        if (c == '"' || c == '\n' || c == '\r')
            break;
        if (c == '\\') {
            int e = peek(lx, end + 1);
            if (e < 0 || e == '\n' || e == '\r') {
                end++;
                break;
            }
            end++;
        }
        end++;
    }
    char *out = gm_arena_alloc(lx->arena, end - begin + 1);
    if (!out)
        return oom(lx, lx->pos, err);
    size_t n = 0;
    size_t p = begin;
    while (p < end) {
        int c = peek(lx, p);
        if (c != '\\') {
            out[n++] = (char)c;
            p++;
            continue;
        }
        /* A backslash before a line break or the end is a bad escape too. */
        int e = peek(lx, p + 1);
        const char *simple = NULL;
        switch (e) {
        case '"':
            simple = "\"";
            break;
        case '\\':
            simple = "\\";
            break;
        case '/':
            simple = "/";
            break;
        case 'b':
            simple = "\b";
            break;
        case 'f':
            simple = "\f";
            break;
        case 'n':
            simple = "\n";
            break;
        case 'r':
            simple = "\r";
            break;
        case 't':
            simple = "\t";
            break;
        case 'u':
            break;
        default:
            return bad_escape(lx, p, 2, "character", err);
        }
        if (simple) {
            out[n++] = simple[0];
            p += 2;
            continue;
        }
        if (peek(lx, p + 2) == '{') {
            /*
             * \u{...} as graphql-js reads it: at most 12 characters
             * (\u{00000000}), hex digits while the value fits in 31 bits,
             * then "}" after at least one digit, naming a Unicode scalar
             * value. The message quotes up to the character that failed.
             */
            size_t size = 3;
            uint32_t v = 0;
            bool ok = false;
            while (size < 12) {
                int ch = peek(lx, p + size++);
                if (ch == '}') {
                    ok = size >= 5 && is_scalar_value(v);
                    break;
                }
                int h = hex_val(ch);
                if (h < 0)
                    break;
                v = (v << 4) | (uint32_t)h;
                if (v & 0x80000000u)
                    break;
            }
            if (!ok)
                return bad_escape(lx, p, size, "Unicode", err);
            put_utf8(out, &n, v);
            p += size;
            continue;
        }
        long v = hex4(lx, p + 2, end);
        if (v >= 0 && is_scalar_value((uint32_t)v)) {
            put_utf8(out, &n, (uint32_t)v);
            p += 6;
            continue;
        }
        /* A leading surrogate must be followed by \u and a trailing one. */
        if (v < 0xD800 || v > 0xDBFF || peek(lx, p + 6) != '\\' || peek(lx, p + 7) != 'u')
            return bad_escape(lx, p, 6, "Unicode", err);
        long t = hex4(lx, p + 8, end);
        if (t < 0xDC00 || t > 0xDFFF)
            return bad_escape(lx, p, 6, "Unicode", err);
        put_utf8(out, &n, 0x10000 + (((uint32_t)v - 0xD800) << 10) + ((uint32_t)t - 0xDC00));
        p += 12;
    }
    if (end >= lx->len || peek(lx, end) != '"')
        return syntax_error(lx, end, err, "Unterminated string.");
    out[n] = '\0';
    tok->kind = GM_TOK_STRING;
    tok->value = out;
    tok->value_len = n;
    tok->len = end + 1 - lx->pos;
    lx->pos = end + 1;
    return 0;
}

static int
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

/*
 * The spec's BlockStringValue(rawValue), in place on buf[0..*n): strips the
 * common indentation of all lines but the first, then leading and trailing
 * blank lines; lines are joined with "\n". Returns -1 past the budget.
 */
static int
block_string_value(struct gm_arena *a, char *buf, size_t *n)
{
    size_t len = *n;
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            nlines++;
        } else if (buf[i] == '\r') {
            nlines++;
            if (i + 1 < len && buf[i + 1] == '\n')
                i++;
        }
    }
    size_t *off = gm_arena_alloc(a, 2 * nlines * sizeof *off);
    if (!off)
        return -1;
    size_t *llen = off + nlines;
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || buf[i] == '\n' || buf[i] == '\r') {
            off[k] = start;
            llen[k] = i - start;
            k++;
            if (i < len && buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
                i++;
            start = i + 1;
        }
    }
    size_t common = SIZE_MAX;
    for (size_t l = 1; l < nlines; l++) {
        size_t indent = 0;
        while (indent < llen[l] && (buf[off[l] + indent] == ' ' || buf[off[l] + indent] == '\t'))
            indent++;
        if (indent < llen[l] && indent < common)
            common = indent;
    }
    if (common == SIZE_MAX)
        common = 0;
    for (size_t l = 1; l < nlines; l++) {
        size_t cut = common < llen[l] ? common : llen[l];
        off[l] += cut;
        llen[l] -= cut;
    }
    size_t first = 0, last = nlines;
    while (first < nlines && is_blank(buf + off[first], llen[first]))
        first++;
    while (last > first && is_blank(buf + off[last - 1], llen[last - 1]))
        last--;
    size_t w = 0;
    for (size_t l = first; l < last; l++) {
        if (l > first)
            buf[w++] = '\n';
        memmove(buf + w, buf + off[l], llen[l]);
        w += llen[l];
    }
    buf[w] = '\0';
    *n = w;
    return 0;
}

/* A BlockString between triple quotes; may span lines. */
static int
read_block_string(struct gm_gql_lexer *lx, struct gm_gql_token *tok, struct gm_err *err)
{
    size_t begin = lx->pos + 3;
    size_t end = begin;
    const char *s = lx->src;
    for (;;) {
        if (end >= lx->len)
            return syntax_error(lx, end, err, "Unterminated string.");
        if (s[end] == '"' && end + 2 < lx->len && s[end + 1] == '"' && s[end + 2] == '"')
            break;
        if (s[end] == '\\' && end + 3 < lx->len && s[end + 1] == '"' && s[end + 2] == '"' &&
            s[end + 3] == '"') {
            end += 4;
        } else if (s[end] == '\n') {
            end++;
            newline(lx, end);
        } else if (s[end] == '\r') {
            end++;
            if (end < lx->len && s[end] == '\n')
                end++;
            newline(lx, end);
        } else {
            end++;
        }
    }
    char *out = gm_arena_alloc(lx->arena, end - begin + 1);
    if (!out)
        return oom(lx, lx->pos, err);
    size_t n = 0;
    for (size_t p = begin; p < end;) {
        if (s[p] == '\\' && p + 3 < end && s[p + 1] == '"' && s[p + 2] == '"' && s[p + 3] == '"') {
            memcpy(out + n, "\"\"\"", 3);
            n += 3;
            p += 4;
        } else {
            out[n++] = s[p++];
        }
    }
    if (block_string_value(lx->arena, out, &n) < 0)
        return oom(lx, lx->pos, err);
    tok->kind = GM_TOK_BLOCK_STRING;
    tok->value = out;
    tok->value_len = n;
    tok->len = end + 3 - lx->pos;
    lx->pos = end + 3;
    return 0;
}

int
gm_gql_lexer_next(struct gm_gql_lexer *lx, struct gm_gql_token *tok, struct gm_err *err)
{
    const char *s = lx->src;
    char buf[16];
    /* Ignored tokens. */
    while (lx->pos < lx->len) {
        unsigned char c = (unsigned char)s[lx->pos];
        if (c == ' ' || c == '\t' || c == ',') {
            lx->pos++;
        } else if (c == '\n') {
            lx->pos++;
            newline(lx, lx->pos);
        } else if (c == '\r') {
            lx->pos++;
            if (lx->pos < lx->len && s[lx->pos] == '\n')
                lx->pos++;
            newline(lx, lx->pos);
        } else if (c == 0xEF && lx->pos + 2 < lx->len && (unsigned char)s[lx->pos + 1] == 0xBB &&
                   (unsigned char)s[lx->pos + 2] == 0xBF) {
            lx->pos += 3; /* U+FEFF, the byte order mark */
        } else if (c == '#') {
            while (lx->pos < lx->len && s[lx->pos] != '\n' && s[lx->pos] != '\r')
                lx->pos++;
        } else {
            break;
        }
    }
    memset(tok, 0, sizeof *tok);
    tok->start = s + lx->pos;
    tok->offset = lx->pos;
    tok->line = lx->line;
    tok->column = column_at(lx, lx->pos);
    if (lx->pos >= lx->len) {
        tok->kind = GM_TOK_EOF;
        return 0;
    }
    int c = (unsigned char)s[lx->pos];
    enum gm_gql_tok_kind kind;
    switch (c) {
    case '!':
        kind = GM_TOK_BANG;
        break;
    case '$':
        kind = GM_TOK_DOLLAR;
        break;
    case '&':
        kind = GM_TOK_AMP;
        break;
    case '(':
        kind = GM_TOK_PAREN_L;
        break;
    case ')':
        kind = GM_TOK_PAREN_R;
        break;
    case ':':
        kind = GM_TOK_COLON;
        break;
    case '=':
        kind = GM_TOK_EQUALS;
        break;
    case '@':
        kind = GM_TOK_AT;
        break;
    case '[':
        kind = GM_TOK_BRACKET_L;
        break;
    case ']':
        kind = GM_TOK_BRACKET_R;
        break;
    case '{':
        kind = GM_TOK_BRACE_L;
        break;
    case '|':
        kind = GM_TOK_PIPE;
        break;
    case '}':
        kind = GM_TOK_BRACE_R;
        break;
    case '.':
        if (peek(lx, lx->pos + 1) == '.' && peek(lx, lx->pos + 2) == '.') {
            tok->kind = GM_TOK_SPREAD;
            tok->len = 3;
            lx->pos += 3;
            return 0;
        }
        return syntax_error(lx, lx->pos, err, "Unexpected character: %s.",
                            describe_char(lx, lx->pos, buf));
    case '"':
        if (peek(lx, lx->pos + 1) == '"' && peek(lx, lx->pos + 2) == '"')
            return read_block_string(lx, tok, err);
        return read_string(lx, tok, err);
    case '\'':
        return syntax_error(lx, lx->pos, err,
                            "Unexpected single quote character ('), "
                            "did you mean to use a double quote (\")?");
    default:
        if (c == '-' || is_digit(c))
            return read_number(lx, tok, err);
        if (is_name_start(c)) {
            size_t p = lx->pos + 1;
            while (is_name_cont(peek(lx, p)))
                p++;
            tok->kind = GM_TOK_NAME;
            tok->len = p - lx->pos;
            lx->pos = p;
            return 0;
        }
        return syntax_error(lx, lx->pos, err, "Unexpected character: %s.",
                            describe_char(lx, lx->pos, buf));
    }
    tok->kind = kind;
    tok->len = 1;
    lx->pos++;
    return 0;
}

static const char *const kind_names[] = {
    [GM_TOK_EOF] = "<EOF>",     [GM_TOK_BANG] = "!",
    [GM_TOK_DOLLAR] = "$",      [GM_TOK_AMP] = "&",
    [GM_TOK_PAREN_L] = "(",     [GM_TOK_PAREN_R] = ")",
    [GM_TOK_SPREAD] = "...",    [GM_TOK_COLON] = ":",
    [GM_TOK_EQUALS] = "=",      [GM_TOK_AT] = "@",
    [GM_TOK_BRACKET_L] = "[",   [GM_TOK_BRACKET_R] = "]",
    [GM_TOK_BRACE_L] = "{",     [GM_TOK_PIPE] = "|",
    [GM_TOK_BRACE_R] = "}",     [GM_TOK_NAME] = "Name",
    [GM_TOK_INT] = "Int",       [GM_TOK_FLOAT] = "Float",
    [GM_TOK_STRING] = "String", [GM_TOK_BLOCK_STRING] = "BlockString",
};

const char *
gm_gql_tok_kind_name(enum gm_gql_tok_kind kind)
{
    if ((size_t)kind < sizeof kind_names / sizeof kind_names[0])
        return kind_names[kind];
    return "?";
}

int
gm_gql_tok_is_punct(enum gm_gql_tok_kind kind)
{
    return kind >= GM_TOK_BANG && kind <= GM_TOK_BRACE_R;
}
