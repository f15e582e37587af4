/*
 * validate_int.h: what the validator's files share (validate.c walks the
 * document and runs the rules; validate_frags.c holds the rules that
 * follow fragment spreads; validate_values.c the value rules;
 * validate_overlap.c OverlappingFieldsCanBeMerged; validate_limits.c the
 * operational limits; validate_util.c maps and suggestion lists).
 *
 * Everything the validator allocates lives in the request arena. The
 * behavioural reference is graphql-js 16.8.2 (tests/graphql/package.json).
 * graphql-js stops a validation with "Too many validation errors..." after
 * 100 errors; we also stop, with QUERY_TOO_COMPLEX, where a hostile
 * document would make a rule's work explode. Every loop that can be long
 * checks `aborted`.
 */
#ifndef GM_GQL_VALIDATE_INT_H
#define GM_GQL_VALIDATE_INT_H

#include "suggest.h"
#include "validate.h"

#include <stdint.h>

#define GM__VMAX_ERRORS      100     /* graphql-js's maxErrors */
#define GM__VOVERLAP_BUDGET  5000000 /* field comparisons and such; graphql-js has none */
#define GM__VRECURSION_LIMIT 2000

/* A map from (key1, key2) to a value, open addressing; key1 is a string or a pointer. */
struct gm__vmap {
    const void **k1;
    const void **k2;
    void **vals;
    size_t cap; /* a power of two, or 0 before the first put */
    size_t n;
    bool strings; /* k1 is a NUL-terminated string compared by value */
};

void gm__vmap_init(struct gm__vmap *m, bool strings);
/* Whether the key is present; *val (when not NULL) gets its value. */
bool gm__vmap_get(const struct gm__vmap *m, const void *k1, const void *k2, void **val);
/* Sets the key's value. Returns 0, or GM_ETOOBIG past the arena's budget. */
int gm__vmap_put(struct gm__vmap *m, struct gm_arena *a, const void *k1, const void *k2, void *val);

/* A growable array of pointers in the arena. */
struct gm__vvec {
    const void **v;
    size_t n;
    size_t cap;
};

int gm__vvec_push(struct gm__vvec *vec, struct gm_arena *a, const void *p);

/* A variable's use: its node, the type and default value of its position. */
struct gm__vusage {
    const struct gm_gql_value *node;
    const struct gm_gql_tref *type;           /* NULL when the position is unknown */
    const struct gm_gql_value *default_value; /* NULL when the position has none */
};

struct gm__vusages {
    struct gm__vusage *v;
    size_t n;
    size_t cap;
};

/* One fragment name; def is the last definition of that name (getFragment). */
struct gm__vfrag {
    const char *name;
    const struct gm_gql_definition *def;
    struct gm__vusages usages; /* in def, found by gm__vwalk_usages */
    bool usages_done;
    /* NoFragmentCycles */
    bool cyc_visited;
    long cyc_path_index; /* -1 when not on the spread path */
    /* OverlappingFieldsCanBeMerged (validate_overlap.c) */
    int overlap_active;       /* comparisons of its fields under way, nested */
    signed char spreads_self; /* reaches itself through spreads: -1 unknown, 0 no, 1 yes */
};

/* One operation: its variable usages and the fragments it reaches. */
struct gm__vop {
    const struct gm_gql_definition *def;
    struct gm__vusages local;
    bool local_done;
    struct gm__vfrag **refs; /* n_refs, getRecursivelyReferencedFragments's order */
    size_t n_refs;
    bool refs_done;
};

struct gm__vctx {
    const struct gm_gql_schema *s;
    const struct gm_gql_document *doc;
    struct gm_arena *a;
    struct gm_gql_errors *errs;
    size_t n_errors;
    bool aborted;
    bool oom;
    bool too_complex;        /* a work bound was hit (QUERY_TOO_COMPLEX) */
    long overlap_budget;     /* left of GM__VOVERLAP_BUDGET */
    struct gm__vfrag *frags; /* n_frags, one per name, in order of first definition */
    size_t n_frags;
    struct gm__vmap frag_by_name; /* name -> struct gm__vfrag * */
    struct gm__vop *ops;          /* n_ops, in document order */
    size_t n_ops;
    struct gm__vmap spreads; /* selection set -> struct gm__vvec * of spreads */
    struct gm__vmap
        type_dirs;            /* SDL type name -> struct gm__vmap * (UniqueDirectivesPerLocation) */
    struct gm__vmap doc_dirs; /* directive name -> its definition in the document */
    bool has_doc_types;       /* the document defines types (KnownTypeNames knows them) */
    void *overlap;            /* validate_overlap.c's state, created on first use */
};

/* Reporting: an error at locs (n of them) with a printf-style message. */
void gm__vreport(struct gm__vctx *c, const struct gm_gql_loc *locs, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Stops the validation: the document is too complex to validate (QUERY_TOO_COMPLEX). */
void gm__vtoo_complex(struct gm__vctx *c);
/* Notes an allocation failure (the arena's budget): validation stops. */
void gm__voom(struct gm__vctx *c);
void *gm__valloc(struct gm__vctx *c, size_t n);

/* The fragment named name, or NULL. */
struct gm__vfrag *gm__vfrag_get(struct gm__vctx *c, const char *name);
/* The type named name in the schema, or NULL (typeFromAST for a named type). */
struct gm_gql_stype *gm__vtype(struct gm__vctx *c, const char *name);
/* typeFromAST: the AST type resolved in the arena, or NULL when unknown. */
const struct gm_gql_tref *gm__vtype_from_ast(struct gm__vctx *c, const struct gm_gql_type *t);
/* inspect(type): "[Int!]!" into buf. */
const char *gm__vtype_str(const struct gm_gql_tref *t, char *buf, size_t n);

/* validate_frags.c */
/* getFragmentSpreads: the spreads under ss, in graphql-js's order. */
const struct gm__vvec *gm__vspreads(struct gm__vctx *c, const struct gm_gql_selection_set *ss);
/*
 * getRecursiveVariableUsages: the operation's own usages, then those of
 * each fragment it reaches. Fills lists (1 + op->n_refs entries, new in the
 * arena) and returns how many, 0 after a failure.
 */
size_t gm__vop_usages(struct gm__vctx *c, struct gm__vop *op, const struct gm__vusages ***lists);
/* NoUnusedFragments, at the end of the document. */
void gm__vrule_unused_fragments(struct gm__vctx *c);
/* NoFragmentCycles, for one fragment definition. */
void gm__vrule_fragment_cycles(struct gm__vctx *c, const struct gm_gql_definition *def);

/* validate.c: the variable usages of one definition, into out. */
void gm__vwalk_usages(struct gm__vctx *c, const struct gm_gql_definition *def,
                      struct gm__vusages *out);

/* validate_values.c: ValuesOfCorrectType for one node; false to skip its children. */
bool gm__vvalue_list(struct gm__vctx *c, const struct gm_gql_value *v,
                     const struct gm_gql_tref *loc_type);
bool gm__vvalue_object(struct gm__vctx *c, const struct gm_gql_value *v,
                       const struct gm_gql_tref *loc_type);
void gm__vvalue_object_field(struct gm__vctx *c, const struct gm_gql_object_field *f,
                             const struct gm_gql_tref *object_type,
                             const struct gm_gql_tref *field_type);
void gm__vvalue_null(struct gm__vctx *c, const struct gm_gql_value *v,
                     const struct gm_gql_tref *loc_type);
void gm__vvalue_leaf(struct gm__vctx *c, const struct gm_gql_value *v,
                     const struct gm_gql_tref *loc_type);
/* TypeInfo's item type of a list position (the type itself when not a list). */
const struct gm_gql_tref *gm__vlist_item(const struct gm_gql_tref *t);

/* validate_overlap.c: OverlappingFieldsCanBeMerged for one selection set. */
void gm__vrule_overlap(struct gm__vctx *c, struct gm_gql_stype *parent,
                       const struct gm_gql_selection_set *ss);

/* validate_limits.c: the operational limits; returns 0 or GM_ETOOBIG. */
int gm__vlimits(struct gm__vctx *c, const struct gm_gql_vlimits *lim);

/* validate_util.c */
/*
 * graphql-js's suggestionList: the options within lexical distance of
 * input, closest first. Writes up to max into out; returns how many.
 */
size_t gm__vsuggest(struct gm__vctx *c, const char *input, const char *const *options,
                    size_t n_options, const char **out, size_t max);

#endif
