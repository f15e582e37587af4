/*
 * schema.h: the runtime GraphQL schema, built from SDL.
 *
 * gm_gql_schema_new reads SDL text (api/schema.graphql) into the model
 * below, adds what every GraphQL schema has (the built-in scalars Int,
 * Float, String, Boolean and ID, the directives @skip, @include,
 * @deprecated and @specifiedBy, and the introspection types __Schema,
 * __Type, __Field, __InputValue, __EnumValue, __Directive, __TypeKind and
 * __DirectiveLocation) and checks it against the specification's type
 * system rules. The validator and the executor walk this model; nothing
 * else of the SDL document is kept.
 *
 * Resolvers bind to "Type.field" coordinates. Every field of every object
 * type outside introspection must have one before the schema serves
 * requests (gm_gql_schema_check): a field without a resolver is a start-up
 * error, not a null at run time. Introspection fields are answered by the
 * executor itself.
 *
 * Memory: a schema owns one arena holding every name, description, type and
 * default value; gm_gql_schema_free releases it. A checked schema is
 * read-only and may be shared by threads.
 */
#ifndef GM_GQL_SCHEMA_H
#define GM_GQL_SCHEMA_H

#include "arena.h"
#include "ast.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>

enum gm_gql_tkind {
    GM_GQL_SCALAR,
    GM_GQL_OBJECT,
    GM_GQL_INTERFACE,
    GM_GQL_UNION,
    GM_GQL_ENUM,
    GM_GQL_INPUT_OBJECT,
};

/* Which scalar a SCALAR type is; CUSTOM for one the SDL declares. */
enum gm_gql_scalar {
    GM_GQL_SC_CUSTOM,
    GM_GQL_SC_INT,
    GM_GQL_SC_FLOAT,
    GM_GQL_SC_STRING,
    GM_GQL_SC_BOOLEAN,
    GM_GQL_SC_ID,
    GM_GQL_SC_DATETIME, /* the SDL's `scalar DateTime`: RFC 3339 UTC text */
};

struct gm_gql_stype;
struct gm_gql_rctx;
struct gm_gql_rval;

/*
 * A type reference resolved against the schema: `[Int!]!` is
 * NON_NULL(LIST(NON_NULL(NAMED Int))) with `named` pointing at Int.
 */
struct gm_gql_tref {
    enum gm_gql_type_kind kind; /* NAMED, LIST, NON_NULL (ast.h) */
    struct gm_gql_stype *named; /* NAMED */
    struct gm_gql_tref *of;     /* LIST, NON_NULL */
};

/* An argument of a field or directive, or a field of an input object. */
struct gm_gql_sarg {
    const char *name;
    const char *description; /* NULL when absent */
    struct gm_gql_tref *type;
    const struct gm_gql_value *default_value; /* NULL when absent; constant */
    const char *deprecation;                  /* the @deprecated reason; NULL when not deprecated */
};

/*
 * A resolver: computes the value of one field for one parent object. It
 * reads the parent, the arguments and the request context from ctx and
 * fills out (execute.h). Returns 0, or a negative code after describing the
 * field error with gm_gql_rctx_error (execute.h).
 */
typedef int (*gm_gql_resolve_fn)(struct gm_gql_rctx *ctx, struct gm_gql_rval *out);

struct gm_gql_sfield {
    const char *name;
    const char *description;
    struct gm_gql_sarg *args; /* n_args, in SDL order */
    size_t n_args;
    struct gm_gql_tref *type;
    const char *deprecation;    /* NULL when not deprecated */
    struct gm_gql_stype *owner; /* the object or interface type declaring it */
    gm_gql_resolve_fn resolve;  /* bound by gm_gql_schema_bind; NULL before */
    void *resolve_data;         /* given to the resolver as ctx->field_data */
    int index;                  /* position in owner->fields */
};

struct gm_gql_senum_value {
    const char *name;
    const char *description;
    const char *deprecation;
};

struct gm_gql_stype {
    enum gm_gql_tkind kind;
    const char *name;
    const char *description;
    bool introspection;           /* one of the __ types */
    enum gm_gql_scalar scalar;    /* SCALAR */
    const char *specified_by;     /* SCALAR: the @specifiedBy url, NULL when absent */
    struct gm_gql_sfield *fields; /* OBJECT, INTERFACE: n_fields in SDL order */
    size_t n_fields;
    struct gm_gql_stype **interfaces; /* OBJECT, INTERFACE: what it implements */
    size_t n_interfaces;
    /*
     * INTERFACE: the object types implementing it; UNION: its members. In
     * SDL order (for an interface, the order the objects are declared).
     */
    struct gm_gql_stype **possible;
    size_t n_possible;
    struct gm_gql_senum_value *values; /* ENUM: n_values in SDL order */
    size_t n_values;
    struct gm_gql_sarg *input_fields; /* INPUT_OBJECT: n_input_fields in SDL order */
    size_t n_input_fields;
};

/* Directive locations, as bits (the names are those of the spec). */
enum gm_gql_dloc {
    GM_GQL_DLOC_QUERY = 1u << 0,
    GM_GQL_DLOC_MUTATION = 1u << 1,
    GM_GQL_DLOC_SUBSCRIPTION = 1u << 2,
    GM_GQL_DLOC_FIELD = 1u << 3,
    GM_GQL_DLOC_FRAGMENT_DEFINITION = 1u << 4,
    GM_GQL_DLOC_FRAGMENT_SPREAD = 1u << 5,
    GM_GQL_DLOC_INLINE_FRAGMENT = 1u << 6,
    GM_GQL_DLOC_VARIABLE_DEFINITION = 1u << 7,
    GM_GQL_DLOC_SCHEMA = 1u << 8,
    GM_GQL_DLOC_SCALAR = 1u << 9,
    GM_GQL_DLOC_OBJECT = 1u << 10,
    GM_GQL_DLOC_FIELD_DEFINITION = 1u << 11,
    GM_GQL_DLOC_ARGUMENT_DEFINITION = 1u << 12,
    GM_GQL_DLOC_INTERFACE = 1u << 13,
    GM_GQL_DLOC_UNION = 1u << 14,
    GM_GQL_DLOC_ENUM = 1u << 15,
    GM_GQL_DLOC_ENUM_VALUE = 1u << 16,
    GM_GQL_DLOC_INPUT_OBJECT = 1u << 17,
    GM_GQL_DLOC_INPUT_FIELD_DEFINITION = 1u << 18,
};
#define GM_GQL_DLOC_COUNT 19

/* The spec's name of one location bit ("FIELD"), or NULL. */
const char *gm_gql_dloc_name(unsigned bit);

struct gm_gql_sdirective {
    const char *name; /* without "@" */
    const char *description;
    struct gm_gql_sarg *args;
    size_t n_args;
    unsigned locations; /* gm_gql_dloc bits */
    bool repeatable;
};

struct gm_gql_schema {
    struct gm_arena arena;
    const char *description;     /* of the `schema { }` definition; NULL when absent */
    struct gm_gql_stype **types; /* every named type, sorted by name */
    size_t n_types;
    struct gm_gql_stype **type_index; /* open addressing by name hash, type_mask + 1 slots */
    size_t type_mask;
    /*
     * The same types in graphql-js's schema order: the SDL's types in
     * document order with the built-in scalars each first references, then
     * the introspection types. __schema.types lists them so, which keeps a
     * client's printSchema() of our introspection equal to the SDL's.
     * Built-in scalars nothing references are not in the schema at all.
     */
    struct gm_gql_stype **types_ordered;
    struct gm_gql_stype *query; /* never NULL */
    struct gm_gql_stype *mutation;
    struct gm_gql_stype *subscription;
    struct gm_gql_sdirective **directives; /* the SDL's first, then the specified ones */
    size_t n_directives;
    /* The introspection entry points, for the executor and the validator. */
    struct gm_gql_sfield *typename_field; /* __typename: String! */
    struct gm_gql_sfield *schema_field;   /* __schema: __Schema! */
    struct gm_gql_sfield *type_field;     /* __type(name: String!): __Type */
};

/*
 * Builds a schema from SDL src[0..len) (borrowed for the call). Checks the
 * type system rules: unique names, known types, input types where inputs
 * go and output types where outputs go, objects implementing their
 * interfaces' fields, a query root of object type, enum values not named
 * true/false/null, default values of their arguments' types, no reserved
 * "__" names. Returns 0 and *out (free with gm_gql_schema_free), or
 * GM_EINVAL / GM_ETOOBIG with err naming the problem and its position.
 */
int gm_gql_schema_new(const char *src, size_t len, struct gm_gql_schema **out, struct gm_err *err);

/* Frees s and everything in it; NULL is fine. */
void gm_gql_schema_free(struct gm_gql_schema *s);

/* The named type, or NULL. */
struct gm_gql_stype *gm_gql_schema_type(const struct gm_gql_schema *s, const char *name);

/* The directive (name without "@"), or NULL. */
const struct gm_gql_sdirective *gm_gql_schema_directive(const struct gm_gql_schema *s,
                                                        const char *name);

/*
 * The field `name` of an object or interface type t, or NULL. For any
 * composite type (unions too) "__typename" finds s->typename_field, and on
 * the query root "__schema" and "__type" find the introspection fields.
 */
struct gm_gql_sfield *gm_gql_type_field(const struct gm_gql_schema *s, const struct gm_gql_stype *t,
                                        const char *name);

/*
 * gm_gql_type_field(s, t, sel->name) for a field selection, through the
 * field that validation remembered on the node when t is the type it was
 * looked up on. Reads the node only, so it is safe on shared documents.
 */
static inline const struct gm_gql_sfield *
gm_gql_sel_field(const struct gm_gql_schema *s, const struct gm_gql_stype *t,
                 const struct gm_gql_selection *sel)
{
    if (sel->memo_type == t)
        return (const struct gm_gql_sfield *)sel->memo_field;
    return gm_gql_type_field(s, t, sel->name);
}

/* The argument `name` of field f, or NULL. Same for directives and input objects. */
const struct gm_gql_sarg *gm_gql_field_arg(const struct gm_gql_sfield *f, const char *name);
const struct gm_gql_sarg *gm_gql_directive_arg(const struct gm_gql_sdirective *d, const char *name);
const struct gm_gql_sarg *gm_gql_input_field(const struct gm_gql_stype *t, const char *name);

/* The enum value `name` of enum type t, or NULL. */
const struct gm_gql_senum_value *gm_gql_enum_value(const struct gm_gql_stype *t, const char *name);

/* Type predicates of the spec (for NAMED refs they look at the named type). */
bool gm_gql_tref_is_input(const struct gm_gql_tref *r);
bool gm_gql_tref_is_output(const struct gm_gql_tref *r);
/* The named type at the bottom of the wrappers. */
struct gm_gql_stype *gm_gql_tref_named(const struct gm_gql_tref *r);
/* SCALAR or ENUM. */
bool gm_gql_type_is_leaf(const struct gm_gql_stype *t);
/* OBJECT, INTERFACE or UNION. */
bool gm_gql_type_is_composite(const struct gm_gql_stype *t);
/* INTERFACE or UNION. */
bool gm_gql_type_is_abstract(const struct gm_gql_stype *t);
/* Whether object type obj is a possible type of abstract (or equal) t. */
bool gm_gql_type_is_possible(const struct gm_gql_stype *t, const struct gm_gql_stype *obj);
/* Whether the two types' possible object types overlap (spec's GetPossibleTypes). */
bool gm_gql_types_overlap(const struct gm_gql_stype *a, const struct gm_gql_stype *b);
/* Spec's AreTypesCompatible for variables: may a value of `var` flow into `loc`? */
bool gm_gql_tref_is_subtype(const struct gm_gql_tref *var, const struct gm_gql_tref *loc);
/* Whether a and b are the same reference (same wrappers, same named type). */
bool gm_gql_tref_equal(const struct gm_gql_tref *a, const struct gm_gql_tref *b);

/*
 * Prints r as GraphQL writes it ("[Int!]!") into buf (size n, NUL-terminated,
 * truncated to fit); returns buf.
 */
char *gm_gql_tref_str(const struct gm_gql_tref *r, char *buf, size_t n);

/*
 * Resolves a type reference of a parsed document (a variable's type)
 * against s, allocating the result in a. Returns NULL when a named type is
 * unknown (the validator reports it) or the arena's budget is spent.
 */
struct gm_gql_tref *gm_gql_tref_resolve(const struct gm_gql_schema *s, const struct gm_gql_type *t,
                                        struct gm_arena *a);

/*
 * Binds fn (and data, passed as ctx->field_data) to the field at coordinate
 * "Type.field". Returns 0, or GM_ENOTFOUND with err naming the coordinate
 * when the type or field does not exist or the type is not an object type.
 */
int gm_gql_schema_bind(struct gm_gql_schema *s, const char *coord, gm_gql_resolve_fn fn, void *data,
                       struct gm_err *err);

/*
 * Checks that every field of every non-introspection object type has a
 * resolver. Returns 0, or GM_EINVAL with err listing the first unbound
 * coordinate and how many are unbound.
 */
int gm_gql_schema_check(const struct gm_gql_schema *s, struct gm_err *err);

#endif
