/*
 * validate_overlap.c: OverlappingFieldsCanBeMerged (spec 5.3.2), as
 * graphql-js 16.8 does it.
 *
 * For every selection set, the fields it collects (through inline
 * fragments) are compared with each other, then with the fields of each
 * fragment it spreads, then the fragments with each other. Two fields with
 * the same response key must be the same field with the same arguments
 * (unless their parents are different object types), must return types of
 * the same shape, and their sub-selections are compared the same way.
 *
 * graphql-js's caches are kept, as they change what is found (its
 * comparedFragmentPairs also skips comparisons it has made for another
 * selection set, and we report what it reports): the fields collected per
 * selection set, and the fragment pairs already compared. Those bound the
 * fragment work to the pairs of fragments; the field comparisons are still
 * quadratic in the fields sharing a response key, so we meter them
 * (GM__VOVERLAP_BUDGET units) and stop with QUERY_TOO_COMPLEX past that,
 * where graphql-js would just take long. The walks through fragments keep
 * explicit stacks; what recursion remains follows the nesting of fields
 * whose sub-selections are compared, and is bounded.
 */
#include "validate_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * Nested sub-selection comparisons; a frame holds about 2 KiB of stack in a
 * sanitizer build, so this stays well inside a thread's stack. Documents
 * within the depth limit nest far less.
 */
#define MAX_RECURSE 400
#define MSG_CAP     2048 /* error.c keeps 1023 bytes of a message */

/* One field of a collected set. */
struct ofield {
    struct gm_gql_stype *parent;
    const struct gm_gql_selection *node;
    const struct gm_gql_sfield *def;
};

struct ogroup {
    const char *key;
    struct gm__vvec fields; /* struct ofield * */
};

/* The fields and fragment names one selection set collects. */
struct ocollect {
    struct gm__vvec groups; /* struct ogroup *, in order of first appearance */
    struct gm__vmap by_key;
    struct gm__vvec frag_names; /* const char *, distinct, in order */
    struct gm__vmap frag_seen;
};

struct conflicts;

/* A conflict: a reason, or the conflicts of the sub-fields. */
struct conflict {
    const char *key;
    const char *reason; /* NULL when subs */
    struct conflicts *subs;
    const struct gm_gql_selection **f1;
    size_t n1;
    const struct gm_gql_selection **f2;
    size_t n2;
};

struct conflicts {
    struct conflict *v;
    size_t n;
    size_t cap;
};

struct ostate {
    struct gm__vmap collected; /* selection set -> struct ocollect * */
    struct gm__vmap names;     /* fragment name -> the interned name */
    struct gm__vmap pairs;     /* (name, name), ordered -> 1 + mutually exclusive */
    int depth;
};

static bool
spend(struct gm__vctx *c, long cost)
{
    if (c->aborted)
        return false;
    c->overlap_budget -= cost;
    if (c->overlap_budget < 0) {
        gm__vtoo_complex(c);
        return false;
    }
    return true;
}

/*
 * Whether fragment f reaches itself through its spreads (a depth-first
 * search with an explicit stack, remembered in f).
 */
static bool
frag_cyclic(struct gm__vctx *c, struct gm__vfrag *f)
{
    if (f->spreads_self >= 0)
        return f->spreads_self == 1;
    bool found = false;
    struct gm__vmap seen;
    gm__vmap_init(&seen, true);
    struct gm__vvec stack = {0};
    if (gm__vvec_push(&stack, c->a, f) < 0)
        goto oom;
    while (stack.n && !found) {
        struct gm__vfrag *g = (struct gm__vfrag *)stack.v[--stack.n];
        const struct gm__vvec *sp = gm__vspreads(c, g->def->selection_set);
        for (size_t i = 0; i < sp->n && !found; i++) {
            const struct gm_gql_selection *s = (const struct gm_gql_selection *)sp->v[i];
            if (strcmp(s->name, f->name) == 0) {
                found = true;
                break;
            }
            struct gm__vfrag *h = gm__vfrag_get(c, s->name);
            if (!h || gm__vmap_get(&seen, h->name, NULL, NULL))
                continue;
            if (gm__vmap_put(&seen, c->a, h->name, NULL, NULL) < 0 ||
                gm__vvec_push(&stack, c->a, h) < 0)
                goto oom;
        }
    }
    f->spreads_self = found ? 1 : 0;
    return found;
oom:
    gm__voom(c);
    return true;
}

/*
 * Marks fragment f's fields as being compared. Returns false, marking
 * nothing, when f's fields are already being compared further out and f
 * spreads itself: comparing them again would only unfold the cycle
 * forever (graphql-js 16 overflows its stack there). The cycle itself is
 * NoFragmentCycles' error. frag_unmark ends what frag_mark began.
 */
static bool
frag_mark(struct gm__vctx *c, struct gm__vfrag *f)
{
    if (f->overlap_active > 0 && frag_cyclic(c, f))
        return false;
    f->overlap_active++;
    return true;
}

static void
frag_unmark(struct gm__vfrag *f)
{
    f->overlap_active--;
}

static bool
enter(struct gm__vctx *c, struct ostate *st)
{
    if (c->aborted)
        return false;
    if (++st->depth > MAX_RECURSE) {
        st->depth--;
        gm__vtoo_complex(c);
        return false;
    }
    return true;
}

/* ---- collecting fields ---- */

static const struct gm_gql_sfield *
own_field(const struct gm_gql_stype *t, const char *name)
{
    if (!t || (t->kind != GM_GQL_OBJECT && t->kind != GM_GQL_INTERFACE))
        return NULL;
    for (size_t i = 0; i < t->n_fields; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return &t->fields[i];
    return NULL;
}

static void
collect_into(struct gm__vctx *c, struct gm_gql_stype *parent, const struct gm_gql_selection_set *ss,
             struct ocollect *cr)
{
    for (const struct gm_gql_selection *sel = ss->selections; sel && !c->aborted; sel = sel->next) {
        if (sel->kind == GM_GQL_SEL_FIELD) {
            const char *key = sel->alias ? sel->alias : sel->name;
            void *g = NULL;
            if (!gm__vmap_get(&cr->by_key, key, NULL, &g)) {
                struct ogroup *ng = gm__valloc(c, sizeof(*ng));
                if (!ng)
                    return;
                ng->key = key;
                g = ng;
                if (gm__vmap_put(&cr->by_key, c->a, key, NULL, g) < 0 ||
                    gm__vvec_push(&cr->groups, c->a, g) < 0)
                    goto oom;
            }
            struct ofield *f = gm__valloc(c, sizeof(*f));
            if (!f)
                return;
            f->parent = parent;
            f->node = sel;
            /* Own fields only: graphql-js's getFields() has no __typename. */
            f->def = strncmp(sel->name, "__", 2) != 0 && parent && sel->memo_type == parent
                         ? sel->memo_field
                         : own_field(parent, sel->name);
            if (gm__vvec_push(&((struct ogroup *)g)->fields, c->a, f) < 0)
                goto oom;
        } else if (sel->kind == GM_GQL_SEL_FRAGMENT_SPREAD) {
            if (gm__vmap_get(&cr->frag_seen, sel->name, NULL, NULL))
                continue;
            if (gm__vmap_put(&cr->frag_seen, c->a, sel->name, NULL, NULL) < 0 ||
                gm__vvec_push(&cr->frag_names, c->a, sel->name) < 0)
                goto oom;
        } else {
            struct gm_gql_stype *t =
                sel->type_condition ? gm__vtype(c, sel->type_condition) : parent;
            collect_into(c, t, sel->selection_set, cr);
        }
    }
    return;
oom:
    gm__voom(c);
}

/* getFieldsAndFragmentNames: cached by the selection set alone, as graphql-js does. */
static struct ocollect *
collect(struct gm__vctx *c, struct ostate *st, struct gm_gql_stype *parent,
        const struct gm_gql_selection_set *ss)
{
    void *hit = NULL;
    if (gm__vmap_get(&st->collected, ss, NULL, &hit))
        return hit;
    struct ocollect *cr = gm__valloc(c, sizeof(*cr));
    if (!cr)
        return NULL;
    gm__vmap_init(&cr->by_key, true);
    gm__vmap_init(&cr->frag_seen, true);
    collect_into(c, parent, ss, cr);
    if (c->aborted)
        return NULL;
    if (gm__vmap_put(&st->collected, c->a, ss, NULL, cr) < 0) {
        gm__voom(c);
        return NULL;
    }
    return cr;
}

static struct ocollect *
collect_fragment(struct gm__vctx *c, struct ostate *st, const struct gm__vfrag *f)
{
    return collect(c, st, gm__vtype(c, f->def->type_condition), f->def->selection_set);
}

/* ---- graphql-js's PairSet over fragment names ---- */

static const char *
intern(struct gm__vctx *c, struct ostate *st, const char *name)
{
    void *p = NULL;
    if (gm__vmap_get(&st->names, name, NULL, &p))
        return p;
    if (gm__vmap_put(&st->names, c->a, name, NULL, (void *)name) < 0)
        gm__voom(c);
    return name;
}

static void
pair_key(struct gm__vctx *c, struct ostate *st, const char *a, const char *b, const void **k1,
         const void **k2)
{
    a = intern(c, st, a);
    b = intern(c, st, b);
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    *k1 = a;
    *k2 = b;
}

static bool
pair_has(struct gm__vctx *c, struct ostate *st, const char *a, const char *b, bool excl)
{
    const void *k1, *k2;
    void *v = NULL;
    pair_key(c, st, a, b, &k1, &k2);
    if (!gm__vmap_get(&st->pairs, k1, k2, &v))
        return false;
    /* Not mutually exclusive covers mutually exclusive, not the other way round. */
    return excl ? true : (uintptr_t)v == 1;
}

static void
pair_add(struct gm__vctx *c, struct ostate *st, const char *a, const char *b, bool excl)
{
    const void *k1, *k2;
    pair_key(c, st, a, b, &k1, &k2);
    if (gm__vmap_put(&st->pairs, c->a, k1, k2, (void *)(uintptr_t)(excl ? 2 : 1)) < 0)
        gm__voom(c);
}

/* ---- comparing fields ---- */

static void conflicts_push(struct gm__vctx *c, struct conflicts *cs, const struct conflict *cf);
static void fields_and_fragment(struct gm__vctx *c, struct ostate *st, struct conflicts *cs,
                                bool excl, struct ocollect *cr, const char *name);
static void fragments_pair(struct gm__vctx *c, struct ostate *st, struct conflicts *cs, bool excl,
                           const char *n1, const char *n2);
static void sub_conflicts(struct gm__vctx *c, struct ostate *st, bool excl, struct gm_gql_stype *p1,
                          const struct gm_gql_selection_set *ss1, struct gm_gql_stype *p2,
                          const struct gm_gql_selection_set *ss2, struct conflicts *out);

/* doTypesConflict */
static bool
types_conflict(const struct gm_gql_tref *a, const struct gm_gql_tref *b)
{
    for (;;) {
        if (a->kind == GM_GQL_TYPE_LIST || b->kind == GM_GQL_TYPE_LIST) {
            if (a->kind != b->kind)
                return true;
        } else if (a->kind == GM_GQL_TYPE_NON_NULL || b->kind == GM_GQL_TYPE_NON_NULL) {
            if (a->kind != b->kind)
                return true;
        } else {
            if (gm_gql_type_is_leaf(a->named) || gm_gql_type_is_leaf(b->named))
                return a->named != b->named;
            return false;
        }
        a = a->of;
        b = b->of;
    }
}

/* The fields of an object value sorted by naturalCompare (stable), in the arena. */
static const struct gm_gql_object_field **
sorted_fields(struct gm__vctx *c, const struct gm_gql_value *v, size_t *n)
{
    size_t k = 0;
    for (const struct gm_gql_object_field *f = v->fields; f; f = f->next)
        k++;
    const struct gm_gql_object_field **fs = gm__valloc(c, (k + 1) * sizeof(*fs));
    if (!fs || !spend(c, (long)k))
        return NULL;
    k = 0;
    for (const struct gm_gql_object_field *f = v->fields; f; f = f->next) {
        size_t at = k++;
        while (at > 0 && gm__gql_natural_cmp(fs[at - 1]->name, f->name) > 0) {
            fs[at] = fs[at - 1];
            at--;
        }
        fs[at] = f;
    }
    *n = k;
    return fs;
}

/*
 * Whether two values print the same once object fields are sorted
 * (graphql-js compares print(sortValueNode(v))): same kind, same text,
 * strings by value and form (a block string prints differently).
 */
static bool
same_value(struct gm__vctx *c, const struct gm_gql_value *x, const struct gm_gql_value *y)
{
    if (x->kind != y->kind || c->aborted)
        return false;
    switch (x->kind) {
    case GM_GQL_VALUE_VARIABLE:
    case GM_GQL_VALUE_INT:
    case GM_GQL_VALUE_FLOAT:
    case GM_GQL_VALUE_ENUM:
        return strcmp(x->str, y->str) == 0;
    case GM_GQL_VALUE_STRING:
        return x->block == y->block && x->len == y->len && memcmp(x->str, y->str, x->len) == 0;
    case GM_GQL_VALUE_BOOLEAN:
        return x->boolean == y->boolean;
    case GM_GQL_VALUE_NULL:
        return true;
    case GM_GQL_VALUE_LIST: {
        const struct gm_gql_value *a = x->items, *b = y->items;
        for (; a && b; a = a->next, b = b->next)
            if (!same_value(c, a, b))
                return false;
        return !a && !b;
    }
    case GM_GQL_VALUE_OBJECT: {
        size_t n = 0, m = 0;
        const struct gm_gql_object_field **fx = sorted_fields(c, x, &n);
        const struct gm_gql_object_field **fy = fx ? sorted_fields(c, y, &m) : NULL;
        if (!fy || n != m)
            return false;
        for (size_t k = 0; k < n; k++)
            if (strcmp(fx[k]->name, fy[k]->name) != 0 || !same_value(c, fx[k]->value, fy[k]->value))
                return false;
        return true;
    }
    }
    return false;
}

/* sameArguments */
static bool
same_arguments(struct gm__vctx *c, const struct gm_gql_argument *a1,
               const struct gm_gql_argument *a2)
{
    if (!a1)
        return !a2;
    if (!a2)
        return false;
    size_t n1 = 0, n2 = 0;
    for (const struct gm_gql_argument *a = a1; a; a = a->next)
        n1++;
    for (const struct gm_gql_argument *a = a2; a; a = a->next)
        n2++;
    if (n1 != n2)
        return false;
    for (const struct gm_gql_argument *a = a1; a; a = a->next) {
        if (!spend(c, (long)n2))
            return false;
        const struct gm_gql_value *v2 = NULL; /* the last of that name, as a Map keeps it */
        for (const struct gm_gql_argument *b = a2; b; b = b->next)
            if (strcmp(a->name, b->name) == 0)
                v2 = b->value;
        if (!v2 || !same_value(c, a->value, v2))
            return false;
    }
    return true;
}

static const struct gm_gql_selection **
node_list(struct gm__vctx *c, const struct gm_gql_selection *node)
{
    const struct gm_gql_selection **l = gm__valloc(c, sizeof(*l));
    if (l)
        l[0] = node;
    return l;
}

/* subfieldConflicts: node, then every sub-conflict's nodes of that side. */
static const struct gm_gql_selection **
sub_nodes(struct gm__vctx *c, const struct gm_gql_selection *node, const struct conflicts *cs,
          bool first, size_t *n)
{
    size_t total = 1;
    for (size_t i = 0; i < cs->n; i++)
        total += first ? cs->v[i].n1 : cs->v[i].n2;
    if (!spend(c, (long)total))
        return NULL;
    const struct gm_gql_selection **l = gm__valloc(c, total * sizeof(*l));
    if (!l)
        return NULL;
    size_t k = 0;
    l[k++] = node;
    for (size_t i = 0; i < cs->n; i++) {
        size_t len = first ? cs->v[i].n1 : cs->v[i].n2;
        memcpy(l + k, first ? cs->v[i].f1 : cs->v[i].f2, len * sizeof(*l));
        k += len;
    }
    *n = k;
    return l;
}

/* findConflict: adds the conflict between two fields of the same response key, if any. */
static void
find_conflict(struct gm__vctx *c, struct ostate *st, struct conflicts *cs, bool parents_excl,
              const char *key, const struct ofield *d1, const struct ofield *d2)
{
    if (!spend(c, 1))
        return;
    const struct gm_gql_selection *n1 = d1->node, *n2 = d2->node;
    bool excl =
        parents_excl || (d1->parent != d2->parent && d1->parent && d2->parent &&
                         d1->parent->kind == GM_GQL_OBJECT && d2->parent->kind == GM_GQL_OBJECT);
    const struct gm_gql_tref *t1 = d1->def ? d1->def->type : NULL;
    const struct gm_gql_tref *t2 = d2->def ? d2->def->type : NULL;
    /* Two plain uses of one field never conflict (the usual repetition). */
    if (d1->def == d2->def && !n1->args && !n2->args && !n1->selection_set && !n2->selection_set &&
        strcmp(n1->name, n2->name) == 0)
        return;
    struct conflict cf = {.key = key};
    if (!excl) {
        if (strcmp(n1->name, n2->name) != 0) {
            size_t len = strlen(n1->name) + strlen(n2->name) + 40;
            char *r = gm__valloc(c, len);
            if (!r)
                return;
            snprintf(r, len, "\"%s\" and \"%s\" are different fields", n1->name, n2->name);
            cf.reason = r;
        } else if (!same_arguments(c, n1->args, n2->args)) {
            if (c->aborted)
                return;
            cf.reason = "they have differing arguments";
        }
    }
    if (!cf.reason && t1 && t2 && types_conflict(t1, t2)) {
        char s1[256], s2[256];
        gm__vtype_str(t1, s1, sizeof(s1));
        gm__vtype_str(t2, s2, sizeof(s2));
        size_t len = strlen(s1) + strlen(s2) + 48;
        char *r = gm__valloc(c, len);
        if (!r)
            return;
        snprintf(r, len, "they return conflicting types \"%s\" and \"%s\"", s1, s2);
        cf.reason = r;
    }
    if (cf.reason) {
        cf.f1 = node_list(c, n1);
        cf.f2 = node_list(c, n2);
        cf.n1 = cf.n2 = 1;
        conflicts_push(c, cs, &cf);
        return;
    }
    if (c->aborted || !n1->selection_set || !n2->selection_set)
        return;
    struct conflicts *sub = gm__valloc(c, sizeof(*sub));
    if (!sub)
        return;
    sub_conflicts(c, st, excl, t1 ? gm_gql_tref_named(t1) : NULL, n1->selection_set,
                  t2 ? gm_gql_tref_named(t2) : NULL, n2->selection_set, sub);
    if (c->aborted || sub->n == 0)
        return;
    cf.subs = sub;
    cf.f1 = sub_nodes(c, n1, sub, true, &cf.n1);
    cf.f2 = sub_nodes(c, n2, sub, false, &cf.n2);
    conflicts_push(c, cs, &cf);
}

static void
conflicts_push(struct gm__vctx *c, struct conflicts *cs, const struct conflict *cf)
{
    if (!cf->f1 || !cf->f2 || !spend(c, 1))
        return;
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 4;
        struct conflict *v = gm__valloc(c, cap * sizeof(*v));
        if (!v)
            return;
        if (cs->n)
            memcpy(v, cs->v, cs->n * sizeof(*v));
        cs->v = v;
        cs->cap = cap;
    }
    cs->v[cs->n++] = *cf;
}

/* collectConflictsBetween: fields of cr1 against the same keys in cr2. */
static void
between(struct gm__vctx *c, struct ostate *st, struct conflicts *cs, bool excl,
        struct ocollect *cr1, struct ocollect *cr2)
{
    for (size_t i = 0; i < cr1->groups.n && !c->aborted; i++) {
        const struct ogroup *g1 = cr1->groups.v[i];
        void *g2p = NULL;
        if (!spend(c, 1) || !gm__vmap_get(&cr2->by_key, g1->key, NULL, &g2p))
            continue;
        const struct ogroup *g2 = g2p;
        for (size_t a = 0; a < g1->fields.n && !c->aborted; a++)
            for (size_t b = 0; b < g2->fields.n && !c->aborted; b++)
                find_conflict(c, st, cs, excl, g1->key, g1->fields.v[a], g2->fields.v[b]);
    }
}

/* collectConflictsWithin: the fields of one set against each other. */
static void
within(struct gm__vctx *c, struct ostate *st, struct conflicts *cs, struct ocollect *cr)
{
    for (size_t i = 0; i < cr->groups.n && !c->aborted; i++) {
        const struct ogroup *g = cr->groups.v[i];
        for (size_t a = 0; a < g->fields.n && !c->aborted; a++)
            for (size_t b = a + 1; b < g->fields.n && !c->aborted; b++)
                find_conflict(c, st, cs, false, g->key, g->fields.v[a], g->fields.v[b]);
    }
}

/*
 * collectConflictsBetweenFieldsAndFragment, and its recursion into the
 * fragments the fragment spreads, depth first with an explicit stack (a
 * fragment chain can be as long as the document).
 */
struct faf_frame {
    const char *name;
    struct ocollect *cr2;
    size_t i;
};

static bool
faf_enter(struct gm__vctx *c, struct ostate *st, struct conflicts *cs, bool excl,
          struct ocollect *cr, const char *name, struct gm__vvec *stack)
{
    struct gm__vfrag *f = gm__vfrag_get(c, name);
    if (!f || !spend(c, 1))
        return false;
    struct ocollect *cr2 = collect_fragment(c, st, f);
    if (!cr2 || cr2 == cr || !frag_mark(c, f))
        return false;
    between(c, st, cs, excl, cr, cr2);
    frag_unmark(f);
    struct faf_frame *fr = gm__valloc(c, sizeof(*fr));
    if (!fr || gm__vvec_push(stack, c->a, fr) < 0) {
        gm__voom(c);
        return false;
    }
    *fr = (struct faf_frame){name, cr2, 0};
    return true;
}

static void
fields_and_fragment(struct gm__vctx *c, struct ostate *st, struct conflicts *cs, bool excl,
                    struct ocollect *cr, const char *name)
{
    struct gm__vvec stack = {0};
    faf_enter(c, st, cs, excl, cr, name, &stack);
    while (stack.n && !c->aborted) {
        struct faf_frame *fr = (struct faf_frame *)stack.v[stack.n - 1];
        if (fr->i == fr->cr2->frag_names.n) {
            stack.n--;
            continue;
        }
        const char *ref = fr->cr2->frag_names.v[fr->i++];
        if (pair_has(c, st, ref, fr->name, excl))
            continue;
        pair_add(c, st, ref, fr->name, excl);
        faf_enter(c, st, cs, excl, cr, ref, &stack);
    }
}

/*
 * collectConflictsBetweenFragments, and its recursion into the fragments
 * either spreads, depth first with an explicit stack.
 */
struct fp_frame {
    const char *n1;
    const char *n2;
    struct ocollect *cr1;
    struct ocollect *cr2;
    bool second; /* iterating cr1's fragments (else cr2's) */
    size_t i;
};

static void
fp_enter(struct gm__vctx *c, struct ostate *st, struct conflicts *cs, bool excl, const char *n1,
         const char *n2, struct gm__vvec *stack)
{
    if (strcmp(n1, n2) == 0 || pair_has(c, st, n1, n2, excl))
        return;
    pair_add(c, st, n1, n2, excl);
    struct gm__vfrag *f1 = gm__vfrag_get(c, n1), *f2 = gm__vfrag_get(c, n2);
    if (!f1 || !f2 || !spend(c, 1))
        return;
    struct ocollect *cr1 = collect_fragment(c, st, f1);
    struct ocollect *cr2 = cr1 ? collect_fragment(c, st, f2) : NULL;
    if (!cr1 || !cr2 || !frag_mark(c, f1))
        return;
    if (!frag_mark(c, f2)) {
        frag_unmark(f1);
        return;
    }
    between(c, st, cs, excl, cr1, cr2);
    frag_unmark(f2);
    frag_unmark(f1);
    struct fp_frame *fr = gm__valloc(c, sizeof(*fr));
    if (!fr || gm__vvec_push(stack, c->a, fr) < 0) {
        gm__voom(c);
        return;
    }
    *fr = (struct fp_frame){n1, n2, cr1, cr2, false, 0};
}

static void
fragments_pair(struct gm__vctx *c, struct ostate *st, struct conflicts *cs, bool excl,
               const char *n1, const char *n2)
{
    struct gm__vvec stack = {0};
    fp_enter(c, st, cs, excl, n1, n2, &stack);
    while (stack.n && !c->aborted) {
        struct fp_frame *fr = (struct fp_frame *)stack.v[stack.n - 1];
        if (!fr->second) {
            if (fr->i < fr->cr2->frag_names.n) {
                fp_enter(c, st, cs, excl, fr->n1, fr->cr2->frag_names.v[fr->i++], &stack);
                continue;
            }
            fr->second = true;
            fr->i = 0;
        }
        if (fr->i < fr->cr1->frag_names.n) {
            fp_enter(c, st, cs, excl, fr->cr1->frag_names.v[fr->i++], fr->n2, &stack);
            continue;
        }
        stack.n--;
    }
}

/* findConflictsBetweenSubSelectionSets */
static void
sub_conflicts(struct gm__vctx *c, struct ostate *st, bool excl, struct gm_gql_stype *p1,
              const struct gm_gql_selection_set *ss1, struct gm_gql_stype *p2,
              const struct gm_gql_selection_set *ss2, struct conflicts *out)
{
    if (!enter(c, st))
        return;
    struct ocollect *cr1 = collect(c, st, p1, ss1);
    struct ocollect *cr2 = cr1 ? collect(c, st, p2, ss2) : NULL;
    if (cr1 && cr2) {
        between(c, st, out, excl, cr1, cr2);
        for (size_t i = 0; i < cr2->frag_names.n && !c->aborted; i++)
            fields_and_fragment(c, st, out, excl, cr1, cr2->frag_names.v[i]);
        for (size_t i = 0; i < cr1->frag_names.n && !c->aborted; i++)
            fields_and_fragment(c, st, out, excl, cr2, cr1->frag_names.v[i]);
        for (size_t i = 0; i < cr1->frag_names.n && !c->aborted; i++)
            for (size_t j = 0; j < cr2->frag_names.n && !c->aborted; j++)
                fragments_pair(c, st, out, excl, cr1->frag_names.v[i], cr2->frag_names.v[j]);
    }
    st->depth--;
}

/* reasonMessage, appended to buf (at most MSG_CAP bytes). */
static void
reason_message(const struct conflict *cf, char *buf, size_t *len, int depth)
{
    if (cf->reason) {
        *len += (size_t)snprintf(buf + *len, MSG_CAP - *len, "%s", cf->reason);
    } else if (depth < 256) {
        for (size_t i = 0; i < cf->subs->n && *len + 1 < MSG_CAP; i++) {
            *len +=
                (size_t)snprintf(buf + *len, MSG_CAP - *len, "%ssubfields \"%s\" conflict because ",
                                 i ? " and " : "", cf->subs->v[i].key);
            if (*len + 1 >= MSG_CAP)
                break;
            reason_message(&cf->subs->v[i], buf, len, depth + 1);
        }
    }
    if (*len >= MSG_CAP)
        *len = MSG_CAP - 1;
}

/*
 * Whether ss has nothing to merge at its own level: only fields, with
 * pairwise different response keys (at most 16, compared directly), or a
 * lone spread of a fragment that spreads none (its own set is checked at
 * its definition; one that spreads others would fill graphql-js's
 * comparedFragmentPairs here, which changes what later sets report).
 * Sub-selections are checked when the walk reaches them.
 */
static bool
nothing_to_merge(struct gm__vctx *c, const struct gm_gql_selection_set *ss)
{
    const struct gm_gql_selection *first = ss->selections;
    if (first && first->kind == GM_GQL_SEL_FRAGMENT_SPREAD && !first->next) {
        struct gm__vfrag *f = gm__vfrag_get(c, first->name);
        if (!f)
            return true;
        const struct gm__vvec *sp = gm__vspreads(c, f->def->selection_set);
        return sp && sp->n == 0;
    }
    const char *keys[16];
    size_t n = 0;
    for (const struct gm_gql_selection *sel = ss->selections; sel; sel = sel->next) {
        if (sel->kind != GM_GQL_SEL_FIELD || n == 16)
            return false;
        const char *key = sel->alias ? sel->alias : sel->name;
        for (size_t i = 0; i < n; i++)
            if (keys[i][0] == key[0] && strcmp(keys[i], key) == 0)
                return false;
        keys[n++] = key;
    }
    return true;
}

void
gm__vrule_overlap(struct gm__vctx *c, struct gm_gql_stype *parent,
                  const struct gm_gql_selection_set *ss)
{
    if (nothing_to_merge(c, ss))
        return;
    struct ostate *st = c->overlap;
    if (!st) {
        st = gm__valloc(c, sizeof(*st));
        if (!st)
            return;
        gm__vmap_init(&st->collected, false);
        gm__vmap_init(&st->names, true);
        gm__vmap_init(&st->pairs, false);
        c->overlap = st;
    }
    struct conflicts cs = {0};
    struct ocollect *cr = collect(c, st, parent, ss);
    if (!cr)
        return;
    within(c, st, &cs, cr);
    size_t nf = cr->frag_names.n;
    for (size_t i = 0; i < nf && !c->aborted; i++) {
        fields_and_fragment(c, st, &cs, false, cr, cr->frag_names.v[i]);
        for (size_t j = i + 1; j < nf && !c->aborted; j++)
            fragments_pair(c, st, &cs, false, cr->frag_names.v[i], cr->frag_names.v[j]);
    }
    for (size_t i = 0; i < cs.n && !c->aborted; i++) {
        const struct conflict *cf = &cs.v[i];
        size_t n = cf->n1 + cf->n2;
        struct gm_gql_loc *locs = gm__valloc(c, n * sizeof(*locs));
        char *msg = gm__valloc(c, MSG_CAP);
        if (!locs || !msg)
            return;
        for (size_t k = 0; k < cf->n1; k++)
            locs[k] = cf->f1[k]->loc;
        for (size_t k = 0; k < cf->n2; k++)
            locs[cf->n1 + k] = cf->f2[k]->loc;
        size_t len = 0;
        msg[0] = '\0';
        reason_message(cf, msg, &len, 0);
        gm__vreport(c, locs, n,
                    "Fields \"%s\" conflict because %s. Use different aliases on the fields to "
                    "fetch both if this was intentional.",
                    cf->key, msg);
    }
}
