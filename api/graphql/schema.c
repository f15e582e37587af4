/*
 * schema.c: builds the runtime schema (schema.h) from SDL and checks it.
 *
 * Building runs in passes over the parsed SDL: (1) one gm_gql_stype per
 * type definition, the built-in introspection SDL below first; (2) fields,
 * arguments, interfaces, members, values and input fields, with every type
 * reference resolved; (3) the root types; (4) the type system checks;
 * (5) the type table, collected from the SDL's types, the roots, the
 * directives' arguments and __Schema the way graphql-js collects it, so
 * that built-in scalars nothing uses are absent (graphql-js answers
 * `Unknown type "Float".` for such a schema, and so do we) and the
 * introspection order matches graphql-js's.
 */
#include "schema.h"

#include "validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SDL_MAX_BYTES  (1024 * 1024)
#define SDL_MAX_TOKENS 200000

/*
 * What every schema has: the spec's built-in directives and the
 * introspection types (section 4.5, in graphql-js's field order, which
 * clients see in `__type(name: "__Type") { fields { name } }`). The
 * descriptions are ours.
 */
static const char builtin_sdl[] =
    "\"Directs the executor to include this field or fragment only when `if` is true.\"\n"
    "directive @include(\"Included when true.\" if: Boolean!) on FIELD | FRAGMENT_SPREAD | "
    "INLINE_FRAGMENT\n"
    "\"Directs the executor to skip this field or fragment when `if` is true.\"\n"
    "directive @skip(\"Skipped when true.\" if: Boolean!) on FIELD | FRAGMENT_SPREAD | "
    "INLINE_FRAGMENT\n"
    "\"Marks an element of the schema as no longer supported.\"\n"
    "directive @deprecated(\"Why, and what to use instead (Markdown).\" reason: String = \"No "
    "longer supported\") on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | "
    "ENUM_VALUE\n"
    "\"Names the specification a custom scalar follows.\"\n"
    "directive @specifiedBy(\"The specification's URL.\" url: String!) on SCALAR\n"
    "\"The whole schema: its types, root operation types and directives.\"\n"
    "type __Schema {\n"
    "  description: String\n"
    "  \"Every type of the schema.\" types: [__Type!]!\n"
    "  \"The root type of queries.\" queryType: __Type!\n"
    "  \"The root type of mutations, if any.\" mutationType: __Type\n"
    "  \"The root type of subscriptions, if any.\" subscriptionType: __Type\n"
    "  \"Every directive the schema knows.\" directives: [__Directive!]!\n"
    "}\n"
    "\"A type of the schema, or a list or non-null wrapper around one (`ofType`).\"\n"
    "type __Type {\n"
    "  kind: __TypeKind!\n"
    "  name: String\n"
    "  description: String\n"
    "  specifiedByURL: String\n"
    "  fields(includeDeprecated: Boolean = false): [__Field!]\n"
    "  interfaces: [__Type!]\n"
    "  possibleTypes: [__Type!]\n"
    "  enumValues(includeDeprecated: Boolean = false): [__EnumValue!]\n"
    "  inputFields(includeDeprecated: Boolean = false): [__InputValue!]\n"
    "  ofType: __Type\n"
    "}\n"
    "\"What kind of type a `__Type` is.\"\n"
    "enum __TypeKind {\n"
    "  \"A leaf value: Int, String, DateTime...\" SCALAR\n"
    "  \"An object with fields.\" OBJECT\n"
    "  \"An abstract type whose objects share fields.\" INTERFACE\n"
    "  \"An abstract type that is one of several objects.\" UNION\n"
    "  \"A leaf value from a fixed set of names.\" ENUM\n"
    "  \"An object given as an argument.\" INPUT_OBJECT\n"
    "  \"A list of `ofType`.\" LIST\n"
    "  \"`ofType` that is never null.\" NON_NULL\n"
    "}\n"
    "\"A field of an object or interface type.\"\n"
    "type __Field {\n"
    "  name: String!\n"
    "  description: String\n"
    "  args(includeDeprecated: Boolean = false): [__InputValue!]!\n"
    "  type: __Type!\n"
    "  isDeprecated: Boolean!\n"
    "  deprecationReason: String\n"
    "}\n"
    "\"An argument, or a field of an input object, with its default as GraphQL text.\"\n"
    "type __InputValue {\n"
    "  name: String!\n"
    "  description: String\n"
    "  type: __Type!\n"
    "  \"The default value as a GraphQL literal; null when there is none.\"\n"
    "  defaultValue: String\n"
    "  isDeprecated: Boolean!\n"
    "  deprecationReason: String\n"
    "}\n"
    "\"One value of an enum type.\"\n"
    "type __EnumValue {\n"
    "  name: String!\n"
    "  description: String\n"
    "  isDeprecated: Boolean!\n"
    "  deprecationReason: String\n"
    "}\n"
    "\"A directive the schema knows, with where it may appear.\"\n"
    "type __Directive {\n"
    "  name: String!\n"
    "  description: String\n"
    "  isRepeatable: Boolean!\n"
    "  locations: [__DirectiveLocation!]!\n"
    "  args(includeDeprecated: Boolean = false): [__InputValue!]!\n"
    "}\n"
    "\"Where a directive may appear.\"\n"
    "enum __DirectiveLocation {\n"
    "  \"On a query operation.\" QUERY\n"
    "  \"On a mutation operation.\" MUTATION\n"
    "  \"On a subscription operation.\" SUBSCRIPTION\n"
    "  \"On a field in a selection set.\" FIELD\n"
    "  \"On a fragment definition.\" FRAGMENT_DEFINITION\n"
    "  \"On a fragment spread.\" FRAGMENT_SPREAD\n"
    "  \"On an inline fragment.\" INLINE_FRAGMENT\n"
    "  \"On a variable definition.\" VARIABLE_DEFINITION\n"
    "  \"On the schema definition.\" SCHEMA\n"
    "  \"On a scalar type definition.\" SCALAR\n"
    "  \"On an object type definition.\" OBJECT\n"
    "  \"On a field definition.\" FIELD_DEFINITION\n"
    "  \"On an argument definition.\" ARGUMENT_DEFINITION\n"
    "  \"On an interface type definition.\" INTERFACE\n"
    "  \"On a union type definition.\" UNION\n"
    "  \"On an enum type definition.\" ENUM\n"
    "  \"On an enum value definition.\" ENUM_VALUE\n"
    "  \"On an input object type definition.\" INPUT_OBJECT\n"
    "  \"On an input object field definition.\" INPUT_FIELD_DEFINITION\n"
    "}\n";

_Static_assert(GM_GQL_DLOC_COUNT == GM_GQL_N_DLOCS, "one list of directive locations");

/* The built-in scalars in graphql-js's order, with their descriptions. */
static const struct {
    const char *name;
    enum gm_gql_scalar scalar;
    const char *description;
} builtin_scalars[] = {
    {"String", GM_GQL_SC_STRING, "Text as UTF-8 characters."},
    {"Int", GM_GQL_SC_INT, "A signed 32-bit integer."},
    {"Float", GM_GQL_SC_FLOAT, "A signed double-precision floating-point number."},
    {"Boolean", GM_GQL_SC_BOOLEAN, "`true` or `false`."},
    {"ID", GM_GQL_SC_ID, "A unique identifier, serialised as a string; accepts ints as input."},
};
#define N_BUILTIN_SCALARS (sizeof builtin_scalars / sizeof builtin_scalars[0])

const char *
gm_gql_dloc_name(unsigned bit)
{
    for (int i = 0; i < GM_GQL_DLOC_COUNT; i++)
        if (bit == (1u << i))
            return gm_gql_dloc_names[i];
    return NULL;
}

/* The builder's working state. */
struct build {
    struct gm_gql_schema *s;
    struct gm_err *err;
    /* Every defined type, in definition order (built-ins, then the SDL). */
    struct gm_gql_stype **defs;
    size_t n_defs, cap_defs;
    size_t first_sdl;                          /* index of the SDL's first type in defs */
    const struct gm_gql_definition **def_node; /* the AST node of each defs[i]; NULL for scalars */
    struct gm_gql_sdirective **dirs;
    size_t n_dirs, cap_dirs;
};

static void *
xalloc(struct build *b, size_t n)
{
    void *p = gm_arena_alloc(&b->s->arena, n ? n : 1);
    if (!p)
        abort(); /* the schema arena has no budget: this is out of memory */
    return p;
}

static char *
xstrndup(struct build *b, const char *s, size_t n)
{
    char *p = gm_arena_strndup(&b->s->arena, s, n);
    if (!p)
        abort();
    return p;
}

static int fail(struct build *b, struct gm_gql_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct build *b, struct gm_gql_loc loc, const char *fmt, ...)
{
    char msg[GM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gm_err_setpos(b->err, GM_EINVAL, loc.line, loc.column, "%s", msg);
}

static struct gm_gql_stype *
find_def(const struct build *b, const char *name)
{
    for (size_t i = 0; i < b->n_defs; i++)
        if (strcmp(b->defs[i]->name, name) == 0)
            return b->defs[i];
    return NULL;
}

static void
add_def(struct build *b, struct gm_gql_stype *t, const struct gm_gql_definition *node)
{
    if (b->n_defs == b->cap_defs) {
        b->cap_defs = b->cap_defs ? 2 * b->cap_defs : 64;
        b->defs = realloc(b->defs, b->cap_defs * sizeof(*b->defs));
        b->def_node = realloc(b->def_node, b->cap_defs * sizeof(*b->def_node));
        if (!b->defs || !b->def_node)
            abort();
    }
    b->def_node[b->n_defs] = node;
    b->defs[b->n_defs++] = t;
}

static const char *
desc_of(struct build *b, const char *d, size_t len)
{
    return d ? xstrndup(b, d, len) : NULL;
}

/*
 * The deprecation reason of an element from its directives: NULL when not
 * deprecated, the reason (or the default) otherwise.
 */
static int
deprecation_of(struct build *b, const struct gm_gql_directive *dirs, const char **out)
{
    *out = NULL;
    for (const struct gm_gql_directive *d = dirs; d; d = d->next) {
        if (strcmp(d->name, "deprecated") != 0)
            continue;
        const char *reason = "No longer supported";
        for (const struct gm_gql_argument *a = d->args; a; a = a->next) {
            if (strcmp(a->name, "reason") != 0)
                return fail(b, a->loc, "Unknown argument \"%s\" on directive \"@deprecated\".",
                            a->name);
            if (a->value->kind != GM_GQL_VALUE_STRING)
                return fail(b, a->value->loc, "@deprecated(reason:) must be a string.");
            reason = xstrndup(b, a->value->str, a->value->len);
        }
        *out = reason;
    }
    return 0;
}

/* Checks that every directive on an SDL element is known and allowed there. */
static int
check_directives(struct build *b, const struct gm_gql_directive *dirs, unsigned where)
{
    for (const struct gm_gql_directive *d = dirs; d; d = d->next) {
        const struct gm_gql_sdirective *sd = NULL;
        for (size_t i = 0; i < b->n_dirs; i++)
            if (strcmp(b->dirs[i]->name, d->name) == 0)
                sd = b->dirs[i];
        if (!sd)
            return fail(b, d->loc, "Unknown directive \"@%s\".", d->name);
        if (!(sd->locations & where))
            return fail(b, d->loc, "Directive \"@%s\" may not be used on %s.", d->name,
                        gm_gql_dloc_name(where));
        if (!sd->repeatable)
            for (const struct gm_gql_directive *o = d->next; o; o = o->next)
                if (strcmp(o->name, d->name) == 0)
                    return fail(b, o->loc,
                                "The directive \"@%s\" can only be used once at this location.",
                                d->name);
    }
    return 0;
}

static int
resolve_tref(struct build *b, const struct gm_gql_type *t, struct gm_gql_tref **out)
{
    struct gm_gql_tref *r = xalloc(b, sizeof(*r));
    r->kind = t->kind;
    if (t->kind == GM_GQL_TYPE_NAMED) {
        r->named = find_def(b, t->name);
        if (!r->named)
            return fail(b, t->loc, "Unknown type \"%s\".", t->name);
    } else {
        int rc = resolve_tref(b, t->of, &r->of);
        if (rc < 0)
            return rc;
    }
    *out = r;
    return 0;
}

/* Arguments or input fields from their definitions; checks input types and defaults. */
static int
build_args(struct build *b, const struct gm_gql_input_value_def *defs, const char *owner,
           unsigned dloc, bool user, struct gm_gql_sarg **out, size_t *n_out)
{
    size_t n = 0;
    for (const struct gm_gql_input_value_def *d = defs; d; d = d->next)
        n++;
    struct gm_gql_sarg *args = xalloc(b, n * sizeof(*args));
    size_t i = 0;
    int rc;
    for (const struct gm_gql_input_value_def *d = defs; d; d = d->next, i++) {
        struct gm_gql_sarg *a = &args[i];
        if (user && strncmp(d->name, "__", 2) == 0)
            return fail(b, d->loc, "Name \"%s\" must not begin with \"__\".", d->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(args[j].name, d->name) == 0)
                return fail(b, d->loc, "Argument \"%s.%s\" can only be defined once.", owner,
                            d->name);
        a->name = xstrndup(b, d->name, strlen(d->name));
        a->description = desc_of(b, d->description, d->description_len);
        if ((rc = resolve_tref(b, d->type, &a->type)) < 0)
            return rc;
        if (!gm_gql_tref_is_input(a->type))
            return fail(b, d->type->loc, "The type of \"%s.%s\" must be Input Type but got: %s.",
                        owner, d->name, gm_gql_tref_named(a->type)->name);
        if (user && (rc = check_directives(b, d->directives, dloc)) < 0)
            return rc;
        if ((rc = deprecation_of(b, d->directives, &a->deprecation)) < 0)
            return rc;
        if (a->deprecation && a->type->kind == GM_GQL_TYPE_NON_NULL && !d->default_value)
            return fail(b, d->loc, "Required argument \"%s.%s\" cannot be deprecated.", owner,
                        d->name);
        a->default_value = d->default_value; /* checked once every type is complete */
    }
    *out = args;
    *n_out = n;
    return 0;
}

static int
build_fields(struct build *b, struct gm_gql_stype *t, const struct gm_gql_definition *td, bool user)
{
    const struct gm_gql_field_def *defs = td->fields;
    size_t n = 0;
    for (const struct gm_gql_field_def *d = defs; d; d = d->next)
        n++;
    if (n == 0)
        return fail(b, td->loc, "Type %s must define one or more fields.", t->name);
    t->fields = xalloc(b, n * sizeof(*t->fields));
    t->n_fields = n;
    size_t i = 0;
    int rc;
    for (const struct gm_gql_field_def *d = defs; d; d = d->next, i++) {
        struct gm_gql_sfield *f = &t->fields[i];
        if (user && strncmp(d->name, "__", 2) == 0)
            return fail(b, d->loc, "Name \"%s.%s\" must not begin with \"__\".", t->name, d->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->fields[j].name, d->name) == 0)
                return fail(b, d->loc, "Field \"%s.%s\" can only be defined once.", t->name,
                            d->name);
        f->name = xstrndup(b, d->name, strlen(d->name));
        f->description = desc_of(b, d->description, d->description_len);
        f->owner = t;
        f->index = (int)i;
        if ((rc = resolve_tref(b, d->type, &f->type)) < 0)
            return rc;
        if (!gm_gql_tref_is_output(f->type))
            return fail(b, d->type->loc, "The type of \"%s.%s\" must be Output Type but got: %s.",
                        t->name, d->name, gm_gql_tref_named(f->type)->name);
        char owner[256];
        snprintf(owner, sizeof(owner), "%s.%s", t->name, d->name);
        if ((rc = build_args(b, d->args, owner, GM_GQL_DLOC_ARGUMENT_DEFINITION, user, &f->args,
                             &f->n_args)) < 0)
            return rc;
        if (user && (rc = check_directives(b, d->directives, GM_GQL_DLOC_FIELD_DEFINITION)) < 0)
            return rc;
        if ((rc = deprecation_of(b, d->directives, &f->deprecation)) < 0)
            return rc;
    }
    return 0;
}

static int
build_interfaces(struct build *b, struct gm_gql_stype *t, const struct gm_gql_name_ref *refs)
{
    size_t n = 0;
    for (const struct gm_gql_name_ref *r = refs; r; r = r->next)
        n++;
    t->interfaces = xalloc(b, n * sizeof(*t->interfaces));
    size_t i = 0;
    for (const struct gm_gql_name_ref *r = refs; r; r = r->next) {
        struct gm_gql_stype *it = find_def(b, r->name);
        if (!it)
            return fail(b, r->loc, "Unknown type \"%s\".", r->name);
        if (it->kind != GM_GQL_INTERFACE)
            return fail(b, r->loc,
                        "Type %s must only implement Interface types, it cannot implement %s.",
                        t->name, it->name);
        if (it == t)
            return fail(b, r->loc, "Type %s cannot implement itself.", t->name);
        for (size_t j = 0; j < i; j++)
            if (t->interfaces[j] == it)
                return fail(b, r->loc, "Type %s can only implement %s once.", t->name, it->name);
        t->interfaces[i++] = it;
    }
    t->n_interfaces = n;
    return 0;
}

static int
build_type(struct build *b, struct gm_gql_stype *t, const struct gm_gql_definition *d, bool user)
{
    int rc;
    switch (d->kind) {
    case GM_GQL_DEF_SCALAR:
        if (user && (rc = check_directives(b, d->directives, GM_GQL_DLOC_SCALAR)) < 0)
            return rc;
        for (const struct gm_gql_directive *dir = d->directives; dir; dir = dir->next) {
            if (strcmp(dir->name, "specifiedBy") != 0)
                continue;
            const struct gm_gql_argument *a = dir->args;
            if (!a || strcmp(a->name, "url") != 0 || a->value->kind != GM_GQL_VALUE_STRING ||
                a->next)
                return fail(b, dir->loc, "@specifiedBy needs exactly one string argument url.");
            t->specified_by = xstrndup(b, a->value->str, a->value->len);
        }
        return 0;
    case GM_GQL_DEF_OBJECT:
    case GM_GQL_DEF_INTERFACE:
        if (user &&
            (rc = check_directives(b, d->directives,
                                   d->kind == GM_GQL_DEF_OBJECT ? GM_GQL_DLOC_OBJECT
                                                                : GM_GQL_DLOC_INTERFACE)) < 0)
            return rc;
        if ((rc = build_interfaces(b, t, d->interfaces)) < 0)
            return rc;
        return build_fields(b, t, d, user);
    case GM_GQL_DEF_UNION: {
        if (user && (rc = check_directives(b, d->directives, GM_GQL_DLOC_UNION)) < 0)
            return rc;
        size_t n = 0;
        for (const struct gm_gql_name_ref *r = d->members; r; r = r->next)
            n++;
        if (n == 0)
            return fail(b, d->loc, "Union type %s must define one or more member types.", t->name);
        t->possible = xalloc(b, n * sizeof(*t->possible));
        for (const struct gm_gql_name_ref *r = d->members; r; r = r->next) {
            struct gm_gql_stype *m = find_def(b, r->name);
            if (!m)
                return fail(b, r->loc, "Unknown type \"%s\".", r->name);
            if (m->kind != GM_GQL_OBJECT)
                return fail(b, r->loc,
                            "Union type %s can only include Object types, it cannot include %s.",
                            t->name, m->name);
            for (size_t j = 0; j < t->n_possible; j++)
                if (t->possible[j] == m)
                    return fail(b, r->loc, "Union type %s can only include type %s once.", t->name,
                                m->name);
            t->possible[t->n_possible++] = m;
        }
        return 0;
    }
    case GM_GQL_DEF_ENUM: {
        if (user && (rc = check_directives(b, d->directives, GM_GQL_DLOC_ENUM)) < 0)
            return rc;
        size_t n = 0;
        for (const struct gm_gql_enum_value_def *v = d->values; v; v = v->next)
            n++;
        if (n == 0)
            return fail(b, d->loc, "Enum type %s must define one or more values.", t->name);
        t->values = xalloc(b, n * sizeof(*t->values));
        for (const struct gm_gql_enum_value_def *v = d->values; v; v = v->next) {
            for (size_t j = 0; j < t->n_values; j++)
                if (strcmp(t->values[j].name, v->name) == 0)
                    return fail(b, v->loc, "Enum value \"%s.%s\" can only be defined once.",
                                t->name, v->name);
            if (user && strncmp(v->name, "__", 2) == 0)
                return fail(b, v->loc, "Name \"%s\" must not begin with \"__\".", v->name);
            if (user && (rc = check_directives(b, v->directives, GM_GQL_DLOC_ENUM_VALUE)) < 0)
                return rc;
            struct gm_gql_senum_value *ev = &t->values[t->n_values++];
            ev->name = xstrndup(b, v->name, strlen(v->name));
            ev->description = desc_of(b, v->description, v->description_len);
            if ((rc = deprecation_of(b, v->directives, &ev->deprecation)) < 0)
                return rc;
        }
        return 0;
    }
    case GM_GQL_DEF_INPUT_OBJECT:
        if (user && (rc = check_directives(b, d->directives, GM_GQL_DLOC_INPUT_OBJECT)) < 0)
            return rc;
        if (!d->input_fields)
            return fail(b, d->loc, "Input Object type %s must define one or more fields.", t->name);
        return build_args(b, d->input_fields, t->name, GM_GQL_DLOC_INPUT_FIELD_DEFINITION, user,
                          &t->input_fields, &t->n_input_fields);
    default:
        return fail(b, d->loc, "Not a type definition.");
    }
}

static int
build_directive(struct build *b, const struct gm_gql_definition *d, bool user)
{
    for (size_t i = 0; i < b->n_dirs; i++)
        if (strcmp(b->dirs[i]->name, d->name) == 0)
            return fail(b, d->loc, "There can be only one directive named \"@%s\".", d->name);
    if (user && strncmp(d->name, "__", 2) == 0)
        return fail(b, d->loc, "Name \"%s\" must not begin with \"__\".", d->name);
    struct gm_gql_sdirective *sd = xalloc(b, sizeof(*sd));
    sd->name = xstrndup(b, d->name, strlen(d->name));
    sd->description = desc_of(b, d->description, d->description_len);
    sd->repeatable = d->repeatable;
    for (const struct gm_gql_name_ref *l = d->locations; l; l = l->next)
        for (int i = 0; i < GM_GQL_DLOC_COUNT; i++)
            if (strcmp(l->name, gm_gql_dloc_names[i]) == 0)
                sd->locations |= 1u << i;
    char owner[256];
    snprintf(owner, sizeof(owner), "@%s", d->name);
    int rc = build_args(b, d->args, owner, GM_GQL_DLOC_ARGUMENT_DEFINITION, user, &sd->args,
                        &sd->n_args);
    if (rc < 0)
        return rc;
    if (b->n_dirs == b->cap_dirs) {
        b->cap_dirs = b->cap_dirs ? 2 * b->cap_dirs : 16;
        b->dirs = realloc(b->dirs, b->cap_dirs * sizeof(*b->dirs));
        if (!b->dirs)
            abort();
    }
    b->dirs[b->n_dirs++] = sd;
    return 0;
}

/* The spec's IsValidImplementationFieldType (covariant output types). */
static bool
valid_impl_type(const struct gm_gql_tref *field, const struct gm_gql_tref *iface)
{
    if (field->kind == GM_GQL_TYPE_NON_NULL) {
        const struct gm_gql_tref *it = iface->kind == GM_GQL_TYPE_NON_NULL ? iface->of : iface;
        return valid_impl_type(field->of, it);
    }
    if (iface->kind == GM_GQL_TYPE_NON_NULL)
        return false;
    if (field->kind == GM_GQL_TYPE_LIST)
        return iface->kind == GM_GQL_TYPE_LIST && valid_impl_type(field->of, iface->of);
    if (iface->kind == GM_GQL_TYPE_LIST)
        return false;
    if (field->named == iface->named)
        return true;
    return gm_gql_type_is_abstract(iface->named) &&
           gm_gql_type_is_possible(iface->named, field->named);
}

static int
check_implementations(struct build *b, struct gm_gql_stype *t, struct gm_gql_loc loc)
{
    for (size_t i = 0; i < t->n_interfaces; i++) {
        const struct gm_gql_stype *it = t->interfaces[i];
        /* Interfaces the interface implements must be implemented too. */
        for (size_t k = 0; k < it->n_interfaces; k++) {
            bool found = false;
            for (size_t j = 0; j < t->n_interfaces; j++)
                found = found || t->interfaces[j] == it->interfaces[k];
            if (!found)
                return fail(b, loc, "Type %s must implement %s because it is implemented by %s.",
                            t->name, it->interfaces[k]->name, it->name);
        }
        for (size_t k = 0; k < it->n_fields; k++) {
            const struct gm_gql_sfield *iff = &it->fields[k];
            const struct gm_gql_sfield *f = NULL;
            for (size_t j = 0; j < t->n_fields; j++)
                if (strcmp(t->fields[j].name, iff->name) == 0)
                    f = &t->fields[j];
            char want[128], got[128];
            if (!f)
                return fail(b, loc, "Interface field %s.%s expected but %s does not provide it.",
                            it->name, iff->name, t->name);
            if (!valid_impl_type(f->type, iff->type))
                return fail(b, loc, "Interface field %s.%s expects type %s but %s.%s is type %s.",
                            it->name, iff->name, gm_gql_tref_str(iff->type, want, sizeof(want)),
                            t->name, f->name, gm_gql_tref_str(f->type, got, sizeof(got)));
            for (size_t a = 0; a < iff->n_args; a++) {
                const struct gm_gql_sarg *fa = gm_gql_field_arg(f, iff->args[a].name);
                if (!fa)
                    return fail(b, loc,
                                "Interface field argument %s.%s(%s:) expected but %s.%s does "
                                "not provide it.",
                                it->name, iff->name, iff->args[a].name, t->name, f->name);
                if (!gm_gql_tref_equal(fa->type, iff->args[a].type))
                    return fail(b, loc,
                                "Interface field argument %s.%s(%s:) expects type %s but "
                                "%s.%s(%s:) is type %s.",
                                it->name, iff->name, iff->args[a].name,
                                gm_gql_tref_str(iff->args[a].type, want, sizeof(want)), t->name,
                                f->name, fa->name, gm_gql_tref_str(fa->type, got, sizeof(got)));
            }
            for (size_t a = 0; a < f->n_args; a++)
                if (f->args[a].type->kind == GM_GQL_TYPE_NON_NULL && !f->args[a].default_value &&
                    !gm_gql_field_arg(iff, f->args[a].name))
                    return fail(b, loc,
                                "Object field %s.%s includes required argument %s that is "
                                "missing from the Interface field %s.%s.",
                                t->name, f->name, f->args[a].name, it->name, iff->name);
        }
    }
    return 0;
}

static int
check_defaults(struct build *b, const struct gm_gql_sarg *args, size_t n, const char *owner,
               struct gm_gql_loc loc)
{
    for (size_t i = 0; i < n; i++) {
        char msg[256];
        if (args[i].default_value &&
            !gm_gql_literal_fits(b->s, args[i].default_value, args[i].type, msg, sizeof(msg)))
            return fail(b, args[i].default_value ? args[i].default_value->loc : loc,
                        "Default value of %s(%s:) is invalid: %s", owner, args[i].name, msg);
        if (args[i].default_value && args[i].default_value->kind == GM_GQL_VALUE_VARIABLE)
            return fail(b, args[i].default_value->loc, "Default values must be constant.");
    }
    return 0;
}

/* graphql-js's collectReferencedTypes: depth first, fields then arguments. */
static void
collect(struct build *b, struct gm_gql_stype *t, struct gm_gql_stype **set, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if (set[i] == t)
            return;
    set[(*n)++] = t;
    if (t->kind == GM_GQL_UNION) {
        for (size_t i = 0; i < t->n_possible; i++)
            collect(b, t->possible[i], set, n);
    } else if (t->kind == GM_GQL_OBJECT || t->kind == GM_GQL_INTERFACE) {
        for (size_t i = 0; i < t->n_interfaces; i++)
            collect(b, t->interfaces[i], set, n);
        for (size_t i = 0; i < t->n_fields; i++) {
            collect(b, gm_gql_tref_named(t->fields[i].type), set, n);
            for (size_t a = 0; a < t->fields[i].n_args; a++)
                collect(b, gm_gql_tref_named(t->fields[i].args[a].type), set, n);
        }
    } else if (t->kind == GM_GQL_INPUT_OBJECT) {
        for (size_t i = 0; i < t->n_input_fields; i++)
            collect(b, gm_gql_tref_named(t->input_fields[i].type), set, n);
    }
}

static int
cmp_type_name(const void *x, const void *y)
{
    const struct gm_gql_stype *a = *(struct gm_gql_stype *const *)x;
    const struct gm_gql_stype *b = *(struct gm_gql_stype *const *)y;
    return strcmp(a->name, b->name);
}

/*
 * The schema's types in graphql-js order. graphql-js starts from a set of
 * the SDL's types and, for each in turn, removes it and collects it again:
 * each SDL type moves to the end followed by the not yet seen types it
 * references (only built-ins can be unseen). Then the roots, the
 * directives' argument types and __Schema.
 */
/* FNV-1a over a NUL-terminated name. */
static size_t
name_hash(const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

static void
order_types(struct build *b)
{
    struct gm_gql_schema *s = b->s;
    size_t cap = b->n_defs;
    struct gm_gql_stype **set = xalloc(b, cap * sizeof(*set));
    size_t n = 0;
    for (size_t i = b->first_sdl; i < b->n_defs; i++)
        set[n++] = b->defs[i];
    for (size_t i = b->first_sdl; i < b->n_defs; i++) {
        struct gm_gql_stype *t = b->defs[i];
        size_t at = 0;
        while (set[at] != t)
            at++;
        memmove(&set[at], &set[at + 1], (n - at - 1) * sizeof(*set));
        n--;
        collect(b, t, set, &n);
    }
    collect(b, s->query, set, &n);
    if (s->mutation)
        collect(b, s->mutation, set, &n);
    if (s->subscription)
        collect(b, s->subscription, set, &n);
    for (size_t i = 0; i < b->n_dirs; i++)
        for (size_t a = 0; a < b->dirs[i]->n_args; a++)
            collect(b, gm_gql_tref_named(b->dirs[i]->args[a].type), set, &n);
    collect(b, find_def(b, "__Schema"), set, &n);
    s->types_ordered = set;
    s->n_types = n;
    s->types = xalloc(b, n * sizeof(*s->types));
    memcpy(s->types, set, n * sizeof(*set));
    qsort(s->types, n, sizeof(*s->types), cmp_type_name);
    /* A hash index for gm_gql_schema_type, at most half full. */
    size_t slots = 16;
    while (slots < 2 * n)
        slots *= 2;
    s->type_index = xalloc(b, slots * sizeof(*s->type_index));
    s->type_mask = slots - 1;
    for (size_t i = 0; i < n; i++) {
        size_t at = name_hash(s->types[i]->name) & s->type_mask;
        while (s->type_index[at])
            at = (at + 1) & s->type_mask;
        s->type_index[at] = s->types[i];
    }
}

static struct gm_gql_sfield *
make_meta_field(struct build *b, const char *name, const char *type_sdl_name, bool non_null,
                const char *desc)
{
    struct gm_gql_sfield *f = xalloc(b, sizeof(*f));
    f->name = name;
    f->description = desc;
    struct gm_gql_tref *named = xalloc(b, sizeof(*named));
    named->kind = GM_GQL_TYPE_NAMED;
    named->named = find_def(b, type_sdl_name);
    if (non_null) {
        f->type = xalloc(b, sizeof(*f->type));
        f->type->kind = GM_GQL_TYPE_NON_NULL;
        f->type->of = named;
    } else {
        f->type = named;
    }
    f->index = -1;
    return f;
}

static void
make_meta_fields(struct build *b)
{
    struct gm_gql_schema *s = b->s;
    s->typename_field = make_meta_field(b, "__typename", "String", true,
                                        "The name of the current Object type at runtime.");
    s->schema_field = make_meta_field(b, "__schema", "__Schema", true,
                                      "Access the current type schema of this server.");
    s->type_field = make_meta_field(b, "__type", "__Type", false,
                                    "Request the type information of a single type.");
    struct gm_gql_sarg *arg = xalloc(b, sizeof(*arg));
    arg->name = "name";
    struct gm_gql_tref *named = xalloc(b, sizeof(*named));
    named->kind = GM_GQL_TYPE_NAMED;
    named->named = find_def(b, "String");
    arg->type = xalloc(b, sizeof(*arg->type));
    arg->type->kind = GM_GQL_TYPE_NON_NULL;
    arg->type->of = named;
    s->type_field->args = arg;
    s->type_field->n_args = 1;
}

static int
parse_into(struct build *b, const char *src, size_t len, struct gm_gql_document **doc)
{
    struct gm_gql_limits lim = {
        .max_bytes = SDL_MAX_BYTES, .max_tokens = SDL_MAX_TOKENS, .max_depth = 0};
    return gm_gql_parse(src, len, &lim, &b->s->arena, doc, b->err);
}

static int
add_types_of(struct build *b, const struct gm_gql_document *doc, bool user)
{
    for (const struct gm_gql_definition *d = doc->definitions; d; d = d->next) {
        switch (d->kind) {
        case GM_GQL_DEF_OPERATION:
        case GM_GQL_DEF_FRAGMENT:
            return fail(b, d->loc, "A schema file holds type definitions only, found %s.",
                        d->kind == GM_GQL_DEF_FRAGMENT ? "a fragment" : "an operation");
        case GM_GQL_DEF_SCHEMA:
        case GM_GQL_DEF_DIRECTIVE:
            continue;
        default:
            break;
        }
        if (find_def(b, d->name))
            return fail(b, d->loc, "There can be only one type named \"%s\".", d->name);
        if (user && strncmp(d->name, "__", 2) == 0)
            return fail(b, d->loc,
                        "Name \"%s\" must not begin with \"__\", which is reserved by GraphQL "
                        "introspection.",
                        d->name);
        struct gm_gql_stype *t = xalloc(b, sizeof(*t));
        t->name = xstrndup(b, d->name, strlen(d->name));
        t->description = desc_of(b, d->description, d->description_len);
        t->introspection = !user;
        switch (d->kind) {
        case GM_GQL_DEF_SCALAR:
            t->kind = GM_GQL_SCALAR;
            t->scalar = strcmp(d->name, "DateTime") == 0 ? GM_GQL_SC_DATETIME : GM_GQL_SC_CUSTOM;
            break;
        case GM_GQL_DEF_OBJECT:
            t->kind = GM_GQL_OBJECT;
            break;
        case GM_GQL_DEF_INTERFACE:
            t->kind = GM_GQL_INTERFACE;
            break;
        case GM_GQL_DEF_UNION:
            t->kind = GM_GQL_UNION;
            break;
        case GM_GQL_DEF_ENUM:
            t->kind = GM_GQL_ENUM;
            break;
        default:
            t->kind = GM_GQL_INPUT_OBJECT;
            break;
        }
        add_def(b, t, d);
    }
    return 0;
}

static int
build_schema_def(struct build *b, const struct gm_gql_document *doc)
{
    struct gm_gql_schema *s = b->s;
    const struct gm_gql_definition *sd = NULL;
    for (const struct gm_gql_definition *d = doc->definitions; d; d = d->next) {
        if (d->kind != GM_GQL_DEF_SCHEMA)
            continue;
        if (sd)
            return fail(b, d->loc, "Must provide only one schema definition.");
        sd = d;
    }
    if (!sd) {
        s->query = find_def(b, "Query");
        s->mutation = find_def(b, "Mutation");
        s->subscription = find_def(b, "Subscription");
    } else {
        int rc = check_directives(b, sd->directives, GM_GQL_DLOC_SCHEMA);
        if (rc < 0)
            return rc;
        s->description = desc_of(b, sd->description, sd->description_len);
        for (const struct gm_gql_root_type_def *r = sd->root_types; r; r = r->next) {
            struct gm_gql_stype *t = find_def(b, r->type_name);
            if (!t)
                return fail(b, r->loc, "Unknown type \"%s\".", r->type_name);
            struct gm_gql_stype **slot = r->op == GM_GQL_OP_QUERY      ? &s->query
                                         : r->op == GM_GQL_OP_MUTATION ? &s->mutation
                                                                       : &s->subscription;
            if (*slot)
                return fail(b, r->loc, "There can be only one %s type in schema.",
                            gm_gql_op_name(r->op));
            *slot = t;
        }
    }
    struct gm_gql_loc at = sd ? sd->loc : (struct gm_gql_loc){1, 1, 0};
    if (!s->query)
        return fail(b, at, "Query root type must be provided.");
    struct gm_gql_stype *roots[] = {s->query, s->mutation, s->subscription};
    for (int i = 0; i < 3; i++)
        if (roots[i] && roots[i]->kind != GM_GQL_OBJECT)
            return fail(b, at, "%s root type must be Object type, it cannot be %s.",
                        i == 0   ? "Query"
                        : i == 1 ? "Mutation"
                                 : "Subscription",
                        roots[i]->name);
    return 0;
}

int
gm_gql_schema_new(const char *src, size_t len, struct gm_gql_schema **out, struct gm_err *err)
{
    struct build b = {0};
    struct gm_gql_document *bdoc = NULL, *udoc = NULL;
    int rc;
    *out = NULL;
    gm_err_clear(err);
    b.err = err;
    b.s = calloc(1, sizeof(*b.s));
    if (!b.s)
        abort();
    gm_arena_init(&b.s->arena, 0);

    for (size_t i = 0; i < N_BUILTIN_SCALARS; i++) {
        struct gm_gql_stype *t = xalloc(&b, sizeof(*t));
        t->kind = GM_GQL_SCALAR;
        t->name = builtin_scalars[i].name;
        t->scalar = builtin_scalars[i].scalar;
        t->description = builtin_scalars[i].description;
        add_def(&b, t, NULL);
    }
    if ((rc = parse_into(&b, builtin_sdl, sizeof(builtin_sdl) - 1, &bdoc)) < 0 ||
        (rc = add_types_of(&b, bdoc, false)) < 0)
        goto out;
    b.first_sdl = b.n_defs;
    if ((rc = parse_into(&b, src, len, &udoc)) < 0 || (rc = add_types_of(&b, udoc, true)) < 0)
        goto out;

    /*
     * Directives before types: the SDL elements' directives are checked
     * against them. The specified ones are built first, so that the SDL's
     * own directive arguments may carry @deprecated; graphql-js lists the
     * SDL's directives first, so the list is then rotated into that order.
     */
    for (const struct gm_gql_definition *d = bdoc->definitions; d; d = d->next)
        if (d->kind == GM_GQL_DEF_DIRECTIVE && (rc = build_directive(&b, d, false)) < 0)
            goto out;
    size_t n_specified = b.n_dirs;
    for (const struct gm_gql_definition *d = udoc->definitions; d; d = d->next)
        if (d->kind == GM_GQL_DEF_DIRECTIVE && (rc = build_directive(&b, d, true)) < 0)
            goto out;
    if (n_specified > 0 && b.n_dirs > n_specified) {
        struct gm_gql_sdirective **spec = xalloc(&b, n_specified * sizeof(*spec));
        memcpy(spec, b.dirs, n_specified * sizeof(*spec));
        memmove(b.dirs, b.dirs + n_specified, (b.n_dirs - n_specified) * sizeof(*spec));
        memcpy(b.dirs + (b.n_dirs - n_specified), spec, n_specified * sizeof(*spec));
    }
    for (size_t i = N_BUILTIN_SCALARS; i < b.n_defs; i++)
        if ((rc = build_type(&b, b.defs[i], b.def_node[i], i >= b.first_sdl)) < 0)
            goto out;
    if ((rc = build_schema_def(&b, udoc)) < 0)
        goto out;

    /* Interfaces' possible types, in definition order. */
    for (size_t i = 0; i < b.n_defs; i++) {
        struct gm_gql_stype *t = b.defs[i];
        for (size_t k = 0; k < t->n_interfaces; k++) {
            struct gm_gql_stype *it = t->interfaces[k];
            if (t->kind != GM_GQL_OBJECT)
                continue;
            struct gm_gql_stype **p = xalloc(&b, (it->n_possible + 1) * sizeof(*p));
            if (it->n_possible)
                memcpy(p, it->possible, it->n_possible * sizeof(*p));
            p[it->n_possible++] = t;
            it->possible = p;
        }
    }
    for (size_t i = b.first_sdl; i < b.n_defs; i++) {
        struct gm_gql_stype *t = b.defs[i];
        struct gm_gql_loc loc = b.def_node[i]->loc;
        if ((t->kind == GM_GQL_OBJECT || t->kind == GM_GQL_INTERFACE) &&
            (rc = check_implementations(&b, t, loc)) < 0)
            goto out;
    }

    make_meta_fields(&b);
    order_types(&b);
    b.s->n_directives = b.n_dirs;
    b.s->directives = xalloc(&b, b.n_dirs * sizeof(*b.s->directives));
    memcpy(b.s->directives, b.dirs, b.n_dirs * sizeof(*b.dirs));

    /* Defaults last: literal checks need complete input types. */
    for (size_t i = b.first_sdl; i < b.n_defs; i++) {
        struct gm_gql_stype *t = b.defs[i];
        struct gm_gql_loc loc = b.def_node[i]->loc;
        char owner[256];
        for (size_t f = 0; f < t->n_fields; f++) {
            snprintf(owner, sizeof(owner), "%s.%s", t->name, t->fields[f].name);
            if ((rc = check_defaults(&b, t->fields[f].args, t->fields[f].n_args, owner, loc)) < 0)
                goto out;
        }
        if ((rc = check_defaults(&b, t->input_fields, t->n_input_fields, t->name, loc)) < 0)
            goto out;
    }
    rc = 0;
    *out = b.s;
    b.s = NULL;
out:
    free(b.defs);
    free(b.def_node);
    free(b.dirs);
    gm_gql_schema_free(b.s);
    return rc;
}

void
gm_gql_schema_free(struct gm_gql_schema *s)
{
    if (!s)
        return;
    gm_arena_deinit(&s->arena);
    free(s);
}

struct gm_gql_stype *
gm_gql_schema_type(const struct gm_gql_schema *s, const char *name)
{
    for (size_t at = name_hash(name) & s->type_mask; s->type_index[at];
         at = (at + 1) & s->type_mask) {
        const char *n = s->type_index[at]->name;
        if (n[0] == name[0] && strcmp(n, name) == 0)
            return s->type_index[at];
    }
    return NULL;
}

const struct gm_gql_sdirective *
gm_gql_schema_directive(const struct gm_gql_schema *s, const char *name)
{
    for (size_t i = 0; i < s->n_directives; i++)
        if (strcmp(s->directives[i]->name, name) == 0)
            return s->directives[i];
    return NULL;
}

struct gm_gql_sfield *
gm_gql_type_field(const struct gm_gql_schema *s, const struct gm_gql_stype *t, const char *name)
{
    if (name[0] == '_' && name[1] == '_') {
        if (strcmp(name, "__typename") == 0 && gm_gql_type_is_composite(t))
            return s->typename_field;
        if (t == s->query) {
            if (strcmp(name, "__schema") == 0)
                return s->schema_field;
            if (strcmp(name, "__type") == 0)
                return s->type_field;
        }
    }
    if (t->kind != GM_GQL_OBJECT && t->kind != GM_GQL_INTERFACE)
        return NULL;
    /* The first byte settles most mismatches without a call. */
    for (size_t i = 0; i < t->n_fields; i++)
        if (t->fields[i].name[0] == name[0] && strcmp(t->fields[i].name, name) == 0)
            return &t->fields[i];
    return NULL;
}

static const struct gm_gql_sarg *
find_arg(const struct gm_gql_sarg *args, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (args[i].name[0] == name[0] && strcmp(args[i].name, name) == 0)
            return &args[i];
    return NULL;
}

const struct gm_gql_sarg *
gm_gql_field_arg(const struct gm_gql_sfield *f, const char *name)
{
    return find_arg(f->args, f->n_args, name);
}

const struct gm_gql_sarg *
gm_gql_directive_arg(const struct gm_gql_sdirective *d, const char *name)
{
    return find_arg(d->args, d->n_args, name);
}

const struct gm_gql_sarg *
gm_gql_input_field(const struct gm_gql_stype *t, const char *name)
{
    return find_arg(t->input_fields, t->n_input_fields, name);
}

const struct gm_gql_senum_value *
gm_gql_enum_value(const struct gm_gql_stype *t, const char *name)
{
    for (size_t i = 0; i < t->n_values; i++)
        if (strcmp(t->values[i].name, name) == 0)
            return &t->values[i];
    return NULL;
}

struct gm_gql_stype *
gm_gql_tref_named(const struct gm_gql_tref *r)
{
    while (r->kind != GM_GQL_TYPE_NAMED)
        r = r->of;
    return r->named;
}

bool
gm_gql_tref_is_input(const struct gm_gql_tref *r)
{
    enum gm_gql_tkind k = gm_gql_tref_named(r)->kind;
    return k == GM_GQL_SCALAR || k == GM_GQL_ENUM || k == GM_GQL_INPUT_OBJECT;
}

bool
gm_gql_tref_is_output(const struct gm_gql_tref *r)
{
    return gm_gql_tref_named(r)->kind != GM_GQL_INPUT_OBJECT;
}

bool
gm_gql_type_is_leaf(const struct gm_gql_stype *t)
{
    return t->kind == GM_GQL_SCALAR || t->kind == GM_GQL_ENUM;
}

bool
gm_gql_type_is_composite(const struct gm_gql_stype *t)
{
    return t->kind == GM_GQL_OBJECT || t->kind == GM_GQL_INTERFACE || t->kind == GM_GQL_UNION;
}

bool
gm_gql_type_is_abstract(const struct gm_gql_stype *t)
{
    return t->kind == GM_GQL_INTERFACE || t->kind == GM_GQL_UNION;
}

bool
gm_gql_type_is_possible(const struct gm_gql_stype *t, const struct gm_gql_stype *obj)
{
    if (t == obj)
        return true;
    for (size_t i = 0; i < t->n_possible; i++)
        if (t->possible[i] == obj)
            return true;
    return false;
}

bool
gm_gql_types_overlap(const struct gm_gql_stype *a, const struct gm_gql_stype *b)
{
    if (a == b)
        return true;
    if (gm_gql_type_is_abstract(a)) {
        if (gm_gql_type_is_abstract(b)) {
            for (size_t i = 0; i < a->n_possible; i++)
                if (gm_gql_type_is_possible(b, a->possible[i]))
                    return true;
            return false;
        }
        return gm_gql_type_is_possible(a, b);
    }
    if (gm_gql_type_is_abstract(b))
        return gm_gql_type_is_possible(b, a);
    return false;
}

bool
gm_gql_tref_is_subtype(const struct gm_gql_tref *var, const struct gm_gql_tref *loc)
{
    if (loc->kind == GM_GQL_TYPE_NON_NULL) {
        if (var->kind != GM_GQL_TYPE_NON_NULL)
            return false;
        return gm_gql_tref_is_subtype(var->of, loc->of);
    }
    if (var->kind == GM_GQL_TYPE_NON_NULL)
        return gm_gql_tref_is_subtype(var->of, loc);
    if (loc->kind == GM_GQL_TYPE_LIST) {
        if (var->kind != GM_GQL_TYPE_LIST)
            return false;
        return gm_gql_tref_is_subtype(var->of, loc->of);
    }
    if (var->kind == GM_GQL_TYPE_LIST)
        return false;
    return var->named == loc->named;
}

bool
gm_gql_tref_equal(const struct gm_gql_tref *a, const struct gm_gql_tref *b)
{
    while (a->kind == b->kind && a->kind != GM_GQL_TYPE_NAMED) {
        a = a->of;
        b = b->of;
    }
    return a->kind == b->kind && a->named == b->named;
}

static size_t
tref_print(const struct gm_gql_tref *r, char *buf, size_t n, size_t at)
{
    const char *pre = "", *post = "";
    if (r->kind == GM_GQL_TYPE_NAMED) {
        int w = snprintf(buf + at, at < n ? n - at : 0, "%s", r->named->name);
        return at + (size_t)(w > 0 ? w : 0);
    }
    if (r->kind == GM_GQL_TYPE_LIST) {
        pre = "[";
        post = "]";
    } else {
        post = "!";
    }
    int w = snprintf(buf + at, at < n ? n - at : 0, "%s", pre);
    at += (size_t)(w > 0 ? w : 0);
    at = tref_print(r->of, buf, n, at);
    w = snprintf(buf + at, at < n ? n - at : 0, "%s", post);
    return at + (size_t)(w > 0 ? w : 0);
}

char *
gm_gql_tref_str(const struct gm_gql_tref *r, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    buf[0] = '\0';
    size_t at = tref_print(r, buf, n, 0);
    if (at >= n)
        buf[n - 1] = '\0';
    return buf;
}

struct gm_gql_tref *
gm_gql_tref_resolve(const struct gm_gql_schema *s, const struct gm_gql_type *t, struct gm_arena *a)
{
    struct gm_gql_tref *r = gm_arena_alloc(a, sizeof(*r));
    if (!r)
        return NULL;
    r->kind = t->kind;
    if (t->kind == GM_GQL_TYPE_NAMED) {
        r->named = gm_gql_schema_type(s, t->name);
        return r->named ? r : NULL;
    }
    r->of = gm_gql_tref_resolve(s, t->of, a);
    return r->of ? r : NULL;
}

int
gm_gql_schema_bind(struct gm_gql_schema *s, const char *coord, gm_gql_resolve_fn fn, void *data,
                   struct gm_err *err)
{
    const char *dot = strchr(coord, '.');
    if (!dot || dot == coord || !dot[1])
        return gm_err_set(err, GM_ENOTFOUND, "resolver coordinate \"%s\" is not Type.field", coord);
    char tname[256];
    size_t tl = (size_t)(dot - coord);
    if (tl >= sizeof(tname))
        return gm_err_set(err, GM_ENOTFOUND, "resolver coordinate \"%s\": no such type", coord);
    memcpy(tname, coord, tl);
    tname[tl] = '\0';
    struct gm_gql_stype *t = gm_gql_schema_type(s, tname);
    if (!t || t->kind != GM_GQL_OBJECT || t->introspection)
        return gm_err_set(err, GM_ENOTFOUND, "resolver coordinate \"%s\": no object type %s", coord,
                          tname);
    for (size_t i = 0; i < t->n_fields; i++) {
        if (strcmp(t->fields[i].name, dot + 1) == 0) {
            t->fields[i].resolve = fn;
            t->fields[i].resolve_data = data;
            return 0;
        }
    }
    return gm_err_set(err, GM_ENOTFOUND, "resolver coordinate \"%s\": %s has no field %s", coord,
                      tname, dot + 1);
}

int
gm_gql_schema_check(const struct gm_gql_schema *s, struct gm_err *err)
{
    size_t unbound = 0;
    const struct gm_gql_sfield *first = NULL;
    for (size_t i = 0; i < s->n_types; i++) {
        const struct gm_gql_stype *t = s->types_ordered[i];
        if (t->kind != GM_GQL_OBJECT || t->introspection)
            continue;
        for (size_t f = 0; f < t->n_fields; f++) {
            if (t->fields[f].resolve)
                continue;
            if (!first)
                first = &t->fields[f];
            unbound++;
        }
    }
    if (!unbound)
        return 0;
    return gm_err_set(err, GM_EINVAL, "no resolver for %s.%s (%zu field%s without a resolver)",
                      first->owner->name, first->name, unbound, unbound == 1 ? "" : "s");
}
