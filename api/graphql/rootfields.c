/*
 * rootfields.c: the root fields an operation of a prepared document
 * selects, for the HTTP layer's per-operation rate limits, metrics labels
 * and the introspection switch.
 *
 * Fragments are followed (each once) and directives ignored: a root field
 * under @skip still counts, so that a client cannot hide an operation from
 * its limit with a variable.
 */
#include "exec_int.h"

#include <string.h>

struct walk {
    const struct gm_gql_prepared *p;
    const char **names;
    size_t max;
    size_t n;
    bool over;
    const char *visited[32]; /* fragment names followed */
    size_t n_visited;
};

static const struct gm_gql_definition *
fragment(const struct gm_gql_prepared *p, const char *name)
{
    for (size_t i = p->n_frags; i-- > 0;)
        if (strcmp(p->frags[i]->name, name) == 0)
            return p->frags[i];
    return NULL;
}

static void
add(struct walk *w, const char *name)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->names[i], name) == 0)
            return;
    if (w->n == w->max) {
        w->over = true;
        return;
    }
    w->names[w->n++] = name;
}

static void
walk_set(struct walk *w, const struct gm_gql_selection_set *set)
{
    if (!set)
        return;
    for (const struct gm_gql_selection *sel = set->selections; sel && !w->over; sel = sel->next) {
        switch (sel->kind) {
        case GM_GQL_SEL_FIELD:
            add(w, sel->name);
            break;
        case GM_GQL_SEL_INLINE_FRAGMENT:
            walk_set(w, sel->selection_set);
            break;
        case GM_GQL_SEL_FRAGMENT_SPREAD: {
            bool seen = false;
            for (size_t i = 0; i < w->n_visited; i++)
                if (strcmp(w->visited[i], sel->name) == 0)
                    seen = true;
            const struct gm_gql_definition *f = fragment(w->p, sel->name);
            if (seen || !f)
                break;
            if (w->n_visited == sizeof w->visited / sizeof w->visited[0]) {
                w->over = true;
                return;
            }
            w->visited[w->n_visited++] = sel->name;
            walk_set(w, f->selection_set);
            break;
        }
        }
    }
}

int
gm_gql_prepared_root_fields(const struct gm_gql_prepared *p, const char *operation_name,
                            const char **names, size_t max, size_t *n)
{
    const struct gm_gql_definition *def = NULL;
    *n = 0;
    for (size_t i = 0; i < p->n_ops; i++) {
        const struct gm_gql_definition *d = p->ops[i].def;
        if (!operation_name) {
            if (def)
                return GM_ENOTFOUND;
            def = d;
        } else if (d->name && strcmp(d->name, operation_name) == 0) {
            def = d;
        }
    }
    if (!def)
        return GM_ENOTFOUND;
    struct walk w = {.p = p, .names = names, .max = max};
    walk_set(&w, def->selection_set);
    *n = w.n;
    return w.over ? GM_ETOOBIG : 0;
}
