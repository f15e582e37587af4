/*
 * validate.c: gm_gql_validate, the walk over the document and the rules
 * that look at one node at a time.
 *
 * graphql-js runs all its rules in one traversal, each rule's enter and
 * leave hooks in specifiedRules order at every node, with a TypeInfo that
 * tracks the parent type, the field definition, the directive and the
 * input type of the position. Errors come out in that interleaved order, and
 * the 100-error cut-off depends on it, so we walk the same way: one
 * recursive walk whose frames carry the TypeInfo state, calling the rules
 * in graphql-js's order at each node. The same walk, with the rules off,
 * collects the variable usages of an operation or fragment
 * (getVariableUsages). Recursion follows the document's nesting, which the
 * parser bounds; nothing here recurses through fragment spreads (those
 * rules live in validate_frags.c and validate_overlap.c).
 *
 * Some graphql-js errors point at a name inside a node (the name of an
 * operation, a fragment, a fragment spread, a variable definition, a type
 * condition); those come from the name locations the parser records
 * (ast.h), never from the node's location plus the keyword's length:
 * comments, commas and line breaks may stand between the two.
 */
#include "validate_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_MAX 1024

struct walker {
    struct gm__vctx *c;
    bool main;                  /* run the rules; else only collect variable usages */
    bool voct_skip;             /* ValuesOfCorrectType skips this value's children */
    struct gm__vusages *out;    /* usages mode */
    struct gm__vmap op_names;   /* UniqueOperationNames: name -> definition */
    struct gm__vmap frag_names; /* UniqueFragmentNames: name -> definition */
    size_t n_operations;        /* LoneAnonymousOperation */
};

/* ---- context ---- */

void
gm__voom(struct gm__vctx *c)
{
    c->oom = true;
    c->aborted = true;
}

void *
gm__valloc(struct gm__vctx *c, size_t n)
{
    void *p = gm_arena_alloc(c->a, n ? n : 1);
    if (!p)
        gm__voom(c);
    return p;
}

void
gm__vreport(struct gm__vctx *c, const struct gm_gql_loc *locs, size_t n, const char *fmt, ...)
{
    if (c->aborted)
        return;
    if (c->n_errors >= GM__VMAX_ERRORS) {
        gm_gql_errors_add(c->errs, c->a, GM_GQL_CODE_VALIDATION, NULL, 0, NULL,
                          "Too many validation errors, error limit reached. Validation aborted.");
        c->aborted = true;
        return;
    }
    c->n_errors++;
    va_list ap;
    va_start(ap, fmt);
    gm_gql_errors_addv(c->errs, c->a, GM_GQL_CODE_VALIDATION, locs, n, NULL, fmt, ap);
    va_end(ap);
}

void
gm__vtoo_complex(struct gm__vctx *c)
{
    if (c->aborted)
        return;
    gm_gql_errors_add(c->errs, c->a, GM_GQL_CODE_COMPLEX, NULL, 0, NULL,
                      "The document is too complex to validate.");
    c->too_complex = true;
    c->aborted = true;
}

struct gm__vfrag *
gm__vfrag_get(struct gm__vctx *c, const char *name)
{
    void *f = NULL;
    if (!gm__vmap_get(&c->frag_by_name, name, NULL, &f))
        return NULL;
    return f;
}

struct gm_gql_stype *
gm__vtype(struct gm__vctx *c, const char *name)
{
    return gm_gql_schema_type(c->s, name);
}

const struct gm_gql_tref *
gm__vtype_from_ast(struct gm__vctx *c, const struct gm_gql_type *t)
{
    struct gm_gql_tref *r = gm__valloc(c, sizeof(*r));
    if (!r)
        return NULL;
    r->kind = t->kind;
    if (t->kind == GM_GQL_TYPE_NAMED) {
        r->named = gm__vtype(c, t->name);
        return r->named ? r : NULL;
    }
    r->of = (struct gm_gql_tref *)gm__vtype_from_ast(c, t->of);
    return r->of ? r : NULL;
}

const char *
gm__vtype_str(const struct gm_gql_tref *t, char *buf, size_t n)
{
    return gm_gql_tref_str(t, buf, n);
}

/* ---- directives ---- */

/* The schema's directive for TypeInfo (graphql-js's schema.getDirective). */
static const struct gm_gql_sdirective *
schema_directive(struct gm__vctx *c, const char *name)
{
    return gm_gql_schema_directive(c->s, name);
}

/* A directive defined in the document, which the AST rules also know. */
static const struct gm_gql_definition *
doc_directive(struct gm__vctx *c, const char *name)
{
    void *d = NULL;
    if (c->doc_dirs.n == 0 || !gm__vmap_get(&c->doc_dirs, name, NULL, &d))
        return NULL;
    return d;
}

static unsigned
doc_directive_locations(const struct gm_gql_definition *dd)
{
    unsigned bits = 0;
    for (const struct gm_gql_name_ref *r = dd->locations; r; r = r->next)
        for (unsigned i = 0; i < GM_GQL_DLOC_COUNT; i++) {
            const char *n = gm_gql_dloc_name(1u << i);
            if (n && strcmp(n, r->name) == 0)
                bits |= 1u << i;
        }
    return bits;
}

/* KnownDirectives. */
static void
rule_known_directive(struct gm__vctx *c, const struct gm_gql_directive *d, unsigned where)
{
    const struct gm_gql_definition *dd = doc_directive(c, d->name);
    const struct gm_gql_sdirective *sd = schema_directive(c, d->name);
    if (!dd && !sd) {
        gm__vreport(c, &d->loc, 1, "Unknown directive \"@%s\".", d->name);
        return;
    }
    unsigned locs = dd ? doc_directive_locations(dd) : sd->locations;
    if (where && !(locs & where))
        gm__vreport(c, &d->loc, 1, "Directive \"@%s\" may not be used on %s.", d->name,
                    gm_gql_dloc_name(where));
}

/* KnownArgumentNamesOnDirectives. */
static void
rule_directive_arg_names(struct gm__vctx *c, const struct gm_gql_directive *d)
{
    const struct gm_gql_definition *dd = doc_directive(c, d->name);
    const struct gm_gql_sdirective *sd = schema_directive(c, d->name);
    if (!dd && !sd)
        return;
    for (const struct gm_gql_argument *arg = d->args; arg && !c->aborted; arg = arg->next) {
        const char *names[64];
        size_t n = 0;
        bool known = false;
        if (dd) {
            for (const struct gm_gql_input_value_def *iv = dd->args; iv; iv = iv->next) {
                known = known || strcmp(iv->name, arg->name) == 0;
                if (n < 64)
                    names[n++] = iv->name;
            }
        } else {
            for (size_t i = 0; i < sd->n_args; i++) {
                known = known || strcmp(sd->args[i].name, arg->name) == 0;
                if (n < 64)
                    names[n++] = sd->args[i].name;
            }
        }
        if (known)
            continue;
        char msg[MSG_MAX];
        const char *sugg[5];
        snprintf(msg, sizeof(msg), "Unknown argument \"%s\" on directive \"@%s\".", arg->name,
                 d->name);
        size_t k = gm__vsuggest(c, arg->name, names, n, sugg, 5);
        gm__gql_did_you_mean(msg, sizeof(msg), NULL, sugg, k);
        gm__vreport(c, &arg->loc, 1, "%s", msg);
    }
}

/*
 * Reports each name given more than once (graphql-js's groupBy: groups in
 * order of their first member), with every member's location.
 */
static void
report_duplicates(struct gm__vctx *c, const char *const *names, const struct gm_gql_loc *locs,
                  size_t n, const char *what, const char *prefix)
{
    if (n < 2)
        return;
    /* first[i]: the index of the first item with item i's name. */
    size_t *first = gm__valloc(c, n * sizeof(*first));
    size_t *count = gm__valloc(c, n * sizeof(*count));
    if (!first || !count)
        return;
    struct gm__vmap seen;
    gm__vmap_init(&seen, true);
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        count[i] = 0;
        if (gm__vmap_get(&seen, names[i], NULL, &v)) {
            first[i] = (size_t)(uintptr_t)v - 1;
            count[first[i]]++;
            any = true;
        } else {
            first[i] = i;
            count[i] = 1;
            if (gm__vmap_put(&seen, c->a, names[i], NULL, (void *)(uintptr_t)(i + 1)) < 0) {
                gm__voom(c);
                return;
            }
        }
    }
    if (!any)
        return;
    struct gm_gql_loc *group = gm__valloc(c, n * sizeof(*group));
    if (!group)
        return;
    for (size_t i = 0; i < n && !c->aborted; i++) {
        if (first[i] != i || count[i] < 2)
            continue;
        size_t k = 0;
        for (size_t j = i; j < n; j++)
            if (first[j] == i)
                group[k++] = locs[j];
        gm__vreport(c, group, k, "There can be only one %s named \"%s%s\".", what, prefix,
                    names[i]);
    }
}

/* UniqueArgumentNames. */
static void
rule_unique_args(struct gm__vctx *c, const struct gm_gql_argument *args)
{
    if (!args || !args->next)
        return;
    size_t n = 0;
    for (const struct gm_gql_argument *a = args; a; a = a->next)
        n++;
    const char **names = gm__valloc(c, n * sizeof(*names));
    struct gm_gql_loc *locs = gm__valloc(c, n * sizeof(*locs));
    if (!names || !locs)
        return;
    n = 0;
    for (const struct gm_gql_argument *a = args; a; a = a->next, n++) {
        names[n] = a->name;
        locs[n] = a->loc;
    }
    report_duplicates(c, names, locs, n, "argument", "");
}

/* ProvidedRequiredArgumentsOnDirectives. */
static void
rule_directive_required_args(struct gm__vctx *c, const struct gm_gql_directive *d)
{
    const struct gm_gql_definition *dd = doc_directive(c, d->name);
    const struct gm_gql_sdirective *sd = schema_directive(c, d->name);
    if (dd) {
        for (const struct gm_gql_input_value_def *iv = dd->args; iv && !c->aborted; iv = iv->next) {
            if (iv->type->kind != GM_GQL_TYPE_NON_NULL || iv->default_value)
                continue;
            bool given = false;
            for (const struct gm_gql_argument *a = d->args; a && !given; a = a->next)
                given = strcmp(a->name, iv->name) == 0;
            if (given)
                continue;
            char *ts = gm_gql_print_type(iv->type);
            gm__vreport(c, &d->loc, 1,
                        "Directive \"@%s\" argument \"%s\" of type \"%s\" is required, but it "
                        "was not provided.",
                        d->name, iv->name, ts);
            free(ts);
        }
        return;
    }
    if (!sd)
        return;
    for (size_t i = 0; i < sd->n_args && !c->aborted; i++) {
        const struct gm_gql_sarg *ad = &sd->args[i];
        if (ad->type->kind != GM_GQL_TYPE_NON_NULL || ad->default_value)
            continue;
        bool given = false;
        for (const struct gm_gql_argument *a = d->args; a && !given; a = a->next)
            given = strcmp(a->name, ad->name) == 0;
        if (given)
            continue;
        char ts[256];
        gm__vreport(c, &d->loc, 1,
                    "Directive \"@%s\" argument \"%s\" of type \"%s\" is required, but it was "
                    "not provided.",
                    d->name, ad->name, gm__vtype_str(ad->type, ts, sizeof(ts)));
    }
}

/*
 * UniqueDirectivesPerLocation for one node's directives; seen is the map of
 * an SDL type (shared by its definitions) or NULL for a fresh one.
 */
static void
rule_unique_directives(struct gm__vctx *c, const struct gm_gql_directive *dirs,
                       struct gm__vmap *seen)
{
    struct gm__vmap local;
    if (!dirs || (!seen && !dirs->next))
        return;
    if (!seen) {
        gm__vmap_init(&local, true);
        seen = &local;
    }
    for (const struct gm_gql_directive *d = dirs; d && !c->aborted; d = d->next) {
        const struct gm_gql_definition *dd = doc_directive(c, d->name);
        const struct gm_gql_sdirective *sd = schema_directive(c, d->name);
        bool unique = dd ? !dd->repeatable : sd ? !sd->repeatable : false;
        if (!unique)
            continue;
        void *prev = NULL;
        if (gm__vmap_get(seen, d->name, NULL, &prev)) {
            struct gm_gql_loc locs[2] = {((const struct gm_gql_directive *)prev)->loc, d->loc};
            gm__vreport(c, locs, 2, "The directive \"@%s\" can only be used once at this location.",
                        d->name);
        } else if (gm__vmap_put(seen, c->a, d->name, NULL, (void *)d) < 0) {
            gm__voom(c);
        }
    }
}

/* ---- types ---- */

static bool
doc_defines_type(struct gm__vctx *c, const char *name)
{
    for (const struct gm_gql_definition *d = c->doc->definitions; d; d = d->next)
        if (d->kind >= GM_GQL_DEF_SCALAR && d->kind <= GM_GQL_DEF_INPUT_OBJECT &&
            strcmp(d->name, name) == 0)
            return true;
    return false;
}

static const char *const standard_type_names[] = {
    "Int",        "Float",        "String",
    "Boolean",    "ID",           "__Schema",
    "__Type",     "__Directive",  "__DirectiveLocation",
    "__Field",    "__InputValue", "__EnumValue",
    "__TypeKind",
};
#define N_STANDARD (sizeof(standard_type_names) / sizeof(standard_type_names[0]))

/* KnownTypeNames for a NamedType node; sdl when inside a type system definition. */
static void
rule_known_type(struct gm__vctx *c, const char *name, struct gm_gql_loc loc, bool sdl)
{
    if (gm__vtype(c, name) || (c->has_doc_types && doc_defines_type(c, name)))
        return;
    if (sdl) {
        for (size_t i = 0; i < N_STANDARD; i++)
            if (strcmp(standard_type_names[i], name) == 0)
                return;
    }
    size_t n = c->s->n_types + (sdl ? N_STANDARD : 0);
    for (const struct gm_gql_definition *d = c->doc->definitions; d; d = d->next)
        n++;
    const char **names = gm__valloc(c, n * sizeof(*names));
    if (!names)
        return;
    n = 0;
    if (sdl)
        for (size_t i = 0; i < N_STANDARD; i++)
            names[n++] = standard_type_names[i];
    for (size_t i = 0; i < c->s->n_types; i++)
        names[n++] = c->s->types[i]->name;
    for (const struct gm_gql_definition *d = c->doc->definitions; d; d = d->next)
        if (d->kind >= GM_GQL_DEF_SCALAR && d->kind <= GM_GQL_DEF_INPUT_OBJECT)
            names[n++] = d->name;
    char msg[MSG_MAX];
    const char *sugg[5];
    snprintf(msg, sizeof(msg), "Unknown type \"%s\".", name);
    size_t k = gm__vsuggest(c, name, names, n, sugg, 5);
    gm__gql_did_you_mean(msg, sizeof(msg), NULL, sugg, k);
    gm__vreport(c, &loc, 1, "%s", msg);
}

static const struct gm_gql_type *
innermost_named(const struct gm_gql_type *t)
{
    while (t->kind != GM_GQL_TYPE_NAMED)
        t = t->of;
    return t;
}

/* KnownTypeNames over every NamedType of an AST type (one, at the bottom). */
static void
known_type_ref(struct gm__vctx *c, const struct gm_gql_type *t, bool sdl)
{
    const struct gm_gql_type *n = innermost_named(t);
    rule_known_type(c, n->name, n->loc, sdl);
}

static bool
is_output(const struct gm_gql_stype *t)
{
    return t && t->kind != GM_GQL_INPUT_OBJECT;
}

static bool
is_composite(const struct gm_gql_stype *t)
{
    return t && gm_gql_type_is_composite(t);
}

/* ---- values ---- */

static void
add_usage(struct walker *w, const struct gm_gql_value *v, const struct gm_gql_tref *type,
          const struct gm_gql_value *defval)
{
    struct gm__vusages *u = w->out;
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 8;
        struct gm__vusage *nv = gm__valloc(w->c, cap * sizeof(*nv));
        if (!nv)
            return;
        if (u->n)
            memcpy(nv, u->v, u->n * sizeof(*nv));
        u->v = nv;
        u->cap = cap;
    }
    u->v[u->n++] = (struct gm__vusage){v, type, defval};
}

static void
walk_value(struct walker *w, const struct gm_gql_value *v, const struct gm_gql_tref *in,
           const struct gm_gql_value *defval)
{
    struct gm__vctx *c = w->c;
    if (c->aborted)
        return;
    bool run = w->main && !w->voct_skip;
    switch (v->kind) {
    case GM_GQL_VALUE_VARIABLE:
        if (!w->main)
            add_usage(w, v, in, defval);
        return;
    case GM_GQL_VALUE_LIST: {
        const struct gm_gql_tref *item = in ? gm__vlist_item(in) : NULL;
        bool saved = w->voct_skip;
        if (run && !gm__vvalue_list(c, v, in))
            w->voct_skip = true;
        for (const struct gm_gql_value *it = v->items; it && !c->aborted; it = it->next)
            walk_value(w, it, item, NULL);
        w->voct_skip = saved;
        return;
    }
    case GM_GQL_VALUE_OBJECT: {
        bool saved = w->voct_skip;
        if (run && !gm__vvalue_object(c, v, in))
            w->voct_skip = true;
        struct gm_gql_stype *ot = in ? gm_gql_tref_named(in) : NULL;
        if (ot && ot->kind != GM_GQL_INPUT_OBJECT)
            ot = NULL;
        struct gm__vmap known;
        gm__vmap_init(&known, true);
        for (const struct gm_gql_object_field *f = v->fields; f && !c->aborted; f = f->next) {
            const struct gm_gql_sarg *fd = ot ? gm_gql_input_field(ot, f->name) : NULL;
            const struct gm_gql_tref *ft = fd ? fd->type : NULL;
            if (w->main) {
                if (!w->voct_skip)
                    gm__vvalue_object_field(c, f, in, ft);
                /* UniqueInputFieldNames */
                void *prev = NULL;
                if (v->fields->next && gm__vmap_get(&known, f->name, NULL, &prev)) {
                    struct gm_gql_loc locs[2] = {((const struct gm_gql_object_field *)prev)->loc,
                                                 f->loc};
                    gm__vreport(c, locs, 2, "There can be only one input field named \"%s\".",
                                f->name);
                } else if (v->fields->next &&
                           gm__vmap_put(&known, c->a, f->name, NULL, (void *)f) < 0) {
                    gm__voom(c);
                }
            }
            walk_value(w, f->value, ft, fd ? fd->default_value : NULL);
        }
        w->voct_skip = saved;
        return;
    }
    case GM_GQL_VALUE_NULL:
        if (run)
            gm__vvalue_null(c, v, in);
        return;
    default:
        if (run)
            gm__vvalue_leaf(c, v, in);
        return;
    }
}

/*
 * An argument. TypeInfo looks its definition up on the directive when
 * inside a known directive, else on the current field (even inside an
 * unknown directive).
 */
static void
walk_argument(struct walker *w, const struct gm_gql_argument *arg, bool in_directive,
              const struct gm_gql_sdirective *dir, const struct gm_gql_sfield *fdef,
              const struct gm_gql_stype *parent)
{
    struct gm__vctx *c = w->c;
    const struct gm_gql_sarg *ad = NULL;
    if (in_directive && dir)
        ad = gm_gql_directive_arg(dir, arg->name);
    else if (fdef)
        ad = gm_gql_field_arg(fdef, arg->name);
    if (w->main && !in_directive && !ad && fdef && parent) {
        /* KnownArgumentNames */
        const char *names[64];
        size_t n = 0;
        for (size_t i = 0; i < fdef->n_args && n < 64; i++)
            names[n++] = fdef->args[i].name;
        char msg[MSG_MAX];
        const char *sugg[5];
        snprintf(msg, sizeof(msg), "Unknown argument \"%s\" on field \"%s.%s\".", arg->name,
                 parent->name, fdef->name);
        size_t k = gm__vsuggest(c, arg->name, names, n, sugg, 5);
        gm__gql_did_you_mean(msg, sizeof(msg), NULL, sugg, k);
        gm__vreport(c, &arg->loc, 1, "%s", msg);
    }
    walk_value(w, arg->value, ad ? ad->type : NULL, ad ? ad->default_value : NULL);
}

static void
walk_directives(struct walker *w, const struct gm_gql_directive *dirs, unsigned where,
                const struct gm_gql_sfield *fdef, const struct gm_gql_stype *parent)
{
    struct gm__vctx *c = w->c;
    for (const struct gm_gql_directive *d = dirs; d && !c->aborted; d = d->next) {
        const struct gm_gql_sdirective *sd = schema_directive(c, d->name);
        if (w->main) {
            rule_known_directive(c, d, where);
            rule_directive_arg_names(c, d);
            rule_unique_args(c, d->args);
        }
        for (const struct gm_gql_argument *a = d->args; a && !c->aborted; a = a->next)
            walk_argument(w, a, true, sd, fdef, parent);
        if (w->main)
            rule_directive_required_args(c, d);
    }
}

/* ---- selections ---- */

static void walk_selection_set(struct walker *w, const struct gm_gql_selection_set *ss,
                               struct gm_gql_stype *type, const struct gm_gql_sfield *fdef,
                               bool inline_parent);

/* ScalarLeafs. */
static void
rule_scalar_leafs(struct gm__vctx *c, const struct gm_gql_selection *sel,
                  const struct gm_gql_sfield *fdef)
{
    if (!fdef)
        return;
    char ts[256];
    struct gm_gql_stype *named = gm_gql_tref_named(fdef->type);
    if (gm_gql_type_is_leaf(named)) {
        if (sel->selection_set)
            gm__vreport(c, &sel->selection_set->loc, 1,
                        "Field \"%s\" must not have a selection since type \"%s\" has no "
                        "subfields.",
                        sel->name, gm__vtype_str(fdef->type, ts, sizeof(ts)));
    } else if (!sel->selection_set) {
        gm__vreport(c, &sel->loc, 1,
                    "Field \"%s\" of type \"%s\" must have a selection of subfields. Did you "
                    "mean \"%s { ... }\"?",
                    sel->name, gm__vtype_str(fdef->type, ts, sizeof(ts)), sel->name);
    }
}

/* Whether interface a is a super type of b (b implements a). */
static bool
implements(const struct gm_gql_stype *b, const struct gm_gql_stype *a)
{
    for (size_t i = 0; i < b->n_interfaces; i++)
        if (b->interfaces[i] == a)
            return true;
    return gm_gql_type_is_possible(a, b) && a != b;
}

/* FieldsOnCorrectType's getSuggestedTypeNames, into out (at most max). */
static size_t
suggested_types(struct gm__vctx *c, const struct gm_gql_stype *t, const char *field,
                const char **out, size_t max)
{
    if (!gm_gql_type_is_abstract(t) || t->n_possible == 0)
        return 0;
    size_t cap = t->n_possible * 8 + 8, n = 0;
    const struct gm_gql_stype **types = gm__valloc(c, cap * sizeof(*types));
    int *usage = gm__valloc(c, cap * sizeof(*usage));
    if (!types || !usage)
        return 0;
    for (size_t i = 0; i < t->n_possible; i++) {
        const struct gm_gql_stype *pt = t->possible[i];
        if (!gm_gql_type_field(c->s, pt, field) || strncmp(field, "__", 2) == 0)
            continue;
        size_t at = 0;
        while (at < n && types[at] != pt)
            at++;
        if (at == n && n < cap)
            types[n++] = pt;
        usage[at] = 1;
        for (size_t k = 0; k < pt->n_interfaces; k++) {
            const struct gm_gql_stype *it = pt->interfaces[k];
            if (!gm_gql_type_field(c->s, it, field))
                continue;
            size_t j = 0;
            while (j < n && types[j] != it)
                j++;
            if (j == n && n < cap) {
                types[n++] = it;
                usage[j] = 0;
            }
            usage[j]++;
        }
    }
    /* Insertion sort by graphql-js's comparator. */
    for (size_t i = 1; i < n; i++) {
        const struct gm_gql_stype *x = types[i];
        int ux = usage[i];
        size_t j = i;
        while (j > 0) {
            const struct gm_gql_stype *y = types[j - 1];
            int uy = usage[j - 1];
            int cmp;
            if (ux != uy)
                cmp = uy - ux;
            else if (y->kind == GM_GQL_INTERFACE && implements(x, y))
                cmp = -1;
            else if (x->kind == GM_GQL_INTERFACE && implements(y, x))
                cmp = 1;
            else
                cmp = gm__gql_natural_cmp(y->name, x->name);
            if (cmp <= 0)
                break;
            types[j] = y;
            usage[j] = uy;
            j--;
        }
        types[j] = x;
        usage[j] = ux;
    }
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = types[i]->name;
    return n;
}

/* FieldsOnCorrectType. */
static void
rule_field_on_type(struct gm__vctx *c, const struct gm_gql_selection *sel,
                   const struct gm_gql_stype *parent, const struct gm_gql_sfield *fdef)
{
    if (!parent || fdef)
        return;
    char msg[MSG_MAX];
    const char *sugg[5];
    snprintf(msg, sizeof(msg), "Cannot query field \"%s\" on type \"%s\".", sel->name,
             parent->name);
    size_t k = suggested_types(c, parent, sel->name, sugg, 5);
    if (k) {
        gm__gql_did_you_mean(msg, sizeof(msg), "to use an inline fragment on", sugg, k);
    } else if (parent->kind == GM_GQL_OBJECT || parent->kind == GM_GQL_INTERFACE) {
        const char **names = gm__valloc(c, (parent->n_fields + 1) * sizeof(*names));
        if (!names)
            return;
        for (size_t i = 0; i < parent->n_fields; i++)
            names[i] = parent->fields[i].name;
        k = gm__vsuggest(c, sel->name, names, parent->n_fields, sugg, 5);
        gm__gql_did_you_mean(msg, sizeof(msg), NULL, sugg, k);
    }
    gm__vreport(c, &sel->loc, 1, "%s", msg);
}

/* ProvidedRequiredArguments on a field. */
static void
rule_field_required_args(struct gm__vctx *c, const struct gm_gql_selection *sel,
                         const struct gm_gql_sfield *fdef)
{
    if (!fdef)
        return;
    for (size_t i = 0; i < fdef->n_args && !c->aborted; i++) {
        const struct gm_gql_sarg *ad = &fdef->args[i];
        if (ad->type->kind != GM_GQL_TYPE_NON_NULL || ad->default_value)
            continue;
        bool given = false;
        for (const struct gm_gql_argument *a = sel->args; a && !given; a = a->next)
            given = strcmp(a->name, ad->name) == 0;
        if (given)
            continue;
        char ts[256];
        gm__vreport(c, &sel->loc, 1,
                    "Field \"%s\" argument \"%s\" of type \"%s\" is required, but it was not "
                    "provided.",
                    fdef->name, ad->name, gm__vtype_str(ad->type, ts, sizeof(ts)));
    }
}

static void
walk_field(struct walker *w, const struct gm_gql_selection *sel, struct gm_gql_stype *parent)
{
    struct gm__vctx *c = w->c;
    const struct gm_gql_sfield *fdef = NULL;
    if (parent) {
        fdef = gm_gql_sel_field(c->s, parent, sel);
        /* The document is not shared yet: remember the lookup for later rules and execution. */
        struct gm_gql_selection *memo = (struct gm_gql_selection *)sel;
        memo->memo_type = parent;
        memo->memo_field = fdef;
    }
    if (w->main) {
        rule_scalar_leafs(c, sel, fdef);
        rule_field_on_type(c, sel, parent, fdef);
        rule_unique_directives(c, sel->directives, NULL);
        rule_unique_args(c, sel->args);
    }
    for (const struct gm_gql_argument *a = sel->args; a && !c->aborted; a = a->next)
        walk_argument(w, a, false, NULL, fdef, parent);
    walk_directives(w, sel->directives, GM_GQL_DLOC_FIELD, fdef, parent);
    if (sel->selection_set && !c->aborted)
        walk_selection_set(w, sel->selection_set, fdef ? gm_gql_tref_named(fdef->type) : NULL, fdef,
                           false);
    if (w->main && !c->aborted)
        rule_field_required_args(c, sel, fdef);
}

static void
walk_spread(struct walker *w, const struct gm_gql_selection *sel, struct gm_gql_stype *parent,
            const struct gm_gql_sfield *fdef)
{
    struct gm__vctx *c = w->c;
    if (w->main) {
        struct gm__vfrag *f = gm__vfrag_get(c, sel->name);
        if (!f)
            gm__vreport(c, &sel->name_loc, 1, "Unknown fragment \"%s\".", sel->name);
        /* PossibleFragmentSpreads */
        struct gm_gql_stype *ft = f ? gm__vtype(c, f->def->type_condition) : NULL;
        if (is_composite(ft) && parent && !gm_gql_types_overlap(ft, parent))
            gm__vreport(c, &sel->loc, 1,
                        "Fragment \"%s\" cannot be spread here as objects of type \"%s\" can "
                        "never be of type \"%s\".",
                        sel->name, parent->name, ft->name);
        rule_unique_directives(c, sel->directives, NULL);
    }
    walk_directives(w, sel->directives, GM_GQL_DLOC_FRAGMENT_SPREAD, fdef, parent);
}

static void
walk_inline(struct walker *w, const struct gm_gql_selection *sel, struct gm_gql_stype *type,
            struct gm_gql_stype *parent, const struct gm_gql_sfield *fdef)
{
    struct gm__vctx *c = w->c;
    struct gm_gql_stype *cond = sel->type_condition ? gm__vtype(c, sel->type_condition) : NULL;
    struct gm_gql_stype *itype = sel->type_condition ? cond : type;
    if (!is_output(itype))
        itype = NULL;
    if (w->main) {
        const struct gm_gql_loc *cloc = &sel->type_condition_loc;
        if (cond && !is_composite(cond))
            gm__vreport(c, cloc, 1, "Fragment cannot condition on non composite type \"%s\".",
                        cond->name);
        if (is_composite(itype) && parent && !gm_gql_types_overlap(itype, parent))
            gm__vreport(c, &sel->loc, 1,
                        "Fragment cannot be spread here as objects of type \"%s\" can never be "
                        "of type \"%s\".",
                        parent->name, itype->name);
        rule_unique_directives(c, sel->directives, NULL);
        if (sel->type_condition)
            rule_known_type(c, sel->type_condition, *cloc, false);
    }
    walk_directives(w, sel->directives, GM_GQL_DLOC_INLINE_FRAGMENT, fdef, parent);
    if (!c->aborted)
        walk_selection_set(w, sel->selection_set, itype, fdef, true);
}

/*
 * type is getNamedType(getType()) where the set starts, fdef the field
 * whose set it is (TypeInfo's getFieldDef inside it).
 */
static void
walk_selection_set(struct walker *w, const struct gm_gql_selection_set *ss,
                   struct gm_gql_stype *type, const struct gm_gql_sfield *fdef, bool inline_parent)
{
    struct gm__vctx *c = w->c;
    struct gm_gql_stype *parent = is_composite(type) ? type : NULL;
    (void)inline_parent; /* graphql-js 16.8 checks inline fragments' sets too */
    if (w->main)
        gm__vrule_overlap(c, parent, ss);
    for (const struct gm_gql_selection *sel = ss->selections; sel && !c->aborted; sel = sel->next) {
        switch (sel->kind) {
        case GM_GQL_SEL_FIELD:
            walk_field(w, sel, parent);
            break;
        case GM_GQL_SEL_FRAGMENT_SPREAD:
            walk_spread(w, sel, parent, fdef);
            break;
        case GM_GQL_SEL_INLINE_FRAGMENT:
            walk_inline(w, sel, type, parent, fdef);
            break;
        }
    }
}

/* ---- operations ---- */

static struct gm_gql_stype *
root_type(struct gm__vctx *c, enum gm_gql_op_type op)
{
    switch (op) {
    case GM_GQL_OP_QUERY:
        return c->s->query;
    case GM_GQL_OP_MUTATION:
        return c->s->mutation;
    case GM_GQL_OP_SUBSCRIPTION:
        return c->s->subscription;
    }
    return NULL;
}

static unsigned
op_location(enum gm_gql_op_type op)
{
    switch (op) {
    case GM_GQL_OP_QUERY:
        return GM_GQL_DLOC_QUERY;
    case GM_GQL_OP_MUTATION:
        return GM_GQL_DLOC_MUTATION;
    case GM_GQL_OP_SUBSCRIPTION:
        return GM_GQL_DLOC_SUBSCRIPTION;
    }
    return 0;
}

/* @skip / @include with literal arguments, as CollectFields applies them. */
static bool
included(const struct gm_gql_directive *dirs)
{
    for (const struct gm_gql_directive *d = dirs; d; d = d->next) {
        bool skip = strcmp(d->name, "skip") == 0;
        if (!skip && strcmp(d->name, "include") != 0)
            continue;
        for (const struct gm_gql_argument *a = d->args; a; a = a->next)
            if (strcmp(a->name, "if") == 0 && a->value->kind == GM_GQL_VALUE_BOOLEAN &&
                a->value->boolean == skip)
                return false;
    }
    return true;
}

static bool
condition_matches(struct gm__vctx *c, const char *cond, const struct gm_gql_stype *type)
{
    if (!cond)
        return true;
    struct gm_gql_stype *t = gm__vtype(c, cond);
    if (!t)
        return false;
    if (t == type)
        return true;
    return gm_gql_type_is_abstract(t) && gm_gql_type_is_possible(t, type);
}

struct sub_fields {
    struct gm__vmap keys;  /* response key -> struct gm__vvec * of fields */
    struct gm__vvec order; /* the vectors in order of their keys */
    struct gm__vmap visited;
};

/* The execution's CollectFields on the subscription root (no variables). */
static void
collect_sub_fields(struct gm__vctx *c, const struct gm_gql_stype *type,
                   const struct gm_gql_selection_set *ss, struct sub_fields *sf, int depth)
{
    if (depth > GM__VRECURSION_LIMIT)
        return;
    for (const struct gm_gql_selection *sel = ss->selections; sel && !c->aborted; sel = sel->next) {
        if (sel->kind == GM_GQL_SEL_FRAGMENT_SPREAD &&
            gm__vmap_get(&sf->visited, sel->name, NULL, NULL))
            continue;
        if (!included(sel->directives))
            continue;
        if (sel->kind == GM_GQL_SEL_FIELD) {
            const char *key = sel->alias ? sel->alias : sel->name;
            void *v = NULL;
            if (!gm__vmap_get(&sf->keys, key, NULL, &v)) {
                v = gm__valloc(c, sizeof(struct gm__vvec));
                if (!v || gm__vmap_put(&sf->keys, c->a, key, NULL, v) < 0 ||
                    gm__vvec_push(&sf->order, c->a, v) < 0) {
                    gm__voom(c);
                    return;
                }
            }
            if (gm__vvec_push(v, c->a, sel) < 0)
                gm__voom(c);
        } else if (sel->kind == GM_GQL_SEL_INLINE_FRAGMENT) {
            if (condition_matches(c, sel->type_condition, type))
                collect_sub_fields(c, type, sel->selection_set, sf, depth + 1);
        } else {
            if (gm__vmap_put(&sf->visited, c->a, sel->name, NULL, NULL) < 0) {
                gm__voom(c);
                return;
            }
            struct gm__vfrag *f = gm__vfrag_get(c, sel->name);
            if (f && condition_matches(c, f->def->type_condition, type))
                collect_sub_fields(c, type, f->def->selection_set, sf, depth + 1);
        }
    }
}

/* SingleFieldSubscriptions. */
static void
rule_single_field_subscription(struct gm__vctx *c, const struct gm_gql_definition *def)
{
    if (def->op != GM_GQL_OP_SUBSCRIPTION || !c->s->subscription)
        return;
    struct sub_fields sf;
    memset(&sf, 0, sizeof(sf));
    gm__vmap_init(&sf.keys, true);
    gm__vmap_init(&sf.visited, true);
    collect_sub_fields(c, c->s->subscription, def->selection_set, &sf, 0);
    if (c->aborted)
        return;
    if (sf.order.n > 1) {
        struct gm__vvec locs = {0};
        for (size_t i = 1; i < sf.order.n; i++) {
            const struct gm__vvec *v = sf.order.v[i];
            for (size_t k = 0; k < v->n; k++) {
                struct gm_gql_loc *l = gm__valloc(c, sizeof(*l));
                if (!l || gm__vvec_push(&locs, c->a, l) < 0)
                    return;
                *l = ((const struct gm_gql_selection *)v->v[k])->loc;
            }
        }
        struct gm_gql_loc *arr = gm__valloc(c, locs.n * sizeof(*arr));
        if (!arr)
            return;
        for (size_t i = 0; i < locs.n; i++)
            arr[i] = *(const struct gm_gql_loc *)locs.v[i];
        if (def->name)
            gm__vreport(c, arr, locs.n, "Subscription \"%s\" must select only one top level field.",
                        def->name);
        else
            gm__vreport(c, arr, locs.n,
                        "Anonymous Subscription must select only one top level field.");
    }
    for (size_t i = 0; i < sf.order.n && !c->aborted; i++) {
        const struct gm__vvec *v = sf.order.v[i];
        const struct gm_gql_selection *first = v->v[0];
        if (strncmp(first->name, "__", 2) != 0)
            continue;
        struct gm_gql_loc *arr = gm__valloc(c, v->n * sizeof(*arr));
        if (!arr)
            return;
        for (size_t k = 0; k < v->n; k++)
            arr[k] = ((const struct gm_gql_selection *)v->v[k])->loc;
        if (def->name)
            gm__vreport(c, arr, v->n,
                        "Subscription \"%s\" must not select an introspection top level field.",
                        def->name);
        else
            gm__vreport(c, arr, v->n,
                        "Anonymous Subscription must not select an introspection top level "
                        "field.");
    }
}

/* UniqueVariableNames. */
static void
rule_unique_variables(struct gm__vctx *c, const struct gm_gql_definition *def)
{
    size_t n = 0;
    for (const struct gm_gql_var_def *vd = def->var_defs; vd; vd = vd->next)
        n++;
    if (n < 2)
        return;
    const char **names = gm__valloc(c, n * sizeof(*names));
    struct gm_gql_loc *locs = gm__valloc(c, n * sizeof(*locs));
    if (!names || !locs)
        return;
    n = 0;
    for (const struct gm_gql_var_def *vd = def->var_defs; vd; vd = vd->next, n++) {
        names[n] = vd->name;
        locs[n] = vd->name_loc;
    }
    report_duplicates(c, names, locs, n, "variable", "$");
}

/* The operation's variable definitions by name (the last of a name wins). */
static int
var_def_map(struct gm__vctx *c, const struct gm_gql_definition *def, struct gm__vmap *m)
{
    gm__vmap_init(m, true);
    for (const struct gm_gql_var_def *vd = def->var_defs; vd; vd = vd->next)
        if (gm__vmap_put(m, c->a, vd->name, NULL, (void *)vd) < 0) {
            gm__voom(c);
            return GM_ETOOBIG;
        }
    return 0;
}

static bool
allowed_variable_usage(const struct gm_gql_tref *var_type, const struct gm_gql_value *var_default,
                       const struct gm_gql_tref *loc_type, const struct gm_gql_value *loc_default)
{
    if (loc_type->kind == GM_GQL_TYPE_NON_NULL && var_type->kind != GM_GQL_TYPE_NON_NULL) {
        bool var_has = var_default && var_default->kind != GM_GQL_VALUE_NULL;
        if (!var_has && !loc_default)
            return false;
        return gm_gql_tref_is_subtype(var_type, loc_type->of);
    }
    return gm_gql_tref_is_subtype(var_type, loc_type);
}

/*
 * The operation's leave hooks: NoUndefinedVariables, NoUnusedVariables,
 * VariablesInAllowedPosition, each over the operation's usages and then
 * those of the fragments it reaches.
 */
static void
leave_operation(struct gm__vctx *c, struct gm__vop *op)
{
    const struct gm_gql_definition *def = op->def;
    /*
     * The three variable rules find nothing to report in an operation that
     * defines no variables, in a document that uses none: skip their walk
     * through every fragment the operation reaches.
     */
    if (!def->var_defs && c->doc->n_variables == 0)
        return;
    const struct gm__vusages **lists = NULL;
    size_t n_lists = gm__vop_usages(c, op, &lists);
    if (c->aborted || n_lists == 0)
        return;
    struct gm__vmap defs;
    if (var_def_map(c, def, &defs) < 0)
        return;
    for (size_t l = 0; l < n_lists && !c->aborted; l++) {
        const struct gm__vusages *u = lists[l];
        for (size_t i = 0; i < u->n && !c->aborted; i++) {
            const struct gm_gql_value *node = u->v[i].node;
            if (gm__vmap_get(&defs, node->str, NULL, NULL))
                continue;
            struct gm_gql_loc locs[2] = {node->loc, def->loc};
            if (def->name)
                gm__vreport(c, locs, 2, "Variable \"$%s\" is not defined by operation \"%s\".",
                            node->str, def->name);
            else
                gm__vreport(c, locs, 2, "Variable \"$%s\" is not defined.", node->str);
        }
    }
    struct gm__vmap used;
    gm__vmap_init(&used, true);
    for (size_t l = 0; l < n_lists && def->var_defs; l++)
        for (size_t i = 0; i < lists[l]->n; i++)
            if (gm__vmap_put(&used, c->a, lists[l]->v[i].node->str, NULL, NULL) < 0) {
                gm__voom(c);
                return;
            }
    for (const struct gm_gql_var_def *vd = def->var_defs; vd && !c->aborted; vd = vd->next) {
        if (gm__vmap_get(&used, vd->name, NULL, NULL))
            continue;
        if (def->name)
            gm__vreport(c, &vd->loc, 1, "Variable \"$%s\" is never used in operation \"%s\".",
                        vd->name, def->name);
        else
            gm__vreport(c, &vd->loc, 1, "Variable \"$%s\" is never used.", vd->name);
    }
    for (size_t l = 0; l < n_lists && def->var_defs; l++) {
        const struct gm__vusages *u = lists[l];
        for (size_t i = 0; i < u->n && !c->aborted; i++) {
            void *p = NULL;
            if (!u->v[i].type || !gm__vmap_get(&defs, u->v[i].node->str, NULL, &p))
                continue;
            const struct gm_gql_var_def *vd = p;
            const struct gm_gql_tref *vt = gm__vtype_from_ast(c, vd->type);
            if (!vt ||
                allowed_variable_usage(vt, vd->default_value, u->v[i].type, u->v[i].default_value))
                continue;
            char a[256], b[256];
            struct gm_gql_loc locs[2] = {vd->loc, u->v[i].node->loc};
            gm__vreport(c, locs, 2,
                        "Variable \"$%s\" of type \"%s\" used in position expecting type \"%s\".",
                        vd->name, gm__vtype_str(vt, a, sizeof(a)),
                        gm__vtype_str(u->v[i].type, b, sizeof(b)));
        }
    }
}

static void
walk_var_def(struct walker *w, const struct gm_gql_var_def *vd)
{
    struct gm__vctx *c = w->c;
    const struct gm_gql_tref *t = gm__vtype_from_ast(c, vd->type);
    const struct gm_gql_tref *input = t && gm_gql_tref_is_input(t) ? t : NULL;
    if (t && !input) {
        char *ts = gm_gql_print_type(vd->type);
        gm__vreport(c, &vd->type->loc, 1, "Variable \"$%s\" cannot be non-input type \"%s\".",
                    vd->name, ts);
        free(ts);
    }
    rule_unique_directives(c, vd->directives, NULL);
    known_type_ref(c, vd->type, false);
    if (vd->default_value)
        walk_value(w, vd->default_value, input, NULL);
    walk_directives(w, vd->directives, GM_GQL_DLOC_VARIABLE_DEFINITION, NULL, NULL);
}

static void
walk_operation(struct walker *w, struct gm__vop *op)
{
    struct gm__vctx *c = w->c;
    const struct gm_gql_definition *def = op->def;
    struct gm_gql_stype *root = root_type(c, def->op);
    if (root && root->kind != GM_GQL_OBJECT)
        root = NULL;
    if (w->main) {
        if (def->name) {
            void *prev = NULL;
            if (gm__vmap_get(&w->op_names, def->name, NULL, &prev)) {
                const struct gm_gql_definition *first = prev;
                struct gm_gql_loc locs[2] = {first->name_loc, def->name_loc};
                gm__vreport(c, locs, 2, "There can be only one operation named \"%s\".", def->name);
            } else if (gm__vmap_put(&w->op_names, c->a, def->name, NULL, (void *)def) < 0) {
                gm__voom(c);
            }
        }
        if (!def->name && w->n_operations > 1)
            gm__vreport(c, &def->loc, 1,
                        "This anonymous operation must be the only defined operation.");
        rule_single_field_subscription(c, def);
        rule_unique_variables(c, def);
        rule_unique_directives(c, def->directives, NULL);
        for (const struct gm_gql_var_def *vd = def->var_defs; vd && !c->aborted; vd = vd->next)
            walk_var_def(w, vd);
    }
    walk_directives(w, def->directives, op_location(def->op), NULL, NULL);
    if (!c->aborted)
        walk_selection_set(w, def->selection_set, root, NULL, false);
    if (w->main && !c->aborted)
        leave_operation(c, op);
}

static void
walk_fragment(struct walker *w, const struct gm_gql_definition *def)
{
    struct gm__vctx *c = w->c;
    struct gm_gql_stype *cond = gm__vtype(c, def->type_condition);
    if (w->main) {
        const struct gm_gql_loc *cloc = &def->type_condition_loc;
        if (cond && !is_composite(cond))
            gm__vreport(c, cloc, 1,
                        "Fragment \"%s\" cannot condition on non composite type \"%s\".", def->name,
                        cond->name);
        void *prev = NULL;
        if (gm__vmap_get(&w->frag_names, def->name, NULL, &prev)) {
            const struct gm_gql_definition *first = prev;
            struct gm_gql_loc locs[2] = {first->name_loc, def->name_loc};
            gm__vreport(c, locs, 2, "There can be only one fragment named \"%s\".", def->name);
        } else if (gm__vmap_put(&w->frag_names, c->a, def->name, NULL, (void *)def) < 0) {
            gm__voom(c);
        }
        gm__vrule_fragment_cycles(c, def);
        rule_unique_directives(c, def->directives, NULL);
        rule_known_type(c, def->type_condition, *cloc, false);
    }
    walk_directives(w, def->directives, GM_GQL_DLOC_FRAGMENT_DEFINITION, NULL, NULL);
    if (!c->aborted)
        walk_selection_set(w, def->selection_set, is_output(cond) ? cond : NULL, NULL, false);
}

void
gm__vwalk_usages(struct gm__vctx *c, const struct gm_gql_definition *def, struct gm__vusages *out)
{
    struct walker w;
    memset(&w, 0, sizeof(w));
    w.c = c;
    w.out = out;
    if (def->kind == GM_GQL_DEF_OPERATION) {
        struct gm__vop op = {.def = def};
        walk_operation(&w, &op);
    } else {
        walk_fragment(&w, def);
    }
}

/* ---- type system definitions (not executable, but graphql-js walks them) ---- */

static struct gm__vmap *
type_directive_map(struct gm__vctx *c, const char *type_name)
{
    void *m = NULL;
    if (gm__vmap_get(&c->type_dirs, type_name, NULL, &m))
        return m;
    m = gm__valloc(c, sizeof(struct gm__vmap));
    if (!m)
        return NULL;
    gm__vmap_init(m, true);
    if (gm__vmap_put(&c->type_dirs, c->a, type_name, NULL, m) < 0) {
        gm__voom(c);
        return NULL;
    }
    return m;
}

static void
sdl_directives(struct walker *w, const struct gm_gql_directive *dirs, unsigned where,
               struct gm__vmap *seen)
{
    if (seen || dirs)
        rule_unique_directives(w->c, dirs, seen);
    walk_directives(w, dirs, where, NULL, NULL);
}

static void
walk_input_values(struct walker *w, const struct gm_gql_input_value_def *iv, unsigned where)
{
    for (; iv && !w->c->aborted; iv = iv->next) {
        rule_unique_directives(w->c, iv->directives, NULL);
        known_type_ref(w->c, iv->type, true);
        if (iv->default_value)
            walk_value(w, iv->default_value, NULL, NULL);
        walk_directives(w, iv->directives, where, NULL, NULL);
    }
}

static void
walk_sdl(struct walker *w, const struct gm_gql_definition *def)
{
    struct gm__vctx *c = w->c;
    struct gm__vmap *seen = NULL;
    switch (def->kind) {
    case GM_GQL_DEF_SCHEMA:
        seen = type_directive_map(c, "");
        sdl_directives(w, def->directives, GM_GQL_DLOC_SCHEMA, seen);
        for (const struct gm_gql_root_type_def *r = def->root_types; r && !c->aborted; r = r->next)
            rule_known_type(c, r->type_name, r->type_name_loc, true);
        return;
    case GM_GQL_DEF_SCALAR:
        sdl_directives(w, def->directives, GM_GQL_DLOC_SCALAR, type_directive_map(c, def->name));
        return;
    case GM_GQL_DEF_OBJECT:
    case GM_GQL_DEF_INTERFACE:
        seen = type_directive_map(c, def->name);
        if (seen)
            rule_unique_directives(c, def->directives, seen);
        for (const struct gm_gql_name_ref *r = def->interfaces; r && !c->aborted; r = r->next)
            rule_known_type(c, r->name, r->loc, true);
        walk_directives(w, def->directives,
                        def->kind == GM_GQL_DEF_OBJECT ? GM_GQL_DLOC_OBJECT : GM_GQL_DLOC_INTERFACE,
                        NULL, NULL);
        for (const struct gm_gql_field_def *f = def->fields; f && !c->aborted; f = f->next) {
            rule_unique_directives(c, f->directives, NULL);
            walk_input_values(w, f->args, GM_GQL_DLOC_ARGUMENT_DEFINITION);
            known_type_ref(c, f->type, true);
            walk_directives(w, f->directives, GM_GQL_DLOC_FIELD_DEFINITION, NULL, NULL);
        }
        return;
    case GM_GQL_DEF_UNION:
        sdl_directives(w, def->directives, GM_GQL_DLOC_UNION, type_directive_map(c, def->name));
        for (const struct gm_gql_name_ref *r = def->members; r && !c->aborted; r = r->next)
            rule_known_type(c, r->name, r->loc, true);
        return;
    case GM_GQL_DEF_ENUM:
        sdl_directives(w, def->directives, GM_GQL_DLOC_ENUM, type_directive_map(c, def->name));
        for (const struct gm_gql_enum_value_def *v = def->values; v && !c->aborted; v = v->next)
            sdl_directives(w, v->directives, GM_GQL_DLOC_ENUM_VALUE, NULL);
        return;
    case GM_GQL_DEF_INPUT_OBJECT:
        sdl_directives(w, def->directives, GM_GQL_DLOC_INPUT_OBJECT,
                       type_directive_map(c, def->name));
        walk_input_values(w, def->input_fields, GM_GQL_DLOC_INPUT_FIELD_DEFINITION);
        return;
    case GM_GQL_DEF_DIRECTIVE:
        walk_input_values(w, def->args, GM_GQL_DLOC_ARGUMENT_DEFINITION);
        return;
    default:
        return;
    }
}

/* ---- the document ---- */

static int
setup(struct gm__vctx *c)
{
    size_t n_frags = 0, n_ops = 0;
    for (const struct gm_gql_definition *d = c->doc->definitions; d; d = d->next) {
        if (d->kind == GM_GQL_DEF_FRAGMENT)
            n_frags++;
        else if (d->kind == GM_GQL_DEF_OPERATION)
            n_ops++;
        else if (d->kind >= GM_GQL_DEF_SCALAR && d->kind <= GM_GQL_DEF_INPUT_OBJECT)
            c->has_doc_types = true;
    }
    c->frags = gm__valloc(c, (n_frags + 1) * sizeof(*c->frags));
    c->ops = gm__valloc(c, (n_ops + 1) * sizeof(*c->ops));
    if (!c->frags || !c->ops)
        return GM_ETOOBIG;
    for (const struct gm_gql_definition *d = c->doc->definitions; d; d = d->next) {
        if (d->kind == GM_GQL_DEF_OPERATION) {
            c->ops[c->n_ops++].def = d;
        } else if (d->kind == GM_GQL_DEF_FRAGMENT) {
            struct gm__vfrag *f = gm__vfrag_get(c, d->name);
            if (!f) {
                f = &c->frags[c->n_frags++];
                f->name = d->name;
                f->cyc_path_index = -1;
                f->spreads_self = -1;
                if (gm__vmap_put(&c->frag_by_name, c->a, d->name, NULL, f) < 0)
                    return GM_ETOOBIG;
            }
            f->def = d;
        } else if (d->kind == GM_GQL_DEF_DIRECTIVE) {
            if (gm__vmap_put(&c->doc_dirs, c->a, d->name, NULL, (void *)d) < 0)
                return GM_ETOOBIG;
        }
    }
    return 0;
}

static void
walk_document(struct gm__vctx *c)
{
    struct walker w;
    memset(&w, 0, sizeof(w));
    w.c = c;
    w.main = true;
    w.n_operations = c->n_ops;
    gm__vmap_init(&w.op_names, true);
    gm__vmap_init(&w.frag_names, true);
    /* ExecutableDefinitions */
    for (const struct gm_gql_definition *d = c->doc->definitions; d && !c->aborted; d = d->next) {
        if (d->kind == GM_GQL_DEF_OPERATION || d->kind == GM_GQL_DEF_FRAGMENT)
            continue;
        /* graphql-js's definition node starts at its description. */
        if (d->kind == GM_GQL_DEF_SCHEMA)
            gm__vreport(c, &d->start_loc, 1, "The schema definition is not executable.");
        else
            gm__vreport(c, &d->start_loc, 1, "The \"%s\" definition is not executable.", d->name);
    }
    size_t op = 0;
    for (const struct gm_gql_definition *d = c->doc->definitions; d && !c->aborted; d = d->next) {
        if (d->kind == GM_GQL_DEF_OPERATION)
            walk_operation(&w, &c->ops[op++]);
        else if (d->kind == GM_GQL_DEF_FRAGMENT)
            walk_fragment(&w, d);
        else
            walk_sdl(&w, d);
    }
    if (!c->aborted)
        gm__vrule_unused_fragments(c);
}

int
gm_gql_validate(const struct gm_gql_schema *s, const struct gm_gql_document *doc,
                const struct gm_gql_vlimits *lim, struct gm_arena *a, struct gm_gql_errors *errs)
{
    struct gm__vctx c;
    memset(&c, 0, sizeof(c));
    c.s = s;
    c.doc = doc;
    c.a = a;
    c.errs = errs;
    c.overlap_budget = GM__VOVERLAP_BUDGET;
    gm__vmap_init(&c.frag_by_name, true);
    gm__vmap_init(&c.spreads, false);
    gm__vmap_init(&c.type_dirs, true);
    gm__vmap_init(&c.doc_dirs, true);
    size_t saved_max = errs->max;
    /* Room for graphql-js's 100 errors and its "Too many validation errors". */
    errs->max = errs->count + GM__VMAX_ERRORS + 1;
    int rc = setup(&c);
    if (rc < 0) {
        gm__voom(&c);
        goto out;
    }
    walk_document(&c);
    if (c.oom || c.too_complex) {
        rc = GM_ETOOBIG;
        goto out;
    }
    if (c.n_errors || c.aborted) {
        rc = GM_EINVAL;
        goto out;
    }
    rc = gm__vlimits(&c, lim);
    if (c.oom)
        rc = GM_ETOOBIG;
out:
    if (c.oom)
        gm_gql_errors_add(errs, a, GM_GQL_CODE_COMPLEX, NULL, 0, NULL,
                          "The document is too large to validate.");
    errs->max = saved_max;
    return rc;
}
