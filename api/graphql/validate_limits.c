/*
 * validate_limits.c: gamify's operational limits (validate.h), checked per
 * operation once the specification's rules passed: depth, aliases, root
 * fields and cost, all counted as if every fragment spread were replaced
 * by its fragment's selections.
 *
 * Expansion can be exponential (a fragment spreading another twice, ten
 * times over), so nothing is expanded: each fragment's figures are computed
 * once per operation and context and scaled (cost is linear in the list
 * size above it), and counts saturate instead of overflowing. The rules
 * already rejected unknown fragments and cycles, so the fragment graph is
 * a DAG; its chains are bounded by the document's size, and the recursion
 * through them by GM__VRECURSION_LIMIT.
 *
 * Cost: each field costs 1 times the product of the list sizes above it.
 * A list field's size is its own `first` argument; a list field without
 * one takes the `first` of the field directly above it (the connection
 * pattern: `leaderboard(first: 10) { entries { ... } }` is 10 entries);
 * otherwise default_list_size. `first` is a literal or the default of the
 * variable it names. __schema and __type and everything below them are
 * exempt from every count.
 */
#include "validate_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAT_MAX (1LL << 50)

struct figures {
    long long depth;   /* deepest field nesting */
    long long aliases; /* aliased fields */
    long long cost;    /* with a list size of 1 above */
    long long fields;  /* fields at the top level of the set (root fields) */
};

struct lctx {
    struct gm__vctx *c;
    const struct gm_gql_definition *op;
    long long default_size;
    struct gm__vmap memo; /* (fragment, pending first + 2) -> struct figures * */
    int depth;
    bool too_deep; /* recursion bound hit */
};

static long long
sat_add(long long a, long long b)
{
    long long r = a + b;
    return r > SAT_MAX ? SAT_MAX : r;
}

static long long
sat_mul(long long a, long long b)
{
    if (a == 0 || b == 0)
        return 0;
    if (a > SAT_MAX / b)
        return SAT_MAX;
    return a * b;
}

/* The value of a `first` argument: a literal, or its variable's default; -1 when unknown. */
static long long
first_of(struct lctx *lc, const struct gm_gql_selection *sel)
{
    for (const struct gm_gql_argument *a = sel->args; a; a = a->next) {
        if (strcmp(a->name, "first") != 0)
            continue;
        const struct gm_gql_value *v = a->value;
        if (v->kind == GM_GQL_VALUE_VARIABLE) {
            const struct gm_gql_value *dv = NULL;
            for (const struct gm_gql_var_def *vd = lc->op->var_defs; vd; vd = vd->next)
                if (strcmp(vd->name, v->str) == 0)
                    dv = vd->default_value;
            v = dv;
        }
        if (!v || v->kind != GM_GQL_VALUE_INT)
            return -1;
        long long n = strtoll(v->str, NULL, 10);
        return n < 0 ? 0 : n > SAT_MAX ? SAT_MAX : n;
    }
    return -1;
}

static bool
is_list(const struct gm_gql_tref *t)
{
    if (t->kind == GM_GQL_TYPE_NON_NULL)
        t = t->of;
    return t->kind == GM_GQL_TYPE_LIST;
}

static void figures_of(struct lctx *lc, struct gm_gql_stype *parent,
                       const struct gm_gql_selection_set *ss, long long pending,
                       struct figures *out);

static void
add_figures(struct figures *to, const struct figures *f)
{
    if (f->depth > to->depth)
        to->depth = f->depth;
    to->aliases = sat_add(to->aliases, f->aliases);
    to->cost = sat_add(to->cost, f->cost);
    to->fields = sat_add(to->fields, f->fields);
}

static void
fragment_figures(struct lctx *lc, const struct gm__vfrag *f, long long pending, struct figures *out)
{
    struct gm__vctx *c = lc->c;
    void *hit = NULL;
    const void *key2 = (const void *)(uintptr_t)(pending + 2);
    if (gm__vmap_get(&lc->memo, f, key2, &hit)) {
        *out = *(const struct figures *)hit;
        return;
    }
    struct figures *fig = gm__valloc(c, sizeof(*fig));
    if (!fig)
        return;
    figures_of(lc, gm__vtype(c, f->def->type_condition), f->def->selection_set, pending, fig);
    if (gm__vmap_put(&lc->memo, c->a, f, key2, fig) < 0)
        gm__voom(c);
    *out = *fig;
}

static void
figures_of(struct lctx *lc, struct gm_gql_stype *parent, const struct gm_gql_selection_set *ss,
           long long pending, struct figures *out)
{
    struct gm__vctx *c = lc->c;
    memset(out, 0, sizeof(*out));
    if (++lc->depth > GM__VRECURSION_LIMIT) {
        lc->too_deep = true;
        lc->depth--;
        return;
    }
    for (const struct gm_gql_selection *sel = ss->selections; sel && !c->aborted; sel = sel->next) {
        struct figures sub;
        if (sel->kind == GM_GQL_SEL_FIELD) {
            if (sel->name[0] == '_' &&
                (strcmp(sel->name, "__schema") == 0 || strcmp(sel->name, "__type") == 0))
                continue;
            const struct gm_gql_sfield *fd = parent ? gm_gql_sel_field(c->s, parent, sel) : NULL;
            long long size = 1, below = -1;
            long long first = first_of(lc, sel);
            if (fd && is_list(fd->type)) {
                size = first >= 0 ? first : pending >= 0 ? pending : lc->default_size;
            } else {
                below = first;
            }
            memset(&sub, 0, sizeof(sub));
            if (sel->selection_set)
                figures_of(lc, fd ? gm_gql_tref_named(fd->type) : NULL, sel->selection_set, below,
                           &sub);
            if (sub.depth + 1 > out->depth)
                out->depth = sub.depth + 1;
            out->aliases = sat_add(out->aliases, sat_add(sub.aliases, sel->alias ? 1 : 0));
            out->cost = sat_add(out->cost, sat_add(1, sat_mul(size, sub.cost)));
            out->fields = sat_add(out->fields, 1);
        } else if (sel->kind == GM_GQL_SEL_INLINE_FRAGMENT) {
            struct gm_gql_stype *t =
                sel->type_condition ? gm__vtype(c, sel->type_condition) : parent;
            figures_of(lc, t, sel->selection_set, pending, &sub);
            add_figures(out, &sub);
        } else {
            const struct gm__vfrag *f = gm__vfrag_get(c, sel->name);
            if (!f)
                continue;
            memset(&sub, 0, sizeof(sub));
            fragment_figures(lc, f, pending, &sub);
            add_figures(out, &sub);
        }
    }
    lc->depth--;
}

static void too_complex(struct gm__vctx *c, const struct gm_gql_definition *op, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

static void
too_complex(struct gm__vctx *c, const struct gm_gql_definition *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gm_gql_errors_addv(c->errs, c->a, GM_GQL_CODE_COMPLEX, &op->loc, 1, NULL, fmt, ap);
    va_end(ap);
}

int
gm__vlimits(struct gm__vctx *c, const struct gm_gql_vlimits *lim)
{
    long long max_depth = lim && lim->max_depth ? lim->max_depth : GM_GQL_DEFAULT_VDEPTH;
    long long max_aliases = lim && lim->max_aliases ? lim->max_aliases : GM_GQL_DEFAULT_VALIASES;
    long long max_root = lim && lim->max_root_fields ? lim->max_root_fields : GM_GQL_DEFAULT_VROOT;
    long long max_cost = lim && lim->max_cost ? lim->max_cost : GM_GQL_DEFAULT_VCOST;
    long long list =
        lim && lim->default_list_size ? lim->default_list_size : GM_GQL_DEFAULT_VLIST_SIZE;
    int rc = 0;
    for (size_t i = 0; i < c->n_ops && !c->oom; i++) {
        const struct gm_gql_definition *op = c->ops[i].def;
        struct lctx lc = {.c = c, .op = op, .default_size = list};
        gm__vmap_init(&lc.memo, false);
        struct gm_gql_stype *root = op->op == GM_GQL_OP_QUERY      ? c->s->query
                                    : op->op == GM_GQL_OP_MUTATION ? c->s->mutation
                                                                   : c->s->subscription;
        const char *kind = gm_gql_op_name(op->op);
        struct figures fig;
        figures_of(&lc, root, op->selection_set, -1, &fig);
        if (lc.too_deep) {
            too_complex(c, op, "The %s is too complex to analyse (more than %d levels).", kind,
                        GM__VRECURSION_LIMIT);
            rc = GM_ETOOBIG;
            continue;
        }
        if (fig.depth > max_depth) {
            too_complex(c, op, "The %s has depth %lld, more than the maximum of %lld.", kind,
                        fig.depth, max_depth);
            rc = GM_ETOOBIG;
        }
        if (fig.aliases > max_aliases) {
            too_complex(c, op, "The %s uses %lld aliases, more than the maximum of %lld.", kind,
                        fig.aliases, max_aliases);
            rc = GM_ETOOBIG;
        }
        if (fig.fields > max_root) {
            too_complex(c, op, "The %s selects %lld root fields, more than the maximum of %lld.",
                        kind, fig.fields, max_root);
            rc = GM_ETOOBIG;
        }
        if (fig.cost > max_cost) {
            too_complex(c, op, "The %s has cost %lld, more than the maximum of %lld.", kind,
                        fig.cost, max_cost);
            rc = GM_ETOOBIG;
        }
    }
    if (c->oom)
        return GM_ETOOBIG;
    return rc;
}
