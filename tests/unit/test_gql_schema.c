/*
 * test_gql_schema.c: building the runtime schema from SDL: the public
 * schema file (types, fields, arguments, defaults, enums, roots, the
 * built-ins and introspection types, graphql-js's type order), the type
 * predicates, resolver binding and the unbound-field check, and one test
 * per type system error the builder reports.
 */
#include "schema.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
read_schema_file(size_t *len)
{
    const char *root = getenv("GAMIFY_SOURCE_ROOT");
    cr_assert(root, "GAMIFY_SOURCE_ROOT is not set (run the tests through meson)");
    char path[4096];
    snprintf(path, sizeof path, "%s/api/schema.graphql", root);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static struct gm_gql_schema *
public_schema(void)
{
    size_t len;
    char *src = read_schema_file(&len);
    struct gm_gql_schema *s = NULL;
    struct gm_err err;
    int rc = gm_gql_schema_new(src, len, &s, &err);
    free(src);
    cr_assert_eq(rc, 0, "schema: %d:%d %s", err.line, err.column, err.msg);
    return s;
}

static void
expect_error(const char *sdl, int line, int column, const char *msg)
{
    struct gm_gql_schema *s = (void *)1;
    struct gm_err err;
    int rc = gm_gql_schema_new(sdl, strlen(sdl), &s, &err);
    cr_assert_eq(rc, GM_EINVAL, "'%s' gave %d", sdl, rc);
    cr_assert_null(s);
    cr_assert_str_eq(err.msg, msg, "'%s'", sdl);
    cr_assert_eq(err.line, line, "'%s': line %d", sdl, err.line);
    cr_assert_eq(err.column, column, "'%s': column %d", sdl, err.column);
}

Test(gql_schema, public_schema_types)
{
    struct gm_gql_schema *s = public_schema();
    cr_assert_str_eq(s->query->name, "Query");
    cr_assert_str_eq(s->mutation->name, "Mutation");
    cr_assert_str_eq(s->subscription->name, "Subscription");
    cr_assert_not_null(gm_gql_type_field(s, s->subscription, "leaderboardChanged"));
    cr_assert_not_null(s->description);

    struct gm_gql_stype *q = gm_gql_schema_type(s, "Query");
    cr_assert_eq(q, s->query);
    struct gm_gql_sfield *lb = gm_gql_type_field(s, q, "leaderboard");
    cr_assert_not_null(lb);
    cr_assert_eq(lb->n_args, 6);
    cr_assert_str_eq(lb->args[0].name, "board");
    cr_assert_eq(lb->args[0].default_value->kind, GM_GQL_VALUE_STRING);
    cr_assert_str_eq(lb->args[0].default_value->str, "global");
    const struct gm_gql_sarg *period = gm_gql_field_arg(lb, "period");
    cr_assert_eq(period->default_value->kind, GM_GQL_VALUE_ENUM);
    cr_assert_str_eq(period->default_value->str, "ALL_TIME");
    cr_assert_eq(gm_gql_tref_named(period->type)->kind, GM_GQL_ENUM);
    cr_assert_eq(gm_gql_tref_named(period->type)->n_values, 3);
    char buf[64];
    cr_assert_str_eq(gm_gql_tref_str(lb->type, buf, sizeof buf), "Leaderboard");

    struct gm_gql_sfield *badges = gm_gql_type_field(s, q, "badges");
    cr_assert_str_eq(gm_gql_tref_str(badges->type, buf, sizeof buf), "[UserBadge!]!");
    cr_assert_eq(badges->owner, q);
    cr_assert_eq(badges->index, 1);

    struct gm_gql_stype *dt = gm_gql_schema_type(s, "DateTime");
    cr_assert_eq(dt->kind, GM_GQL_SCALAR);
    cr_assert_eq(dt->scalar, GM_GQL_SC_DATETIME);
    cr_assert_eq(gm_gql_schema_type(s, "Int")->scalar, GM_GQL_SC_INT);
    /* Nothing references Float: graphql-js leaves it out, so do we. */
    cr_assert_null(gm_gql_schema_type(s, "Float"));
    cr_assert_null(gm_gql_schema_type(s, "Nope"));

    /* Meta fields. */
    cr_assert_eq(gm_gql_type_field(s, q, "__typename"), s->typename_field);
    cr_assert_eq(gm_gql_type_field(s, q, "__schema"), s->schema_field);
    cr_assert_eq(gm_gql_type_field(s, q, "__type"), s->type_field);
    struct gm_gql_stype *up = gm_gql_schema_type(s, "UserProfile");
    cr_assert_eq(gm_gql_type_field(s, up, "__typename"), s->typename_field);
    cr_assert_null(gm_gql_type_field(s, up, "__schema"));
    cr_assert_null(gm_gql_type_field(s, gm_gql_schema_type(s, "Int"), "__typename"));
    cr_assert_str_eq(gm_gql_tref_str(s->type_field->args[0].type, buf, sizeof buf), "String!");

    /* Introspection types and directives. */
    struct gm_gql_stype *ty = gm_gql_schema_type(s, "__Type");
    cr_assert(ty->introspection);
    cr_assert_str_eq(ty->fields[0].name, "kind");
    cr_assert_str_eq(ty->fields[3].name, "specifiedByURL");
    cr_assert_eq(gm_gql_schema_type(s, "__DirectiveLocation")->n_values, GM_GQL_DLOC_COUNT);
    const struct gm_gql_sdirective *dep = gm_gql_schema_directive(s, "deprecated");
    cr_assert_not_null(dep);
    cr_assert(dep->locations & GM_GQL_DLOC_ENUM_VALUE);
    cr_assert_not(dep->locations & GM_GQL_DLOC_FIELD);
    cr_assert_str_eq(s->directives[0]->name, "include");
    cr_assert_str_eq(s->directives[3]->name, "specifiedBy");
    cr_assert_eq(s->n_directives, 4);
    cr_assert_str_eq(gm_gql_dloc_name(GM_GQL_DLOC_INLINE_FRAGMENT), "INLINE_FRAGMENT");
    gm_gql_schema_free(s);
}

/*
 * The order graphql-js 16 gives `Object.keys(buildSchema(sdl).getTypeMap())`
 * for api/schema.graphql (printed with node); a client's printSchema() of
 * our introspection keeps our order, so it must be this one.
 */
Test(gql_schema, graphql_js_type_order)
{
    static const char *const want[] = {
        "DateTime",
        "Query",
        "ID",
        "String",
        "Int",
        "Mutation",
        "Subscription",
        "UserProfile",
        "UserBadge",
        "Badge",
        "BadgeCatalogueEntry",
        "Boolean",
        "Leaderboard",
        "LeaderboardEntry",
        "LeaderboardMe",
        "PageInfo",
        "LeaderboardPeriod",
        "Reward",
        "Streak",
        "RedeemRewardPayload",
        "HistoryOrder",
        "RedemptionStatus",
        "RejectionReason",
        "Redemption",
        "RedemptionPage",
        "LedgerPage",
        "LedgerEntry",
        "__Schema",
        "__Type",
        "__TypeKind",
        "__Field",
        "__InputValue",
        "__EnumValue",
        "__Directive",
        "__DirectiveLocation",
    };
    struct gm_gql_schema *s = public_schema();
    cr_assert_eq(s->n_types, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < s->n_types; i++)
        cr_assert_str_eq(s->types_ordered[i]->name, want[i], "type %zu", i);
    for (size_t i = 1; i < s->n_types; i++)
        cr_assert_lt(strcmp(s->types[i - 1]->name, s->types[i]->name), 0);
    gm_gql_schema_free(s);
}

static int
dummy_resolver(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    (void)ctx, (void)out;
    return 0;
}

Test(gql_schema, bind_and_check)
{
    struct gm_gql_schema *s = public_schema();
    struct gm_err err;
    cr_assert_eq(gm_gql_schema_check(s, &err), GM_EINVAL);
    cr_assert_str_eq(err.msg, "no resolver for Query.userProfile (73 fields without a resolver)");

    cr_assert_eq(gm_gql_schema_bind(s, "Query.userProfile", dummy_resolver, &err, &err), 0);
    struct gm_gql_sfield *f = gm_gql_type_field(s, s->query, "userProfile");
    cr_assert_eq(f->resolve, dummy_resolver);
    cr_assert_eq(f->resolve_data, &err);
    cr_assert_eq(gm_gql_schema_bind(s, "Query.nope", dummy_resolver, NULL, &err), GM_ENOTFOUND);
    cr_assert_str_eq(err.msg, "resolver coordinate \"Query.nope\": Query has no field nope");
    cr_assert_eq(gm_gql_schema_bind(s, "Nope.x", dummy_resolver, NULL, &err), GM_ENOTFOUND);
    cr_assert_eq(gm_gql_schema_bind(s, "LeaderboardPeriod.x", dummy_resolver, NULL, &err),
                 GM_ENOTFOUND);
    cr_assert_eq(gm_gql_schema_bind(s, "__Type.name", dummy_resolver, NULL, &err), GM_ENOTFOUND);
    cr_assert_eq(gm_gql_schema_bind(s, "Query", dummy_resolver, NULL, &err), GM_ENOTFOUND);
    cr_assert_eq(gm_gql_schema_bind(s, ".x", dummy_resolver, NULL, &err), GM_ENOTFOUND);

    for (size_t i = 0; i < s->n_types; i++) {
        struct gm_gql_stype *t = s->types[i];
        if (t->kind != GM_GQL_OBJECT || t->introspection)
            continue;
        for (size_t k = 0; k < t->n_fields; k++) {
            char coord[256];
            snprintf(coord, sizeof coord, "%s.%s", t->name, t->fields[k].name);
            cr_assert_eq(gm_gql_schema_bind(s, coord, dummy_resolver, NULL, &err), 0, "%s", coord);
        }
    }
    cr_assert_eq(gm_gql_schema_check(s, &err), 0);
    gm_gql_schema_free(s);
}

static const char iface_sdl[] = "interface Node { id: ID! }\n"
                                "interface Named implements Node { id: ID! name: String }\n"
                                "type A implements Node & Named { id: ID! name: String }\n"
                                "type B implements Node { id: ID! }\n"
                                "type C { x: Int }\n"
                                "union AB = A | B\n"
                                "type Query { node: Node ab: AB c: C }\n";

Test(gql_schema, predicates)
{
    struct gm_gql_schema *s = NULL;
    struct gm_err err;
    cr_assert_eq(gm_gql_schema_new(iface_sdl, strlen(iface_sdl), &s, &err), 0, "%s", err.msg);
    struct gm_gql_stype *node = gm_gql_schema_type(s, "Node"),
                        *named = gm_gql_schema_type(s, "Named"), *a = gm_gql_schema_type(s, "A"),
                        *b = gm_gql_schema_type(s, "B"), *c = gm_gql_schema_type(s, "C"),
                        *ab = gm_gql_schema_type(s, "AB");
    cr_assert_eq(node->n_possible, 2);
    cr_assert_eq(node->possible[0], a);
    cr_assert_eq(node->possible[1], b);
    cr_assert_eq(named->n_possible, 1);
    cr_assert(gm_gql_type_is_abstract(node));
    cr_assert(gm_gql_type_is_abstract(ab));
    cr_assert_not(gm_gql_type_is_abstract(a));
    cr_assert(gm_gql_type_is_composite(ab));
    cr_assert(gm_gql_type_is_leaf(gm_gql_schema_type(s, "Int")));
    cr_assert(gm_gql_type_is_possible(ab, a));
    cr_assert_not(gm_gql_type_is_possible(ab, c));
    cr_assert(gm_gql_types_overlap(node, ab));
    cr_assert(gm_gql_types_overlap(named, a));
    cr_assert(gm_gql_types_overlap(a, named));
    cr_assert_not(gm_gql_types_overlap(named, b));
    cr_assert_not(gm_gql_types_overlap(a, b));
    cr_assert_not(gm_gql_types_overlap(c, ab));

    /* Variable positions: `Int!` flows into `Int`, not the other way. */
    struct gm_arena ar;
    gm_arena_init(&ar, 0);
    struct gm_gql_document *doc;
    cr_assert_eq(gm_gql_parse("query($a: Int!, $b: Int, $c: [Int!]!, $d: [Int]) { c }", 54, NULL,
                              &ar, &doc, &err),
                 0, "%s", err.msg);
    struct gm_gql_tref *t[4];
    int i = 0;
    for (struct gm_gql_var_def *v = doc->definitions->var_defs; v; v = v->next)
        t[i++] = gm_gql_tref_resolve(s, v->type, &ar);
    cr_assert(gm_gql_tref_is_subtype(t[0], t[1]));
    cr_assert_not(gm_gql_tref_is_subtype(t[1], t[0]));
    cr_assert(gm_gql_tref_is_subtype(t[2], t[3]));
    cr_assert_not(gm_gql_tref_is_subtype(t[3], t[2]));
    cr_assert_not(gm_gql_tref_is_subtype(t[0], t[3]));
    cr_assert(gm_gql_tref_equal(t[0], t[0]));
    cr_assert_not(gm_gql_tref_equal(t[0], t[1]));
    struct gm_gql_type unknown = {.kind = GM_GQL_TYPE_NAMED, .name = "Nope"};
    cr_assert_null(gm_gql_tref_resolve(s, &unknown, &ar));
    gm_arena_deinit(&ar);
    gm_gql_schema_free(s);
}

Test(gql_schema, deprecation_and_specified_by)
{
    static const char sdl[] =
        "scalar Url @specifiedBy(url: \"https://url.spec.whatwg.org/\")\n"
        "enum E { A B @deprecated C @deprecated(reason: \"use A\") }\n"
        "type Query { a(x: Int @deprecated): Int @deprecated(reason: \"gone\") b: Url e: E }\n";
    struct gm_gql_schema *s = NULL;
    struct gm_err err;
    cr_assert_eq(gm_gql_schema_new(sdl, strlen(sdl), &s, &err), 0, "%s", err.msg);
    struct gm_gql_stype *e = gm_gql_schema_type(s, "E");
    cr_assert_null(gm_gql_enum_value(e, "A")->deprecation);
    cr_assert_str_eq(gm_gql_enum_value(e, "B")->deprecation, "No longer supported");
    cr_assert_str_eq(gm_gql_enum_value(e, "C")->deprecation, "use A");
    cr_assert_null(gm_gql_enum_value(e, "D"));
    struct gm_gql_sfield *a = gm_gql_type_field(s, s->query, "a");
    cr_assert_str_eq(a->deprecation, "gone");
    cr_assert_str_eq(a->args[0].deprecation, "No longer supported");
    cr_assert_str_eq(gm_gql_schema_type(s, "Url")->specified_by, "https://url.spec.whatwg.org/");
    cr_assert_eq(gm_gql_schema_type(s, "Url")->scalar, GM_GQL_SC_CUSTOM);
    gm_gql_schema_free(s);
}

/* An SDL directive's own argument may be deprecated; SDL directives list first. */
Test(gql_schema, directive_argument_deprecation)
{
    static const char sdl[] = "directive @cost(weight: Int @deprecated(reason: \"use w\"), w: Int)"
                              " on FIELD_DEFINITION\n"
                              "type Query { a: Int @cost(w: 2) }\n";
    struct gm_gql_schema *s = NULL;
    struct gm_err err;
    cr_assert_eq(gm_gql_schema_new(sdl, strlen(sdl), &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s->n_directives, 5);
    cr_assert_str_eq(s->directives[0]->name, "cost");
    cr_assert_str_eq(s->directives[1]->name, "include");
    cr_assert_str_eq(s->directives[4]->name, "specifiedBy");
    const struct gm_gql_sdirective *cost = gm_gql_schema_directive(s, "cost");
    cr_assert_eq(cost->n_args, 2);
    cr_assert_str_eq(cost->args[0].deprecation, "use w");
    cr_assert_null(cost->args[1].deprecation);
    gm_gql_schema_free(s);
    expect_error("directive @d(x: Int @skip(if: true)) on FIELD type Query { a: Int }", 1, 21,
                 "Directive \"@skip\" may not be used on ARGUMENT_DEFINITION.");
}

Test(gql_schema, errors)
{
    expect_error("type Query { a: Nope }", 1, 17, "Unknown type \"Nope\".");
    expect_error("type Query { a: Int }\ntype Query { b: Int }", 2, 1,
                 "There can be only one type named \"Query\".");
    expect_error("type Query { a: Int a: Int }", 1, 21,
                 "Field \"Query.a\" can only be defined once.");
    expect_error("type Query { a(x: Int, x: Int): Int }", 1, 24,
                 "Argument \"Query.a.x\" can only be defined once.");
    expect_error("type Q { a: Int }", 1, 1, "Query root type must be provided.");
    expect_error("schema { query: E } enum E { A }", 1, 1,
                 "Query root type must be Object type, it cannot be E.");
    expect_error("type Query { a: In }\ninput In { x: Int }", 1, 17,
                 "The type of \"Query.a\" must be Output Type but got: In.");
    expect_error("type Query { a(x: Query): Int }", 1, 19,
                 "The type of \"Query.a.x\" must be Input Type but got: Query.");
    expect_error("type __Q { a: Int } type Query { a: Int }", 1, 1,
                 "Name \"__Q\" must not begin with \"__\", which is reserved by GraphQL "
                 "introspection.");
    expect_error("type Query { a: Int @unknown }", 1, 21, "Unknown directive \"@unknown\".");
    expect_error("type Query { a: Int @skip(if: true) }", 1, 21,
                 "Directive \"@skip\" may not be used on FIELD_DEFINITION.");
    expect_error("interface I { id: ID! } type Query implements I { a: Int }", 1, 25,
                 "Interface field I.id expected but Query does not provide it.");
    expect_error("interface I { id: ID! } type Query implements I { id: ID }", 1, 25,
                 "Interface field I.id expects type ID! but Query.id is type ID.");
    expect_error("type Query implements Query { a: Int }", 1, 23,
                 "Type Query must only implement Interface types, it cannot implement Query.");
    expect_error("union U = Query | Int type Query { u: U }", 1, 19,
                 "Union type U can only include Object types, it cannot include Int.");
    expect_error("type Query { a: Int } query { a }", 1, 23,
                 "A schema file holds type definitions only, found an operation.");
    expect_error("type Query { a(x: Int! @deprecated): Int }", 1, 16,
                 "Required argument \"Query.a.x\" cannot be deprecated.");
    expect_error("type Query { a: Int }\nschema { query: Query }\nschema { query: Query }", 3, 1,
                 "Must provide only one schema definition.");
    expect_error("directive @d on FIELD directive @d on FIELD type Query { a: Int }", 1, 23,
                 "There can be only one directive named \"@d\".");
    /* A syntax error passes through with its position. */
    struct gm_gql_schema *s;
    struct gm_err err;
    cr_assert_eq(gm_gql_schema_new("type Query {", 12, &s, &err), GM_EINVAL);
    cr_assert_eq(err.line, 1);
    cr_assert_eq(err.column, 13);
}
