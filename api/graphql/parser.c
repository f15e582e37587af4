/*
 * parser.c: recursive descent over the GraphQL grammar (see ast.h).
 *
 * One token of lookahead covers the whole grammar. Three bounds keep hostile
 * input cheap: the document size (checked before lexing), the token count
 * (checked as tokens arrive) and the nesting depth (checked on entering
 * every recursive construct: selection sets, list and object values, list
 * types), so recursion depth is bounded by max_depth, not by the input.
 * Messages follow graphql-js: "Expected Name, found \"}\".", "Unexpected
 * Name \"on\".", "Unexpected variable \"$x\" in constant value.".
 */
#include "ast.h"
#include "lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Longest token value quoted in a message. */
#define DESC_VALUE_MAX 40

struct parser {
    struct gm_gql_lexer lx;
    struct gm_gql_token tok; /* the current token */
    struct gm_arena *a;
    struct gm_err *err;
    size_t tokens;
    size_t max_tokens;
    size_t variables; /* variable values parsed */
    int depth;
    int max_depth;
};

static struct gm_gql_loc
tok_loc(const struct gm_gql_token *t)
{
    struct gm_gql_loc l = {t->line, t->column, t->offset};
    return l;
}

static int error_at(struct parser *p, int code, const struct gm_gql_token *t, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
error_at(struct parser *p, int code, const struct gm_gql_token *t, const char *fmt, ...)
{
    char msg[GM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gm_err_setpos(p->err, code, t->line, t->column, "Syntax Error: %s", msg);
}

static int
oom(struct parser *p)
{
    return gm_err_setpos(p->err, GM_ETOOBIG, p->tok.line, p->tok.column,
                         "Document too large: parsing needs more memory than allowed.");
}

/* Describes a token as graphql-js does: "}", Name "foo", <EOF>. */
static const char *
tok_desc(const struct gm_gql_token *t, char *buf, size_t size)
{
    if (t->kind == GM_TOK_EOF)
        return "<EOF>";
    if (gm_gql_tok_is_punct(t->kind)) {
        snprintf(buf, size, "\"%s\"", gm_gql_tok_kind_name(t->kind));
        return buf;
    }
    const char *v = t->value ? t->value : t->start;
    size_t n = t->value ? t->value_len : t->len;
    const char *more = "";
    if (n > DESC_VALUE_MAX) {
        n = DESC_VALUE_MAX;
        /* Do not split a UTF-8 sequence. */
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
        more = "...";
    }
    snprintf(buf, size, "%s \"%.*s%s\"", gm_gql_tok_kind_name(t->kind), (int)n, v, more);
    return buf;
}

static int
unexpected(struct parser *p)
{
    char buf[96];
    return error_at(p, GM_EINVAL, &p->tok, "Unexpected %s.", tok_desc(&p->tok, buf, sizeof buf));
}

static int
advance(struct parser *p)
{
    int rc = gm_gql_lexer_next(&p->lx, &p->tok, p->err);
    if (rc < 0)
        return rc;
    if (p->tok.kind != GM_TOK_EOF && ++p->tokens > p->max_tokens)
        return error_at(p, GM_ETOOBIG, &p->tok,
                        "Document contains more than %zu tokens. Parsing aborted.", p->max_tokens);
    return 0;
}

static bool
at(const struct parser *p, enum gm_gql_tok_kind kind)
{
    return p->tok.kind == kind;
}

static bool
at_keyword(const struct parser *p, const char *kw)
{
    size_t n = strlen(kw);
    return p->tok.kind == GM_TOK_NAME && p->tok.len == n && memcmp(p->tok.start, kw, n) == 0;
}

/* Consumes a token of kind if it is the current one. */
static int
skip(struct parser *p, enum gm_gql_tok_kind kind, bool *found)
{
    *found = at(p, kind);
    return *found ? advance(p) : 0;
}

static int
expect(struct parser *p, enum gm_gql_tok_kind kind)
{
    char buf[96];
    if (!at(p, kind))
        return error_at(p, GM_EINVAL, &p->tok, "Expected %s%s%s, found %s.",
                        gm_gql_tok_is_punct(kind) ? "\"" : "", gm_gql_tok_kind_name(kind),
                        gm_gql_tok_is_punct(kind) ? "\"" : "", tok_desc(&p->tok, buf, sizeof buf));
    return advance(p);
}

static int
expect_keyword(struct parser *p, const char *kw)
{
    char buf[96];
    if (!at_keyword(p, kw))
        return error_at(p, GM_EINVAL, &p->tok, "Expected \"%s\", found %s.", kw,
                        tok_desc(&p->tok, buf, sizeof buf));
    return advance(p);
}

/* Enters one level of nesting at the current token. */
static int
enter(struct parser *p)
{
    if (p->depth >= p->max_depth)
        return error_at(p, GM_ETOOBIG, &p->tok, "Document exceeds the maximum nesting depth of %d.",
                        p->max_depth);
    p->depth++;
    return 0;
}

static void *
node(struct parser *p, size_t size)
{
    return gm_arena_alloc(p->a, size);
}

#define NEW(p, ptr)                                                                                \
    do {                                                                                           \
        (ptr) = node((p), sizeof *(ptr));                                                          \
        if (!(ptr))                                                                                \
            return oom(p);                                                                         \
    } while (0)

/* Name: copies the current Name token into the arena. */
static int
parse_name(struct parser *p, const char **name, struct gm_gql_loc *loc)
{
    char buf[96];
    if (!at(p, GM_TOK_NAME))
        return error_at(p, GM_EINVAL, &p->tok, "Expected Name, found %s.",
                        tok_desc(&p->tok, buf, sizeof buf));
    if (loc)
        *loc = tok_loc(&p->tok);
    *name = gm_arena_strndup(p->a, p->tok.start, p->tok.len);
    if (!*name)
        return oom(p);
    return advance(p);
}

static int parse_value(struct parser *p, bool is_const, struct gm_gql_value **out);

static int
parse_list_value(struct parser *p, bool is_const, struct gm_gql_value *v)
{
    int rc;
    struct gm_gql_value **tail = &v->items;
    if ((rc = enter(p)) < 0 || (rc = advance(p)) < 0)
        return rc;
    while (!at(p, GM_TOK_BRACKET_R)) {
        struct gm_gql_value *item;
        if ((rc = parse_value(p, is_const, &item)) < 0)
            return rc;
        *tail = item;
        tail = &item->next;
    }
    p->depth--;
    return advance(p);
}

static int
parse_object_value(struct parser *p, bool is_const, struct gm_gql_value *v)
{
    int rc;
    struct gm_gql_object_field **tail = &v->fields;
    if ((rc = enter(p)) < 0 || (rc = advance(p)) < 0)
        return rc;
    while (!at(p, GM_TOK_BRACE_R)) {
        struct gm_gql_object_field *f;
        NEW(p, f);
        if ((rc = parse_name(p, &f->name, &f->loc)) < 0 || (rc = expect(p, GM_TOK_COLON)) < 0 ||
            (rc = parse_value(p, is_const, &f->value)) < 0)
            return rc;
        *tail = f;
        tail = &f->next;
    }
    p->depth--;
    return advance(p);
}

/* Value[Const]: a constant value refuses variables. */
static int
parse_value(struct parser *p, bool is_const, struct gm_gql_value **out)
{
    struct gm_gql_value *v;
    int rc;
    NEW(p, v);
    v->loc = tok_loc(&p->tok);
    v->name_loc = v->loc;
    *out = v;
    switch (p->tok.kind) {
    case GM_TOK_BRACKET_L:
        v->kind = GM_GQL_VALUE_LIST;
        return parse_list_value(p, is_const, v);
    case GM_TOK_BRACE_L:
        v->kind = GM_GQL_VALUE_OBJECT;
        return parse_object_value(p, is_const, v);
    case GM_TOK_INT:
    case GM_TOK_FLOAT:
        v->kind = at(p, GM_TOK_INT) ? GM_GQL_VALUE_INT : GM_GQL_VALUE_FLOAT;
        v->len = p->tok.len;
        if (!(v->str = gm_arena_strndup(p->a, p->tok.start, p->tok.len)))
            return oom(p);
        return advance(p);
    case GM_TOK_STRING:
    case GM_TOK_BLOCK_STRING:
        v->kind = GM_GQL_VALUE_STRING;
        v->block = at(p, GM_TOK_BLOCK_STRING);
        v->str = p->tok.value;
        v->len = p->tok.value_len;
        return advance(p);
    case GM_TOK_NAME:
        if (at_keyword(p, "true") || at_keyword(p, "false")) {
            v->kind = GM_GQL_VALUE_BOOLEAN;
            v->boolean = at_keyword(p, "true");
            return advance(p);
        }
        if (at_keyword(p, "null")) {
            v->kind = GM_GQL_VALUE_NULL;
            return advance(p);
        }
        v->kind = GM_GQL_VALUE_ENUM;
        v->len = p->tok.len;
        return parse_name(p, &v->str, NULL);
    case GM_TOK_DOLLAR:
        if (is_const) {
            struct gm_gql_token dollar = p->tok;
            if ((rc = advance(p)) < 0)
                return rc;
            if (at(p, GM_TOK_NAME))
                return error_at(p, GM_EINVAL, &dollar,
                                "Unexpected variable \"$%.*s\" in constant value.", (int)p->tok.len,
                                p->tok.start);
            p->tok = dollar;
            return unexpected(p);
        }
        v->kind = GM_GQL_VALUE_VARIABLE;
        p->variables++;
        if ((rc = advance(p)) < 0 || (rc = parse_name(p, &v->str, &v->name_loc)) < 0)
            return rc;
        v->len = strlen(v->str);
        return 0;
    default:
        return unexpected(p);
    }
}

/* Arguments[Const]: `(name: value, ...)`, at least one. */
static int
parse_arguments(struct parser *p, bool is_const, struct gm_gql_argument **out)
{
    int rc;
    struct gm_gql_argument **tail = out;
    if ((rc = expect(p, GM_TOK_PAREN_L)) < 0)
        return rc;
    do {
        struct gm_gql_argument *arg;
        NEW(p, arg);
        if ((rc = parse_name(p, &arg->name, &arg->loc)) < 0 || (rc = expect(p, GM_TOK_COLON)) < 0 ||
            (rc = parse_value(p, is_const, &arg->value)) < 0)
            return rc;
        *tail = arg;
        tail = &arg->next;
    } while (!at(p, GM_TOK_PAREN_R));
    return advance(p);
}

/* Directives[Const]: zero or more `@name(args)`. */
static int
parse_directives(struct parser *p, bool is_const, struct gm_gql_directive **out)
{
    int rc;
    struct gm_gql_directive **tail = out;
    while (at(p, GM_TOK_AT)) {
        struct gm_gql_directive *d;
        NEW(p, d);
        d->loc = tok_loc(&p->tok);
        if ((rc = advance(p)) < 0 || (rc = parse_name(p, &d->name, NULL)) < 0)
            return rc;
        if (at(p, GM_TOK_PAREN_L) && (rc = parse_arguments(p, is_const, &d->args)) < 0)
            return rc;
        *tail = d;
        tail = &d->next;
    }
    return 0;
}

/* Type: NamedType, ListType `[Type]`, NonNullType `Type!`. */
static int
parse_type(struct parser *p, struct gm_gql_type **out)
{
    struct gm_gql_type *t;
    int rc;
    NEW(p, t);
    t->loc = tok_loc(&p->tok);
    if (at(p, GM_TOK_BRACKET_L)) {
        t->kind = GM_GQL_TYPE_LIST;
        if ((rc = enter(p)) < 0 || (rc = advance(p)) < 0 || (rc = parse_type(p, &t->of)) < 0 ||
            (rc = expect(p, GM_TOK_BRACKET_R)) < 0)
            return rc;
        p->depth--;
    } else {
        t->kind = GM_GQL_TYPE_NAMED;
        if ((rc = parse_name(p, &t->name, NULL)) < 0)
            return rc;
    }
    if (at(p, GM_TOK_BANG)) {
        struct gm_gql_type *nn;
        NEW(p, nn);
        nn->kind = GM_GQL_TYPE_NON_NULL;
        nn->loc = t->loc;
        nn->of = t;
        t = nn;
        if ((rc = advance(p)) < 0)
            return rc;
    }
    *out = t;
    return 0;
}

static int parse_selection_set(struct parser *p, struct gm_gql_selection_set **out);

static int
parse_selection(struct parser *p, struct gm_gql_selection **out)
{
    struct gm_gql_selection *s;
    int rc;
    NEW(p, s);
    s->loc = tok_loc(&p->tok);
    *out = s;
    if (at(p, GM_TOK_SPREAD)) {
        if ((rc = advance(p)) < 0)
            return rc;
        if (at(p, GM_TOK_NAME) && !at_keyword(p, "on")) {
            s->kind = GM_GQL_SEL_FRAGMENT_SPREAD;
            if ((rc = parse_name(p, &s->name, &s->name_loc)) < 0)
                return rc;
            return parse_directives(p, false, &s->directives);
        }
        s->kind = GM_GQL_SEL_INLINE_FRAGMENT;
        if (at_keyword(p, "on")) {
            if ((rc = advance(p)) < 0 ||
                (rc = parse_name(p, &s->type_condition, &s->type_condition_loc)) < 0)
                return rc;
        }
        if ((rc = parse_directives(p, false, &s->directives)) < 0)
            return rc;
        return parse_selection_set(p, &s->selection_set);
    }
    s->kind = GM_GQL_SEL_FIELD;
    if ((rc = parse_name(p, &s->name, &s->name_loc)) < 0)
        return rc;
    if (at(p, GM_TOK_COLON)) {
        s->alias = s->name;
        if ((rc = advance(p)) < 0 || (rc = parse_name(p, &s->name, &s->name_loc)) < 0)
            return rc;
    }
    if (at(p, GM_TOK_PAREN_L) && (rc = parse_arguments(p, false, &s->args)) < 0)
        return rc;
    if ((rc = parse_directives(p, false, &s->directives)) < 0)
        return rc;
    if (at(p, GM_TOK_BRACE_L))
        return parse_selection_set(p, &s->selection_set);
    return 0;
}

/* SelectionSet: `{ Selection+ }`. */
static int
parse_selection_set(struct parser *p, struct gm_gql_selection_set **out)
{
    struct gm_gql_selection_set *set;
    int rc;
    NEW(p, set);
    set->loc = tok_loc(&p->tok);
    *out = set;
    if (at(p, GM_TOK_BRACE_L) && (rc = enter(p)) < 0)
        return rc;
    if ((rc = expect(p, GM_TOK_BRACE_L)) < 0)
        return rc;
    struct gm_gql_selection **tail = &set->selections;
    do {
        struct gm_gql_selection *s = NULL;
        if ((rc = parse_selection(p, &s)) < 0)
            return rc;
        *tail = s;
        tail = &s->next;
    } while (!at(p, GM_TOK_BRACE_R));
    p->depth--;
    return advance(p);
}

static int
parse_op_type(struct parser *p, enum gm_gql_op_type *op)
{
    if (at_keyword(p, "query"))
        *op = GM_GQL_OP_QUERY;
    else if (at_keyword(p, "mutation"))
        *op = GM_GQL_OP_MUTATION;
    else if (at_keyword(p, "subscription"))
        *op = GM_GQL_OP_SUBSCRIPTION;
    else
        return unexpected(p);
    return advance(p);
}

/* `($a: T = v @d, ...)`, at least one. */
static int
parse_var_defs(struct parser *p, struct gm_gql_var_def **out)
{
    int rc;
    bool found;
    struct gm_gql_var_def **tail = out;
    if ((rc = expect(p, GM_TOK_PAREN_L)) < 0)
        return rc;
    do {
        struct gm_gql_var_def *vd;
        NEW(p, vd);
        vd->loc = tok_loc(&p->tok);
        if ((rc = expect(p, GM_TOK_DOLLAR)) < 0 ||
            (rc = parse_name(p, &vd->name, &vd->name_loc)) < 0 ||
            (rc = expect(p, GM_TOK_COLON)) < 0 || (rc = parse_type(p, &vd->type)) < 0 ||
            (rc = skip(p, GM_TOK_EQUALS, &found)) < 0)
            return rc;
        if (found && (rc = parse_value(p, true, &vd->default_value)) < 0)
            return rc;
        if ((rc = parse_directives(p, true, &vd->directives)) < 0)
            return rc;
        *tail = vd;
        tail = &vd->next;
    } while (!at(p, GM_TOK_PAREN_R));
    return advance(p);
}

static int
parse_operation(struct parser *p, struct gm_gql_definition *d)
{
    int rc;
    d->kind = GM_GQL_DEF_OPERATION;
    if (at(p, GM_TOK_BRACE_L)) {
        d->op = GM_GQL_OP_QUERY;
        d->shorthand = true;
        return parse_selection_set(p, &d->selection_set);
    }
    if ((rc = parse_op_type(p, &d->op)) < 0)
        return rc;
    if (at(p, GM_TOK_NAME) && (rc = parse_name(p, &d->name, &d->name_loc)) < 0)
        return rc;
    if (at(p, GM_TOK_PAREN_L) && (rc = parse_var_defs(p, &d->var_defs)) < 0)
        return rc;
    if ((rc = parse_directives(p, false, &d->directives)) < 0)
        return rc;
    return parse_selection_set(p, &d->selection_set);
}

static int
parse_fragment(struct parser *p, struct gm_gql_definition *d)
{
    int rc;
    d->kind = GM_GQL_DEF_FRAGMENT;
    if ((rc = advance(p)) < 0)
        return rc;
    if (at_keyword(p, "on"))
        return unexpected(p);
    if ((rc = parse_name(p, &d->name, &d->name_loc)) < 0 || (rc = expect_keyword(p, "on")) < 0 ||
        (rc = parse_name(p, &d->type_condition, &d->type_condition_loc)) < 0 ||
        (rc = parse_directives(p, false, &d->directives)) < 0)
        return rc;
    return parse_selection_set(p, &d->selection_set);
}

/* An optional description: a String or BlockString before a definition. */
static int
parse_description(struct parser *p, const char **s, size_t *len, bool *block)
{
    if (!at(p, GM_TOK_STRING) && !at(p, GM_TOK_BLOCK_STRING))
        return 0;
    *s = p->tok.value;
    *len = p->tok.value_len;
    *block = at(p, GM_TOK_BLOCK_STRING);
    return advance(p);
}

/* InputValueDefinition: arguments and input object fields. */
static int
parse_input_value_def(struct parser *p, struct gm_gql_input_value_def **out)
{
    struct gm_gql_input_value_def *iv;
    int rc;
    bool found;
    NEW(p, iv);
    *out = iv;
    if ((rc = parse_description(p, &iv->description, &iv->description_len,
                                &iv->description_block)) < 0 ||
        (rc = parse_name(p, &iv->name, &iv->loc)) < 0 || (rc = expect(p, GM_TOK_COLON)) < 0 ||
        (rc = parse_type(p, &iv->type)) < 0 || (rc = skip(p, GM_TOK_EQUALS, &found)) < 0)
        return rc;
    if (found && (rc = parse_value(p, true, &iv->default_value)) < 0)
        return rc;
    return parse_directives(p, true, &iv->directives);
}

/* A non-empty list of input value definitions between open and close. */
static int
parse_input_value_defs(struct parser *p, enum gm_gql_tok_kind open, enum gm_gql_tok_kind close,
                       struct gm_gql_input_value_def **out)
{
    int rc;
    struct gm_gql_input_value_def **tail = out;
    if ((rc = expect(p, open)) < 0)
        return rc;
    do {
        struct gm_gql_input_value_def *iv = NULL;
        if ((rc = parse_input_value_def(p, &iv)) < 0)
            return rc;
        *tail = iv;
        tail = &iv->next;
    } while (!at(p, close));
    return advance(p);
}

/* `implements A & B`, with an optional leading "&". */
static int
parse_implements(struct parser *p, struct gm_gql_name_ref **out)
{
    int rc;
    bool found;
    if (!at_keyword(p, "implements"))
        return 0;
    if ((rc = advance(p)) < 0 || (rc = skip(p, GM_TOK_AMP, &found)) < 0)
        return rc;
    struct gm_gql_name_ref **tail = out;
    do {
        struct gm_gql_name_ref *n;
        NEW(p, n);
        if ((rc = parse_name(p, &n->name, &n->loc)) < 0 || (rc = skip(p, GM_TOK_AMP, &found)) < 0)
            return rc;
        *tail = n;
        tail = &n->next;
    } while (found);
    return 0;
}

/* `{ FieldDefinition+ }` of an object type or interface; optional. */
static int
parse_field_defs(struct parser *p, struct gm_gql_field_def **out)
{
    int rc;
    if (!at(p, GM_TOK_BRACE_L))
        return 0;
    if ((rc = advance(p)) < 0)
        return rc;
    struct gm_gql_field_def **tail = out;
    do {
        struct gm_gql_field_def *f;
        NEW(p, f);
        if ((rc = parse_description(p, &f->description, &f->description_len,
                                    &f->description_block)) < 0 ||
            (rc = parse_name(p, &f->name, &f->loc)) < 0)
            return rc;
        if (at(p, GM_TOK_PAREN_L) &&
            (rc = parse_input_value_defs(p, GM_TOK_PAREN_L, GM_TOK_PAREN_R, &f->args)) < 0)
            return rc;
        if ((rc = expect(p, GM_TOK_COLON)) < 0 || (rc = parse_type(p, &f->type)) < 0 ||
            (rc = parse_directives(p, true, &f->directives)) < 0)
            return rc;
        *tail = f;
        tail = &f->next;
    } while (!at(p, GM_TOK_BRACE_R));
    return advance(p);
}

static int
parse_enum_values(struct parser *p, struct gm_gql_enum_value_def **out)
{
    int rc;
    if (!at(p, GM_TOK_BRACE_L))
        return 0;
    if ((rc = advance(p)) < 0)
        return rc;
    struct gm_gql_enum_value_def **tail = out;
    do {
        struct gm_gql_enum_value_def *ev;
        NEW(p, ev);
        if ((rc = parse_description(p, &ev->description, &ev->description_len,
                                    &ev->description_block)) < 0)
            return rc;
        if (at_keyword(p, "true") || at_keyword(p, "false") || at_keyword(p, "null"))
            return error_at(p, GM_EINVAL, &p->tok,
                            "Name \"%.*s\" is reserved and cannot be used for an enum value.",
                            (int)p->tok.len, p->tok.start);
        if ((rc = parse_name(p, &ev->name, &ev->loc)) < 0 ||
            (rc = parse_directives(p, true, &ev->directives)) < 0)
            return rc;
        *tail = ev;
        tail = &ev->next;
    } while (!at(p, GM_TOK_BRACE_R));
    return advance(p);
}

static int
parse_union_members(struct parser *p, struct gm_gql_name_ref **out)
{
    int rc;
    bool found;
    if ((rc = skip(p, GM_TOK_EQUALS, &found)) < 0 || !found)
        return rc;
    if ((rc = skip(p, GM_TOK_PIPE, &found)) < 0)
        return rc;
    struct gm_gql_name_ref **tail = out;
    do {
        struct gm_gql_name_ref *n;
        NEW(p, n);
        if ((rc = parse_name(p, &n->name, &n->loc)) < 0 || (rc = skip(p, GM_TOK_PIPE, &found)) < 0)
            return rc;
        *tail = n;
        tail = &n->next;
    } while (found);
    return 0;
}

/* The specification's DirectiveLocation names, in its order (ast.h). */
const char *const gm_gql_dloc_names[GM_GQL_N_DLOCS] = {
    "QUERY",
    "MUTATION",
    "SUBSCRIPTION",
    "FIELD",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION",
    "SCHEMA",
    "SCALAR",
    "OBJECT",
    "FIELD_DEFINITION",
    "ARGUMENT_DEFINITION",
    "INTERFACE",
    "UNION",
    "ENUM",
    "ENUM_VALUE",
    "INPUT_OBJECT",
    "INPUT_FIELD_DEFINITION",
};

/* `directive @name(args) repeatable on A | B`. */
static int
parse_directive_def(struct parser *p, struct gm_gql_definition *d)
{
    int rc;
    bool found;
    d->kind = GM_GQL_DEF_DIRECTIVE;
    if ((rc = advance(p)) < 0 || (rc = expect(p, GM_TOK_AT)) < 0 ||
        (rc = parse_name(p, &d->name, &d->name_loc)) < 0)
        return rc;
    if (at(p, GM_TOK_PAREN_L) &&
        (rc = parse_input_value_defs(p, GM_TOK_PAREN_L, GM_TOK_PAREN_R, &d->args)) < 0)
        return rc;
    if (at_keyword(p, "repeatable")) {
        d->repeatable = true;
        if ((rc = advance(p)) < 0)
            return rc;
    }
    if ((rc = expect_keyword(p, "on")) < 0 || (rc = skip(p, GM_TOK_PIPE, &found)) < 0)
        return rc;
    struct gm_gql_name_ref **tail = &d->locations;
    do {
        bool known = false;
        for (size_t i = 0; i < GM_GQL_N_DLOCS; i++)
            known = known || at_keyword(p, gm_gql_dloc_names[i]);
        if (!known)
            return unexpected(p);
        struct gm_gql_name_ref *n;
        NEW(p, n);
        if ((rc = parse_name(p, &n->name, &n->loc)) < 0 || (rc = skip(p, GM_TOK_PIPE, &found)) < 0)
            return rc;
        *tail = n;
        tail = &n->next;
    } while (found);
    return 0;
}

static int
parse_schema_def(struct parser *p, struct gm_gql_definition *d)
{
    int rc;
    d->kind = GM_GQL_DEF_SCHEMA;
    if ((rc = advance(p)) < 0 || (rc = parse_directives(p, true, &d->directives)) < 0 ||
        (rc = expect(p, GM_TOK_BRACE_L)) < 0)
        return rc;
    struct gm_gql_root_type_def **tail = &d->root_types;
    do {
        struct gm_gql_root_type_def *r;
        NEW(p, r);
        r->loc = tok_loc(&p->tok);
        if ((rc = parse_op_type(p, &r->op)) < 0 || (rc = expect(p, GM_TOK_COLON)) < 0 ||
            (rc = parse_name(p, &r->type_name, &r->type_name_loc)) < 0)
            return rc;
        *tail = r;
        tail = &r->next;
    } while (!at(p, GM_TOK_BRACE_R));
    return advance(p);
}

/* The type definitions after their keyword: scalar, type, interface, ... */
static int
parse_type_def(struct parser *p, struct gm_gql_definition *d)
{
    int rc;
    if (at_keyword(p, "scalar"))
        d->kind = GM_GQL_DEF_SCALAR;
    else if (at_keyword(p, "type"))
        d->kind = GM_GQL_DEF_OBJECT;
    else if (at_keyword(p, "interface"))
        d->kind = GM_GQL_DEF_INTERFACE;
    else if (at_keyword(p, "union"))
        d->kind = GM_GQL_DEF_UNION;
    else if (at_keyword(p, "enum"))
        d->kind = GM_GQL_DEF_ENUM;
    else
        d->kind = GM_GQL_DEF_INPUT_OBJECT;
    if ((rc = advance(p)) < 0 || (rc = parse_name(p, &d->name, &d->name_loc)) < 0)
        return rc;
    if ((d->kind == GM_GQL_DEF_OBJECT || d->kind == GM_GQL_DEF_INTERFACE) &&
        (rc = parse_implements(p, &d->interfaces)) < 0)
        return rc;
    if ((rc = parse_directives(p, true, &d->directives)) < 0)
        return rc;
    switch (d->kind) {
    case GM_GQL_DEF_OBJECT:
    case GM_GQL_DEF_INTERFACE:
        return parse_field_defs(p, &d->fields);
    case GM_GQL_DEF_UNION:
        return parse_union_members(p, &d->members);
    case GM_GQL_DEF_ENUM:
        return parse_enum_values(p, &d->values);
    case GM_GQL_DEF_INPUT_OBJECT:
        if (!at(p, GM_TOK_BRACE_L))
            return 0;
        return parse_input_value_defs(p, GM_TOK_BRACE_L, GM_TOK_BRACE_R, &d->input_fields);
    default:
        return 0;
    }
}

static int
parse_definition(struct parser *p, struct gm_gql_definition **out)
{
    struct gm_gql_definition *d;
    int rc;
    NEW(p, d);
    *out = d;
    struct gm_gql_token desc_tok = p->tok;
    d->start_loc = tok_loc(&p->tok);
    if ((rc = parse_description(p, &d->description, &d->description_len, &d->description_block)) <
        0)
        return rc;
    d->loc = tok_loc(&p->tok);
    d->name_loc = d->loc;
    if (at_keyword(p, "schema"))
        return parse_schema_def(p, d);
    if (at_keyword(p, "scalar") || at_keyword(p, "type") || at_keyword(p, "interface") ||
        at_keyword(p, "union") || at_keyword(p, "enum") || at_keyword(p, "input"))
        return parse_type_def(p, d);
    if (at_keyword(p, "directive"))
        return parse_directive_def(p, d);
    bool executable = at(p, GM_TOK_BRACE_L) || at_keyword(p, "query") ||
                      at_keyword(p, "mutation") || at_keyword(p, "subscription") ||
                      at_keyword(p, "fragment");
    if (d->description && executable)
        return error_at(p, GM_EINVAL, &desc_tok,
                        "Unexpected description, descriptions are supported only on type "
                        "definitions.");
    if (at_keyword(p, "fragment"))
        return parse_fragment(p, d);
    if (executable)
        return parse_operation(p, d);
    return unexpected(p);
}

int
gm_gql_parse(const char *src, size_t len, const struct gm_gql_limits *lim, struct gm_arena *a,
             struct gm_gql_document **out, struct gm_err *err)
{
    struct parser p;
    struct gm_gql_document *doc = NULL;
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : GM_GQL_DEFAULT_MAX_BYTES;
    int rc;

    *out = NULL;
    memset(&p, 0, sizeof p);
    p.a = a;
    p.err = err;
    p.max_tokens = lim && lim->max_tokens ? lim->max_tokens : GM_GQL_DEFAULT_MAX_TOKENS;
    p.max_depth = lim && lim->max_depth > 0 ? lim->max_depth : GM_GQL_DEFAULT_MAX_DEPTH;
    if (len > max_bytes) {
        rc = gm_err_set(err, GM_ETOOBIG,
                        "Syntax Error: Document is %zu bytes, larger than the limit of %zu bytes.",
                        len, max_bytes);
        goto out;
    }
    if ((rc = gm_gql_lexer_init(&p.lx, src, len, a, err)) < 0 || (rc = advance(&p)) < 0)
        goto out;
    doc = node(&p, sizeof *doc);
    if (!doc) {
        rc = oom(&p);
        goto out;
    }
    doc->loc = tok_loc(&p.tok);
    struct gm_gql_definition **tail = &doc->definitions;
    do {
        struct gm_gql_definition *d = NULL;
        if ((rc = parse_definition(&p, &d)) < 0)
            goto out;
        *tail = d;
        tail = &d->next;
        doc->n_definitions++;
    } while (!at(&p, GM_TOK_EOF));
    doc->n_tokens = p.tokens;
    doc->n_variables = p.variables;
    *out = doc;
    rc = 0;
out:
    return rc;
}

const char *
gm_gql_op_name(enum gm_gql_op_type op)
{
    switch (op) {
    case GM_GQL_OP_MUTATION:
        return "mutation";
    case GM_GQL_OP_SUBSCRIPTION:
        return "subscription";
    default:
        return "query";
    }
}
