/*
 * validate_values.c: ValuesOfCorrectType, node by node for the walk in
 * validate.c, and gm_gql_literal_fits, the same checks over one whole
 * value for the schema builder and the executor.
 *
 * The messages are graphql-js's: those of the built-in scalars'
 * parseLiteral ("Int cannot represent non-integer value: 1.5"), of enums
 * (with "Did you mean the enum value ...?") and of the rule itself. Custom
 * scalars (DateTime) take any literal at validation, as a scalar without
 * parseLiteral does in graphql-js.
 */
#include "validate_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_MAX 1024

const struct gm_gql_tref *
gm__vlist_item(const struct gm_gql_tref *t)
{
    if (t->kind == GM_GQL_TYPE_NON_NULL)
        t = t->of;
    return t->kind == GM_GQL_TYPE_LIST ? t->of : t;
}

static const struct gm_gql_tref *
nullable(const struct gm_gql_tref *t)
{
    return t && t->kind == GM_GQL_TYPE_NON_NULL ? t->of : t;
}

/* print(node), into buf (truncated). */
static const char *
print_value(const struct gm_gql_value *v, char *buf, size_t n)
{
    char *s = gm_gql_print_value(v);
    snprintf(buf, n, "%s", s ? s : "");
    free(s);
    return buf;
}

static bool
int_in_range(const char *text)
{
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno == ERANGE)
        return false;
    return v >= -2147483648LL && v <= 2147483647LL;
}

/*
 * suggestionList over an enum's value names, for graphql-js's
 * didYouMeanEnumValue (whose input is the printed value). c may be NULL
 * outside a validation; the suggestions then come from a local context.
 */
static void
enum_suggestions(const struct gm_gql_stype *t, const char *value_str, char *msg, size_t n)
{
    struct gm_arena a;
    struct gm__vctx c;
    memset(&c, 0, sizeof(c));
    gm_arena_init(&a, 0);
    c.a = &a;
    const char **names = gm_arena_alloc(&a, (t->n_values + 1) * sizeof(*names));
    if (names) {
        for (size_t i = 0; i < t->n_values; i++)
            names[i] = t->values[i].name;
        const char *sugg[5];
        size_t k = gm__vsuggest(&c, value_str, names, t->n_values, sugg, 5);
        gm__gql_did_you_mean(msg, n, "the enum value", sugg, k);
    }
    gm_arena_deinit(&a);
}

/*
 * graphql-js's isValidValueNode for a literal at a position of type
 * loc_type: true when it fits, else false with the message in msg.
 */
static bool
leaf_fits(const struct gm_gql_value *v, const struct gm_gql_tref *loc_type, char *msg, size_t n)
{
    char vs[MSG_MAX / 2], ts[256];
    if (!loc_type)
        return true;
    const struct gm_gql_stype *t = gm_gql_tref_named(loc_type);
    if (!gm_gql_type_is_leaf(t)) {
        snprintf(msg, n, "Expected value of type \"%s\", found %s.",
                 gm__vtype_str(loc_type, ts, sizeof(ts)), print_value(v, vs, sizeof(vs)));
        return false;
    }
    if (t->kind == GM_GQL_ENUM) {
        if (v->kind != GM_GQL_VALUE_ENUM) {
            print_value(v, vs, sizeof(vs));
            snprintf(msg, n, "Enum \"%s\" cannot represent non-enum value: %s.", t->name, vs);
            enum_suggestions(t, vs, msg, n);
            return false;
        }
        if (!gm_gql_enum_value(t, v->str)) {
            snprintf(msg, n, "Value \"%s\" does not exist in \"%s\" enum.", v->str, t->name);
            enum_suggestions(t, v->str, msg, n);
            return false;
        }
        return true;
    }
    switch (t->scalar) {
    case GM_GQL_SC_INT:
        if (v->kind != GM_GQL_VALUE_INT) {
            snprintf(msg, n, "Int cannot represent non-integer value: %s",
                     print_value(v, vs, sizeof(vs)));
            return false;
        }
        if (!int_in_range(v->str)) {
            snprintf(msg, n, "Int cannot represent non 32-bit signed integer value: %s", v->str);
            return false;
        }
        return true;
    case GM_GQL_SC_FLOAT:
        if (v->kind != GM_GQL_VALUE_INT && v->kind != GM_GQL_VALUE_FLOAT) {
            snprintf(msg, n, "Float cannot represent non numeric value: %s",
                     print_value(v, vs, sizeof(vs)));
            return false;
        }
        return true;
    case GM_GQL_SC_STRING:
        if (v->kind != GM_GQL_VALUE_STRING) {
            snprintf(msg, n, "String cannot represent a non string value: %s",
                     print_value(v, vs, sizeof(vs)));
            return false;
        }
        return true;
    case GM_GQL_SC_BOOLEAN:
        if (v->kind != GM_GQL_VALUE_BOOLEAN) {
            snprintf(msg, n, "Boolean cannot represent a non boolean value: %s",
                     print_value(v, vs, sizeof(vs)));
            return false;
        }
        return true;
    case GM_GQL_SC_ID:
        if (v->kind != GM_GQL_VALUE_STRING && v->kind != GM_GQL_VALUE_INT) {
            snprintf(msg, n, "ID cannot represent a non-string and non-integer value: %s",
                     print_value(v, vs, sizeof(vs)));
            return false;
        }
        return true;
    default:
        return true;
    }
}

bool
gm__vvalue_list(struct gm__vctx *c, const struct gm_gql_value *v,
                const struct gm_gql_tref *loc_type)
{
    const struct gm_gql_tref *t = nullable(loc_type);
    if (t && t->kind == GM_GQL_TYPE_LIST)
        return true;
    /* Not a list position: the list is checked as a whole against the item type. */
    char msg[MSG_MAX];
    if (!leaf_fits(v, t, msg, sizeof(msg)))
        gm__vreport(c, &v->loc, 1, "%s", msg);
    return false;
}

/* The required fields of input object t missing from the literal v (each reported by emit). */
static bool
object_fields_fit(const struct gm_gql_stype *t, const struct gm_gql_value *v, char *msg, size_t n,
                  struct gm__vctx *c)
{
    bool ok = true;
    for (size_t i = 0; i < t->n_input_fields; i++) {
        const struct gm_gql_sarg *fd = &t->input_fields[i];
        if (fd->type->kind != GM_GQL_TYPE_NON_NULL || fd->default_value)
            continue;
        bool given = false;
        for (const struct gm_gql_object_field *f = v->fields; f && !given; f = f->next)
            given = strcmp(f->name, fd->name) == 0;
        if (given)
            continue;
        char ts[256];
        snprintf(msg, n, "Field \"%s.%s\" of required type \"%s\" was not provided.", t->name,
                 fd->name, gm__vtype_str(fd->type, ts, sizeof(ts)));
        ok = false;
        if (!c)
            return false;
        gm__vreport(c, &v->loc, 1, "%s", msg);
    }
    return ok;
}

bool
gm__vvalue_object(struct gm__vctx *c, const struct gm_gql_value *v,
                  const struct gm_gql_tref *loc_type)
{
    const struct gm_gql_stype *t = loc_type ? gm_gql_tref_named(loc_type) : NULL;
    char msg[MSG_MAX];
    if (!t || t->kind != GM_GQL_INPUT_OBJECT) {
        if (!leaf_fits(v, loc_type, msg, sizeof(msg)))
            gm__vreport(c, &v->loc, 1, "%s", msg);
        return false;
    }
    object_fields_fit(t, v, msg, sizeof(msg), c);
    return true;
}

static void
unknown_field_msg(const struct gm_gql_stype *t, const char *name, char *msg, size_t n)
{
    struct gm_arena a;
    struct gm__vctx c;
    memset(&c, 0, sizeof(c));
    gm_arena_init(&a, 0);
    c.a = &a;
    snprintf(msg, n, "Field \"%s\" is not defined by type \"%s\".", name, t->name);
    const char **names = gm_arena_alloc(&a, (t->n_input_fields + 1) * sizeof(*names));
    if (names) {
        for (size_t i = 0; i < t->n_input_fields; i++)
            names[i] = t->input_fields[i].name;
        const char *sugg[5];
        size_t k = gm__vsuggest(&c, name, names, t->n_input_fields, sugg, 5);
        gm__gql_did_you_mean(msg, n, NULL, sugg, k);
    }
    gm_arena_deinit(&a);
}

void
gm__vvalue_object_field(struct gm__vctx *c, const struct gm_gql_object_field *f,
                        const struct gm_gql_tref *object_type, const struct gm_gql_tref *field_type)
{
    const struct gm_gql_stype *t = object_type ? gm_gql_tref_named(object_type) : NULL;
    if (field_type || !t || t->kind != GM_GQL_INPUT_OBJECT)
        return;
    char msg[MSG_MAX];
    unknown_field_msg(t, f->name, msg, sizeof(msg));
    gm__vreport(c, &f->loc, 1, "%s", msg);
}

void
gm__vvalue_null(struct gm__vctx *c, const struct gm_gql_value *v,
                const struct gm_gql_tref *loc_type)
{
    char ts[256];
    if (loc_type && loc_type->kind == GM_GQL_TYPE_NON_NULL)
        gm__vreport(c, &v->loc, 1, "Expected value of type \"%s\", found null.",
                    gm__vtype_str(loc_type, ts, sizeof(ts)));
}

void
gm__vvalue_leaf(struct gm__vctx *c, const struct gm_gql_value *v,
                const struct gm_gql_tref *loc_type)
{
    char msg[MSG_MAX];
    if (!leaf_fits(v, loc_type, msg, sizeof(msg)))
        gm__vreport(c, &v->loc, 1, "%s", msg);
}

/* The first ValuesOfCorrectType error of v at a position of type t, into msg. */
static bool
fits(const struct gm_gql_value *v, const struct gm_gql_tref *t, char *msg, size_t n)
{
    switch (v->kind) {
    case GM_GQL_VALUE_VARIABLE:
        return true;
    case GM_GQL_VALUE_NULL:
        if (t && t->kind == GM_GQL_TYPE_NON_NULL) {
            char ts[256];
            snprintf(msg, n, "Expected value of type \"%s\", found null.",
                     gm__vtype_str(t, ts, sizeof(ts)));
            return false;
        }
        return true;
    case GM_GQL_VALUE_LIST: {
        const struct gm_gql_tref *nt = nullable(t);
        if (!nt || nt->kind != GM_GQL_TYPE_LIST)
            return leaf_fits(v, nt, msg, n);
        for (const struct gm_gql_value *it = v->items; it; it = it->next)
            if (!fits(it, nt->of, msg, n))
                return false;
        return true;
    }
    case GM_GQL_VALUE_OBJECT: {
        const struct gm_gql_stype *ot = t ? gm_gql_tref_named(t) : NULL;
        if (!ot || ot->kind != GM_GQL_INPUT_OBJECT)
            return leaf_fits(v, t, msg, n);
        if (!object_fields_fit(ot, v, msg, n, NULL))
            return false;
        for (const struct gm_gql_object_field *f = v->fields; f; f = f->next) {
            const struct gm_gql_sarg *fd = gm_gql_input_field(ot, f->name);
            if (!fd) {
                unknown_field_msg(ot, f->name, msg, n);
                return false;
            }
            if (!fits(f->value, fd->type, msg, n))
                return false;
        }
        return true;
    }
    default:
        return leaf_fits(v, t, msg, n);
    }
}

bool
gm_gql_literal_fits(const struct gm_gql_schema *s, const struct gm_gql_value *v,
                    const struct gm_gql_tref *t, char *msg, size_t n)
{
    char local[MSG_MAX];
    (void)s;
    if (!msg || n == 0) {
        msg = local;
        n = sizeof(local);
    }
    msg[0] = '\0';
    return fits(v, t, msg, n);
}
