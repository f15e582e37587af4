/*
 * validate_frags.c: the rules that follow fragment spreads: the fragments
 * an operation reaches (NoUnusedFragments and the variable rules), the
 * variable usages through them, and NoFragmentCycles.
 *
 * A hostile document can chain or fan out fragments, so nothing here
 * recurses through spreads: the searches keep explicit stacks in the arena
 * and every fragment's spreads and variable usages are computed once. What
 * is left is linear in the operations times the fragments they reach, as
 * in graphql-js.
 */
#include "validate_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct gm__vvec *
gm__vspreads(struct gm__vctx *c, const struct gm_gql_selection_set *ss)
{
    void *cached = NULL;
    if (gm__vmap_get(&c->spreads, ss, NULL, &cached))
        return cached;
    struct gm__vvec *out = gm__valloc(c, sizeof(*out));
    struct gm__vvec stack = {0};
    if (!out || gm__vvec_push(&stack, c->a, ss) < 0)
        goto oom;
    /* Direct spreads first, then the nested sets, last one first (a stack). */
    while (stack.n) {
        const struct gm_gql_selection_set *set = stack.v[--stack.n];
        for (const struct gm_gql_selection *sel = set->selections; sel; sel = sel->next) {
            int rc = 0;
            if (sel->kind == GM_GQL_SEL_FRAGMENT_SPREAD)
                rc = gm__vvec_push(out, c->a, sel);
            else if (sel->selection_set)
                rc = gm__vvec_push(&stack, c->a, sel->selection_set);
            if (rc < 0)
                goto oom;
        }
    }
    if (gm__vmap_put(&c->spreads, c->a, ss, NULL, out) < 0)
        goto oom;
    return out;
oom:
    gm__voom(c);
    static const struct gm__vvec empty;
    return &empty;
}

/*
 * getRecursivelyReferencedFragments: the fragments the operation reaches,
 * in graphql-js's order (a stack of selection sets, each fragment once).
 */
static int
referenced(struct gm__vctx *c, struct gm__vop *op)
{
    if (op->refs_done)
        return 0;
    struct gm__vvec frags = {0}, stack = {0};
    struct gm__vmap seen;
    gm__vmap_init(&seen, true);
    if (gm__vvec_push(&stack, c->a, op->def->selection_set) < 0)
        goto oom;
    while (stack.n && !c->aborted) {
        const struct gm__vvec *sp = gm__vspreads(c, stack.v[--stack.n]);
        for (size_t k = 0; k < sp->n; k++) {
            const char *name = ((const struct gm_gql_selection *)sp->v[k])->name;
            if (gm__vmap_get(&seen, name, NULL, NULL))
                continue;
            if (gm__vmap_put(&seen, c->a, name, NULL, NULL) < 0)
                goto oom;
            struct gm__vfrag *f = gm__vfrag_get(c, name);
            if (f && (gm__vvec_push(&frags, c->a, f) < 0 ||
                      gm__vvec_push(&stack, c->a, f->def->selection_set) < 0))
                goto oom;
        }
    }
    if (c->aborted)
        return GM_ETOOBIG;
    op->refs = (struct gm__vfrag **)frags.v;
    op->n_refs = frags.n;
    op->refs_done = true;
    return 0;
oom:
    gm__voom(c);
    return GM_ETOOBIG;
}

size_t
gm__vop_usages(struct gm__vctx *c, struct gm__vop *op, const struct gm__vusages ***lists)
{
    if (!op->local_done) {
        gm__vwalk_usages(c, op->def, &op->local);
        op->local_done = true;
    }
    if (referenced(c, op) < 0)
        return 0;
    const struct gm__vusages **l = gm__valloc(c, (op->n_refs + 1) * sizeof(*l));
    if (!l)
        return 0;
    l[0] = &op->local;
    for (size_t i = 0; i < op->n_refs; i++) {
        struct gm__vfrag *f = op->refs[i];
        if (!f->usages_done) {
            gm__vwalk_usages(c, f->def, &f->usages);
            f->usages_done = true;
        }
        l[i + 1] = &f->usages;
    }
    *lists = l;
    return c->aborted ? 0 : op->n_refs + 1;
}

void
gm__vrule_unused_fragments(struct gm__vctx *c)
{
    struct gm__vmap used;
    gm__vmap_init(&used, true);
    for (size_t i = 0; i < c->n_ops; i++) {
        if (referenced(c, &c->ops[i]) < 0)
            return;
        for (size_t k = 0; k < c->ops[i].n_refs; k++)
            if (gm__vmap_put(&used, c->a, c->ops[i].refs[k]->name, NULL, NULL) < 0) {
                gm__voom(c);
                return;
            }
    }
    for (const struct gm_gql_definition *d = c->doc->definitions; d && !c->aborted; d = d->next)
        if (d->kind == GM_GQL_DEF_FRAGMENT && !gm__vmap_get(&used, d->name, NULL, NULL))
            gm__vreport(c, &d->loc, 1, "Fragment \"%s\" is never used.", d->name);
}

/* NoFragmentCycles: graphql-js's depth-first search, with an explicit stack. */
struct cyc_frame {
    struct gm__vfrag *f;
    const struct gm__vvec *spreads;
    size_t i;
};

static void
report_cycle(struct gm__vctx *c, const struct gm__vvec *path, size_t from, const char *name)
{
    size_t n = path->n - from;
    struct gm_gql_loc *locs = gm__valloc(c, n * sizeof(*locs));
    size_t len = 64 + strlen(name);
    for (size_t i = from; i < path->n; i++)
        len += strlen(((const struct gm_gql_selection *)path->v[i])->name) + 4;
    char *msg = gm__valloc(c, len);
    if (!locs || !msg)
        return;
    int at = snprintf(msg, len, "Cannot spread fragment \"%s\" within itself", name);
    for (size_t i = from; i + 1 < path->n; i++)
        at += snprintf(msg + at, len - (size_t)at, "%s\"%s\"", i == from ? " via " : ", ",
                       ((const struct gm_gql_selection *)path->v[i])->name);
    snprintf(msg + at, len - (size_t)at, ".");
    for (size_t i = from; i < path->n; i++)
        locs[i - from] = ((const struct gm_gql_selection *)path->v[i])->loc;
    gm__vreport(c, locs, n, "%s", msg);
}

void
gm__vrule_fragment_cycles(struct gm__vctx *c, const struct gm_gql_definition *def)
{
    struct gm__vfrag *root = gm__vfrag_get(c, def->name);
    if (!root || root->cyc_visited)
        return;
    root->cyc_visited = true;
    const struct gm__vvec *sp = gm__vspreads(c, def->selection_set);
    if (sp->n == 0)
        return;
    struct gm__vvec path = {0};
    struct cyc_frame *stack = NULL;
    size_t depth = 0, cap = 0;
    root->cyc_path_index = 0;
    struct cyc_frame first = {root, sp, 0};
    for (struct cyc_frame *push = &first; push; push = NULL) {
        if (depth == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct cyc_frame *ns = gm__valloc(c, ncap * sizeof(*ns));
            if (!ns)
                return;
            if (depth)
                memcpy(ns, stack, depth * sizeof(*ns));
            stack = ns;
            cap = ncap;
        }
        stack[depth++] = *push;
        while (depth && !c->aborted) {
            struct cyc_frame *fr = &stack[depth - 1];
            if (fr->i == fr->spreads->n) {
                fr->f->cyc_path_index = -1;
                depth--;
                if (path.n)
                    path.n--; /* the spread that led here */
                continue;
            }
            const struct gm_gql_selection *s = fr->spreads->v[fr->i++];
            struct gm__vfrag *g = gm__vfrag_get(c, s->name);
            if (gm__vvec_push(&path, c->a, s) < 0) {
                gm__voom(c);
                return;
            }
            if (g && g->cyc_path_index >= 0) {
                report_cycle(c, &path, (size_t)g->cyc_path_index, s->name);
                path.n--;
                continue;
            }
            if (!g || g->cyc_visited) {
                path.n--;
                continue;
            }
            g->cyc_visited = true;
            const struct gm__vvec *gsp = gm__vspreads(c, g->def->selection_set);
            if (gsp->n == 0) {
                path.n--;
                continue;
            }
            g->cyc_path_index = (long)path.n;
            if (depth == cap) {
                size_t ncap = cap * 2;
                struct cyc_frame *ns = gm__valloc(c, ncap * sizeof(*ns));
                if (!ns)
                    return;
                memcpy(ns, stack, depth * sizeof(*ns));
                stack = ns;
                cap = ncap;
            }
            stack[depth++] = (struct cyc_frame){g, gsp, 0};
        }
    }
}
