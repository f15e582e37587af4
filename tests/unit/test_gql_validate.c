/*
 * test_gql_validate.c: the GraphQL validator (validate.h): every rule of
 * the specification's section 5 with graphql-js's messages and locations
 * (the expected errors below are what graphql-js 16.8.2 answers for the
 * same documents against api/schema.graphql), the 100-error cut-off, the
 * operational limits (depth, aliases, root fields, cost) with the standard
 * introspection query passing, gm_gql_literal_fits, and hostile documents
 * (long fragment chains, fan-out, many same-named fields) that must finish.
 */
#include "validate.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct gm_gql_schema *schema;

static void
load_schema(void)
{
    const char *root = getenv("GAMIFY_SOURCE_ROOT");
    cr_assert(root, "GAMIFY_SOURCE_ROOT is not set (run the tests through meson)");
    char path[4096];
    snprintf(path, sizeof(path), "%s/api/schema.graphql", root);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_gql_schema_new(buf, n, &schema, &err);
    free(buf);
    cr_assert_eq(rc, 0, "schema: %s", err.msg);
}

static void
free_schema(void)
{
    gm_gql_schema_free(schema);
    schema = NULL;
}

TestSuite(gql_validate, .init = load_schema, .fini = free_schema);

/*
 * Validates src with lim (NULL: defaults) and renders the errors as
 * "line:col[,line:col] message\n" lines into a new string; *rc gets the
 * return code.
 */
static char *
run(const char *src, const struct gm_gql_vlimits *lim, int *rc)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_document *doc = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    int prc = gm_gql_parse(src, strlen(src), NULL, &a, &doc, &err);
    cr_assert_eq(prc, 0, "parse failed at %d:%d: %s", err.line, err.column, err.msg);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    *rc = gm_gql_validate(schema, doc, lim, &a, &errs);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (const struct gm_gql_error *e = errs.head; e; e = e->next) {
        if (len + 2048 > cap)
            out = realloc(out, cap *= 2);
        for (size_t i = 0; i < e->n_locs; i++)
            len += (size_t)snprintf(out + len, cap - len, "%s%d:%d", i ? "," : "", e->locs[i].line,
                                    e->locs[i].column);
        len += (size_t)snprintf(out + len, cap - len, " %s\n", e->message);
    }
    gm_arena_deinit(&a);
    return out;
}

/* Asserts that src validates to exactly the errors in expected (rendered as by run). */
static void
check(const char *src, const char *expected)
{
    int rc;
    char *got = run(src, NULL, &rc);
    cr_assert_str_eq(got, expected, "for %s", src);
    cr_assert_eq(rc, expected[0] ? GM_EINVAL : 0, "rc %d for %s", rc, src);
    free(got);
}

Test(gql_validate, valid_profile)
{
    check("{ rewards { id name cost } userProfile(userId: \"u1\") { userId exp badges { badge { id "
          "} earnedAt } } }",
          "");
}

Test(gql_validate, valid_board)
{
    check("query Board($first: Int = 10, $period: LeaderboardPeriod) {\n"
          "  leaderboard(first: $first, period: $period) { board entries { rank userId score } "
          "pageInfo { endCursor hasNextPage } }\n"
          "}",
          "");
}

Test(gql_validate, valid_fragments)
{
    check("query P($id: ID) { userProfile(userId: $id) { ...Prof } }\n"
          "fragment Prof on UserProfile { exp level ...Streaky }\n"
          "fragment Streaky on UserProfile { streak { currentStreak } }",
          "");
}

Test(gql_validate, valid_mutation)
{
    check("mutation Redeem($r: ID!, $k: String) { redeemReward(rewardId: $r, idempotencyKey: $k) { "
          "status reason redemption { id status } } }",
          "");
}

Test(gql_validate, valid_directives)
{
    check("query Q($s: Boolean!) { rewards @include(if: $s) { id @skip(if: false) } ... @skip(if: "
          "$s) { badges { earnedAt } } }",
          "");
}

Test(gql_validate, executable)
{
    check("query { rewards { id } }\n"
          "type Foo { a: Int }\n"
          "schema { query: Query }",
          "2:1 The \"Foo\" definition is not executable.\n"
          "3:1 The schema definition is not executable.\n");
}

Test(gql_validate, unique_operation_names)
{
    check("query A { rewards { id } }\n"
          "query A { badges { earnedAt } }",
          "1:7,2:7 There can be only one operation named \"A\".\n");
}

Test(gql_validate, lone_anonymous)
{
    check("{ rewards { id } }\n"
          "query B { rewards { id } }",
          "1:1 This anonymous operation must be the only defined operation.\n");
}

Test(gql_validate, known_type_names)
{
    check("query ($a: Strin, $b: [UserProfil!]) { rewards { ... on Rewardd { id } } }",
          "1:12 Unknown type \"Strin\". Did you mean \"String\" or \"Streak\"?\n"
          "1:24 Unknown type \"UserProfil\". Did you mean \"UserProfile\"?\n"
          "1:57 Unknown type \"Rewardd\". Did you mean \"Reward\"?\n"
          "1:8 Variable \"$a\" is never used.\n"
          "1:19 Variable \"$b\" is never used.\n");
}

Test(gql_validate, known_type_float)
{
    check("query ($a: Float) { rewards { id } }", "1:12 Unknown type \"Float\".\n"
                                                  "1:8 Variable \"$a\" is never used.\n");
}

Test(gql_validate, fragments_on_composite)
{
    check("{ rewards { ...R ... on Int { id } } }\n"
          "fragment R on LeaderboardPeriod { id }",
          "1:25 Fragment cannot condition on non composite type \"Int\".\n"
          "2:15 Fragment \"R\" cannot condition on non composite type \"LeaderboardPeriod\".\n");
}

Test(gql_validate, variables_are_input)
{
    check("query ($a: UserProfile, $c: ID) { userProfile(userId: $c) { exp } }",
          "1:12 Variable \"$a\" cannot be non-input type \"UserProfile\".\n"
          "1:8 Variable \"$a\" is never used.\n");
}

Test(gql_validate, scalar_leafs)
{
    check("{ rewards userProfile { userId { id } } }",
          "1:3 Field \"rewards\" of type \"[Reward!]!\" must have a selection of subfields. Did "
          "you mean \"rewards { ... }\"?\n"
          "1:32 Field \"userId\" must not have a selection since type \"ID!\" has no subfields.\n");
}

Test(gql_validate, fields_on_correct_type)
{
    check("{ reward { id } rewards { idd nam } }",
          "1:3 Cannot query field \"reward\" on type \"Query\". Did you mean \"rewards\"?\n"
          "1:27 Cannot query field \"idd\" on type \"Reward\". Did you mean \"id\"?\n"
          "1:31 Cannot query field \"nam\" on type \"Reward\". Did you mean \"name\"?\n");
}

Test(gql_validate, unique_fragment_names)
{
    check("{ rewards { ...A } }\n"
          "fragment A on Reward { id }\n"
          "fragment A on Reward { name }",
          "2:10,3:10 There can be only one fragment named \"A\".\n");
}

Test(gql_validate, known_fragment_names)
{
    check("{ rewards { ...Nope } }", "1:16 Unknown fragment \"Nope\".\n");
}

Test(gql_validate, no_unused_fragments)
{
    check("{ rewards { id } }\n"
          "fragment U on Reward { id }",
          "2:1 Fragment \"U\" is never used.\n");
}

Test(gql_validate, possible_fragment_spreads)
{
    check("{ rewards { ...B ... on Badge { id } } }\n"
          "fragment B on Badge { name }",
          "1:13 Fragment \"B\" cannot be spread here as objects of type \"Reward\" can never be of "
          "type \"Badge\".\n"
          "1:18 Fragment cannot be spread here as objects of type \"Reward\" can never be of type "
          "\"Badge\".\n");
}

Test(gql_validate, no_fragment_cycles)
{
    check("{ rewards { ...A } }\n"
          "fragment A on Reward { id ...B }\n"
          "fragment B on Reward { name ...A }",
          "2:27,3:29 Cannot spread fragment \"A\" within itself via \"B\".\n");
}

Test(gql_validate, unique_variable_names)
{
    check("query Q($a: ID, $a: ID) { userProfile(userId: $a) { exp } }",
          "1:10,1:18 There can be only one variable named \"$a\".\n");
}

Test(gql_validate, no_undefined_variables)
{
    check("query Q { userProfile(userId: $nope) { exp } }",
          "1:31,1:1 Variable \"$nope\" is not defined by operation \"Q\".\n");
}

Test(gql_validate, no_unused_variables)
{
    check("query Q($unused: Int) { rewards { id } }",
          "1:9 Variable \"$unused\" is never used in operation \"Q\".\n");
}

Test(gql_validate, known_directives)
{
    check("{ rewards @foo { id } } query Q @skip(if: true) { badges { earnedAt } }",
          "1:1 This anonymous operation must be the only defined operation.\n"
          "1:11 Unknown directive \"@foo\".\n"
          "1:33 Directive \"@skip\" may not be used on QUERY.\n");
}

Test(gql_validate, unique_directives_per_location)
{
    check("{ rewards @include(if: true) @include(if: false) { id } }",
          "1:11,1:30 The directive \"@include\" can only be used once at this location.\n");
}

Test(gql_validate, known_argument_names)
{
    check(
        "{ userProfile(user: \"x\") { exp } rewards @skip(iff: true, if: true) { id } }",
        "1:15 Unknown argument \"user\" on field \"Query.userProfile\". Did you mean \"userId\"?\n"
        "1:48 Unknown argument \"iff\" on directive \"@skip\". Did you mean \"if\"?\n");
}

Test(gql_validate, unique_argument_names)
{
    check("{ userProfile(userId: \"1\", userId: \"2\") { exp } }",
          "1:15,1:28 There can be only one argument named \"userId\".\n");
}

Test(gql_validate, values_of_correct_type)
{
    check("{ userProfile(userId: 1.5) { exp } leaderboard(first: \"x\", period: WEEKLYY, around: "
          "99999999999) { board } }",
          "1:23 ID cannot represent a non-string and non-integer value: 1.5\n"
          "1:55 Int cannot represent non-integer value: \"x\"\n"
          "1:68 Value \"WEEKLYY\" does not exist in \"LeaderboardPeriod\" enum. Did you mean the "
          "enum value \"WEEKLY\"?\n"
          "1:85 Int cannot represent non 32-bit signed integer value: 99999999999\n");
}

Test(gql_validate, values_null_non_null)
{
    check("mutation { redeemReward(rewardId: null) { status } }",
          "1:35 Expected value of type \"ID!\", found null.\n");
}

Test(gql_validate, values_enum_string)
{
    check("{ leaderboard(period: \"WEEKLY\") { board } }",
          "1:23 Enum \"LeaderboardPeriod\" cannot represent non-enum value: \"WEEKLY\". Did you "
          "mean the enum value \"WEEKLY\"?\n");
}

Test(gql_validate, values_default)
{
    check("query ($a: Int = \"x\") { leaderboard(first: $a) { board } }",
          "1:18 Int cannot represent non-integer value: \"x\"\n");
}

Test(gql_validate, provided_required_arguments)
{
    check("mutation { redeemReward { status } }\n"
          "query { rewards @include { id } }",
          "1:1 This anonymous operation must be the only defined operation.\n"
          "1:12 Field \"redeemReward\" argument \"rewardId\" of type \"ID!\" is required, but it "
          "was not provided.\n"
          "2:1 This anonymous operation must be the only defined operation.\n"
          "2:17 Directive \"@include\" argument \"if\" of type \"Boolean!\" is required, but it "
          "was not provided.\n");
}

Test(gql_validate, variables_in_allowed_position)
{
    check("query Q($a: String, $b: ID) { userProfile(userId: $a) { exp } }\n"
          "mutation M($b: ID) { redeemReward(rewardId: $b) { status } }",
          "1:21 Variable \"$b\" is never used in operation \"Q\".\n"
          "1:9,1:51 Variable \"$a\" of type \"String\" used in position expecting type \"ID\".\n"
          "2:12,2:45 Variable \"$b\" of type \"ID\" used in position expecting type \"ID!\".\n");
}

Test(gql_validate, variables_allowed_default)
{
    check("mutation M($b: ID = \"x\") { redeemReward(rewardId: $b) { status } }", "");
}

Test(gql_validate, overlapping_fields)
{
    check("{ rewards { id id: name } a: rewards { id } a: badges { earnedAt } }",
          "1:27,1:45 Fields \"a\" conflict because \"rewards\" and \"badges\" are different "
          "fields. Use different aliases on the fields to fetch both if this was intentional.\n"
          "1:13,1:16 Fields \"id\" conflict because \"id\" and \"name\" are different fields. Use "
          "different aliases on the fields to fetch both if this was intentional.\n");
}

Test(gql_validate, overlapping_args)
{
    check("{ leaderboard(first: 1) { board } leaderboard(first: 2) { board } }",
          "1:3,1:35 Fields \"leaderboard\" conflict because they have differing arguments. Use "
          "different aliases on the fields to fetch both if this was intentional.\n");
}

Test(gql_validate, overlapping_types)
{
    check(
        "{ rewards { ...A ...B } }\n"
        "fragment A on Reward { x: cost }\n"
        "fragment B on Badge { x: name }",
        "2:24,3:23 Fields \"x\" conflict because they return conflicting types \"Int!\" and "
        "\"String!\". Use different aliases on the fields to fetch both if this was intentional.\n"
        "1:18 Fragment \"B\" cannot be spread here as objects of type \"Reward\" can never be of "
        "type \"Badge\".\n");
}

Test(gql_validate, overlapping_subfields)
{
    check("{ userProfile { streak { s: currentStreak } } userProfile { streak { s: longestStreak } "
          "} }",
          "1:3,1:17,1:26,1:47,1:61,1:70 Fields \"userProfile\" conflict because subfields "
          "\"streak\" conflict because subfields \"s\" conflict because \"currentStreak\" and "
          "\"longestStreak\" are different fields. Use different aliases on the fields to fetch "
          "both if this was intentional.\n");
}

Test(gql_validate, overlapping_fragments)
{
    check("{ userProfile { ...P ...Q } }\n"
          "fragment P on UserProfile { a: exp }\n"
          "fragment Q on UserProfile { a: level }",
          "2:29,3:29 Fields \"a\" conflict because \"exp\" and \"level\" are different fields. Use "
          "different aliases on the fields to fetch both if this was intentional.\n");
}

Test(gql_validate, overlapping_inline)
{
    check("{ ... on Query { a: rewards { id } } ... on Query { a: badges { earnedAt } } }",
          "1:18,1:53 Fields \"a\" conflict because \"rewards\" and \"badges\" are different "
          "fields. Use different aliases on the fields to fetch both if this was intentional.\n");
}

Test(gql_validate, overlapping_ok)
{
    check("{ leaderboard(first: 1, after: \"x\") { board } leaderboard(after: \"x\", first: 1) { "
          "board } rewards { id } rewards { name } }",
          "");
}

Test(gql_validate, unique_input_field_names)
{
    check("{ userProfile(userId: {a: 1, a: 2}) { exp } }",
          "1:23 ID cannot represent a non-string and non-integer value: {a: 1, a: 2}\n"
          "1:24,1:30 There can be only one input field named \"a\".\n");
}

/* The public schema's Subscription root has leaderboardChanged only. */
Test(gql_validate, subscription_root)
{
    check("subscription { leaderboardChanged(first: 3) { totalCount } }", "");
    check("subscription { rewards { id } }",
          "1:16 Cannot query field \"rewards\" on type \"Subscription\".\n");
}

/*
 * Errors that graphql-js points at a name inside a node (an operation's or
 * fragment's name, a spread's name, a type condition, a variable's name), at
 * a definition's description or at a root operation type's name, with
 * comments, commas, tabs, CRLF and line breaks between the keyword and the
 * name: the location is the name token's, never the keyword's plus its length.
 */
Test(gql_validate, name_locations_operations)
{
    check("query # first\n  Dup { __typename }\nquery\n\n\tDup\n{ __typename }\n",
          "2:3,5:2 There can be only one operation named \"Dup\".\n");
    check("query,,A,{ __typename }\nmutation , # m\n  A { __typename }\n",
          "1:8,3:3 There can be only one operation named \"A\".\n");
    check("query\r\n  Q { __typename }\r\nquery\r\n  Q { __typename }\r\n",
          "2:3,4:3 There can be only one operation named \"Q\".\n");
}

Test(gql_validate, name_locations_fragments)
{
    check("{ userProfile { ...P } }\nfragment\nP\non\nUserProfile { exp }\n"
          "fragment ,, P # again\n on UserProfile { level }\n",
          "3:1,6:13 There can be only one fragment named \"P\".\n");
    check("fragment F on Query { __typename }\nfragment # 2\nF on Query { __typename }\n"
          "fragment\nF on Query { __typename }\n{ ...F }\n",
          "1:10,3:1 There can be only one fragment named \"F\".\n"
          "1:10,5:1 There can be only one fragment named \"F\".\n");
    check("{ userProfile { ... # spread\n  Missing } }\n", "2:3 Unknown fragment \"Missing\".\n");
    check("{ userProfile { ...\n\n   Missing @include(if: true) } }\n",
          "3:4 Unknown fragment \"Missing\".\n");
    /* These point at the definition or the spread, where the node starts. */
    check("{ __typename }\n  fragment\n  Unused on Reward { id }\n",
          "2:3 Fragment \"Unused\" is never used.\n");
    check(
        "{ rewards { ...A } }\nfragment A on Reward { ... \n B }\nfragment B on Reward { ...,A }\n",
        "2:24,4:24 Cannot spread fragment \"A\" within itself via \"B\".\n");
    check("{ streaks { ...\n B } }\nfragment\n B on Badge { id }\n",
          "1:13 Fragment \"B\" cannot be spread here as objects of type \"Streak\" can never be "
          "of type \"Badge\".\n");
}

Test(gql_validate, name_locations_type_conditions)
{
    check("{ userProfile { ...P } }\nfragment P on\n  # t\n  Profile { exp }\n",
          "4:3 Unknown type \"Profile\".\n");
    check("{ userProfile { ...\t\tF } }\nfragment\t\tF\t\ton\t\tUserProfil\t{ exp }\n",
          "2:18 Unknown type \"UserProfil\". Did you mean \"UserProfile\"?\n");
    check("{ userProfile { ...on Learner { exp } ... on\n\tLearner2 { exp } } }\n",
          "1:23 Unknown type \"Learner\".\n"
          "2:2 Unknown type \"Learner2\".\n");
    check("{ userProfile { exp { ...F } } }\nfragment F\n on\n Int { __typename }\n",
          "1:21 Field \"exp\" must not have a selection since type \"Int!\" has no subfields.\n"
          "4:2 Fragment \"F\" cannot condition on non composite type \"Int\".\n");
    check("{ leaderboard { period { ...on,LeaderboardPeriod { __typename } } } }\n",
          "1:24 Field \"period\" must not have a selection since type \"LeaderboardPeriod!\" has "
          "no subfields.\n"
          "1:32 Fragment cannot condition on non composite type \"LeaderboardPeriod\".\n");
}

Test(gql_validate, name_locations_variables)
{
    check("query Q($ a: Int, $\ta: Int, $a: Int) { leaderboard(first: $a) { totalCount } }\n",
          "1:11,1:21,1:30 There can be only one variable named \"$a\".\n");
    /* These point at the "$" of the definition or the usage. */
    check("query Q($\n  unused: Int) { __typename }\n",
          "1:9 Variable \"$unused\" is never used in operation \"Q\".\n");
    check("query ($ x: Int) { __typename }\n", "1:8 Variable \"$x\" is never used.\n");
    check("mutation\n#c\nM($id: ID) { __typename }\n",
          "3:3 Variable \"$id\" is never used in operation \"M\".\n");
    check("query\n  Q { userProfile(userId: $ id) { exp } }\n",
          "2:27,1:1 Variable \"$id\" is not defined by operation \"Q\".\n");
    check("mutation\n#c\nM($ id: ID) { redeemReward(rewardId: $\nid) { status } }\n",
          "3:3,3:38 Variable \"$id\" of type \"ID\" used in position expecting type \"ID!\".\n");
    check("query Q($p:\n  UserProfile) { userProfile { exp } }\n",
          "2:3 Variable \"$p\" cannot be non-input type \"UserProfile\".\n"
          "1:9 Variable \"$p\" is never used in operation \"Q\".\n");
    check("query Q($id: [\n Strin ]) { __typename }\n",
          "2:2 Unknown type \"Strin\". Did you mean \"String\" or \"Streak\"?\n"
          "1:9 Variable \"$id\" is never used in operation \"Q\".\n");
}

Test(gql_validate, name_locations_type_system)
{
    /* graphql-js's definition starts at its description. */
    check("{ __typename }\n\"desc\"\ntype Extra { a: Int }\n",
          "2:1 The \"Extra\" definition is not executable.\n");
    check("{ __typename }\n\"\"\"\nblock\n\"\"\"  scalar Url\n",
          "2:1 The \"Url\" definition is not executable.\n");
    check("\"d\" directive @x on FIELD\n{ __typename }\n",
          "1:1 The \"x\" definition is not executable.\n");
    check("{ __typename }\nschema { query\n:Qery }\n",
          "2:1 The schema definition is not executable.\n"
          "3:2 Unknown type \"Qery\". Did you mean \"Query\"?\n");
}

Test(gql_validate, introspection_fields)
{
    check("{ __typename __schema { queryType { name } } __type(name: \"Reward\") { name fields { "
          "name } } }",
          "");
}

Test(gql_validate, introspection_wrong)
{
    check("{ __type { name } rewards { __schema { types { name } } } }",
          "1:3 Field \"__type\" argument \"name\" of type \"String!\" is required, but it was not "
          "provided.\n"
          "1:29 Cannot query field \"__schema\" on type \"Reward\".\n");
}

/* graphql-js's getIntrospectionQuery() (16.8.2, default options). */
static const char introspection_query[] = "\n"
                                          "    query IntrospectionQuery {\n"
                                          "      __schema {\n"
                                          "        \n"
                                          "        queryType { name }\n"
                                          "        mutationType { name }\n"
                                          "        subscriptionType { name }\n"
                                          "        types {\n"
                                          "          ...FullType\n"
                                          "        }\n"
                                          "        directives {\n"
                                          "          name\n"
                                          "          description\n"
                                          "          \n"
                                          "          locations\n"
                                          "          args {\n"
                                          "            ...InputValue\n"
                                          "          }\n"
                                          "        }\n"
                                          "      }\n"
                                          "    }\n"
                                          "\n"
                                          "    fragment FullType on __Type {\n"
                                          "      kind\n"
                                          "      name\n"
                                          "      description\n"
                                          "      \n"
                                          "      fields(includeDeprecated: true) {\n"
                                          "        name\n"
                                          "        description\n"
                                          "        args {\n"
                                          "          ...InputValue\n"
                                          "        }\n"
                                          "        type {\n"
                                          "          ...TypeRef\n"
                                          "        }\n"
                                          "        isDeprecated\n"
                                          "        deprecationReason\n"
                                          "      }\n"
                                          "      inputFields {\n"
                                          "        ...InputValue\n"
                                          "      }\n"
                                          "      interfaces {\n"
                                          "        ...TypeRef\n"
                                          "      }\n"
                                          "      enumValues(includeDeprecated: true) {\n"
                                          "        name\n"
                                          "        description\n"
                                          "        isDeprecated\n"
                                          "        deprecationReason\n"
                                          "      }\n"
                                          "      possibleTypes {\n"
                                          "        ...TypeRef\n"
                                          "      }\n"
                                          "    }\n"
                                          "\n"
                                          "    fragment InputValue on __InputValue {\n"
                                          "      name\n"
                                          "      description\n"
                                          "      type { ...TypeRef }\n"
                                          "      defaultValue\n"
                                          "      \n"
                                          "      \n"
                                          "    }\n"
                                          "\n"
                                          "    fragment TypeRef on __Type {\n"
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
                                          "                  ofType {\n"
                                          "                    kind\n"
                                          "                    name\n"
                                          "                    ofType {\n"
                                          "                      kind\n"
                                          "                      name\n"
                                          "                      ofType {\n"
                                          "                        kind\n"
                                          "                        name\n"
                                          "                      }\n"
                                          "                    }\n"
                                          "                  }\n"
                                          "                }\n"
                                          "              }\n"
                                          "            }\n"
                                          "          }\n"
                                          "        }\n"
                                          "      }\n"
                                          "    }\n"
                                          "  ";

Test(gql_validate, introspection_query_passes_every_limit)
{
    int rc;
    char *got = run(introspection_query, NULL, &rc);
    cr_assert_str_eq(got, "");
    cr_assert_eq(rc, 0);
    free(got);
    /* Even with tight limits: introspection is exempt from depth and cost. */
    struct gm_gql_vlimits lim = {.max_depth = 2, .max_cost = 10};
    got = run(introspection_query, &lim, &rc);
    cr_assert_str_eq(got, "");
    cr_assert_eq(rc, 0);
    free(got);
}

static void
check_limit(const char *src, const struct gm_gql_vlimits *lim, const char *expected)
{
    int rc;
    char *got = run(src, lim, &rc);
    cr_assert_str_eq(got, expected, "for %s", src);
    cr_assert_eq(rc, expected[0] ? GM_ETOOBIG : 0, "rc %d for %s", rc, src);
    free(got);
}

Test(gql_validate, limit_depth)
{
    struct gm_gql_vlimits lim = {.max_depth = 3};
    check_limit("{ userProfile { badges { badge { id } } } }", &lim,
                "1:1 The query has depth 4, more than the maximum of 3.\n");
    check_limit("{ userProfile { streak { currentStreak } } }", &lim, "");
    /* Depth counts through fragments. */
    check_limit("query Q { userProfile { ...B } }\n"
                "fragment B on UserProfile { badges { badge { id } } }",
                &lim, "1:1 The query has depth 4, more than the maximum of 3.\n");
    /* The default is 10: the deepest path of this schema passes. */
    check_limit("{ userProfile { badges { badge { id } } } }", NULL, "");
}

Test(gql_validate, limit_aliases)
{
    char src[4096] = "{";
    for (int i = 0; i < 31; i++)
        snprintf(src + strlen(src), sizeof(src) - strlen(src), " a%d: rewards { id }", i);
    strcat(src, " }");
    struct gm_gql_vlimits lim = {.max_root_fields = 100, .max_cost = 100000};
    check_limit(src, &lim, "1:1 The query uses 31 aliases, more than the maximum of 30.\n");
    lim.max_aliases = 31;
    check_limit(src, &lim, "");
    /* A fragment spread twice counts its aliases twice. */
    check_limit("query Q { userProfile { ...A } u: userProfile { ...A } }\n"
                "fragment A on UserProfile { x: exp y: level }",
                &(struct gm_gql_vlimits){.max_aliases = 4},
                "1:1 The query uses 5 aliases, more than the maximum of 4.\n");
}

Test(gql_validate, limit_root_fields)
{
    char src[4096] = "{";
    for (int i = 0; i < 21; i++)
        snprintf(src + strlen(src), sizeof(src) - strlen(src), " r%d: streaks { currentStreak }",
                 i);
    strcat(src, " }");
    struct gm_gql_vlimits lim = {.max_aliases = 100};
    check_limit(src, &lim, "1:1 The query selects 21 root fields, more than the maximum of 20.\n");
    lim.max_root_fields = 21;
    check_limit(src, &lim, "");
}

Test(gql_validate, limit_cost)
{
    /* badges is a list without `first`: 100 entries; badge and id cost 100 each. */
    check_limit("{ badges { badge { id } } }", &(struct gm_gql_vlimits){.max_cost = 200},
                "1:1 The query has cost 201, more than the maximum of 200.\n");
    check_limit("{ badges { badge { id } } }", &(struct gm_gql_vlimits){.max_cost = 201}, "");
    /* `first` on the connection sizes its list: 1 + 1 + 10 * 2. */
    check_limit("{ leaderboard(first: 10) { entries { rank score } } }",
                &(struct gm_gql_vlimits){.max_cost = 21},
                "1:1 The query has cost 22, more than the maximum of 21.\n");
    /* A variable's default counts; through a fragment too. */
    check_limit("query Q($n: Int = 50) { leaderboard(first: $n) { ...E } }\n"
                "fragment E on Leaderboard { entries { rank } }",
                &(struct gm_gql_vlimits){.max_cost = 51},
                "1:1 The query has cost 52, more than the maximum of 51.\n");
    /* Without a default the list counts default_list_size. */
    check_limit("query Q($n: Int) { leaderboard(first: $n) { entries { rank } } }",
                &(struct gm_gql_vlimits){.max_cost = 1000, .default_list_size = 7}, "");
    check_limit("query Q($n: Int) { leaderboard(first: $n) { entries { rank } } }",
                &(struct gm_gql_vlimits){.max_cost = 8, .default_list_size = 7},
                "1:1 The query has cost 9, more than the maximum of 8.\n");
    /* Introspection is exempt. */
    check_limit("{ __schema { types { name fields { name } } } rewards { id } }",
                &(struct gm_gql_vlimits){.max_cost = 101}, "");
}

Test(gql_validate, limits_only_after_the_rules_pass)
{
    int rc;
    struct gm_gql_vlimits lim = {.max_depth = 1};
    char *got = run("{ userProfile { nope } }", &lim, &rc);
    cr_assert_str_eq(got, "1:17 Cannot query field \"nope\" on type \"UserProfile\".\n");
    cr_assert_eq(rc, GM_EINVAL);
    free(got);
}

Test(gql_validate, limit_error_code)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_document *doc = NULL;
    struct gm_err err;
    const char *src = "{ userProfile { streak { currentStreak } } }";
    cr_assert_eq(gm_gql_parse(src, strlen(src), NULL, &a, &doc, &err), 0);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    struct gm_gql_vlimits lim = {.max_depth = 2};
    cr_assert_eq(gm_gql_validate(schema, doc, &lim, &a, &errs), GM_ETOOBIG);
    cr_assert_eq(errs.count, 1);
    cr_assert_str_eq(errs.head->code, GM_GQL_CODE_COMPLEX);
    gm_gql_errors_init(&errs);
    cr_assert_eq(gm_gql_validate(schema, doc, NULL, &a, &errs), 0);
    cr_assert_eq(errs.count, 0);
    gm_arena_deinit(&a);
}

Test(gql_validate, validation_error_code)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_document *doc = NULL;
    struct gm_err err;
    const char *src = "{ nope }";
    cr_assert_eq(gm_gql_parse(src, strlen(src), NULL, &a, &doc, &err), 0);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    cr_assert_eq(gm_gql_validate(schema, doc, NULL, &a, &errs), GM_EINVAL);
    cr_assert_str_eq(errs.head->code, GM_GQL_CODE_VALIDATION);
    gm_arena_deinit(&a);
}

Test(gql_validate, stops_after_100_errors)
{
    size_t cap = 1 << 16;
    char *src = malloc(cap);
    strcpy(src, "{");
    for (int i = 0; i < 150; i++)
        snprintf(src + strlen(src), cap - strlen(src), " f%d", i);
    strcat(src, " }");
    int rc;
    char *got = run(src, NULL, &rc);
    cr_assert_eq(rc, GM_EINVAL);
    size_t lines = 0;
    for (const char *p = got; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 101);
    char want[128];
    snprintf(want, sizeof(want), "1:%d Cannot query field \"f99\" on type \"Query\".\n",
             (int)(strstr(src, " f99 ") - src) + 2);
    cr_assert(strstr(got, want) != NULL, "%s", got);
    cr_assert(strstr(got, "\"f100\"") == NULL);
    const char *last = " Too many validation errors, error limit reached. Validation aborted.\n";
    cr_assert_str_eq(got + strlen(got) - strlen(last), last);
    free(got);
    free(src);
}

Test(gql_validate, arena_budget)
{
    struct gm_arena pa;
    gm_arena_init(&pa, 0);
    struct gm_gql_document *doc = NULL;
    struct gm_err err;
    char src[8192] = "{";
    for (int i = 0; i < 300; i++)
        snprintf(src + strlen(src), sizeof(src) - strlen(src), " a%d: rewards { id }", i);
    strcat(src, " }");
    cr_assert_eq(gm_gql_parse(src, strlen(src), NULL, &pa, &doc, &err), 0);
    struct gm_arena a;
    gm_arena_init(&a, 1);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    cr_assert_eq(gm_gql_validate(schema, doc, NULL, &a, &errs), GM_ETOOBIG);
    gm_arena_deinit(&a);
    gm_arena_deinit(&pa);
}

static struct gm_gql_value *
parse_value(struct gm_arena *a, const char *arg)
{
    char src[512];
    snprintf(src, sizeof(src), "{ f(x: %s) }", arg);
    struct gm_gql_document *doc = NULL;
    struct gm_err err;
    cr_assert_eq(gm_gql_parse(src, strlen(src), NULL, a, &doc, &err), 0, "%s", err.msg);
    return doc->definitions->selection_set->selections->args->value;
}

static void
check_fits(const char *value, const char *coord_type, bool fits, const char *msg)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_value *v = parse_value(&a, value);
    /* coord_type is an argument "Type.field(arg)" whose type to use. */
    char type[64], field[64], arg[64];
    cr_assert_eq(sscanf(coord_type, "%63[^.].%63[^(](%63[^)])", type, field, arg), 3);
    const struct gm_gql_sfield *f =
        gm_gql_type_field(schema, gm_gql_schema_type(schema, type), field);
    cr_assert_not_null(f);
    const struct gm_gql_sarg *ad = gm_gql_field_arg(f, arg);
    cr_assert_not_null(ad);
    char buf[512];
    bool got = gm_gql_literal_fits(schema, v, ad->type, buf, sizeof(buf));
    cr_assert_eq(got, fits, "%s at %s", value, coord_type);
    if (!fits)
        cr_assert_str_eq(buf, msg);
    gm_arena_deinit(&a);
}

Test(gql_validate, literal_fits)
{
    check_fits("10", "Query.leaderboard(first)", true, NULL);
    check_fits("$n", "Query.leaderboard(first)", true, NULL);
    check_fits("null", "Query.leaderboard(first)", true, NULL);
    check_fits("1.5", "Query.leaderboard(first)", false,
               "Int cannot represent non-integer value: 1.5");
    check_fits("2147483648", "Query.leaderboard(first)", false,
               "Int cannot represent non 32-bit signed integer value: 2147483648");
    check_fits("-2147483648", "Query.leaderboard(first)", true, NULL);
    check_fits("WEEKLY", "Query.leaderboard(period)", true, NULL);
    check_fits("weekly", "Query.leaderboard(period)", false,
               "Value \"weekly\" does not exist in \"LeaderboardPeriod\" enum. Did you mean the "
               "enum value \"WEEKLY\"?");
    check_fits("\"x\"", "Query.leaderboard(board)", true, NULL);
    check_fits("7", "Query.leaderboard(board)", true, NULL);
    check_fits("[\"a\"]", "Query.leaderboard(board)", false,
               "ID cannot represent a non-string and non-integer value: [\"a\"]");
    check_fits("null", "Mutation.redeemReward(rewardId)", false,
               "Expected value of type \"ID!\", found null.");
    check_fits("true", "__Type.fields(includeDeprecated)", true, NULL);
    check_fits("\"\"\"block\"\"\"", "Query.leaderboard(first)", false,
               "Int cannot represent non-integer value: \"\"\"block\"\"\"");
}

/* A document of n chained fragments, each spreading the next. */
static char *
chain(int n, const char *tail)
{
    size_t cap = (size_t)n * 64 + 256;
    char *src = malloc(cap);
    size_t len = (size_t)snprintf(src, cap, "{ ...F0 }\n");
    for (int i = 0; i < n; i++)
        len +=
            (size_t)snprintf(src + len, cap - len, "fragment F%d on Query { ...F%d }\n", i, i + 1);
    snprintf(src + len, cap - len, "fragment F%d on Query { %s }\n", n, tail);
    return src;
}

static char *
run_big(const char *src, int *rc)
{
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_gql_limits plim = {.max_tokens = 1000000, .max_bytes = 1 << 24};
    struct gm_gql_document *doc = NULL;
    struct gm_err err;
    cr_assert_eq(gm_gql_parse(src, strlen(src), &plim, &a, &doc, &err), 0, "%s", err.msg);
    struct gm_gql_errors errs;
    gm_gql_errors_init(&errs);
    *rc = gm_gql_validate(schema, doc, NULL, &a, &errs);
    char *first = strdup(errs.head ? errs.head->message : "");
    gm_arena_deinit(&a);
    return first;
}

Test(gql_validate, hostile_fragment_chain, .timeout = 30)
{
    /* 1,400 links is about what the parser's default 10,000 tokens allow. */
    int rc;
    char *src = chain(1400, "rewards { id }");
    char *first = run_big(src, &rc);
    cr_assert_eq(rc, 0, "%s", first);
    free(first);
    free(src);
    /* A variable used at the end of the chain is undefined. */
    src = chain(1400, "badges(userId: $x) { earnedAt }");
    first = run_big(src, &rc);
    cr_assert_eq(rc, GM_EINVAL);
    cr_assert_str_eq(first, "Variable \"$x\" is not defined.");
    free(first);
    free(src);
    /* Far longer chains finish too: the rules without deep recursion, the limits refuse. */
    src = chain(50000, "rewards { id }");
    first = run_big(src, &rc);
    cr_assert_eq(rc, GM_ETOOBIG, "%s", first);
    cr_assert_str_eq(first, "The query is too complex to analyse (more than 2000 levels).");
    free(first);
    free(src);
}

Test(gql_validate, hostile_fragment_cycle, .timeout = 30)
{
    /* Every fragment spreads two others: a dense graph full of cycles. */
    int n = 3000;
    size_t cap = (size_t)n * 80 + 64;
    char *src = malloc(cap);
    size_t len = (size_t)snprintf(src, cap, "{ ...F0 }\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(src + len, cap - len, "fragment F%d on Query { ...F%d ...F%d }\n",
                                i, (i + 1) % n, (i * 7 + 3) % n);
    int rc;
    char *first = run_big(src, &rc);
    cr_assert_eq(rc, GM_EINVAL);
    cr_assert(strncmp(first, "Cannot spread fragment", 22) == 0, "%s", first);
    free(first);
    free(src);
}

Test(gql_validate, hostile_fanout_overlap, .timeout = 30)
{
    /* Each fragment has a field in conflict with the next and spreads it twice. */
    int n = 2000;
    size_t cap = (size_t)n * 120 + 64;
    char *src = malloc(cap);
    size_t len = (size_t)snprintf(src, cap, "{ ...F0 ...F1 }\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(src + len, cap - len,
                                "fragment F%d on Query { a: rewards { id } ...F%d ...F%d }\n", i,
                                i + 1, i + 2 > n ? n : i + 2);
    snprintf(src + len, cap - len, "fragment F%d on Query { a: badges { earnedAt } }\n", n);
    int rc;
    char *first = run_big(src, &rc);
    cr_assert_eq(rc, GM_EINVAL);
    cr_assert(strstr(first, "conflict because") != NULL, "%s", first);
    free(first);
    free(src);
}

Test(gql_validate, hostile_same_fields, .timeout = 30)
{
    /* 5,000 uses of one key: 12.5 million pairs, past the comparison budget. */
    int n = 5000;
    size_t cap = (size_t)n * 24 + 64;
    char *src = malloc(cap);
    size_t len = (size_t)snprintf(src, cap, "{");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(src + len, cap - len, " a: rewards { id }");
    snprintf(src + len, cap - len, " }");
    int rc;
    char *first = run_big(src, &rc);
    cr_assert_eq(rc, GM_ETOOBIG);
    cr_assert_str_eq(first, "The document is too complex to validate.");
    free(first);
    free(src);
    /* 1,000 are fine (the limits then reject the aliases). */
    src = malloc(cap);
    len = (size_t)snprintf(src, cap, "{");
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(src + len, cap - len, " a: rewards { id }");
    snprintf(src + len, cap - len, " }");
    first = run_big(src, &rc);
    cr_assert_eq(rc, GM_ETOOBIG);
    cr_assert(strncmp(first, "The query uses 1000 aliases", 27) == 0, "%s", first);
    free(first);
    free(src);
}

/*
 * A fragment that spreads itself inside a field it also selects makes
 * OverlappingFieldsCanBeMerged compare ever deeper sub-selections (found by
 * fuzz_graphql; graphql-js 16.8.2 throws "Maximum call stack size exceeded"
 * on it). The cycle is reported and the comparison stops without
 * exhausting the stack.
 */
Test(gql_validate, overlap_through_self_spread)
{
    int rc;
    char *got = run("fragment B on Query{userProfile{...B userProfile{...B}}}", NULL, &rc);
    cr_assert_eq(rc, GM_EINVAL, "rc %d: %s", rc, got);
    cr_assert(strstr(got, "Cannot spread fragment \"B\" within itself.") != NULL, "%s", got);
    free(got);
    got = run("{...B} fragment B on Query{userProfile{...B userProfile{...B}}}", NULL, &rc);
    cr_assert_eq(rc, GM_EINVAL, "rc %d: %s", rc, got);
    cr_assert(strstr(got, "Cannot spread fragment \"B\" within itself.") != NULL, "%s", got);
    free(got);
}
