/*
 * print.c: GraphQL text from a document (see ast.h).
 *
 * The output is canonical in the style of graphql-js's print(): two-space
 * indentation, one selection per line, ", " between arguments, a blank line
 * between definitions, no comments. Strings keep their form: a block string
 * prints as a block string whose value reads back the same, a string with
 * JSON-style escapes. The printer is also meant for the schema printer of
 * introspection tools later, hence the descriptions and SDL forms.
 */
#include "ast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *s;
    size_t len;
    size_t cap;
    int indent;
};

static void
put_n(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            abort();
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void
put(struct buf *b, const char *s)
{
    put_n(b, s, strlen(s));
}

/* A newline followed by the current indentation. */
static void
nl(struct buf *b)
{
    put(b, "\n");
    for (int i = 0; i < b->indent; i++)
        put(b, "  ");
}

static void
put_string(struct buf *b, const char *s, size_t n)
{
    put(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"':
            put(b, "\\\"");
            break;
        case '\\':
            put(b, "\\\\");
            break;
        case '\b':
            put(b, "\\b");
            break;
        case '\f':
            put(b, "\\f");
            break;
        case '\n':
            put(b, "\\n");
            break;
        case '\r':
            put(b, "\\r");
            break;
        case '\t':
            put(b, "\\t");
            break;
        default:
            if (c < 0x20 || c == 0x7F) {
                snprintf(esc, sizeof esc, "\\u%04X", c);
                put(b, esc);
            } else {
                put_n(b, (const char *)&c, 1);
            }
        }
    }
    put(b, "\"");
}

static int
is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * A block string whose BlockStringValue is s[0..n): the same decisions as
 * graphql-js's printBlockString, with indentation added after each newline
 * (the common indentation the reader strips again).
 */
static void
put_block_string(struct buf *b, const char *s, size_t n)
{
    bool multi_line = memchr(s, '\n', n) != NULL;
    bool force_leading = multi_line;
    for (size_t i = 0; i < n && force_leading; i++)
        if (s[i] == '\n' && i + 1 < n && s[i + 1] != '\n' && !is_ws(s[i + 1]))
            force_leading = false;
    bool trailing_quote = n > 0 && (s[n - 1] == '"' || s[n - 1] == '\\');
    bool lines = multi_line || n > 70 || trailing_quote || force_leading;
    bool skip_leading = !multi_line && n > 0 && is_ws(s[0]);
    put(b, "\"\"\"");
    if ((lines && !skip_leading) || force_leading)
        nl(b);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            /* Empty lines stay empty: no trailing white space. */
            if (i + 1 < n && s[i + 1] == '\n')
                put(b, "\n");
            else
                nl(b);
        } else if (s[i] == '"' && i + 2 < n && s[i + 1] == '"' && s[i + 2] == '"') {
            put(b, "\\\"\"\"");
            i += 2;
        } else {
            put_n(b, s + i, 1);
        }
    }
    if (lines)
        nl(b);
    put(b, "\"\"\"");
}

static void
put_description(struct buf *b, const char *s, size_t n, bool block)
{
    if (!s)
        return;
    if (block)
        put_block_string(b, s, n);
    else
        put_string(b, s, n);
    nl(b);
}

static void
put_value(struct buf *b, const struct gm_gql_value *v)
{
    switch (v->kind) {
    case GM_GQL_VALUE_VARIABLE:
        put(b, "$");
        put(b, v->str);
        break;
    case GM_GQL_VALUE_INT:
    case GM_GQL_VALUE_FLOAT:
    case GM_GQL_VALUE_ENUM:
        put(b, v->str);
        break;
    case GM_GQL_VALUE_STRING:
        if (v->block)
            put_block_string(b, v->str, v->len);
        else
            put_string(b, v->str, v->len);
        break;
    case GM_GQL_VALUE_BOOLEAN:
        put(b, v->boolean ? "true" : "false");
        break;
    case GM_GQL_VALUE_NULL:
        put(b, "null");
        break;
    case GM_GQL_VALUE_LIST:
        put(b, "[");
        for (const struct gm_gql_value *i = v->items; i; i = i->next) {
            put_value(b, i);
            if (i->next)
                put(b, ", ");
        }
        put(b, "]");
        break;
    case GM_GQL_VALUE_OBJECT:
        put(b, "{");
        for (const struct gm_gql_object_field *f = v->fields; f; f = f->next) {
            put(b, f->name);
            put(b, ": ");
            put_value(b, f->value);
            if (f->next)
                put(b, ", ");
        }
        put(b, "}");
        break;
    }
}

static void
put_type(struct buf *b, const struct gm_gql_type *t)
{
    switch (t->kind) {
    case GM_GQL_TYPE_NAMED:
        put(b, t->name);
        break;
    case GM_GQL_TYPE_LIST:
        put(b, "[");
        put_type(b, t->of);
        put(b, "]");
        break;
    case GM_GQL_TYPE_NON_NULL:
        put_type(b, t->of);
        put(b, "!");
        break;
    }
}

static void
put_args(struct buf *b, const struct gm_gql_argument *args)
{
    if (!args)
        return;
    put(b, "(");
    for (const struct gm_gql_argument *a = args; a; a = a->next) {
        put(b, a->name);
        put(b, ": ");
        put_value(b, a->value);
        if (a->next)
            put(b, ", ");
    }
    put(b, ")");
}

static void
put_directives(struct buf *b, const struct gm_gql_directive *d)
{
    for (; d; d = d->next) {
        put(b, " @");
        put(b, d->name);
        put_args(b, d->args);
    }
}

static void
put_selection_set(struct buf *b, const struct gm_gql_selection_set *set)
{
    put(b, "{");
    b->indent++;
    for (const struct gm_gql_selection *s = set->selections; s; s = s->next) {
        nl(b);
        switch (s->kind) {
        case GM_GQL_SEL_FIELD:
            if (s->alias) {
                put(b, s->alias);
                put(b, ": ");
            }
            put(b, s->name);
            put_args(b, s->args);
            put_directives(b, s->directives);
            break;
        case GM_GQL_SEL_FRAGMENT_SPREAD:
            put(b, "...");
            put(b, s->name);
            put_directives(b, s->directives);
            break;
        case GM_GQL_SEL_INLINE_FRAGMENT:
            put(b, "...");
            if (s->type_condition) {
                put(b, " on ");
                put(b, s->type_condition);
            }
            put_directives(b, s->directives);
            break;
        }
        if (s->selection_set) {
            put(b, " ");
            put_selection_set(b, s->selection_set);
        }
    }
    b->indent--;
    nl(b);
    put(b, "}");
}

static void
put_input_value_def(struct buf *b, const struct gm_gql_input_value_def *iv)
{
    put_description(b, iv->description, iv->description_len, iv->description_block);
    put(b, iv->name);
    put(b, ": ");
    put_type(b, iv->type);
    if (iv->default_value) {
        put(b, " = ");
        put_value(b, iv->default_value);
    }
    put_directives(b, iv->directives);
}

/* Argument definitions: on one line, or one per line when described. */
static void
put_arg_defs(struct buf *b, const struct gm_gql_input_value_def *args)
{
    if (!args)
        return;
    bool described = false;
    for (const struct gm_gql_input_value_def *a = args; a; a = a->next)
        described = described || a->description;
    put(b, "(");
    if (!described) {
        for (const struct gm_gql_input_value_def *a = args; a; a = a->next) {
            put_input_value_def(b, a);
            if (a->next)
                put(b, ", ");
        }
    } else {
        b->indent++;
        for (const struct gm_gql_input_value_def *a = args; a; a = a->next) {
            nl(b);
            put_input_value_def(b, a);
        }
        b->indent--;
        nl(b);
    }
    put(b, ")");
}

static void
put_names(struct buf *b, const struct gm_gql_name_ref *n, const char *sep)
{
    for (; n; n = n->next) {
        put(b, n->name);
        if (n->next)
            put(b, sep);
    }
}

static void
put_definition(struct buf *b, const struct gm_gql_definition *d)
{
    static const char *const keywords[] = {
        [GM_GQL_DEF_SCALAR] = "scalar",       [GM_GQL_DEF_OBJECT] = "type",
        [GM_GQL_DEF_INTERFACE] = "interface", [GM_GQL_DEF_UNION] = "union",
        [GM_GQL_DEF_ENUM] = "enum",           [GM_GQL_DEF_INPUT_OBJECT] = "input",
    };
    put_description(b, d->description, d->description_len, d->description_block);
    switch (d->kind) {
    case GM_GQL_DEF_OPERATION:
        if (!(d->shorthand && !d->name && !d->var_defs && !d->directives)) {
            put(b, gm_gql_op_name(d->op));
            if (d->name) {
                put(b, " ");
                put(b, d->name);
            }
            if (d->var_defs) {
                put(b, d->name ? "(" : " (");
                for (const struct gm_gql_var_def *v = d->var_defs; v; v = v->next) {
                    put(b, "$");
                    put(b, v->name);
                    put(b, ": ");
                    put_type(b, v->type);
                    if (v->default_value) {
                        put(b, " = ");
                        put_value(b, v->default_value);
                    }
                    put_directives(b, v->directives);
                    if (v->next)
                        put(b, ", ");
                }
                put(b, ")");
            }
            put_directives(b, d->directives);
            put(b, " ");
        }
        put_selection_set(b, d->selection_set);
        break;
    case GM_GQL_DEF_FRAGMENT:
        put(b, "fragment ");
        put(b, d->name);
        put(b, " on ");
        put(b, d->type_condition);
        put_directives(b, d->directives);
        put(b, " ");
        put_selection_set(b, d->selection_set);
        break;
    case GM_GQL_DEF_SCHEMA:
        put(b, "schema");
        put_directives(b, d->directives);
        put(b, " {");
        b->indent++;
        for (const struct gm_gql_root_type_def *r = d->root_types; r; r = r->next) {
            nl(b);
            put(b, gm_gql_op_name(r->op));
            put(b, ": ");
            put(b, r->type_name);
        }
        b->indent--;
        nl(b);
        put(b, "}");
        break;
    case GM_GQL_DEF_DIRECTIVE:
        put(b, "directive @");
        put(b, d->name);
        put_arg_defs(b, d->args);
        if (d->repeatable)
            put(b, " repeatable");
        put(b, " on ");
        put_names(b, d->locations, " | ");
        break;
    default:
        put(b, keywords[d->kind]);
        put(b, " ");
        put(b, d->name);
        if (d->interfaces) {
            put(b, " implements ");
            put_names(b, d->interfaces, " & ");
        }
        put_directives(b, d->directives);
        if (d->members) {
            put(b, " = ");
            put_names(b, d->members, " | ");
        }
        if (d->fields || d->values || d->input_fields) {
            put(b, " {");
            b->indent++;
            for (const struct gm_gql_field_def *f = d->fields; f; f = f->next) {
                nl(b);
                put_description(b, f->description, f->description_len, f->description_block);
                put(b, f->name);
                put_arg_defs(b, f->args);
                put(b, ": ");
                put_type(b, f->type);
                put_directives(b, f->directives);
            }
            for (const struct gm_gql_enum_value_def *e = d->values; e; e = e->next) {
                nl(b);
                put_description(b, e->description, e->description_len, e->description_block);
                put(b, e->name);
                put_directives(b, e->directives);
            }
            for (const struct gm_gql_input_value_def *i = d->input_fields; i; i = i->next) {
                nl(b);
                put_input_value_def(b, i);
            }
            b->indent--;
            nl(b);
            put(b, "}");
        }
        break;
    }
}

char *
gm_gql_print(const struct gm_gql_document *doc)
{
    struct buf b = {0};
    for (const struct gm_gql_definition *d = doc->definitions; d; d = d->next) {
        put_definition(&b, d);
        put(&b, d->next ? "\n\n" : "\n");
    }
    if (!b.s)
        put(&b, "");
    return b.s;
}

char *
gm_gql_print_value(const struct gm_gql_value *v)
{
    struct buf b = {0};
    put_value(&b, v);
    return b.s;
}

char *
gm_gql_print_type(const struct gm_gql_type *t)
{
    struct buf b = {0};
    put_type(&b, t);
    return b.s;
}
