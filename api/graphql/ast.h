/*
 * ast.h: the GraphQL document model, and the parser and printer over it.
 *
 * A document is what gm_gql_parse builds from GraphQL text: executable
 * definitions (operations, fragments) and the type system definitions our
 * schema file uses (schema, scalar, type, interface, union, enum, input,
 * directive). The validator, the executor and the schema builder all walk
 * this one model.
 *
 * Memory: every node, name and string lives in the arena given to the
 * parser, so a document is freed with its arena; nothing points into the
 * source text, which may be freed once parsing returns.
 *
 * Shape: names are NUL-terminated arena strings (GraphQL names never hold a
 * NUL). String values are (pointer, length) since "\u0000" is legal; they
 * are NUL-terminated too. Lists are singly linked through `next`, in source
 * order. Every node has `loc`, the line and column (1-based, columns in code
 * points, see lexer.h) and byte offset of its first token: error locations
 * of the validator and executor come from there. Where graphql-js points
 * an error at a name inside a node (an operation's or fragment's name, a
 * type condition, a variable's name), the node keeps that token's location
 * too (`name_loc`, `type_condition_loc`), since comments, commas and line
 * breaks may stand between a keyword and its name.
 */
#ifndef GM_GQL_AST_H
#define GM_GQL_AST_H

#include "arena.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>

struct gm_gql_loc {
    int line;
    int column;
    size_t offset;
};

enum gm_gql_value_kind {
    GM_GQL_VALUE_VARIABLE, /* $name: str is the name without "$" */
    GM_GQL_VALUE_INT,      /* str is the literal text, e.g. "-12" */
    GM_GQL_VALUE_FLOAT,    /* str is the literal text, e.g. "1.5e3" */
    GM_GQL_VALUE_STRING,   /* str/len is the decoded value; block tells the form */
    GM_GQL_VALUE_BOOLEAN,  /* boolean */
    GM_GQL_VALUE_NULL,
    GM_GQL_VALUE_ENUM,   /* str is the enum value's name */
    GM_GQL_VALUE_LIST,   /* items */
    GM_GQL_VALUE_OBJECT, /* fields */
};

struct gm_gql_object_field;

struct gm_gql_value {
    enum gm_gql_value_kind kind;
    struct gm_gql_loc loc;      /* VARIABLE: of the "$" */
    struct gm_gql_loc name_loc; /* VARIABLE: of the name after the "$"; else loc */
    struct gm_gql_value *next;  /* the next item of the enclosing list */
    const char *str;            /* see the kinds; NULL for BOOLEAN, NULL, LIST, OBJECT */
    size_t len;                 /* bytes of str */
    bool boolean;
    bool block;                         /* STRING written as a """block string""" */
    struct gm_gql_value *items;         /* LIST */
    struct gm_gql_object_field *fields; /* OBJECT, in source order (duplicates kept) */
};

struct gm_gql_object_field {
    struct gm_gql_loc loc;
    struct gm_gql_object_field *next;
    const char *name;
    struct gm_gql_value *value;
};

/* An argument `name: value` of a field or directive. */
struct gm_gql_argument {
    struct gm_gql_loc loc;
    struct gm_gql_argument *next;
    const char *name;
    struct gm_gql_value *value;
};

/* A directive application `@name(args)`. */
struct gm_gql_directive {
    struct gm_gql_loc loc; /* of the "@" */
    struct gm_gql_directive *next;
    const char *name;
    struct gm_gql_argument *args;
};

enum gm_gql_type_kind {
    GM_GQL_TYPE_NAMED,
    GM_GQL_TYPE_LIST,
    GM_GQL_TYPE_NON_NULL,
};

/* A type reference: `[Int!]!` is NON_NULL(LIST(NON_NULL(NAMED Int))). */
struct gm_gql_type {
    enum gm_gql_type_kind kind;
    struct gm_gql_loc loc;
    const char *name;       /* NAMED */
    struct gm_gql_type *of; /* LIST, NON_NULL: the wrapped type */
};

/* `$name: Type = default @directives` in an operation's header. */
struct gm_gql_var_def {
    struct gm_gql_loc loc; /* of the "$" */
    struct gm_gql_var_def *next;
    const char *name;           /* without "$" */
    struct gm_gql_loc name_loc; /* of the name after the "$" */
    struct gm_gql_type *type;
    struct gm_gql_value *default_value; /* NULL when absent; constant */
    struct gm_gql_directive *directives;
};

enum gm_gql_selection_kind {
    GM_GQL_SEL_FIELD,
    GM_GQL_SEL_FRAGMENT_SPREAD,
    GM_GQL_SEL_INLINE_FRAGMENT,
};

struct gm_gql_selection;

/* `{ ... }`: at least one selection. */
struct gm_gql_selection_set {
    struct gm_gql_loc loc; /* of the "{" */
    struct gm_gql_selection *selections;
};

struct gm_gql_selection {
    enum gm_gql_selection_kind kind;
    struct gm_gql_loc loc; /* FIELD: of the alias or name; else of the "..." */
    struct gm_gql_selection *next;
    const char *alias;                    /* FIELD: NULL without an alias */
    const char *name;                     /* FIELD: the field; FRAGMENT_SPREAD: the fragment */
    struct gm_gql_loc name_loc;           /* FIELD, FRAGMENT_SPREAD: of name (after any alias) */
    const char *type_condition;           /* INLINE_FRAGMENT: NULL without `on Type` */
    struct gm_gql_loc type_condition_loc; /* of type_condition; zeros without one */
    struct gm_gql_argument *args;         /* FIELD */
    struct gm_gql_directive *directives;
    struct gm_gql_selection_set *selection_set; /* FIELD (NULL for a leaf), INLINE_FRAGMENT */
    /*
     * FIELD: the schema field of name on memo_type (NULL when it has none),
     * remembered by validation as it walks, while the document is still
     * its own; afterwards only read (schema.h, gm_gql_sel_field).
     */
    const void *memo_type;
    const void *memo_field;
};

enum gm_gql_op_type {
    GM_GQL_OP_QUERY,
    GM_GQL_OP_MUTATION,
    GM_GQL_OP_SUBSCRIPTION,
};

/* An argument definition or input object field: `"desc" name: T = v @d`. */
struct gm_gql_input_value_def {
    struct gm_gql_loc loc; /* of the name (the description may precede it) */
    struct gm_gql_input_value_def *next;
    const char *description; /* NULL when absent; description_len bytes */
    size_t description_len;
    bool description_block;
    const char *name;
    struct gm_gql_type *type;
    struct gm_gql_value *default_value; /* NULL when absent; constant */
    struct gm_gql_directive *directives;
};

/* A field of an object type or interface. */
struct gm_gql_field_def {
    struct gm_gql_loc loc; /* of the name */
    struct gm_gql_field_def *next;
    const char *description;
    size_t description_len;
    bool description_block;
    const char *name;
    struct gm_gql_input_value_def *args;
    struct gm_gql_type *type;
    struct gm_gql_directive *directives;
};

struct gm_gql_enum_value_def {
    struct gm_gql_loc loc; /* of the name */
    struct gm_gql_enum_value_def *next;
    const char *description;
    size_t description_len;
    bool description_block;
    const char *name; /* never true, false or null */
    struct gm_gql_directive *directives;
};

/* A list of names: interfaces, union members, directive locations. */
struct gm_gql_name_ref {
    struct gm_gql_loc loc;
    struct gm_gql_name_ref *next;
    const char *name;
};

/* `query: Query` inside `schema { }`. */
struct gm_gql_root_type_def {
    struct gm_gql_loc loc; /* of the operation keyword */
    struct gm_gql_root_type_def *next;
    enum gm_gql_op_type op;
    const char *type_name;
    struct gm_gql_loc type_name_loc; /* of type_name */
};

enum gm_gql_def_kind {
    GM_GQL_DEF_OPERATION,
    GM_GQL_DEF_FRAGMENT,
    GM_GQL_DEF_SCHEMA,
    GM_GQL_DEF_SCALAR,
    GM_GQL_DEF_OBJECT,
    GM_GQL_DEF_INTERFACE,
    GM_GQL_DEF_UNION,
    GM_GQL_DEF_ENUM,
    GM_GQL_DEF_INPUT_OBJECT,
    GM_GQL_DEF_DIRECTIVE,
};

/*
 * One top-level definition. Fields beyond kind/loc/next/name/directives
 * are used by the kinds named in their comments and NULL/0 otherwise.
 */
struct gm_gql_definition {
    enum gm_gql_def_kind kind;
    struct gm_gql_loc loc; /* of the first token after the description */
    /*
     * Of the first token, the description included: graphql-js's location
     * of the definition (ExecutableDefinitions reports it). loc without a
     * description.
     */
    struct gm_gql_loc start_loc;
    struct gm_gql_definition *next;
    /* Type system definitions: the description, NULL when absent. */
    const char *description;
    size_t description_len;
    bool description_block;
    /* NULL for an anonymous operation and for SCHEMA. */
    const char *name;
    struct gm_gql_loc name_loc; /* of name (after the "@" for DIRECTIVE); loc without one */
    struct gm_gql_directive *directives;
    /* OPERATION */
    enum gm_gql_op_type op;
    bool shorthand; /* written as a bare `{ ... }` */
    struct gm_gql_var_def *var_defs;
    /* OPERATION, FRAGMENT */
    struct gm_gql_selection_set *selection_set;
    /* FRAGMENT */
    const char *type_condition;
    struct gm_gql_loc type_condition_loc; /* of the type after `on` */
    /* OBJECT, INTERFACE: `implements A & B` and the fields */
    struct gm_gql_name_ref *interfaces;
    struct gm_gql_field_def *fields;
    /* UNION */
    struct gm_gql_name_ref *members;
    /* ENUM */
    struct gm_gql_enum_value_def *values;
    /* INPUT_OBJECT */
    struct gm_gql_input_value_def *input_fields;
    /* DIRECTIVE: arguments, `repeatable`, locations (valid names only) */
    struct gm_gql_input_value_def *args;
    bool repeatable;
    struct gm_gql_name_ref *locations;
    /* SCHEMA */
    struct gm_gql_root_type_def *root_types;
};

struct gm_gql_document {
    struct gm_gql_loc loc;
    struct gm_gql_definition *definitions; /* at least one */
    size_t n_definitions;
    size_t n_tokens;    /* tokens read, for metrics and complexity guesses */
    size_t n_variables; /* variable values ($x used as a value), in the whole document */
};

/* Parser limits; a zero field means its default. */
struct gm_gql_limits {
    size_t max_bytes;  /* document size */
    size_t max_tokens; /* tokens, the EOF excluded */
    int max_depth;     /* nesting, see gm_gql_parse */
};

#define GM_GQL_DEFAULT_MAX_BYTES  (64 * 1024)
#define GM_GQL_DEFAULT_MAX_TOKENS 10000
#define GM_GQL_DEFAULT_MAX_DEPTH  64

/*
 * The specification's DirectiveLocation names (QUERY ... INPUT_FIELD_DEFINITION),
 * in its order; schema.h's location bits follow the same order.
 */
#define GM_GQL_N_DLOCS 19
extern const char *const gm_gql_dloc_names[GM_GQL_N_DLOCS];

/*
 * Parses src[0..len) (borrowed for the call only) into *out, allocated in a
 * (the caller frees it with the arena). lim may be NULL for the defaults.
 *
 * Nesting depth counts selection sets, list and object values and list
 * types together: in `{ a(x: [1]) { b } }` the list is at depth 2 and b's
 * selection set at depth 2. Past max_depth the parser stops with an error
 * rather than recursing further.
 *
 * Returns 0; GM_EINVAL for a syntax error; GM_ETOOBIG past a limit or the
 * arena's budget. On error err holds a graphql-js style message
 * ("Syntax Error: Expected Name, found \"}\".") with line and column, and
 * *out is NULL.
 */
int gm_gql_parse(const char *src, size_t len, const struct gm_gql_limits *lim, struct gm_arena *a,
                 struct gm_gql_document **out, struct gm_err *err);

/*
 * Prints doc as canonical GraphQL text (two-space indentation, one
 * definition per paragraph). Parsing the result gives a document that
 * prints the same. Returns new; free with free().
 */
char *gm_gql_print(const struct gm_gql_document *doc);

/* Prints one value or type reference. Returns new; free with free(). */
char *gm_gql_print_value(const struct gm_gql_value *v);
char *gm_gql_print_type(const struct gm_gql_type *t);

/* "query", "mutation" or "subscription". */
const char *gm_gql_op_name(enum gm_gql_op_type op);

#endif
