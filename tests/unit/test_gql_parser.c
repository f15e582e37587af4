/*
 * test_gql_parser.c: the GraphQL parser and printer: every executable and
 * type system construct, the AST they build, dozens of malformed documents
 * (message, line and column each), the size, token, depth and memory limits,
 * print/parse round trips (the introspection query, a leaderboard query)
 * and the public schema file api/schema.graphql.
 */
#include "ast.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct gm_gql_document *
parse_lim(struct gm_arena *a, const char *src, size_t len, const struct gm_gql_limits *lim)
{
    struct gm_gql_document *doc = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_gql_parse(src, len, lim, a, &doc, &err);
    cr_assert_eq(rc, 0, "'%.200s' failed at %d:%d: %s", src, err.line, err.column, err.msg);
    cr_assert_not_null(doc);
    return doc;
}

static struct gm_gql_document *
parse_ok(struct gm_arena *a, const char *src)
{
    return parse_lim(a, src, strlen(src), NULL);
}

/* Asserts src fails with code at line:column with exactly msg. */
static void
expect_fail(const char *src, size_t len, const struct gm_gql_limits *lim, int code, int line,
            int column, const char *msg)
{
    struct gm_arena a;
    struct gm_gql_document *doc = (void *)1;
    struct gm_err err;
    gm_err_clear(&err);
    gm_arena_init(&a, 0);
    int rc = gm_gql_parse(src, len, lim, &a, &doc, &err);
    cr_assert_eq(rc, code, "'%.200s': rc %d (%s), want %d", src, rc, err.msg, code);
    cr_assert_null(doc);
    cr_assert_eq(err.code, code);
    cr_assert_str_eq(err.msg, msg, "'%.200s'", src);
    cr_assert_eq(err.line, line, "'%.200s': line %d, want %d", src, err.line, line);
    cr_assert_eq(err.column, column, "'%.200s': column %d, want %d", src, err.column, column);
    gm_arena_deinit(&a);
}

/* Prints src's document; checks that the print parses and prints the same. */
static char *
round_trip(const char *src)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    char *first = gm_gql_print(parse_ok(&a, src));
    char *second = gm_gql_print(parse_ok(&a, first));
    cr_assert_str_eq(second, first, "print is not stable:\n%s\n---\n%s", first, second);
    free(second);
    gm_arena_deinit(&a);
    return first;
}

static void
expect_print(const char *src, const char *want)
{
    char *got = round_trip(src);
    cr_assert_str_eq(got, want, "\n%s\n--- want ---\n%s", got, want);
    free(got);
}

Test(gql_parser, operation_kitchen_sink)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    const char *src = "query Leaders($board: ID = \"global\", $first: Int! = 10 @dir(a: 1),\n"
                      "  $ids: [[ID!]]!) @live {\n"
                      "  top: leaderboard(board: $board, first: $first) @include(if: true) {\n"
                      "    entries { rank, ...E @skip(if: false) }\n"
                      "    ... on Leaderboard { me { rank } }\n"
                      "    ... @include(if: $x) { pageInfo { hasNextPage } }\n"
                      "  }\n"
                      "}\n"
                      "fragment E on LeaderboardEntry @frag { userId score }\n"
                      "mutation { redeemReward(rewardId: \"r1\") { status } }\n"
                      "subscription S { changed }\n"
                      "{ shorthand }\n";
    struct gm_gql_document *doc = parse_ok(&a, src);
    cr_assert_eq(doc->n_definitions, 5);
    struct gm_gql_definition *op = doc->definitions;
    cr_assert_eq(op->kind, GM_GQL_DEF_OPERATION);
    cr_assert_eq(op->op, GM_GQL_OP_QUERY);
    cr_assert_str_eq(op->name, "Leaders");
    cr_assert_not(op->shorthand);
    cr_assert_eq(op->loc.line, 1);
    cr_assert_eq(op->loc.column, 1);
    /* Variable definitions */
    struct gm_gql_var_def *v = op->var_defs;
    cr_assert_str_eq(v->name, "board");
    cr_assert_eq(v->loc.column, 15);
    cr_assert_eq(v->type->kind, GM_GQL_TYPE_NAMED);
    cr_assert_str_eq(v->type->name, "ID");
    cr_assert_eq(v->default_value->kind, GM_GQL_VALUE_STRING);
    cr_assert_str_eq(v->default_value->str, "global");
    v = v->next;
    cr_assert_eq(v->type->kind, GM_GQL_TYPE_NON_NULL);
    cr_assert_str_eq(v->type->of->name, "Int");
    cr_assert_str_eq(v->default_value->str, "10");
    cr_assert_str_eq(v->directives->name, "dir");
    v = v->next;
    cr_assert_str_eq(v->name, "ids");
    cr_assert_eq(v->loc.line, 2);
    cr_assert_eq(v->loc.column, 3);
    char *ty = gm_gql_print_type(v->type);
    cr_assert_str_eq(ty, "[[ID!]]!");
    free(ty);
    cr_assert_eq(v->type->of->kind, GM_GQL_TYPE_LIST);
    cr_assert_eq(v->type->of->of->kind, GM_GQL_TYPE_LIST);
    cr_assert_eq(v->type->of->of->of->kind, GM_GQL_TYPE_NON_NULL);
    cr_assert_null(v->default_value);
    cr_assert_null(v->next);
    cr_assert_str_eq(op->directives->name, "live");
    cr_assert_null(op->directives->args);
    /* The aliased field */
    struct gm_gql_selection *top = op->selection_set->selections;
    cr_assert_eq(top->kind, GM_GQL_SEL_FIELD);
    cr_assert_str_eq(top->alias, "top");
    cr_assert_str_eq(top->name, "leaderboard");
    cr_assert_eq(top->loc.line, 3);
    cr_assert_eq(top->loc.column, 3);
    cr_assert_str_eq(top->args->name, "board");
    cr_assert_eq(top->args->value->kind, GM_GQL_VALUE_VARIABLE);
    cr_assert_str_eq(top->args->value->str, "board");
    cr_assert_eq(top->args->value->loc.column, 27);
    cr_assert_str_eq(top->args->next->name, "first");
    cr_assert_str_eq(top->directives->name, "include");
    cr_assert_eq(top->directives->args->value->kind, GM_GQL_VALUE_BOOLEAN);
    cr_assert(top->directives->args->value->boolean);
    cr_assert_null(top->next);
    /* entries { rank ...E } */
    struct gm_gql_selection *entries = top->selection_set->selections;
    cr_assert_str_eq(entries->name, "entries");
    cr_assert_null(entries->alias);
    cr_assert_null(entries->args);
    struct gm_gql_selection *rank = entries->selection_set->selections;
    cr_assert_str_eq(rank->name, "rank");
    cr_assert_null(rank->selection_set);
    cr_assert_eq(rank->next->kind, GM_GQL_SEL_FRAGMENT_SPREAD);
    cr_assert_str_eq(rank->next->name, "E");
    cr_assert_str_eq(rank->next->directives->name, "skip");
    cr_assert_not(rank->next->directives->args->value->boolean);
    /* Inline fragments with and without a type condition */
    struct gm_gql_selection *inl = entries->next;
    cr_assert_eq(inl->kind, GM_GQL_SEL_INLINE_FRAGMENT);
    cr_assert_str_eq(inl->type_condition, "Leaderboard");
    cr_assert_str_eq(inl->selection_set->selections->name, "me");
    inl = inl->next;
    cr_assert_eq(inl->kind, GM_GQL_SEL_INLINE_FRAGMENT);
    cr_assert_null(inl->type_condition);
    cr_assert_str_eq(inl->directives->name, "include");
    cr_assert_eq(inl->loc.line, 6);
    cr_assert_eq(inl->loc.column, 5);
    /* The fragment */
    struct gm_gql_definition *frag = op->next;
    cr_assert_eq(frag->kind, GM_GQL_DEF_FRAGMENT);
    cr_assert_str_eq(frag->name, "E");
    cr_assert_str_eq(frag->type_condition, "LeaderboardEntry");
    cr_assert_str_eq(frag->directives->name, "frag");
    cr_assert_eq(frag->loc.line, 9);
    /* Anonymous mutation, named subscription, shorthand query */
    struct gm_gql_definition *mut = frag->next;
    cr_assert_eq(mut->op, GM_GQL_OP_MUTATION);
    cr_assert_null(mut->name);
    cr_assert_eq(mut->next->op, GM_GQL_OP_SUBSCRIPTION);
    cr_assert_str_eq(mut->next->name, "S");
    struct gm_gql_definition *sh = mut->next->next;
    cr_assert(sh->shorthand);
    cr_assert_eq(sh->op, GM_GQL_OP_QUERY);
    cr_assert_null(sh->name);
    cr_assert_eq(sh->loc.line, 12);
    cr_assert_gt(doc->n_tokens, 50);
    gm_arena_deinit(&a);
}

/* n_variables counts variables used as values, not their definitions. */
Test(gql_parser, variable_count)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_document *doc =
        parse_ok(&a, "query($a: Int = 1, $b: [Int]) { f(x: $a, y: [$b, {z: $a}]) @skip(if: $c) }");
    cr_assert_eq(doc->n_variables, 4);
    doc = parse_ok(&a, "query($a: Int) { f(x: 1) }");
    cr_assert_eq(doc->n_variables, 0);
    gm_arena_deinit(&a);
}

/*
 * Asserts loc is at line:column and at the byte offset of the first
 * occurrence of token in src after from (so a wrong token is caught too).
 */
static void
expect_loc_at(struct gm_gql_loc loc, int line, int column, const char *src, const char *from,
              const char *token)
{
    const char *start = strstr(src, from);
    cr_assert_not_null(start, "'%s' not in the source", from);
    const char *at = strstr(start, token);
    cr_assert_not_null(at, "'%s' not after '%s'", token, from);
    cr_assert_eq(loc.line, line, "%s: line %d, want %d", token, loc.line, line);
    cr_assert_eq(loc.column, column, "%s: column %d, want %d", token, loc.column, column);
    cr_assert_eq(loc.offset, (size_t)(at - src), "%s: offset %zu, want %td", token, loc.offset,
                 at - src);
}

/*
 * The locations of the names inside nodes (ast.h: name_loc,
 * type_condition_loc, type_name_loc, start_loc), with comments, commas,
 * tabs and line breaks between each keyword and its name.
 */
Test(gql_parser, name_locations)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    const char *src = "query # c\n"             /* 1 */
                      "  Q(\n"                  /* 2 */
                      "  $\n"                   /* 3 */
                      "  v: ID) { a: # al\n"    /* 4 */
                      "  f(x: $\n"              /* 5 */
                      "    v) ...\n"            /* 6 */
                      "  F ... on\n"            /* 7 */
                      "  T { g } ... { k } }\n" /* 8 */
                      "fragment\n"              /* 9 */
                      "F\n"                     /* 10 */
                      "on,\tT { h }\n"          /* 11 */
                      "\"desc\"\n"              /* 12 */
                      "type\n"                  /* 13 */
                      "  X { a: Int }\n"        /* 14 */
                      "schema { query\n"        /* 15 */
                      ":Qery }\n"               /* 16 */
                      "directive\n"             /* 17 */
                      "@\n"                     /* 18 */
                      "d on FIELD\n"            /* 19 */
                      "{ z }\n";                /* 20 */
    struct gm_gql_document *doc = parse_ok(&a, src);
    const struct gm_gql_definition *op = doc->definitions;
    expect_loc_at(op->loc, 1, 1, src, "query", "query");
    expect_loc_at(op->start_loc, 1, 1, src, "query", "query");
    expect_loc_at(op->name_loc, 2, 3, src, "# c", "Q");
    const struct gm_gql_var_def *vd = op->var_defs;
    expect_loc_at(vd->loc, 3, 3, src, "Q(", "$");
    expect_loc_at(vd->name_loc, 4, 3, src, "Q(", "v");
    const struct gm_gql_selection *f = op->selection_set->selections;
    cr_assert_str_eq(f->alias, "a");
    expect_loc_at(f->loc, 4, 12, src, "{ a", "a");
    expect_loc_at(f->name_loc, 5, 3, src, "# al", "f");
    const struct gm_gql_value *var = f->args->value;
    cr_assert_eq(var->kind, GM_GQL_VALUE_VARIABLE);
    expect_loc_at(var->loc, 5, 8, src, "f(x", "$");
    expect_loc_at(var->name_loc, 6, 5, src, "f(x", "v");
    const struct gm_gql_selection *spread = f->next;
    cr_assert_eq(spread->kind, GM_GQL_SEL_FRAGMENT_SPREAD);
    expect_loc_at(spread->loc, 6, 8, src, "v)", "...");
    expect_loc_at(spread->name_loc, 7, 3, src, "v)", "F");
    const struct gm_gql_selection *inl = spread->next;
    cr_assert_eq(inl->kind, GM_GQL_SEL_INLINE_FRAGMENT);
    expect_loc_at(inl->loc, 7, 5, src, "F ...", "...");
    expect_loc_at(inl->type_condition_loc, 8, 3, src, "F ...", "T");
    const struct gm_gql_selection *untyped = inl->next;
    cr_assert_null(untyped->type_condition);
    cr_assert_eq(untyped->type_condition_loc.line, 0);
    const struct gm_gql_definition *frag = op->next;
    expect_loc_at(frag->loc, 9, 1, src, "fragment", "fragment");
    expect_loc_at(frag->name_loc, 10, 1, src, "fragment", "F");
    expect_loc_at(frag->type_condition_loc, 11, 5, src, "on,", "T");
    const struct gm_gql_definition *type = frag->next;
    expect_loc_at(type->start_loc, 12, 1, src, "\"desc\"", "\"desc\"");
    expect_loc_at(type->loc, 13, 1, src, "\"desc\"", "type");
    expect_loc_at(type->name_loc, 14, 3, src, "\"desc\"", "X");
    const struct gm_gql_definition *schema = type->next;
    cr_assert_eq(schema->kind, GM_GQL_DEF_SCHEMA);
    expect_loc_at(schema->root_types->loc, 15, 10, src, "schema", "query");
    expect_loc_at(schema->root_types->type_name_loc, 16, 2, src, "schema", "Qery");
    const struct gm_gql_definition *dir = schema->next;
    expect_loc_at(dir->loc, 17, 1, src, "directive", "directive");
    expect_loc_at(dir->name_loc, 19, 1, src, "@\n", "d");
    /* No name: name_loc is the definition's loc. */
    const struct gm_gql_definition *sh = dir->next;
    cr_assert(sh->shorthand);
    expect_loc_at(sh->name_loc, 20, 1, src, "d on", "{");
    expect_loc_at(sh->start_loc, 20, 1, src, "d on", "{");
    gm_arena_deinit(&a);
}

Test(gql_parser, values)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    const char *src =
        "{ f(v: $var, i: -42, fl: 1.5e3, s: \"a\\u0000b\", b: \"\"\"\n  block\n\"\"\",\n"
        "    t: true, f: false, n: null, e: WEEKLY, l: [1, [\"x\"], []],\n"
        "    o: {a: 1, b: {c: [null]}, a: 2}, eo: {}) }";
    struct gm_gql_document *doc = parse_ok(&a, src);
    struct gm_gql_argument *arg = doc->definitions->selection_set->selections->args;
    enum gm_gql_value_kind kinds[] = {
        GM_GQL_VALUE_VARIABLE, GM_GQL_VALUE_INT,     GM_GQL_VALUE_FLOAT,   GM_GQL_VALUE_STRING,
        GM_GQL_VALUE_STRING,   GM_GQL_VALUE_BOOLEAN, GM_GQL_VALUE_BOOLEAN, GM_GQL_VALUE_NULL,
        GM_GQL_VALUE_ENUM,     GM_GQL_VALUE_LIST,    GM_GQL_VALUE_OBJECT,  GM_GQL_VALUE_OBJECT,
    };
    const char *printed[] = {"$var",
                             "-42",
                             "1.5e3",
                             "\"a\\u0000b\"",
                             "\"\"\"block\"\"\"",
                             "true",
                             "false",
                             "null",
                             "WEEKLY",
                             "[1, [\"x\"], []]",
                             "{a: 1, b: {c: [null]}, a: 2}",
                             "{}"};
    size_t i = 0;
    for (; arg; arg = arg->next, i++) {
        cr_assert_lt(i, 12);
        cr_assert_eq(arg->value->kind, kinds[i], "argument %s", arg->name);
        char *p = gm_gql_print_value(arg->value);
        cr_assert_str_eq(p, printed[i]);
        free(p);
    }
    cr_assert_eq(i, 12);
    arg = doc->definitions->selection_set->selections->args;
    struct gm_gql_value *s = arg->next->next->next->value;
    cr_assert_eq(s->len, 3);
    cr_assert_eq(memcmp(s->str, "a\0b", 3), 0);
    cr_assert_not(s->block);
    struct gm_gql_value *blk = arg->next->next->next->next->value;
    cr_assert(blk->block);
    cr_assert_str_eq(blk->str, "block");
    struct gm_gql_value *e = arg->next->next->next->next->next->next->next->next->value;
    cr_assert_str_eq(e->str, "WEEKLY");
    cr_assert_eq(e->loc.line, 4);
    cr_assert_eq(e->loc.column, 36);
    struct gm_gql_argument *la = arg;
    for (int k = 0; k < 9; k++)
        la = la->next;
    cr_assert_str_eq(la->name, "l");
    struct gm_gql_value *l = la->value;
    cr_assert_not_null(l);
    cr_assert_eq(l->items->kind, GM_GQL_VALUE_INT);
    cr_assert_eq(l->items->next->kind, GM_GQL_VALUE_LIST);
    cr_assert_null(l->items->next->next->items);
    cr_assert_null(l->items->next->next->next);
    gm_arena_deinit(&a);
}

Test(gql_parser, type_system_kitchen_sink)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    const char *src =
        "\"The schema\" schema @s { query: Query mutation: Mutation subscription: Sub }\n"
        "\"\"\"\n  When.\n\"\"\"\nscalar DateTime @specifiedBy(url: \"https://x\")\n"
        "type Query implements & Node & Named @key(f: \"id\") {\n"
        "  \"The id\" id: ID!\n"
        "  list(\"how many\" first: Int = 10, after: String, p: P = ALL_TIME @d): [Item!]! "
        "@deprecated(reason: \"use items\")\n"
        "}\n"
        "interface Node implements Named { id: ID! }\n"
        "union U @u = | A | B\n"
        "union V = A\n"
        "enum P { \"all\" ALL_TIME WEEKLY @deprecated \"\"\"m\"\"\" MONTHLY }\n"
        "input Filter { \"min\" min: Int = 0, tags: [String!] = [\"a\"], o: In = {a: 1} }\n"
        "\"Marks\" directive @auth(roles: [Role!] = [STUDENT]) repeatable on | FIELD_DEFINITION "
        "| OBJECT\n"
        "directive @d on FIELD\n"
        "type Empty\n";
    struct gm_gql_document *doc = parse_ok(&a, src);
    struct gm_gql_definition *d = doc->definitions;
    cr_assert_eq(d->kind, GM_GQL_DEF_SCHEMA);
    cr_assert_str_eq(d->description, "The schema");
    cr_assert_not(d->description_block);
    cr_assert_eq(d->loc.column, 14);
    cr_assert_str_eq(d->directives->name, "s");
    cr_assert_eq(d->root_types->op, GM_GQL_OP_QUERY);
    cr_assert_str_eq(d->root_types->type_name, "Query");
    cr_assert_eq(d->root_types->next->op, GM_GQL_OP_MUTATION);
    cr_assert_eq(d->root_types->next->next->op, GM_GQL_OP_SUBSCRIPTION);
    d = d->next;
    cr_assert_eq(d->kind, GM_GQL_DEF_SCALAR);
    cr_assert_str_eq(d->description, "When.");
    cr_assert(d->description_block);
    cr_assert_str_eq(d->name, "DateTime");
    cr_assert_eq(d->loc.line, 5);
    d = d->next;
    cr_assert_eq(d->kind, GM_GQL_DEF_OBJECT);
    cr_assert_str_eq(d->interfaces->name, "Node");
    cr_assert_str_eq(d->interfaces->next->name, "Named");
    cr_assert_null(d->interfaces->next->next);
    cr_assert_str_eq(d->directives->name, "key");
    struct gm_gql_field_def *f = d->fields;
    cr_assert_str_eq(f->description, "The id");
    cr_assert_str_eq(f->name, "id");
    cr_assert_eq(f->loc.column, 12);
    f = f->next;
    cr_assert_str_eq(f->name, "list");
    cr_assert_str_eq(f->args->description, "how many");
    cr_assert_str_eq(f->args->name, "first");
    cr_assert_str_eq(f->args->default_value->str, "10");
    cr_assert_null(f->args->next->default_value);
    cr_assert_eq(f->args->next->next->default_value->kind, GM_GQL_VALUE_ENUM);
    cr_assert_str_eq(f->args->next->next->directives->name, "d");
    cr_assert_str_eq(f->directives->name, "deprecated");
    cr_assert_str_eq(f->directives->args->name, "reason");
    cr_assert_str_eq(f->directives->args->value->str, "use items");
    d = d->next;
    cr_assert_eq(d->kind, GM_GQL_DEF_INTERFACE);
    cr_assert_str_eq(d->interfaces->name, "Named");
    d = d->next;
    cr_assert_eq(d->kind, GM_GQL_DEF_UNION);
    cr_assert_str_eq(d->members->name, "A");
    cr_assert_str_eq(d->members->next->name, "B");
    cr_assert_str_eq(d->directives->name, "u");
    d = d->next;
    cr_assert_eq(d->kind, GM_GQL_DEF_UNION);
    d = d->next;
    cr_assert_eq(d->kind, GM_GQL_DEF_ENUM);
    struct gm_gql_enum_value_def *ev = d->values;
    cr_assert_str_eq(ev->description, "all");
    cr_assert_str_eq(ev->name, "ALL_TIME");
    cr_assert_str_eq(ev->next->directives->name, "deprecated");
    cr_assert(ev->next->next->description_block);
    cr_assert_str_eq(ev->next->next->name, "MONTHLY");
    d = d->next;
    cr_assert_eq(d->kind, GM_GQL_DEF_INPUT_OBJECT);
    cr_assert_str_eq(d->input_fields->description, "min");
    cr_assert_eq(d->input_fields->next->default_value->kind, GM_GQL_VALUE_LIST);
    cr_assert_eq(d->input_fields->next->next->default_value->kind, GM_GQL_VALUE_OBJECT);
    d = d->next;
    cr_assert_eq(d->kind, GM_GQL_DEF_DIRECTIVE);
    cr_assert_str_eq(d->description, "Marks");
    cr_assert_str_eq(d->name, "auth");
    cr_assert(d->repeatable);
    cr_assert_str_eq(d->args->name, "roles");
    cr_assert_str_eq(d->locations->name, "FIELD_DEFINITION");
    cr_assert_str_eq(d->locations->next->name, "OBJECT");
    d = d->next;
    cr_assert_not(d->repeatable);
    cr_assert_null(d->args);
    d = d->next;
    cr_assert_eq(d->kind, GM_GQL_DEF_OBJECT);
    cr_assert_null(d->fields);
    cr_assert_null(d->next);
    gm_arena_deinit(&a);
}

Test(gql_parser, keywords_are_names)
{
    /* Keywords are ordinary names where a name is expected. */
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_document *doc =
        parse_ok(&a, "query query($on: on) { fragment: type(query: schema, on: true) "
                     "{ on ...query } ... on on { null } }\n"
                     "fragment query on fragment { mutation }");
    struct gm_gql_selection *s = doc->definitions->selection_set->selections;
    cr_assert_str_eq(doc->definitions->name, "query");
    cr_assert_str_eq(s->alias, "fragment");
    cr_assert_str_eq(s->name, "type");
    cr_assert_eq(s->args->value->kind, GM_GQL_VALUE_ENUM);
    cr_assert_str_eq(s->selection_set->selections->next->name, "query");
    cr_assert_str_eq(s->next->type_condition, "on");
    cr_assert_str_eq(doc->definitions->next->name, "query");
    gm_arena_deinit(&a);
}

struct bad {
    const char *src;
    int line;
    int column;
    const char *msg;
};

static const struct bad bad_docs[] = {
    {"", 1, 1, "Syntax Error: Unexpected <EOF>."},
    {"  # only a comment\n", 2, 1, "Syntax Error: Unexpected <EOF>."},
    {"{", 1, 2, "Syntax Error: Expected Name, found <EOF>."},
    {"{}", 1, 2, "Syntax Error: Expected Name, found \"}\"."},
    {"{ a", 1, 4, "Syntax Error: Expected Name, found <EOF>."},
    {"{ a { b }", 1, 10, "Syntax Error: Expected Name, found <EOF>."},
    {"{ a { } }", 1, 7, "Syntax Error: Expected Name, found \"}\"."},
    {"{ a } }", 1, 7, "Syntax Error: Unexpected \"}\"."},
    {"query", 1, 6, "Syntax Error: Expected \"{\", found <EOF>."},
    {"query Q", 1, 8, "Syntax Error: Expected \"{\", found <EOF>."},
    {"query Q Q2 { a }", 1, 9, "Syntax Error: Expected \"{\", found Name \"Q2\"."},
    {"query Q(", 1, 9, "Syntax Error: Expected \"$\", found <EOF>."},
    {"query Q() { a }", 1, 9, "Syntax Error: Expected \"$\", found \")\"."},
    {"query Q($a) { x }", 1, 11, "Syntax Error: Expected \":\", found \")\"."},
    {"query Q($a: ) { x }", 1, 13, "Syntax Error: Expected Name, found \")\"."},
    {"query Q($a: [Int = 1) { x }", 1, 18, "Syntax Error: Expected \"]\", found \"=\"."},
    {"query Q($a: Int!!) { x }", 1, 17, "Syntax Error: Expected \"$\", found \"!\"."},
    {"query Q(a: Int) { x }", 1, 9, "Syntax Error: Expected \"$\", found Name \"a\"."},
    {"query Q($a: Int = $b) { x }", 1, 19,
     "Syntax Error: Unexpected variable \"$b\" in constant value."},
    {"query Q($a: [Int] = [1, $b]) { x }", 1, 25,
     "Syntax Error: Unexpected variable \"$b\" in constant value."},
    {"query Q($a: In = {x: {y: $b}}) { x }", 1, 26,
     "Syntax Error: Unexpected variable \"$b\" in constant value."},
    {"query ($a: Int @d(x: $b)) { a }", 1, 22,
     "Syntax Error: Unexpected variable \"$b\" in constant value."},
    {"query ($a: Int = $) { a }", 1, 18, "Syntax Error: Unexpected \"$\"."},
    {"query Q($a: Int =) { x }", 1, 18, "Syntax Error: Unexpected \")\"."},
    {"{ a(x: ) }", 1, 8, "Syntax Error: Unexpected \")\"."},
    {"{ a() }", 1, 5, "Syntax Error: Expected Name, found \")\"."},
    {"{ a(x 1) }", 1, 7, "Syntax Error: Expected \":\", found Int \"1\"."},
    {"{ a(x: 1 }", 1, 10, "Syntax Error: Expected Name, found \"}\"."},
    {"{ a(x: $) }", 1, 9, "Syntax Error: Expected Name, found \")\"."},
    {"{ a(x: [1, 2) }", 1, 13, "Syntax Error: Unexpected \")\"."},
    {"{ a(x: [1, 2 }", 1, 14, "Syntax Error: Unexpected \"}\"."},
    {"{ a(x: {b 1}) }", 1, 11, "Syntax Error: Expected \":\", found Int \"1\"."},
    {"{ a(x: {1: 2}) }", 1, 9, "Syntax Error: Expected Name, found Int \"1\"."},
    {"{ a(x: \"s\" \"t\") }", 1, 12, "Syntax Error: Expected Name, found String \"t\"."},
    {"{ a(x: 1.5 y: \"\"\"b\"\"\" z) }", 1, 24, "Syntax Error: Expected \":\", found \")\"."},
    {"{ a(\"d\": 1) }", 1, 5, "Syntax Error: Expected Name, found String \"d\"."},
    {"{ a: }", 1, 6, "Syntax Error: Expected Name, found \"}\"."},
    {"{ a: b: c }", 1, 7, "Syntax Error: Expected Name, found \":\"."},
    {"{ a @ }", 1, 7, "Syntax Error: Expected Name, found \"}\"."},
    {"{ a @d( }", 1, 9, "Syntax Error: Expected Name, found \"}\"."},
    {"{ ...F @ }", 1, 10, "Syntax Error: Expected Name, found \"}\"."},
    {"{ ... }", 1, 7, "Syntax Error: Expected \"{\", found \"}\"."},
    {"{ ... on { a } }", 1, 10, "Syntax Error: Expected Name, found \"{\"."},
    {"{ ... on T }", 1, 12, "Syntax Error: Expected \"{\", found \"}\"."},
    {"{ .. }", 1, 3, "Syntax Error: Unexpected character: \".\"."},
    {"{ a(x: 00) }", 1, 9, "Syntax Error: Invalid number, unexpected digit after 0: \"0\"."},
    {"{ a(x: \"unterminated) }", 1, 24, "Syntax Error: Unterminated string."},
    {"{ a(x: \"\xff\") }", 1, 9, "Syntax Error: Invalid UTF-8 byte 0xFF; documents must be UTF-8."},
    {"fragment on on T { a }", 1, 10, "Syntax Error: Unexpected Name \"on\"."},
    {"fragment F T { a }", 1, 12, "Syntax Error: Expected \"on\", found Name \"T\"."},
    {"fragment F on { a }", 1, 15, "Syntax Error: Expected Name, found \"{\"."},
    {"fragment F on T", 1, 16, "Syntax Error: Expected \"{\", found <EOF>."},
    {"fragment F($a: Int) on T { a }", 1, 11, "Syntax Error: Expected \"on\", found \"(\"."},
    {"fragment { a }", 1, 10, "Syntax Error: Expected Name, found \"{\"."},
    {"notakeyword { a }", 1, 1, "Syntax Error: Unexpected Name \"notakeyword\"."},
    {"subscriptionx { a }", 1, 1, "Syntax Error: Unexpected Name \"subscriptionx\"."},
    {"query Q { a } extra", 1, 15, "Syntax Error: Unexpected Name \"extra\"."},
    {"{ a }\n\n  42", 3, 3, "Syntax Error: Unexpected Int \"42\"."},
    {"[1]", 1, 1, "Syntax Error: Unexpected \"[\"."},
    {"\"desc\" query { a }", 1, 1,
     "Syntax Error: Unexpected description, descriptions are supported only on type "
     "definitions."},
    {"\"\"\"desc\"\"\"\n{ a }", 1, 1,
     "Syntax Error: Unexpected description, descriptions are supported only on type "
     "definitions."},
    {"\"desc\" fragment F on T { a }", 1, 1,
     "Syntax Error: Unexpected description, descriptions are supported only on type "
     "definitions."},
    {"\"desc\"", 1, 7, "Syntax Error: Unexpected <EOF>."},
    {"\"a very long string value that goes on and on and on\" x", 1, 55,
     "Syntax Error: Unexpected Name \"x\"."},
    {"{ a(x: \"a very long string value that goes on and on and on\" 1) }", 1, 62,
     "Syntax Error: Expected Name, found Int \"1\"."},
    {"{ a(x: 1 \"a very long string value that goes on and on and on\") }", 1, 10,
     "Syntax Error: Expected Name, found String \"a very long string value that goes on "
     "an...\"."},
    /* Type system */
    {"type T { f: }", 1, 13, "Syntax Error: Expected Name, found \"}\"."},
    {"type T {}", 1, 9, "Syntax Error: Expected Name, found \"}\"."},
    {"type T { f Int }", 1, 12, "Syntax Error: Expected \":\", found Name \"Int\"."},
    {"type T { f(): Int }", 1, 12, "Syntax Error: Expected Name, found \")\"."},
    {"type T { f(a: Int = $v): Int }", 1, 21,
     "Syntax Error: Unexpected variable \"$v\" in constant value."},
    {"type T @d(x: $v) { a: Int }", 1, 14,
     "Syntax Error: Unexpected variable \"$v\" in constant value."},
    {"type T { a: Int @deprecated(reason: $r) }", 1, 37,
     "Syntax Error: Unexpected variable \"$r\" in constant value."},
    {"type T implements { a: Int }", 1, 19, "Syntax Error: Expected Name, found \"{\"."},
    {"type T implements A & { a: Int }", 1, 23, "Syntax Error: Expected Name, found \"{\"."},
    {"type { a: Int }", 1, 6, "Syntax Error: Expected Name, found \"{\"."},
    {"type T { a: Int", 1, 16, "Syntax Error: Expected Name, found <EOF>."},
    {"type T { \"desc\" }", 1, 17, "Syntax Error: Expected Name, found \"}\"."},
    {"scalar", 1, 7, "Syntax Error: Expected Name, found <EOF>."},
    {"scalar S @d(a: $b)", 1, 16, "Syntax Error: Unexpected variable \"$b\" in constant value."},
    {"schema { foo: Q }", 1, 10, "Syntax Error: Unexpected Name \"foo\"."},
    {"schema { query Q }", 1, 16, "Syntax Error: Expected \":\", found Name \"Q\"."},
    {"schema {}", 1, 9, "Syntax Error: Unexpected \"}\"."},
    {"schema query: Q", 1, 8, "Syntax Error: Expected \"{\", found Name \"query\"."},
    {"input I { a: Int = $v }", 1, 20,
     "Syntax Error: Unexpected variable \"$v\" in constant value."},
    {"input I { a(b: Int): Int }", 1, 12, "Syntax Error: Expected \":\", found \"(\"."},
    {"input I {}", 1, 10, "Syntax Error: Expected Name, found \"}\"."},
    {"enum E { true }", 1, 10,
     "Syntax Error: Name \"true\" is reserved and cannot be used for an enum value."},
    {"enum E { A null }", 1, 12,
     "Syntax Error: Name \"null\" is reserved and cannot be used for an enum value."},
    {"enum E { \"d\" false }", 1, 14,
     "Syntax Error: Name \"false\" is reserved and cannot be used for an enum value."},
    {"enum E { A B", 1, 13, "Syntax Error: Expected Name, found <EOF>."},
    {"enum E { 1 }", 1, 10, "Syntax Error: Expected Name, found Int \"1\"."},
    {"enum E {}", 1, 9, "Syntax Error: Expected Name, found \"}\"."},
    {"union U = ", 1, 11, "Syntax Error: Expected Name, found <EOF>."},
    {"union U = A |", 1, 14, "Syntax Error: Expected Name, found <EOF>."},
    {"union U = A | | B", 1, 15, "Syntax Error: Expected Name, found \"|\"."},
    {"directive @d on FOO", 1, 17, "Syntax Error: Unexpected Name \"FOO\"."},
    {"directive @d on field", 1, 17, "Syntax Error: Unexpected Name \"field\"."},
    {"directive @d FIELD", 1, 14, "Syntax Error: Expected \"on\", found Name \"FIELD\"."},
    {"directive d on FIELD", 1, 11, "Syntax Error: Expected \"@\", found Name \"d\"."},
    {"directive @d on", 1, 16, "Syntax Error: Unexpected <EOF>."},
    {"directive @d(a: Int = $x) on FIELD", 1, 23,
     "Syntax Error: Unexpected variable \"$x\" in constant value."},
    {"extend type T { a: Int }", 1, 1, "Syntax Error: Unexpected Name \"extend\"."},
    {"\"desc\" extend type T { a: Int }", 1, 8, "Syntax Error: Unexpected Name \"extend\"."},
};

Test(gql_parser, errors)
{
    for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
        const struct bad *b = &bad_docs[i];
        expect_fail(b->src, strlen(b->src), NULL, GM_EINVAL, b->line, b->column, b->msg);
    }
}

/* Builds n copies of open, then mid, then n copies of close. */
static char *
nest(const char *pre, const char *open, int n, const char *mid, const char *close, const char *post)
{
    size_t lo = strlen(open), lc = strlen(close);
    size_t len = strlen(pre) + n * (lo + lc) + strlen(mid) + strlen(post);
    char *s = malloc(len + 1);
    cr_assert_not_null(s);
    char *w = stpcpy(s, pre);
    for (int i = 0; i < n; i++, w += lo)
        memcpy(w, open, lo);
    w = stpcpy(w, mid);
    for (int i = 0; i < n; i++, w += lc)
        memcpy(w, close, lc);
    strcpy(w, post);
    return s;
}

static void
depth_ok(char *src, const struct gm_gql_limits *lim)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    parse_lim(&a, src, strlen(src), lim);
    gm_arena_deinit(&a);
    free(src);
}

static void
depth_fails(char *src, const struct gm_gql_limits *lim, int column, int max)
{
    char msg[128];
    snprintf(msg, sizeof msg, "Syntax Error: Document exceeds the maximum nesting depth of %d.",
             max);
    expect_fail(src, strlen(src), lim, GM_ETOOBIG, 1, column, msg);
    free(src);
}

Test(gql_parser, depth_selection_sets)
{
    /* 64 nested selection sets parse; the 65th "{" is refused. */
    depth_ok(nest("", "{a", 64, "", "}", ""), NULL);
    depth_fails(nest("", "{a", 65, "", "}", ""), NULL, 2 * 64 + 1, 64);
    /* Inline fragments nest selection sets too. */
    depth_ok(nest("{", "...{", 63, "a", "}", "}"), NULL);
    depth_fails(nest("{", "...{", 64, "a", "}", "}"), NULL, 2 + 4 * 63 + 3, 64);
}

Test(gql_parser, depth_values_and_types)
{
    /* Inside one selection set: 63 list levels fit, the 64th does not. */
    depth_ok(nest("{ a(x: ", "[", 63, "1", "]", ") }"), NULL);
    depth_fails(nest("{ a(x: ", "[", 64, "1", "]", ") }"), NULL, 8 + 63, 64);
    depth_ok(nest("{ a(x: ", "{a:", 63, "1", "}", ") }"), NULL);
    depth_fails(nest("{ a(x: ", "{a:", 64, "1", "}", ") }"), NULL, 8 + 3 * 63, 64);
    /* Constant values: a variable's default. */
    depth_ok(nest("query ($v: T = ", "[", 64, "", "]", ") { a }"), NULL);
    depth_fails(nest("query ($v: T = ", "[", 65, "", "]", ") { a }"), NULL, 16 + 64, 64);
    /* List types. */
    depth_ok(nest("query ($v: ", "[", 64, "Int", "]", ") { a }"), NULL);
    depth_fails(nest("query ($v: ", "[", 65, "Int", "]", ") { a }"), NULL, 12 + 64, 64);
    depth_fails(nest("type T { f: ", "[", 65, "Int", "]", " }"), NULL, 13 + 64, 64);
}

Test(gql_parser, depth_configurable)
{
    struct gm_gql_limits lim = {.max_depth = 3};
    depth_ok(nest("", "{a", 3, "", "}", ""), &lim);
    depth_fails(nest("", "{a", 4, "", "}", ""), &lim, 7, 3);
    depth_fails(nest("{ a(x: ", "[", 3, "", "]", ") }"), &lim, 10, 3);
}

Test(gql_parser, deep_input_does_not_overflow)
{
    /* 200,000 open brackets within raised size and token limits. */
    struct gm_gql_limits lim = {.max_bytes = 1 << 20, .max_tokens = 1 << 20};
    depth_fails(nest("{ a(x: ", "[", 200000, "", "", ") }"), &lim, 8 + 64 - 1, 64);
    depth_fails(nest("", "{a", 200000, "", "", ""), &lim, 2 * 64 + 1, 64);
}

Test(gql_parser, token_limit)
{
    /* "{" + n names + "}": n + 2 tokens. */
    char *ok = nest("{", " a", 9998, "", "", " }");
    depth_ok(ok, NULL);
    char *bad = nest("{", " a", 9999, "", "", " }");
    expect_fail(bad, strlen(bad), NULL, GM_ETOOBIG, 1, 1 + 2 * 10000,
                "Syntax Error: Document contains more than 10000 tokens. Parsing aborted.");
    free(bad);
    struct gm_gql_limits lim = {.max_tokens = 3};
    depth_ok(strdup("{ a }"), &lim);
    expect_fail("{ a b }", 7, &lim, GM_ETOOBIG, 1, 7,
                "Syntax Error: Document contains more than 3 tokens. Parsing aborted.");
    /* Ignored tokens do not count. */
    depth_ok(strdup("# many words in a comment\n{ ,,, a ,,, }"), &lim);
}

Test(gql_parser, size_limit)
{
    size_t n = GM_GQL_DEFAULT_MAX_BYTES;
    char *src = malloc(n + 2);
    memset(src, ' ', n + 1);
    memcpy(src, "{a", 2);
    src[n - 1] = '}';
    src[n] = '\0';
    struct gm_arena a;
    gm_arena_init(&a, 0);
    parse_lim(&a, src, n, NULL);
    gm_arena_deinit(&a);
    src[n] = ' ';
    src[n + 1] = '\0';
    expect_fail(src, n + 1, NULL, GM_ETOOBIG, 0, 0,
                "Syntax Error: Document is 65537 bytes, larger than the limit of 65536 bytes.");
    struct gm_gql_limits lim = {.max_bytes = 4};
    expect_fail("{ a }", 5, &lim, GM_ETOOBIG, 0, 0,
                "Syntax Error: Document is 5 bytes, larger than the limit of 4 bytes.");
    free(src);
}

Test(gql_parser, one_megabyte_document)
{
    /* 1 MB of fields: refused by default, parsed with raised limits. */
    size_t fields = 100000;
    size_t cap = 16 + fields * 11;
    char *src = malloc(cap);
    size_t len = 0;
    len += (size_t)sprintf(src + len, "{");
    for (size_t i = 0; i < fields; i++)
        len += (size_t)sprintf(src + len, " f%08zu", i);
    len += (size_t)sprintf(src + len, " }");
    cr_assert_gt(len, 1000000);
    char msg[128];
    snprintf(msg, sizeof msg,
             "Syntax Error: Document is %zu bytes, larger than the limit of 65536 bytes.", len);
    expect_fail(src, len, NULL, GM_ETOOBIG, 0, 0, msg);
    struct gm_gql_limits lim = {.max_bytes = 2 << 20, .max_tokens = 200000};
    struct gm_arena a;
    gm_arena_init(&a, 64 << 20);
    struct gm_gql_document *doc = parse_lim(&a, src, len, &lim);
    size_t count = 0;
    const struct gm_gql_selection *last = NULL;
    for (const struct gm_gql_selection *s = doc->definitions->selection_set->selections; s;
         s = s->next, count++)
        last = s;
    cr_assert_eq(count, fields);
    cr_assert_str_eq(last->name, "f00099999");
    cr_assert_eq(last->loc.column, 2 + 10 * (int)(fields - 1) + 1);
    cr_assert_eq(doc->n_tokens, fields + 2);
    gm_arena_deinit(&a);
    free(src);
}

Test(gql_parser, memory_budget)
{
    /* The arena's budget bounds what a document may make the parser hold. */
    char *src = nest("{", " a(x: [1, 2, 3])", 2000, "", "", " }");
    struct gm_arena a;
    struct gm_gql_document *doc = NULL;
    struct gm_err err;
    struct gm_gql_limits lim = {.max_tokens = 100000};
    gm_arena_init(&a, 32 * 1024);
    int rc = gm_gql_parse(src, strlen(src), &lim, &a, &doc, &err);
    cr_assert_eq(rc, GM_ETOOBIG);
    cr_assert_null(doc);
    cr_assert_str_eq(err.msg, "Document too large: parsing needs more memory than allowed.");
    cr_assert_eq(err.line, 1);
    cr_assert_gt(err.column, 1);
    cr_assert_leq(gm_arena_reserved(&a), 32 * 1024);
    /* The same document fits a larger budget, and the arena is reusable. */
    gm_arena_deinit(&a);
    gm_arena_init(&a, 4 << 20);
    cr_assert_eq(gm_gql_parse(src, strlen(src), &lim, &a, &doc, &err), 0, "%s", err.msg);
    gm_arena_reset(&a);
    cr_assert_eq(gm_gql_parse(src, strlen(src), &lim, &a, &doc, &err), 0, "%s", err.msg);
    gm_arena_deinit(&a);
    free(src);
}

Test(gql_parser, print_canonical)
{
    expect_print("{a,b{c}}", "{\n  a\n  b {\n    c\n  }\n}\n");
    expect_print("query{a}", "query {\n  a\n}\n");
    expect_print("query Q ( $a : [ Int ! ] = [ 1 ] @d ) @e { x : a ( b : $a , c : { d : "
                 "\"\\\"q\\\" \\\\ \\n \\u0001 \\u00e9\" } ) @f ... on T { g } ...F ... @h { i } }"
                 "\nfragment F on T @j { k }",
                 "query Q($a: [Int!] = [1] @d) @e {\n"
                 "  x: a(b: $a, c: {d: \"\\\"q\\\" \\\\ \\n \\u0001 \xc3\xa9\"}) @f\n"
                 "  ... on T {\n    g\n  }\n"
                 "  ...F\n"
                 "  ... @h {\n    i\n  }\n"
                 "}\n\n"
                 "fragment F on T @j {\n  k\n}\n");
    expect_print("query ($a: Int) { a }", "query ($a: Int) {\n  a\n}\n");
    expect_print("mutation { a }", "mutation {\n  a\n}\n");
    expect_print("\"d\" type T implements A & B @k { \"f\" f(a: Int = 1, b: [E!]! = [X]): T! "
                 "@deprecated(reason: \"no\") g(\"x\" x: Int): Int }",
                 "\"d\"\ntype T implements A & B @k {\n"
                 "  \"f\"\n"
                 "  f(a: Int = 1, b: [E!]! = [X]): T! @deprecated(reason: \"no\")\n"
                 "  g(\n    \"x\"\n    x: Int\n  ): Int\n"
                 "}\n");
    expect_print("schema{query:Q} scalar S union U = |A|B enum E{A \"b\" B} input I{a:Int=1} "
                 "directive @d(a: Int) repeatable on |FIELD|QUERY",
                 "schema {\n  query: Q\n}\n\nscalar S\n\nunion U = A | B\n\n"
                 "enum E {\n  A\n  \"b\"\n  B\n}\n\ninput I {\n  a: Int = 1\n}\n\n"
                 "directive @d(a: Int) repeatable on FIELD | QUERY\n");
}

Test(gql_parser, print_block_strings)
{
    /* Block strings keep their form and read back to the same value. */
    expect_print("\"\"\"one line\"\"\" scalar S", "\"\"\"one line\"\"\"\nscalar S\n");
    expect_print("\"\"\"\n    two\n      lines\n\"\"\" scalar S",
                 "\"\"\"\ntwo\n  lines\n\"\"\"\nscalar S\n");
    expect_print("type T {\n  \"\"\"\n  a\n\n  b\n  \"\"\"\n  f: Int\n}",
                 "type T {\n  \"\"\"\n  a\n\n  b\n  \"\"\"\n  f: Int\n}\n");
    expect_print("\"\"\"\nends with quote\"\n\"\"\" scalar S",
                 "\"\"\"\nends with quote\"\n\"\"\"\nscalar S\n");
    expect_print("\"\"\"has \\\"\"\" inside\"\"\" scalar S",
                 "\"\"\"has \\\"\"\" inside\"\"\"\nscalar S\n");
    expect_print("\"\"\"  leading space\"\"\" scalar S", "\"\"\"  leading space\"\"\"\nscalar S\n");
    expect_print("\"\"\"  first\n  second\"\"\" scalar S",
                 "\"\"\"\n  first\nsecond\n\"\"\"\nscalar S\n");
    expect_print("{ a(x: \"\"\"b\"\"\") }", "{\n  a(x: \"\"\"b\"\"\")\n}\n");
    /* Each case reads back to the same value. */
    const char *cases[] = {
        "\"\"\"x\n  y\"\"\" scalar S",     "\"\"\"\n  x\n    y\n\"\"\" scalar S",
        "\"\"\"\na\\\\\n\"\"\" scalar S",  "\"\"\"\"\"\" scalar S",
        "\"\"\"\t tab\n\t\"\"\" scalar S", "\"\"\"a\n\n\n b\"\"\" scalar S",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gm_arena a;
        gm_arena_init(&a, 0);
        struct gm_gql_document *d1 = parse_ok(&a, cases[i]);
        char *p = gm_gql_print(d1);
        struct gm_gql_document *d2 = parse_ok(&a, p);
        cr_assert_eq(d1->definitions->description_len, d2->definitions->description_len, "%s", p);
        cr_assert_eq(memcmp(d1->definitions->description, d2->definitions->description,
                            d1->definitions->description_len),
                     0, "case %zu: %s", i, p);
        free(p);
        gm_arena_deinit(&a);
    }
}

static const char introspection_query[] = "query IntrospectionQuery {\n"
                                          "  __schema {\n"
                                          "    description\n"
                                          "    queryType { name }\n"
                                          "    mutationType { name }\n"
                                          "    subscriptionType { name }\n"
                                          "    types {\n"
                                          "      ...FullType\n"
                                          "    }\n"
                                          "    directives {\n"
                                          "      name\n"
                                          "      description\n"
                                          "      isRepeatable\n"
                                          "      locations\n"
                                          "      args(includeDeprecated: true) {\n"
                                          "        ...InputValue\n"
                                          "      }\n"
                                          "    }\n"
                                          "  }\n"
                                          "}\n"
                                          "\n"
                                          "fragment FullType on __Type {\n"
                                          "  kind\n"
                                          "  name\n"
                                          "  description\n"
                                          "  specifiedByURL\n"
                                          "  fields(includeDeprecated: true) {\n"
                                          "    name\n"
                                          "    description\n"
                                          "    args(includeDeprecated: true) {\n"
                                          "      ...InputValue\n"
                                          "    }\n"
                                          "    type {\n"
                                          "      ...TypeRef\n"
                                          "    }\n"
                                          "    isDeprecated\n"
                                          "    deprecationReason\n"
                                          "  }\n"
                                          "  inputFields(includeDeprecated: true) {\n"
                                          "    ...InputValue\n"
                                          "  }\n"
                                          "  interfaces {\n"
                                          "    ...TypeRef\n"
                                          "  }\n"
                                          "  enumValues(includeDeprecated: true) {\n"
                                          "    name\n"
                                          "    description\n"
                                          "    isDeprecated\n"
                                          "    deprecationReason\n"
                                          "  }\n"
                                          "  possibleTypes {\n"
                                          "    ...TypeRef\n"
                                          "  }\n"
                                          "}\n"
                                          "\n"
                                          "fragment InputValue on __InputValue {\n"
                                          "  name\n"
                                          "  description\n"
                                          "  type { ...TypeRef }\n"
                                          "  defaultValue\n"
                                          "  isDeprecated\n"
                                          "  deprecationReason\n"
                                          "}\n"
                                          "\n"
                                          "fragment TypeRef on __Type {\n"
                                          "  kind\n"
                                          "  name\n"
                                          "  ofType {\n"
                                          "    kind\n"
                                          "    name\n"
                                          "    ofType {\n"
                                          "      kind\n"
                                          "      name\n"
                                          "      ofType {\n"
                                          "        kind\n"
                                          "        name\n"
                                          "        ofType {\n"
                                          "          kind\n"
                                          "          name\n"
                                          "          ofType {\n"
                                          "            kind\n"
                                          "            name\n"
                                          "            ofType {\n"
                                          "              kind\n"
                                          "              name\n"
                                          "              ofType {\n"
                                          "                kind\n"
                                          "                name\n"
                                          "                ofType {\n"
                                          "                  kind\n"
                                          "                  name\n"
                                          "                }\n"
                                          "              }\n"
                                          "            }\n"
                                          "          }\n"
                                          "        }\n"
                                          "      }\n"
                                          "    }\n"
                                          "  }\n"
                                          "}\n";

Test(gql_parser, round_trip_introspection_query)
{
    char *p = round_trip(introspection_query);
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_document *doc = parse_ok(&a, p);
    cr_assert_eq(doc->n_definitions, 4);
    cr_assert_str_eq(doc->definitions->name, "IntrospectionQuery");
    cr_assert_str_eq(doc->definitions->next->next->next->name, "TypeRef");
    /* The printer's layout is the source's, once braces are expanded. */
    cr_assert_not_null(strstr(p, "fragment InputValue on __InputValue {\n  name\n  description\n"
                                 "  type {\n    ...TypeRef\n  }\n"));
    free(p);
    gm_arena_deinit(&a);
}

static const char leaderboard_query[] =
    "# The leaderboard screen of the mobile client.\n"
    "query LeaderboardScreen($board: ID = \"global\", $period: LeaderboardPeriod = WEEKLY,\n"
    "                        $first: Int = 20, $after: String, $withMe: Boolean! = true) {\n"
    "  board: leaderboard(board: $board, period: $period, first: $first, after: $after) {\n"
    "    ...Page\n"
    "    me @include(if: $withMe) { rank score }\n"
    "  }\n"
    "  me: userProfile { ...Profile, streak { currentStreak } }\n"
    "  monthly: leaderboard(period: MONTHLY, first: 3) { entries { ...Entry } }\n"
    "}\n"
    "fragment Page on Leaderboard {\n"
    "  entries { ...Entry }\n"
    "  pageInfo { endCursor hasNextPage }\n"
    "}\n"
    "fragment Entry on LeaderboardEntry { rank userId score __typename }\n"
    "fragment Profile on UserProfile { userId level exp nextLevelExp coins }\n";

Test(gql_parser, round_trip_leaderboard_query)
{
    char *p = round_trip(leaderboard_query);
    cr_assert_not_null(strstr(p, "query LeaderboardScreen($board: ID = \"global\", $period: "
                                 "LeaderboardPeriod = WEEKLY, $first: Int = 20, $after: String, "
                                 "$withMe: Boolean! = true) {\n"));
    cr_assert_not_null(strstr(p, "    me @include(if: $withMe) {\n      rank\n      score\n"));
    cr_assert_null(strstr(p, "#"));
    free(p);
    char *r = round_trip("mutation Redeem($id: ID!, $key: String) {\n"
                         "  redeemReward(rewardId: $id, idempotencyKey: $key) {\n"
                         "    status reason redemption { id rewardId status }\n  }\n}");
    free(r);
}

static char *
read_schema(size_t *len)
{
    const char *root = getenv("GAMIFY_SOURCE_ROOT");
    cr_assert_not_null(root, "GAMIFY_SOURCE_ROOT is not set");
    char path[4096];
    snprintf(path, sizeof path, "%s/api/schema.graphql", root);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static const struct gm_gql_definition *
find_def(const struct gm_gql_document *doc, const char *name)
{
    for (const struct gm_gql_definition *d = doc->definitions; d; d = d->next)
        if (d->name && strcmp(d->name, name) == 0)
            return d;
    cr_assert_fail("type %s not in the schema", name);
    return NULL;
}

static const struct gm_gql_field_def *
find_field(const struct gm_gql_definition *d, const char *name)
{
    for (const struct gm_gql_field_def *f = d->fields; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    cr_assert_fail("%s.%s not in the schema", d->name, name);
    return NULL;
}

/* Asserts type's field has the type printed as want. */
static void
expect_field(const struct gm_gql_document *doc, const char *type, const char *field,
             const char *want)
{
    const struct gm_gql_field_def *f = find_field(find_def(doc, type), field);
    char *t = gm_gql_print_type(f->type);
    cr_assert_str_eq(t, want, "%s.%s", type, field);
    free(t);
}

static void
expect_arg(const struct gm_gql_document *doc, const char *type, const char *field, const char *arg,
           const char *want_type, const char *want_default)
{
    const struct gm_gql_field_def *f = find_field(find_def(doc, type), field);
    for (const struct gm_gql_input_value_def *a = f->args; a; a = a->next) {
        if (strcmp(a->name, arg) != 0)
            continue;
        char *t = gm_gql_print_type(a->type);
        cr_assert_str_eq(t, want_type, "%s.%s(%s)", type, field, arg);
        free(t);
        if (!want_default) {
            cr_assert_null(a->default_value, "%s.%s(%s)", type, field, arg);
        } else {
            char *v = gm_gql_print_value(a->default_value);
            cr_assert_str_eq(v, want_default, "%s.%s(%s)", type, field, arg);
            free(v);
        }
        return;
    }
    cr_assert_fail("%s.%s(%s) not in the schema", type, field, arg);
}

static void
expect_enum(const struct gm_gql_document *doc, const char *type, const char *const *values)
{
    const struct gm_gql_definition *d = find_def(doc, type);
    cr_assert_eq(d->kind, GM_GQL_DEF_ENUM);
    const struct gm_gql_enum_value_def *v = d->values;
    for (; *values; values++, v = v->next) {
        cr_assert_not_null(v, "%s lacks %s", type, *values);
        cr_assert_str_eq(v->name, *values);
    }
    cr_assert_null(v, "%s has more values", type);
}

Test(gql_parser, public_schema)
{
    size_t len;
    char *src = read_schema(&len);
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_document *doc = parse_lim(&a, src, len, NULL);
    /* The contract of DESIGN.md section 6. */
    expect_field(doc, "Query", "userProfile", "UserProfile");
    expect_arg(doc, "Query", "userProfile", "userId", "ID", NULL);
    expect_field(doc, "Query", "badges", "[UserBadge!]!");
    expect_arg(doc, "Query", "badges", "userId", "ID", NULL);
    expect_field(doc, "Query", "leaderboard", "Leaderboard");
    expect_arg(doc, "Query", "leaderboard", "board", "ID", "\"global\"");
    expect_arg(doc, "Query", "leaderboard", "period", "LeaderboardPeriod", "ALL_TIME");
    expect_arg(doc, "Query", "leaderboard", "first", "Int", "10");
    expect_arg(doc, "Query", "leaderboard", "after", "String", NULL);
    expect_field(doc, "Query", "rewards", "[Reward!]!");
    expect_field(doc, "Query", "streaks", "Streak");
    expect_arg(doc, "Query", "streaks", "userId", "ID", NULL);
    expect_field(doc, "Mutation", "redeemReward", "RedeemRewardPayload");
    expect_arg(doc, "Mutation", "redeemReward", "rewardId", "ID!", NULL);
    expect_arg(doc, "Mutation", "redeemReward", "idempotencyKey", "String", NULL);
    expect_field(doc, "UserProfile", "userId", "ID!");
    expect_field(doc, "UserProfile", "exp", "Int!");
    expect_field(doc, "UserProfile", "level", "Int!");
    expect_field(doc, "UserProfile", "coins", "Int");
    expect_field(doc, "UserProfile", "nextLevelExp", "Int");
    expect_field(doc, "UserBadge", "badge", "Badge!");
    expect_field(doc, "UserBadge", "earnedAt", "DateTime!");
    const char *badge[] = {"id", "name", "icon", "criteria"};
    for (size_t i = 0; i < 4; i++)
        find_field(find_def(doc, "Badge"), badge[i]);
    expect_field(doc, "Leaderboard", "entries", "[LeaderboardEntry!]!");
    expect_field(doc, "Leaderboard", "me", "LeaderboardMe");
    expect_field(doc, "Leaderboard", "pageInfo", "PageInfo!");
    expect_field(doc, "LeaderboardEntry", "rank", "Int!");
    expect_field(doc, "LeaderboardEntry", "userId", "ID");
    expect_field(doc, "LeaderboardEntry", "score", "Int!");
    expect_field(doc, "LeaderboardMe", "rank", "Int!");
    expect_field(doc, "LeaderboardMe", "score", "Int!");
    expect_field(doc, "PageInfo", "endCursor", "String");
    expect_field(doc, "PageInfo", "hasNextPage", "Boolean!");
    const char *reward[] = {"id", "name", "cost", "type", "stock", "active"};
    for (size_t i = 0; i < 6; i++)
        find_field(find_def(doc, "Reward"), reward[i]);
    expect_field(doc, "Streak", "currentStreak", "Int!");
    expect_field(doc, "Streak", "longestStreak", "Int!");
    expect_field(doc, "Streak", "freezesHeld", "Int!");
    expect_field(doc, "RedeemRewardPayload", "status", "RedemptionStatus!");
    expect_field(doc, "RedeemRewardPayload", "reason", "RejectionReason");
    expect_field(doc, "RedeemRewardPayload", "redemption", "Redemption");
    expect_field(doc, "Redemption", "id", "ID!");
    expect_field(doc, "Redemption", "rewardId", "ID!");
    expect_field(doc, "Redemption", "status", "RedemptionStatus!");
    cr_assert_eq(find_def(doc, "DateTime")->kind, GM_GQL_DEF_SCALAR);
    const char *periods[] = {"ALL_TIME", "WEEKLY", "MONTHLY", NULL};
    expect_enum(doc, "LeaderboardPeriod", periods);
    const char *statuses[] = {"COMPLETED", "REJECTED", "PENDING", NULL};
    expect_enum(doc, "RedemptionStatus", statuses);
    const char *reasons[] = {"UNKNOWN_REWARD", "OUT_OF_STOCK", "LIMIT_REACHED",
                             "INSUFFICIENT_COINS", NULL};
    expect_enum(doc, "RejectionReason", reasons);
    /* A description on every type, field, argument and enum value. */
    size_t described = 0;
    for (const struct gm_gql_definition *d = doc->definitions; d; d = d->next) {
        cr_assert(d->description && d->description_len > 0, "%s lacks a description",
                  d->name ? d->name : "schema");
        described++;
        for (const struct gm_gql_field_def *f = d->fields; f; f = f->next) {
            cr_assert(f->description && f->description_len > 0, "%s.%s lacks a description",
                      d->name, f->name);
            described++;
            for (const struct gm_gql_input_value_def *iv = f->args; iv; iv = iv->next) {
                cr_assert(iv->description && iv->description_len > 0,
                          "%s.%s(%s) lacks a description", d->name, f->name, iv->name);
                described++;
            }
        }
        for (const struct gm_gql_enum_value_def *v = d->values; v; v = v->next) {
            cr_assert(v->description && v->description_len > 0, "%s.%s lacks a description",
                      d->name, v->name);
            described++;
        }
        for (const struct gm_gql_input_value_def *iv = d->input_fields; iv; iv = iv->next) {
            cr_assert(iv->description, "%s.%s lacks a description", d->name, iv->name);
            described++;
        }
    }
    cr_assert_gt(described, 60);
    /* No executable definitions in the schema file, and it prints stably. */
    for (const struct gm_gql_definition *d = doc->definitions; d; d = d->next)
        cr_assert(d->kind != GM_GQL_DEF_OPERATION && d->kind != GM_GQL_DEF_FRAGMENT);
    char *p = round_trip(src);
    free(p);
    gm_arena_deinit(&a);
    free(src);
}
