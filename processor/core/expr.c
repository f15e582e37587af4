/*
 * expr.c: the criteria / `when` expression language (see expr.h).
 *
 * A hand-written lexer and recursive-descent parser compile the source to a
 * postfix program (an array of small ops) that a fixed-size value stack
 * evaluates: no allocation and no recursion at evaluation time, so the fold
 * can run thousands of criteria per event cheaply. The nesting bound (64)
 * bounds both the parser's recursion and the evaluation stack.
 *
 * Beyond the grammar of expr.h, `+` and `-` between operands are supported
 * (saturating at the int64 limits), e.g. `tournament_wins - tournament_losses
 * >= 3`. Comparisons and logic yield 0 or 1; a bare value means "!= 0".
 */
#include "expr.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GM_EXPR_MAX_SRC   4096
#define GM_EXPR_MAX_DEPTH 64
/* Per nesting level the parser leaves at most 4 values pending (the `or`,
 * `and`, comparison and sum accumulators), plus the one being built. */
#define GM_EXPR_MAX_STACK (4 * (GM_EXPR_MAX_DEPTH + 2) + 2)

enum op_kind {
    OP_INT,
    OP_VAR,
    OP_ADD,
    OP_SUB,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_NOT,
    OP_AND,
    OP_OR,
    OP_TRUTH,
};

struct op {
    enum op_kind kind;
    int64_t val; /* OP_INT: the value; OP_VAR: the enum gm_var */
};

/* A comparison of a variable with a constant: the terms of the short form. */
struct term {
    enum op_kind cmp; /* OP_EQ .. OP_GE */
    enum gm_var var;
    int64_t val;
};

#define TERMS_MAX 8

struct gm_expr {
    struct op *ops;
    size_t n_ops;
    unsigned vars_used;
    char *src;
    /* The short form, when the program is terms joined by one of `and` /
     * `or` (most criteria: `lessons_completed >= 6 or lesson_completions
     * >= 10`): evaluated without the stack. n_terms 0: none. */
    size_t n_terms;
    bool any; /* joined by `or`; else by `and` */
    struct term terms[TERMS_MAX];
};

static void short_form(struct gm_expr *e);

static const char *const var_names[GM_VAR_COUNT] = {
    [GM_VAR_EXP] = "exp",
    [GM_VAR_LEVEL] = "level",
    [GM_VAR_COINS] = "coins",
    [GM_VAR_COINS_EARNED] = "coins_earned",
    [GM_VAR_COINS_SPENT] = "coins_spent",
    [GM_VAR_LESSONS_COMPLETED] = "lessons_completed",
    [GM_VAR_LESSON_COMPLETIONS] = "lesson_completions",
    [GM_VAR_TOURNAMENTS_PLAYED] = "tournaments_played",
    [GM_VAR_TOURNAMENT_WINS] = "tournament_wins",
    [GM_VAR_TOURNAMENT_LOSSES] = "tournament_losses",
    [GM_VAR_CURRENT_STREAK] = "current_streak",
    [GM_VAR_LONGEST_STREAK] = "longest_streak",
    [GM_VAR_BADGES] = "badges",
    [GM_VAR_REDEMPTIONS] = "redemptions",
    [GM_VAR_SCORE] = "score",
    [GM_VAR_DURATION_S] = "duration_s",
    [GM_VAR_RANK] = "rank",
};

const char *
gm_var_name(enum gm_var v)
{
    if ((unsigned)v >= GM_VAR_COUNT)
        return "?";
    return var_names[v];
}

int
gm_var_from_name(const char *name, size_t len, enum gm_var *out)
{
    for (int v = 0; v < GM_VAR_COUNT; v++) {
        if (strlen(var_names[v]) == len && memcmp(var_names[v], name, len) == 0) {
            *out = (enum gm_var)v;
            return 0;
        }
    }
    return GM_ENOTFOUND;
}

/* ---- lexer ---- */

enum tok_kind {
    T_END,
    T_INT,
    T_NAME,
    T_LPAREN,
    T_RPAREN,
    T_AND,
    T_OR,
    T_NOT,
    T_PLUS,
    T_MINUS,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
};

struct tok {
    enum tok_kind kind;
    size_t pos; /* byte offset in src */
    size_t len;
    int64_t ival;
};

struct parser {
    const char *src;
    size_t len;
    size_t pos;
    struct tok tok; /* the current (lookahead) token */
    unsigned allowed;
    int depth;
    int failed;
    struct gm_err *err;
    struct op *ops;
    size_t n_ops, cap_ops;
    int sp, max_sp; /* simulated stack depth of the program so far */
};

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return GM_EINVAL;
    p->failed = 1;
    if (p->err) {
        char msg[GM_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        gm_err_setpos(p->err, GM_EINVAL, 0, (int)pos + 1, "%s", msg);
    }
    return GM_EINVAL;
}

static int
is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static const char *
tok_text(enum tok_kind k)
{
    switch (k) {
    case T_END:
        return "end of expression";
    case T_INT:
        return "integer";
    case T_NAME:
        return "name";
    case T_LPAREN:
        return "'('";
    case T_RPAREN:
        return "')'";
    case T_AND:
        return "'and'";
    case T_OR:
        return "'or'";
    case T_NOT:
        return "'not'";
    case T_PLUS:
        return "'+'";
    case T_MINUS:
        return "'-'";
    case T_EQ:
        return "'=='";
    case T_NE:
        return "'!='";
    case T_LT:
        return "'<'";
    case T_LE:
        return "'<='";
    case T_GT:
        return "'>'";
    case T_GE:
        return "'>='";
    }
    return "token";
}

/* Reads the next token into p->tok; on a lexical error returns GM_EINVAL. */
static int
lex(struct parser *p)
{
    const char *s = p->src;
    while (p->pos < p->len &&
           (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r'))
        p->pos++;
    struct tok *t = &p->tok;
    t->pos = p->pos;
    t->len = 1;
    t->ival = 0;
    if (p->pos >= p->len) {
        t->kind = T_END;
        t->len = 0;
        return 0;
    }
    char c = s[p->pos];
    char n = p->pos + 1 < p->len ? s[p->pos + 1] : '\0';
    if (c >= '0' && c <= '9') {
        size_t i = p->pos;
        int64_t v = 0;
        int over = 0;
        while (i < p->len && s[i] >= '0' && s[i] <= '9') {
            if (!over && (__builtin_mul_overflow(v, 10, &v) ||
                          __builtin_add_overflow(v, (int64_t)(s[i] - '0'), &v)))
                over = 1;
            i++;
        }
        if (i < p->len && is_name_char(s[i]))
            return fail(p, i, "unexpected '%c' after the integer at column %zu", s[i], p->pos + 1);
        if (over)
            return fail(p, p->pos, "integer '%.*s' at column %zu is beyond the int64 range",
                        (int)(i - p->pos > 40 ? 40 : i - p->pos), s + p->pos, p->pos + 1);
        t->kind = T_INT;
        t->ival = v;
        t->len = i - p->pos;
        p->pos = i;
        return 0;
    }
    if (is_name_start(c)) {
        size_t i = p->pos;
        while (i < p->len && is_name_char(s[i]))
            i++;
        t->len = i - p->pos;
        t->kind = T_NAME;
        if (t->len == 3 && memcmp(s + p->pos, "and", 3) == 0)
            t->kind = T_AND;
        else if (t->len == 2 && memcmp(s + p->pos, "or", 2) == 0)
            t->kind = T_OR;
        else if (t->len == 3 && memcmp(s + p->pos, "not", 3) == 0)
            t->kind = T_NOT;
        p->pos = i;
        return 0;
    }
    switch (c) {
    case '(':
        t->kind = T_LPAREN;
        break;
    case ')':
        t->kind = T_RPAREN;
        break;
    case '+':
        t->kind = T_PLUS;
        break;
    case '-':
        t->kind = T_MINUS;
        break;
    case '=':
        if (n != '=')
            return fail(p, p->pos, "unexpected '=' at column %zu; use '==' to compare", p->pos + 1);
        t->kind = T_EQ;
        t->len = 2;
        break;
    case '!':
        if (n != '=')
            return fail(p, p->pos, "unexpected '!' at column %zu; use 'not' to negate", p->pos + 1);
        t->kind = T_NE;
        t->len = 2;
        break;
    case '<':
        t->kind = n == '=' ? T_LE : T_LT;
        t->len = n == '=' ? 2 : 1;
        break;
    case '>':
        t->kind = n == '=' ? T_GE : T_GT;
        t->len = n == '=' ? 2 : 1;
        break;
    case '&':
    case '|':
        return fail(p, p->pos, "unexpected '%c' at column %zu; use 'and' / 'or'", c, p->pos + 1);
    default:
        if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
            return fail(p, p->pos, "unexpected character '%c' at column %zu", c, p->pos + 1);
        return fail(p, p->pos, "unexpected byte 0x%02x at column %zu", (unsigned char)c,
                    p->pos + 1);
    }
    p->pos += t->len;
    return 0;
}

/* ---- code generation ---- */

static void
emit(struct parser *p, enum op_kind kind, int64_t val)
{
    if (p->n_ops == p->cap_ops) {
        p->cap_ops = p->cap_ops ? 2 * p->cap_ops : 16;
        p->ops = realloc(p->ops, p->cap_ops * sizeof *p->ops);
        if (!p->ops)
            abort();
    }
    p->ops[p->n_ops++] = (struct op){kind, val};
    if (kind == OP_INT || kind == OP_VAR)
        p->sp++;
    else if (kind != OP_NOT && kind != OP_TRUTH)
        p->sp--;
    if (p->sp > p->max_sp)
        p->max_sp = p->sp;
}

/* ---- parser ---- */

static int parse_or(struct parser *p);

static void
known_names(unsigned mask, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int v = 0; v < GM_VAR_COUNT; v++) {
        if (!(mask & (1u << v)))
            continue;
        int w = snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", var_names[v]);
        if (w < 0 || (size_t)w >= cap - off)
            break;
        off += (size_t)w;
    }
}

/* Edit distance of a[0..la) and b, for "did you mean"; names are short. */
static size_t
edit_distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b);
    size_t row[65];
    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int
parse_name(struct parser *p)
{
    const struct tok *t = &p->tok;
    const char *name = p->src + t->pos;
    enum gm_var v;
    if (gm_var_from_name(name, t->len, &v) != 0) {
        char known[400];
        known_names(p->allowed, known, sizeof known);
        const char *near = NULL;
        size_t best = 3; /* suggest only within two edits */
        for (int k = 0; k < GM_VAR_COUNT; k++) {
            size_t d = edit_distance(name, t->len, var_names[k]);
            if ((p->allowed & (1u << k)) && d < best) {
                best = d;
                near = var_names[k];
            }
        }
        if (near)
            return fail(p, t->pos,
                        "unknown name '%.*s' at column %zu (did you mean '%s'?); known: %s",
                        (int)(t->len > 64 ? 64 : t->len), name, t->pos + 1, near, known);
        return fail(p, t->pos, "unknown name '%.*s' at column %zu; known: %s",
                    (int)(t->len > 64 ? 64 : t->len), name, t->pos + 1, known);
    }
    if (!(p->allowed & (1u << v))) {
        const char *of = v == GM_VAR_RANK ? "tournament_result" : "lesson_completed";
        if (v >= GM_VAR_SCORE)
            return fail(p, t->pos, "%s (column %zu) is an event field of %s, not allowed here",
                        var_names[v], t->pos + 1, of);
        return fail(p, t->pos, "%s (column %zu) is not allowed here", var_names[v], t->pos + 1);
    }
    emit(p, OP_VAR, v);
    return 0;
}

/* operand := INT | NAME | '(' or-expr ')' */
static int
parse_operand(struct parser *p)
{
    struct tok t = p->tok;
    switch (t.kind) {
    case T_INT:
        emit(p, OP_INT, t.ival);
        return lex(p);
    case T_NAME:
        if (parse_name(p))
            return GM_EINVAL;
        return lex(p);
    case T_LPAREN: {
        if (++p->depth > GM_EXPR_MAX_DEPTH)
            return fail(p, t.pos, "nesting deeper than %d at column %zu", GM_EXPR_MAX_DEPTH,
                        t.pos + 1);
        if (lex(p) || parse_or(p))
            return GM_EINVAL;
        if (p->tok.kind != T_RPAREN) {
            if (p->tok.kind == T_END)
                return fail(p, p->tok.pos,
                            "unbalanced parentheses: '(' at column %zu is not closed", t.pos + 1);
            return fail(p, p->tok.pos,
                        "expected ')' to close '(' at column %zu, found %s at column %zu",
                        t.pos + 1, tok_text(p->tok.kind), p->tok.pos + 1);
        }
        p->depth--;
        return lex(p);
    }
    case T_END:
        return fail(p, t.pos, "expression ends early at column %zu; expected a value", t.pos + 1);
    case T_RPAREN:
        if (p->depth > 0)
            return fail(p, t.pos, "unexpected ')' at column %zu; expected a value", t.pos + 1);
        return fail(p, t.pos, "unbalanced parentheses: ')' at column %zu has no '('", t.pos + 1);
    default:
        return fail(p, t.pos, "unexpected %s at column %zu; expected a value", tok_text(t.kind),
                    t.pos + 1);
    }
}

/* sum := operand (('+' | '-') operand)* */
static int
parse_sum(struct parser *p)
{
    if (parse_operand(p))
        return GM_EINVAL;
    while (p->tok.kind == T_PLUS || p->tok.kind == T_MINUS) {
        enum op_kind k = p->tok.kind == T_PLUS ? OP_ADD : OP_SUB;
        if (lex(p) || parse_operand(p))
            return GM_EINVAL;
        emit(p, k, 0);
    }
    return 0;
}

/* cmp := sum (('==' | '!=' | '<' | '<=' | '>' | '>=') sum)? */
static int
parse_cmp(struct parser *p)
{
    if (parse_sum(p))
        return GM_EINVAL;
    enum op_kind k;
    switch (p->tok.kind) {
    case T_EQ:
        k = OP_EQ;
        break;
    case T_NE:
        k = OP_NE;
        break;
    case T_LT:
        k = OP_LT;
        break;
    case T_LE:
        k = OP_LE;
        break;
    case T_GT:
        k = OP_GT;
        break;
    case T_GE:
        k = OP_GE;
        break;
    default:
        return 0;
    }
    if (lex(p) || parse_sum(p))
        return GM_EINVAL;
    emit(p, k, 0);
    switch (p->tok.kind) {
    case T_EQ:
    case T_NE:
    case T_LT:
    case T_LE:
    case T_GT:
    case T_GE:
        return fail(p, p->tok.pos,
                    "comparisons do not chain: %s at column %zu; combine them with 'and'",
                    tok_text(p->tok.kind), p->tok.pos + 1);
    default:
        return 0;
    }
}

/* not-expr := 'not' not-expr | cmp */
static int
parse_not(struct parser *p)
{
    if (p->tok.kind != T_NOT)
        return parse_cmp(p);
    size_t at = p->tok.pos;
    if (++p->depth > GM_EXPR_MAX_DEPTH)
        return fail(p, at, "nesting deeper than %d at column %zu", GM_EXPR_MAX_DEPTH, at + 1);
    if (lex(p) || parse_not(p))
        return GM_EINVAL;
    p->depth--;
    emit(p, OP_NOT, 0);
    return 0;
}

/* and-expr := not-expr ('and' not-expr)* */
static int
parse_and(struct parser *p)
{
    if (parse_not(p))
        return GM_EINVAL;
    while (p->tok.kind == T_AND) {
        if (lex(p) || parse_not(p))
            return GM_EINVAL;
        emit(p, OP_AND, 0);
    }
    return 0;
}

/* or-expr := and-expr ('or' and-expr)* */
static int
parse_or(struct parser *p)
{
    if (parse_and(p))
        return GM_EINVAL;
    while (p->tok.kind == T_OR) {
        if (lex(p) || parse_and(p))
            return GM_EINVAL;
        emit(p, OP_OR, 0);
    }
    return 0;
}

int
gm_expr_compile(const char *src, unsigned allowed_mask, struct gm_expr **out, struct gm_err *err)
{
    struct parser p = {0};
    struct gm_expr *e = NULL;
    int rc = GM_EINVAL;

    *out = NULL;
    p.src = src;
    p.len = strnlen(src, GM_EXPR_MAX_SRC + 1);
    p.allowed = allowed_mask;
    p.err = err;
    if (p.len > GM_EXPR_MAX_SRC) {
        fail(&p, 0, "expression longer than %d bytes", GM_EXPR_MAX_SRC);
        goto out;
    }
    if (lex(&p))
        goto out;
    if (p.tok.kind == T_END) {
        fail(&p, 0, "empty expression");
        goto out;
    }
    if (parse_or(&p))
        goto out;
    if (p.tok.kind != T_END) {
        if (p.tok.kind == T_RPAREN)
            fail(&p, p.tok.pos, "unbalanced parentheses: ')' at column %zu has no '('",
                 p.tok.pos + 1);
        else
            fail(&p, p.tok.pos, "unexpected %s at column %zu after a complete expression",
                 tok_text(p.tok.kind), p.tok.pos + 1);
        goto out;
    }
    /* A bare value as the whole condition means "!= 0"; OP_TRUTH makes the
     * program's result 0 or 1 either way. */
    emit(&p, OP_TRUTH, 0);
    assert(p.sp == 1 && p.max_sp <= GM_EXPR_MAX_STACK);

    e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->src = malloc(p.len + 1);
    if (!e->src)
        abort();
    memcpy(e->src, src, p.len);
    e->src[p.len] = '\0';
    e->ops = p.ops;
    e->n_ops = p.n_ops;
    p.ops = NULL;
    for (size_t i = 0; i < e->n_ops; i++)
        if (e->ops[i].kind == OP_VAR)
            e->vars_used |= 1u << e->ops[i].val;
    short_form(e);
    *out = e;
    rc = 0;
out:
    free(p.ops);
    return rc;
}

/* The comparison that is true exactly when cmp is false. */
static enum op_kind
negated(enum op_kind cmp)
{
    switch (cmp) {
    case OP_EQ:
        return OP_NE;
    case OP_NE:
        return OP_EQ;
    case OP_LT:
        return OP_GE;
    case OP_LE:
        return OP_GT;
    case OP_GT:
        return OP_LE;
    default: /* OP_GE */
        return OP_LT;
    }
}

/* The same comparison with its operands swapped (3 < x is x > 3). */
static enum op_kind
swapped(enum op_kind cmp)
{
    switch (cmp) {
    case OP_LT:
        return OP_GT;
    case OP_LE:
        return OP_GE;
    case OP_GT:
        return OP_LT;
    case OP_GE:
        return OP_LE;
    default: /* OP_EQ, OP_NE */
        return cmp;
    }
}

static bool
is_cmp(enum op_kind k)
{
    return k >= OP_EQ && k <= OP_GE;
}

/* Reads one term at ops[*i]: `v`, `not v`, `v CMP c`, `c CMP v`, each
 * optionally under one more `not`. False: not a term. */
static bool
read_term(const struct op *ops, size_t n, size_t *i, struct term *t)
{
    size_t at = *i;
    if (at + 1 < n && ops[at].kind == OP_VAR && ops[at + 1].kind == OP_INT && at + 2 < n &&
        is_cmp(ops[at + 2].kind)) {
        *t = (struct term){ops[at + 2].kind, (enum gm_var)ops[at].val, ops[at + 1].val};
        at += 3;
    } else if (at + 1 < n && ops[at].kind == OP_INT && ops[at + 1].kind == OP_VAR && at + 2 < n &&
               is_cmp(ops[at + 2].kind)) {
        *t = (struct term){swapped(ops[at + 2].kind), (enum gm_var)ops[at + 1].val, ops[at].val};
        at += 3;
    } else if (at < n && ops[at].kind == OP_VAR) {
        *t = (struct term){OP_NE, (enum gm_var)ops[at].val, 0}; /* a bare value: != 0 */
        at += 1;
    } else {
        return false;
    }
    while (at < n && ops[at].kind == OP_NOT) {
        t->cmp = negated(t->cmp);
        at++;
    }
    *i = at;
    return true;
}

/* Fills e's short form when its program is `t1 (t2 J)* TRUTH` for one
 * joiner J (`and` or `or`) and at most TERMS_MAX terms. */
static void
short_form(struct gm_expr *e)
{
    size_t i = 0, n = e->n_ops;
    enum op_kind join = OP_TRUTH; /* none seen yet */
    struct term t;
    e->n_terms = 0;
    if (!read_term(e->ops, n, &i, &t))
        return;
    struct term terms[TERMS_MAX];
    size_t k = 0;
    terms[k++] = t;
    while (i < n && e->ops[i].kind != OP_TRUTH) {
        if (k == TERMS_MAX || !read_term(e->ops, n, &i, &t) || i >= n ||
            (e->ops[i].kind != OP_AND && e->ops[i].kind != OP_OR) ||
            (join != OP_TRUTH && e->ops[i].kind != join))
            return;
        join = e->ops[i++].kind;
        terms[k++] = t;
    }
    if (i + 1 != n)
        return; /* TRUTH must end the program */
    memcpy(e->terms, terms, k * sizeof *terms);
    e->any = join == OP_OR;
    e->n_terms = k;
}

static int64_t
sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t
sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static bool
term_holds(const struct term *t, const int64_t vars[GM_VAR_COUNT])
{
    int64_t a = vars[t->var], b = t->val;
    switch (t->cmp) {
    case OP_EQ:
        return a == b;
    case OP_NE:
        return a != b;
    case OP_LT:
        return a < b;
    case OP_LE:
        return a <= b;
    case OP_GT:
        return a > b;
    default: /* OP_GE */
        return a >= b;
    }
}

bool
gm_expr_eval(const struct gm_expr *e, const int64_t vars[GM_VAR_COUNT])
{
    if (!e->n_terms)
        return gm__expr_eval_program(e, vars);
    for (size_t i = 0; i < e->n_terms; i++) {
        if (term_holds(&e->terms[i], vars) == e->any)
            return e->any; /* decided: a true term of `or`, a false one of `and` */
    }
    return !e->any;
}

bool
gm__expr_eval_program(const struct gm_expr *e, const int64_t vars[GM_VAR_COUNT])
{
    int64_t st[GM_EXPR_MAX_STACK];
    int sp = 0;
    for (size_t i = 0; i < e->n_ops; i++) {
        const struct op *o = &e->ops[i];
        int64_t a, b;
        switch (o->kind) {
        case OP_INT:
            st[sp++] = o->val;
            continue;
        case OP_VAR:
            st[sp++] = vars[o->val];
            continue;
        case OP_NOT:
            st[sp - 1] = st[sp - 1] == 0;
            continue;
        case OP_TRUTH:
            st[sp - 1] = st[sp - 1] != 0;
            continue;
        default:
            break;
        }
        b = st[--sp];
        a = st[sp - 1];
        switch (o->kind) {
        case OP_ADD:
            a = sat_add(a, b);
            break;
        case OP_SUB:
            a = sat_sub(a, b);
            break;
        case OP_EQ:
            a = a == b;
            break;
        case OP_NE:
            a = a != b;
            break;
        case OP_LT:
            a = a < b;
            break;
        case OP_LE:
            a = a <= b;
            break;
        case OP_GT:
            a = a > b;
            break;
        case OP_GE:
            a = a >= b;
            break;
        case OP_AND:
            a = a != 0 && b != 0;
            break;
        case OP_OR:
            a = a != 0 || b != 0;
            break;
        default:
            break;
        }
        st[sp - 1] = a;
    }
    return sp == 1 && st[0] != 0;
}

bool
gm__expr_is_short(const struct gm_expr *e)
{
    return e->n_terms > 0;
}

const char *
gm_expr_source(const struct gm_expr *e)
{
    return e->src;
}

unsigned
gm_expr_vars(const struct gm_expr *e)
{
    return e->vars_used;
}

void
gm_expr_free(struct gm_expr *e)
{
    if (!e)
        return;
    free(e->ops);
    free(e->src);
    free(e);
}
