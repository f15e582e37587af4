/*
 * introspect.c: the introspection fields (__schema, __type and the fields
 * of __Schema, __Type, __Field, __InputValue, __EnumValue, __Directive),
 * answered from the runtime schema (schema.h).
 *
 * The executor calls gm__gql_introspect for every field without a bound
 * resolver, which are exactly the introspection fields. The objects it
 * hands out are the schema's own structures: __Schema is the schema,
 * __Field a struct gm_gql_sfield, __InputValue a struct gm_gql_sarg,
 * __EnumValue a struct gm_gql_senum_value and __Directive a struct
 * gm_gql_sdirective. A __Type is a struct gm_gql_tref, so that the wrapping
 * types (LIST, NON_NULL) and their ofType chains need no extra model; a
 * named type found elsewhere gets a NAMED reference made in the request's
 * arena. Output follows graphql-js v16 (which null where, deprecation
 * filtering, defaultValue as GraphQL literal text), so that a client's
 * buildClientSchema() of the result prints our SDL back.
 */
#include "exec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    [GM_GQL_SCALAR] = "SCALAR", [GM_GQL_OBJECT] = "OBJECT", [GM_GQL_INTERFACE] = "INTERFACE",
    [GM_GQL_UNION] = "UNION",   [GM_GQL_ENUM] = "ENUM",     [GM_GQL_INPUT_OBJECT] = "INPUT_OBJECT",
};

static void
set_cstr(struct gm_gql_rval *out, const char *s)
{
    if (s)
        gm_gql_rval_str(out, s, strlen(s));
    else
        gm_gql_rval_null(out);
}

/* A __Type for named type t, in the request's arena; NULL past the budget. */
static const struct gm_gql_tref *
named_ref(struct gm_gql_rctx *ctx, const struct gm_gql_stype *t)
{
    struct gm_gql_tref *r = gm_arena_alloc(ctx->arena, sizeof(*r));
    if (r) {
        r->kind = GM_GQL_TYPE_NAMED;
        r->named = (struct gm_gql_stype *)t;
    }
    return r;
}

static int
oom(struct gm_gql_rctx *ctx)
{
    return gm_gql_rctx_error(ctx, GM_GQL_CODE_COMPLEX, "Out of request memory.");
}

/* Sets out to a list of named types; NULL types are skipped. */
static int
type_list(struct gm_gql_rctx *ctx, struct gm_gql_rval *out, struct gm_gql_stype *const *types,
          size_t n)
{
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, n);
    if (!items)
        return oom(ctx);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!types[i])
            continue;
        const struct gm_gql_tref *r = named_ref(ctx, types[i]);
        if (!r)
            return oom(ctx);
        gm_gql_rval_obj(&items[k++], r, NULL);
    }
    out->n = k;
    return 0;
}

static bool
include_deprecated(struct gm_gql_rctx *ctx)
{
    const struct gm_gql_ival *v = gm_gql_arg(ctx, "includeDeprecated");
    return v && v->kind == GM_GQL_I_BOOL && v->b;
}

/* A list of arguments or input fields, deprecated ones only when asked. */
static int
arg_list(struct gm_gql_rctx *ctx, struct gm_gql_rval *out, const struct gm_gql_sarg *args, size_t n)
{
    bool all = include_deprecated(ctx);
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, n);
    if (!items)
        return oom(ctx);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (all || !args[i].deprecation)
            gm_gql_rval_obj(&items[k++], &args[i], NULL);
    out->n = k;
    return 0;
}

static int
resolve_schema(struct gm_gql_rctx *ctx, const char *f, struct gm_gql_rval *out)
{
    const struct gm_gql_schema *s = ctx->parent;
    if (strcmp(f, "description") == 0) {
        set_cstr(out, s->description);
        return 0;
    }
    if (strcmp(f, "types") == 0)
        return type_list(ctx, out, s->types_ordered ? s->types_ordered : s->types, s->n_types);
    const struct gm_gql_stype *t = NULL;
    if (strcmp(f, "queryType") == 0)
        t = s->query;
    else if (strcmp(f, "mutationType") == 0)
        t = s->mutation;
    else if (strcmp(f, "subscriptionType") == 0)
        t = s->subscription;
    else if (strcmp(f, "directives") == 0) {
        struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, s->n_directives);
        if (!items)
            return oom(ctx);
        for (size_t i = 0; i < s->n_directives; i++)
            gm_gql_rval_obj(&items[i], s->directives[i], NULL);
        return 0;
    } else
        return gm_gql_rctx_error(ctx, NULL, "Unknown field __Schema.%s.", f);
    if (!t) {
        gm_gql_rval_null(out);
        return 0;
    }
    const struct gm_gql_tref *r = named_ref(ctx, t);
    if (!r)
        return oom(ctx);
    gm_gql_rval_obj(out, r, NULL);
    return 0;
}

static int
resolve_type(struct gm_gql_rctx *ctx, const char *f, struct gm_gql_rval *out)
{
    const struct gm_gql_tref *r = ctx->parent;
    const struct gm_gql_stype *t = r->kind == GM_GQL_TYPE_NAMED ? r->named : NULL;
    gm_gql_rval_null(out);
    if (strcmp(f, "kind") == 0) {
        const char *k = r->kind == GM_GQL_TYPE_LIST       ? "LIST"
                        : r->kind == GM_GQL_TYPE_NON_NULL ? "NON_NULL"
                                                          : kind_names[t->kind];
        set_cstr(out, k);
    } else if (strcmp(f, "name") == 0) {
        if (t)
            set_cstr(out, t->name);
    } else if (strcmp(f, "description") == 0) {
        if (t)
            set_cstr(out, t->description);
    } else if (strcmp(f, "specifiedByURL") == 0) {
        if (t && t->kind == GM_GQL_SCALAR)
            set_cstr(out, t->specified_by);
    } else if (strcmp(f, "fields") == 0) {
        if (t && (t->kind == GM_GQL_OBJECT || t->kind == GM_GQL_INTERFACE)) {
            bool all = include_deprecated(ctx);
            struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, t->n_fields);
            if (!items)
                return oom(ctx);
            size_t k = 0;
            for (size_t i = 0; i < t->n_fields; i++)
                if (all || !t->fields[i].deprecation)
                    gm_gql_rval_obj(&items[k++], &t->fields[i], NULL);
            out->n = k;
        }
    } else if (strcmp(f, "interfaces") == 0) {
        if (t && (t->kind == GM_GQL_OBJECT || t->kind == GM_GQL_INTERFACE))
            return type_list(ctx, out, t->interfaces, t->n_interfaces);
    } else if (strcmp(f, "possibleTypes") == 0) {
        if (t && (t->kind == GM_GQL_INTERFACE || t->kind == GM_GQL_UNION))
            return type_list(ctx, out, t->possible, t->n_possible);
    } else if (strcmp(f, "enumValues") == 0) {
        if (t && t->kind == GM_GQL_ENUM) {
            bool all = include_deprecated(ctx);
            struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, t->n_values);
            if (!items)
                return oom(ctx);
            size_t k = 0;
            for (size_t i = 0; i < t->n_values; i++)
                if (all || !t->values[i].deprecation)
                    gm_gql_rval_obj(&items[k++], &t->values[i], NULL);
            out->n = k;
        }
    } else if (strcmp(f, "inputFields") == 0) {
        if (t && t->kind == GM_GQL_INPUT_OBJECT)
            return arg_list(ctx, out, t->input_fields, t->n_input_fields);
    } else if (strcmp(f, "ofType") == 0) {
        if (!t)
            gm_gql_rval_obj(out, r->of, NULL);
    } else if (strcmp(f, "isOneOf") == 0) {
        if (t && t->kind == GM_GQL_INPUT_OBJECT)
            gm_gql_rval_bool(out, false);
    } else {
        return gm_gql_rctx_error(ctx, NULL, "Unknown field __Type.%s.", f);
    }
    return 0;
}

/* A growable text in the request's arena. */
struct tbuf {
    struct gm_arena *a;
    char *p;
    size_t len;
    size_t cap;
    bool oom;
};

static void
tb_put(struct tbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n + 1)
            cap *= 2;
        char *p = gm_arena_alloc(b->a, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        if (b->len)
            memcpy(p, b->p, b->len);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
tb_cstr(struct tbuf *b, const char *s)
{
    tb_put(b, s, strlen(s));
}

/* graphql-js's printString: a GraphQL string literal. */
static void
tb_string(struct tbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    tb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        unsigned cp = c;
        size_t skip = 0;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f) {
            cp = (unsigned char)s[i + 1]; /* U+0080..U+009F */
            skip = 1;
        }
        if (cp == '"') {
            tb_put(b, "\\\"", 2);
        } else if (cp == '\\') {
            tb_put(b, "\\\\", 2);
        } else if (cp == '\b') {
            tb_put(b, "\\b", 2);
        } else if (cp == '\t') {
            tb_put(b, "\\t", 2);
        } else if (cp == '\n') {
            tb_put(b, "\\n", 2);
        } else if (cp == '\f') {
            tb_put(b, "\\f", 2);
        } else if (cp == '\r') {
            tb_put(b, "\\r", 2);
        } else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            char e[6] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15]};
            tb_put(b, e, 6);
        } else {
            tb_put(b, s + i, 1);
            continue;
        }
        i += skip;
    }
    tb_put(b, "\"", 1);
}

static bool
int_text(const char *s, size_t n)
{
    size_t i = s[0] == '-' ? 1 : 0;
    if (i >= n || (s[i] == '0' && n > i + 1))
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* graphql-js's print(astFromValue(v, t)): a coerced value as literal text. */
static void
print_ival(struct tbuf *b, const struct gm_gql_ival *v, const struct gm_gql_tref *t)
{
    char num[40];
    if (t->kind == GM_GQL_TYPE_NON_NULL)
        t = t->of;
    switch (v->kind) {
    case GM_GQL_I_NULL:
        tb_cstr(b, "null");
        return;
    case GM_GQL_I_LIST:
        if (t->kind != GM_GQL_TYPE_LIST)
            break;
        tb_cstr(b, "[");
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                tb_cstr(b, ", ");
            print_ival(b, v->items[i], t->of);
        }
        tb_cstr(b, "]");
        return;
    case GM_GQL_I_OBJECT: {
        const struct gm_gql_stype *nt = gm_gql_tref_named(t);
        tb_cstr(b, "{");
        for (size_t i = 0; i < v->n; i++) {
            const struct gm_gql_sarg *f = gm_gql_input_field(nt, v->names[i]);
            if (!f)
                continue;
            if (i)
                tb_cstr(b, ", ");
            tb_cstr(b, v->names[i]);
            tb_cstr(b, ": ");
            print_ival(b, v->items[i], f->type);
        }
        tb_cstr(b, "}");
        return;
    }
    case GM_GQL_I_INT:
        snprintf(num, sizeof(num), "%lld", (long long)v->i);
        tb_cstr(b, num);
        return;
    case GM_GQL_I_FLOAT:
        gm__gql_fmt_number(num, sizeof(num), v->f);
        tb_cstr(b, num);
        return;
    case GM_GQL_I_BOOL:
        tb_cstr(b, v->b ? "true" : "false");
        return;
    case GM_GQL_I_ENUM:
        tb_put(b, v->s, v->len);
        return;
    case GM_GQL_I_STRING: {
        const struct gm_gql_stype *nt = gm_gql_tref_named(t);
        if (nt && nt->scalar == GM_GQL_SC_ID && int_text(v->s, v->len))
            tb_put(b, v->s, v->len);
        else
            tb_string(b, v->s, v->len);
        return;
    }
    }
    /* A single value where the list type's item goes. */
    print_ival(b, v, t->of);
}

/* __InputValue.defaultValue: the default as graphql-js prints it; NULL past the budget. */
static char *
default_text(struct gm_gql_rctx *ctx, const struct gm_gql_sarg *arg, size_t *len)
{
    const struct gm_gql_ival *v = gm__gql_coerce_const(ctx->arena, arg->default_value, arg->type);
    if (v) {
        struct tbuf b = {.a = ctx->arena};
        print_ival(&b, v, arg->type);
        if (b.oom || !b.p)
            return NULL;
        *len = b.len;
        return b.p;
    }
    /* Not coercible (the schema check should prevent it): the literal as written. */
    char *text = gm_gql_print_value(arg->default_value);
    if (!text)
        abort();
    *len = strlen(text);
    char *copy = gm_arena_strndup(ctx->arena, text, *len);
    free(text);
    return copy;
}

/* isDeprecated and deprecationReason, shared by fields, input values and enum values. */
static bool
deprecation_field(const char *f, const char *reason, struct gm_gql_rval *out)
{
    if (strcmp(f, "isDeprecated") == 0) {
        gm_gql_rval_bool(out, reason != NULL);
        return true;
    }
    if (strcmp(f, "deprecationReason") == 0) {
        set_cstr(out, reason);
        return true;
    }
    return false;
}

static int
resolve_field(struct gm_gql_rctx *ctx, const char *f, struct gm_gql_rval *out)
{
    const struct gm_gql_sfield *sf = ctx->parent;
    if (strcmp(f, "name") == 0)
        set_cstr(out, sf->name);
    else if (strcmp(f, "description") == 0)
        set_cstr(out, sf->description);
    else if (strcmp(f, "args") == 0)
        return arg_list(ctx, out, sf->args, sf->n_args);
    else if (strcmp(f, "type") == 0)
        gm_gql_rval_obj(out, sf->type, NULL);
    else if (!deprecation_field(f, sf->deprecation, out))
        return gm_gql_rctx_error(ctx, NULL, "Unknown field __Field.%s.", f);
    return 0;
}

static int
resolve_input_value(struct gm_gql_rctx *ctx, const char *f, struct gm_gql_rval *out)
{
    const struct gm_gql_sarg *a = ctx->parent;
    if (strcmp(f, "name") == 0) {
        set_cstr(out, a->name);
    } else if (strcmp(f, "description") == 0) {
        set_cstr(out, a->description);
    } else if (strcmp(f, "type") == 0) {
        gm_gql_rval_obj(out, a->type, NULL);
    } else if (strcmp(f, "defaultValue") == 0) {
        gm_gql_rval_null(out);
        if (a->default_value) {
            size_t n = 0;
            char *text = default_text(ctx, a, &n);
            if (!text)
                return oom(ctx);
            gm_gql_rval_str(out, text, n);
        }
    } else if (!deprecation_field(f, a->deprecation, out)) {
        return gm_gql_rctx_error(ctx, NULL, "Unknown field __InputValue.%s.", f);
    }
    return 0;
}

static int
resolve_enum_value(struct gm_gql_rctx *ctx, const char *f, struct gm_gql_rval *out)
{
    const struct gm_gql_senum_value *v = ctx->parent;
    if (strcmp(f, "name") == 0)
        set_cstr(out, v->name);
    else if (strcmp(f, "description") == 0)
        set_cstr(out, v->description);
    else if (!deprecation_field(f, v->deprecation, out))
        return gm_gql_rctx_error(ctx, NULL, "Unknown field __EnumValue.%s.", f);
    return 0;
}

static int
resolve_directive(struct gm_gql_rctx *ctx, const char *f, struct gm_gql_rval *out)
{
    const struct gm_gql_sdirective *d = ctx->parent;
    if (strcmp(f, "name") == 0) {
        set_cstr(out, d->name);
    } else if (strcmp(f, "description") == 0) {
        set_cstr(out, d->description);
    } else if (strcmp(f, "isRepeatable") == 0) {
        gm_gql_rval_bool(out, d->repeatable);
    } else if (strcmp(f, "args") == 0) {
        return arg_list(ctx, out, d->args, d->n_args);
    } else if (strcmp(f, "locations") == 0) {
        /*
         * The model keeps locations as bits, so they come out in the
         * spec's order; graphql-js declares @deprecated's in another.
         */
        static const unsigned deprecated_order[] = {
            GM_GQL_DLOC_FIELD_DEFINITION, GM_GQL_DLOC_ARGUMENT_DEFINITION,
            GM_GQL_DLOC_INPUT_FIELD_DEFINITION, GM_GQL_DLOC_ENUM_VALUE};
        unsigned order[GM_GQL_DLOC_COUNT];
        size_t n = 0;
        if (strcmp(d->name, "deprecated") == 0) {
            for (size_t i = 0; i < sizeof(deprecated_order) / sizeof(deprecated_order[0]); i++)
                if (d->locations & deprecated_order[i])
                    order[n++] = deprecated_order[i];
        } else {
            for (unsigned i = 0; i < GM_GQL_DLOC_COUNT; i++)
                if (d->locations & (1u << i))
                    order[n++] = 1u << i;
        }
        struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, n);
        if (!items)
            return oom(ctx);
        for (size_t i = 0; i < n; i++)
            set_cstr(&items[i], gm_gql_dloc_name(order[i]));
    } else {
        return gm_gql_rctx_error(ctx, NULL, "Unknown field __Directive.%s.", f);
    }
    return 0;
}

int
gm__gql_introspect(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct gm_gql_schema *s = ctx->schema;
    const struct gm_gql_sfield *field = ctx->field;
    const struct gm_gql_stype *pt = ctx->parent_type;
    const char *f = field->name;
    gm_gql_rval_null(out);
    if (field == s->schema_field) {
        gm_gql_rval_obj(out, s, NULL);
        return 0;
    }
    if (field == s->type_field) {
        const struct gm_gql_ival *name = gm_gql_arg(ctx, "name");
        if (!name || name->kind != GM_GQL_I_STRING)
            return 0;
        const struct gm_gql_stype *t =
            strlen(name->s) == name->len ? gm_gql_schema_type(s, name->s) : NULL;
        if (t) {
            const struct gm_gql_tref *r = named_ref(ctx, t);
            if (!r)
                return oom(ctx);
            gm_gql_rval_obj(out, r, NULL);
        }
        return 0;
    }
    if (!pt->introspection)
        return gm_gql_rctx_error(ctx, NULL, "No resolver is bound to %s.%s.", pt->name, f);
    if (strcmp(pt->name, "__Schema") == 0)
        return resolve_schema(ctx, f, out);
    if (strcmp(pt->name, "__Type") == 0)
        return resolve_type(ctx, f, out);
    if (strcmp(pt->name, "__Field") == 0)
        return resolve_field(ctx, f, out);
    if (strcmp(pt->name, "__InputValue") == 0)
        return resolve_input_value(ctx, f, out);
    if (strcmp(pt->name, "__EnumValue") == 0)
        return resolve_enum_value(ctx, f, out);
    if (strcmp(pt->name, "__Directive") == 0)
        return resolve_directive(ctx, f, out);
    return gm_gql_rctx_error(ctx, NULL, "No resolver is bound to %s.%s.", pt->name, f);
}
