/*
 * exec_int.h: what execute.c, introspect.c and cache.c share inside the
 * GraphQL engine: the engine, the prepared document with its operations,
 * and the field plans cached in it.
 *
 * A plan is the result of the spec's CollectFields for one selection (a
 * set of field nodes) on one object type: the response keys in order, each
 * with its schema field, its merged field nodes and, when the arguments
 * hold no variables, the arguments already coerced. Plans that do not
 * depend on variables (no @skip/@include with a variable) are built once
 * per prepared document, in its arena under its lock, and published
 * through atomic pointers so that later executions, from any thread, read
 * them without locking.
 */
#ifndef GM_GQL_EXEC_INT_H
#define GM_GQL_EXEC_INT_H

#include "execute.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct gm__gql_plan;

struct gm__gql_pfield {
    const char *key;      /* the response key */
    const char *json_key; /* `,"key":` escaped; written from [1] for the first field */
    size_t json_key_len;
    const struct gm_gql_sfield *field;
    gm_gql_resolve_fn resolve; /* the field's, or the introspection resolver */
    bool is_typename;
    bool cached;                           /* lives in the prepared document's arena */
    const struct gm_gql_selection **nodes; /* the merged field nodes, n_nodes */
    struct gm_gql_loc *locs;               /* their locations, for errors */
    size_t n_nodes;
    const struct gm_gql_ival **args; /* field->n_args, when args_static */
    bool args_static;
    /* Sub-plans by runtime object type (index into possible[] for abstract types). */
    size_t n_sub;
    _Atomic(const struct gm__gql_plan *) *sub;
    atomic_bool sub_dynamic; /* a sub-plan depends on variables: never cache it */
};

struct gm__gql_plan {
    struct gm__gql_pfield *fields;
    size_t n;
    bool cached; /* lives in the prepared document's arena */
};

struct gm__gql_op {
    const struct gm_gql_definition *def;
    struct gm_gql_tref **var_types; /* n_vars, NULL for an unknown type */
    const struct gm_gql_var_def **var_defs;
    size_t n_vars;
    _Atomic(const struct gm__gql_plan *) plan;
    atomic_bool plan_dynamic;
};

struct gm_gql_prepared {
    /* The cache's links, under the engine's lock. */
    struct gm_gql_prepared *hnext;
    struct gm_gql_prepared *snext; /* in the SHA-256 index, when has_sha */
    struct gm_gql_prepared *lprev;
    struct gm_gql_prepared *lnext;
    bool in_cache;
    size_t charged;                     /* bytes counted in engine->bytes while in the cache */
    const struct gm_gql_engine *engine; /* the engine that built it */
    uint64_t hash;
    bool has_sha; /* registered as a persisted query (under the engine's lock) */
    unsigned char sha[32];
    const char *text; /* in arena */
    size_t len;
    atomic_size_t refs;
    /* The document, its index and the plans built for it. */
    struct gm_arena arena;
    struct gm_gql_document *doc;
    struct gm__gql_op *ops;
    size_t n_ops;
    const struct gm_gql_definition **frags; /* later definitions of a name win */
    size_t n_frags;
    pthread_mutex_t plan_lock; /* allocation in arena after preparation */
};

struct gm_gql_engine {
    const struct gm_gql_schema *schema;
    struct gm_gql_engine_opts opts;
    pthread_mutex_t lock;
    struct gm_gql_prepared **buckets;  /* n_buckets, a power of two */
    struct gm_gql_prepared **sbuckets; /* by SHA-256, n_buckets too */
    size_t n_buckets;
    struct gm_gql_prepared *lru_head; /* most recently used */
    struct gm_gql_prepared *lru_tail;
    size_t n_entries;
    size_t bytes; /* sum of the entries' charged */
    uint64_t hits;
    uint64_t misses;
    uint64_t persisted_hits;
    uint64_t persisted_misses;
};

/* Bytes a prepared document's arena may hold (document, index and plans). */
#define GM__GQL_PREPARED_BUDGET (4u * 1024 * 1024)

/*
 * Indexes p->doc (operations, fragments, variable types) into p->arena.
 * Returns 0 or GM_ETOOBIG past the arena's budget.
 */
int gm__gql_prepared_index(const struct gm_gql_schema *s, struct gm_gql_prepared *p);

/*
 * Tells the cache that p's arena now holds reserved bytes (plans were
 * added to it), so that it evicts past its byte budget. Takes e's lock
 * (the cache never takes a plan lock). No-op when p is not in e's cache.
 */
void gm__gql_cache_grew(struct gm_gql_engine *e, struct gm_gql_prepared *p, size_t reserved);

/* Formats a finite double as JavaScript's String(number) does; returns the length. */
size_t gm__gql_fmt_number(char *buf, size_t n, double d);

/*
 * The value of constant literal v as input type t, allocated in a; NULL
 * when it does not fit or a is full.
 */
const struct gm_gql_ival *gm__gql_coerce_const(struct gm_arena *a, const struct gm_gql_value *v,
                                               const struct gm_gql_tref *t);

/* Resolves the fields of the introspection types, __schema and __type. */
int gm__gql_introspect(struct gm_gql_rctx *ctx, struct gm_gql_rval *out);

#endif
