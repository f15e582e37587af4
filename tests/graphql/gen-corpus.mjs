// tests/graphql/gen-corpus.mjs: writes corpus/ (README.md). Every document
// says what graphql-js must answer (its class: ok, field, request,
// validation, syntax; and for errors a piece of the message), which
// `node run.mjs check` verifies. Run `node gen-corpus.mjs` after editing
// and commit the output; numbers follow the order below.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getIntrospectionQuery } from 'graphql';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, 'corpus');

const docs = [];
// cls: ok | field | request | validation | syntax. opts: vars, op, expect.
function add(cls, name, src, opts = {}) {
    docs.push(Object.assign({ cls, name, src }, opts));
}

// Selections reused below.
const PROFILE = 'userId exp level coins nextLevelExp';
const BADGES = 'badges { badge { id name icon criteria } earnedAt }';
const STREAK = 'streak { currentStreak longestStreak freezesHeld }';
const STREAK_FIELDS = 'currentStreak longestStreak freezesHeld';
const ENTRIES = 'entries { rank userId score }';
const PAGE = 'pageInfo { endCursor hasNextPage }';
const LB = `board period periodKey ${ENTRIES} me { rank score } totalCount ${PAGE}`;
const REWARD = 'id name cost type stock active';
const PAYLOAD = 'status reason redemption { id rewardId status }';

// ---- syntax ----------------------------------------------------------------
add('syntax', 'syn-unterminated-string', '{ userProfile(userId: "u1) { exp } }\n', { expect: 'Unterminated string.' });
add('syntax', 'syn-unterminated-string-eof', '{ userProfile(userId: "u1', { expect: 'Unterminated string.' });
add('syntax', 'syn-unterminated-block-string', '{ userProfile(userId: """u1) { exp } }\n', { expect: 'Unterminated string.' });
add('syntax', 'syn-newline-in-string', '{ userProfile(userId: "u\n1") { exp } }\n', { expect: 'Unterminated string.' });
add('syntax', 'syn-bad-escape', '{ userProfile(userId: "u\\x1") { exp } }\n', { expect: 'Invalid character escape sequence' });
add('syntax', 'syn-bad-unicode-escape', '{ userProfile(userId: "\\u12G4") { exp } }\n', { expect: 'Invalid Unicode escape sequence' });
add('syntax', 'syn-short-unicode-escape', '{ userProfile(userId: "\\u12") { exp } }\n', { expect: 'Invalid Unicode escape sequence' });
add('syntax', 'syn-lone-high-surrogate', '{ userProfile(userId: "\\uD800") { exp } }\n', { expect: 'Invalid Unicode escape sequence' });
add('syntax', 'syn-lone-low-surrogate', '{ userProfile(userId: "a\\uDC00b") { exp } }\n', { expect: 'Invalid Unicode escape sequence' });
add('syntax', 'syn-braced-escape-too-big', '{ userProfile(userId: "\\u{110000}") { exp } }\n', { expect: 'Invalid Unicode escape sequence' });
add('syntax', 'syn-braced-escape-empty', '{ userProfile(userId: "\\u{}") { exp } }\n', { expect: 'Invalid Unicode escape sequence' });
add('ok', 'lex-control-char-in-string', '{ userProfile(userId: "u\u0007\u001f1") { exp } }\n');
add('syntax', 'syn-control-char-outside-string', '{ userProfile { exp \u0007 } }\n', { expect: 'Unexpected character: U+0007.' });
add('syntax', 'syn-unexpected-character', '{ userProfile { exp ? } }\n', { expect: 'Unexpected character: "?".' });
add('syntax', 'syn-non-ascii-name', '{ userProfile { \u00fcber } }\n', { expect: 'Unexpected character: U+00FC.' });
add('syntax', 'syn-missing-closing-brace', '{ userProfile { exp }\n', { expect: 'Expected Name, found <EOF>.' });
add('syntax', 'syn-extra-closing-brace', '{ userProfile { exp } } }\n', { expect: 'Unexpected "}".' });
add('syntax', 'syn-empty-document', '', { expect: 'Unexpected <EOF>.' });
add('syntax', 'syn-only-comments', '# nothing here\n# at all\n', { expect: 'Unexpected <EOF>.' });
add('syntax', 'syn-empty-selection', '{ }\n', { expect: 'Expected Name, found "}".' });
add('syntax', 'syn-empty-sub-selection', '{ userProfile { } }\n', { expect: 'Expected Name, found "}".' });
add('syntax', 'syn-operation-without-selection', 'query Q\n', { expect: 'Expected "{", found <EOF>.' });
add('syntax', 'syn-leading-zero', '{ leaderboard(first: 01) { totalCount } }\n', { expect: 'Invalid number, unexpected digit after 0: "1".' });
add('syntax', 'syn-trailing-dot', '{ leaderboard(first: 1.) { totalCount } }\n', { expect: 'Invalid number, expected digit but got: ")".' });
add('syntax', 'syn-bare-exponent', '{ leaderboard(first: 1e) { totalCount } }\n', { expect: 'Invalid number, expected digit but got: ")".' });
add('syntax', 'syn-leading-dot', '{ leaderboard(first: .5) { totalCount } }\n', { expect: 'Unexpected character: ".".' });
add('syntax', 'syn-lone-minus', '{ leaderboard(first: -) { totalCount } }\n', { expect: 'Invalid number, expected digit but got: ")".' });
add('syntax', 'syn-number-then-name', '{ leaderboard(first: 10abc) { totalCount } }\n', { expect: 'Invalid number, expected digit but got: "a".' });
add('syntax', 'syn-number-then-dot', '{ leaderboard(first: 1.5.) { totalCount } }\n', { expect: 'Invalid number, expected digit but got: ".".' });
add('syntax', 'syn-two-dots', '{ userProfile { ..on UserProfile { exp } } }\n', { expect: 'Unexpected character: ".".' });
add('syntax', 'syn-variable-without-type', 'query Q($id) { userProfile(userId: $id) { exp } }\n', { expect: 'Expected ":", found ")".' });
add('syntax', 'syn-variable-in-default', 'query Q($a: ID, $b: ID = $a) { userProfile(userId: $b) { exp } }\n', { expect: 'Unexpected variable "$a" in constant value.' });
add('syntax', 'syn-fragment-named-on', 'fragment on on UserProfile { exp }\n{ userProfile { ...on } }\n', { expect: 'Unexpected Name "on".' });
add('syntax', 'syn-fragment-without-on', 'fragment P UserProfile { exp }\n{ userProfile { ...P } }\n', { expect: 'Expected "on", found Name "UserProfile".' });
add('syntax', 'syn-directive-without-name', '{ userProfile @ { exp } }\n', { expect: 'Expected Name, found "{".' });
add('syntax', 'syn-unterminated-list', '{ leaderboard(first: [1, 2) { totalCount } }\n', { expect: 'Unexpected ")".' });
add('syntax', 'syn-object-value-without-colon', '{ userProfile(userId: {a 1}) { exp } }\n', { expect: 'Expected ":", found Int "1".' });
add('syntax', 'syn-argument-without-value', '{ userProfile(userId:) { exp } }\n', { expect: 'Unexpected ")".' });
add('syntax', 'syn-empty-arguments', '{ userProfile() { exp } }\n', { expect: 'Expected Name, found ")".' });
add('syntax', 'syn-empty-variables', 'query Q() { userProfile { exp } }\n', { expect: 'Expected "$", found ")".' });
add('syntax', 'syn-anonymous-keyword-query-name', 'query 42 { userProfile { exp } }\n', { expect: 'Expected "{", found Int "42".' });
add('syntax', 'syn-unknown-keyword', 'select { userProfile { exp } }\n', { expect: 'Unexpected Name "select".' });
add('syntax', 'syn-error-on-later-line', 'query Profile {\n  userProfile {\n    exp\n    level @include(if: )\n  }\n}\n', { expect: 'Unexpected ")".' });
add('syntax', 'syn-error-after-bmp-text', '# caf\u00e9 \u2615 comment\n{ userProfile(userId: "\u00fcber \u2615") { exp ! } }\n', { expect: 'Expected Name, found "!".' });
add('syntax', 'syn-block-string-unterminated-escape', '{ userProfile(userId: """a \\""" ) { exp } }\n', { expect: 'Unterminated string.' });
add('syntax', 'syn-crlf-lines', 'query Q {\r\n  userProfile {\r\n    exp\r\n    $\r\n  }\r\n}\r\n', { expect: 'Expected Name, found "$".' });
add('syntax', 'syn-cr-lines', 'query Q {\r  userProfile {\r    exp\r    &\r  }\r}\r', { expect: 'Expected Name, found "&".' });
add('syntax', 'syn-tab-columns', '{\n\tuserProfile {\n\t\texp )\n\t}\n}\n', { expect: 'Expected Name, found ")".' });
add('syntax', 'syn-variable-list-type-unclosed', 'query Q($ids: [ID) { userProfile { exp } }\n', { expect: 'Expected "]", found ")".' });
add('syntax', 'syn-directive-args-empty', '{ userProfile @include() { exp } }\n', { expect: 'Expected Name, found ")".' });
add('syntax', 'syn-alias-without-field', '{ me: { exp } }\n', { expect: 'Expected Name, found "{".' });
add('syntax', 'syn-string-as-name', '{ "userProfile" { exp } }\n', { expect: 'Expected Name, found String "userProfile".' });

// ---- lexical forms that are valid -------------------------------------------
add('ok', 'lex-escaped-user-id', '{ userProfile(userId: "\\u0075\\u0031") { userId exp } }\n');
add('ok', 'lex-braced-escape-user-id', '{ userProfile(userId: "\\u{75}\\u{0031}") { userId level } }\n');
add('ok', 'lex-surrogate-pair-escape', '{ userProfile(userId: "\\uD83C\\uDF89") { userId } badges(userId: "\\u{1F389}") { earnedAt } }\n');
add('ok', 'lex-simple-escapes', '{ userProfile(userId: "\\"\\\\\\/\\b\\f\\n\\r\\t") { userId } }\n');
add('ok', 'lex-block-string-indented', '{\n  userProfile(userId: """\n      u2\n    """) {\n    userId\n    exp\n  }\n}\n');
add('ok', 'lex-block-string-one-line', '{ userProfile(userId: """u3""") { userId level } }\n');
add('ok', 'lex-block-string-keeps-spaces', '{ userProfile(userId: """  u1  """) { userId } }\n');
add('ok', 'lex-block-string-escaped-quotes', '{ userProfile(userId: """a \\""" b""") { userId } }\n');
add('ok', 'lex-block-string-blank-lines', '{ userProfile(userId: """\n\n   u9\n\n""") { userId level } }\n');
add('ok', 'lex-block-string-no-escapes', '{ userProfile(userId: """\\u0075\\n""") { userId } }\n');
add('ok', 'lex-byte-order-mark', '\ufeff{ userProfile { userId } }\n');
add('ok', 'lex-commas-everywhere', '{,userProfile(,userId:,"u2",),{,userId,,exp,},,}\n');
add('ok', 'lex-comments-between-tokens', '# header\n{ # open\n  userProfile # field\n  ( # args\n    userId: "u2" # value\n  ) { level } # done\n}\n');
add('ok', 'lex-space-after-dollar-and-at', 'query Q($ id: ID) { userProfile(userId: $ id) @ include(if: true) { userId } }\n', { vars: { id: 'u2' } });
add('ok', 'lex-negative-int-literal', '{ leaderboard(first: -0, board: "none") { totalCount } }\n');
add('ok', 'lex-non-bmp-in-string', '{ userProfile(userId: "\ud83c\udf89 party") { userId } }\n');
add('ok', 'lex-unicode-in-comment', '# \u00fcber caf\u00e9 \ud83c\udf89\n{ __typename }\n');
add('ok', 'lex-crlf-document', 'query Q {\r\n  userProfile {\r\n    userId\r\n  }\r\n}\r\n');

// ---- string values, echoed back through the redemption id ("red-r-freeze-" + key) ----
const ECHO = (lit) => `mutation { redeemReward(rewardId: "r-freeze", idempotencyKey: ${lit}) { redemption { id } } }\n`;
add('ok', 'str-empty', ECHO('""'));
add('ok', 'str-empty-block', ECHO('""""""'));
add('ok', 'str-simple-escapes', ECHO('"q\\"b\\\\s\\/n\\nt\\tr\\rb\\bf\\f"'));
add('ok', 'str-unicode-escapes', ECHO('"\\u00e9\\u20AC\\u{1F600}\\uD83C\\uDF89"'));
add('ok', 'str-nul-escape', ECHO('"a\\u0000b"'));
add('ok', 'str-control-escapes', ECHO('"\\u0001\\u001f\\u007f"'));
add('ok', 'str-raw-unicode', ECHO('"caf\u00e9 \u2615 \ud83c\udf89 \u2028 \u2029"'));
add('ok', 'str-raw-control-chars', ECHO('"tab\there \u0001 \u001f"'));
add('ok', 'str-block-indented', ECHO('"""\n    first\n      second\n    third\n  """'));
add('ok', 'str-block-first-line-kept', ECHO('"""  head\n    body\n      more"""'));
add('ok', 'str-block-blank-lines-trimmed', ECHO('"""\n\n  \n    x\n  \n\n"""'));
add('ok', 'str-block-only-whitespace', ECHO('"""   \n  \n   """'));
add('ok', 'str-block-escaped-triple-quote', ECHO('"""a \\""" b \\"" c"""'));
add('ok', 'str-block-no-escape-processing', ECHO('"""\\n \\u0041 \\\\ end"""'));
add('ok', 'str-block-crlf', ECHO('"""\r\n    one\r\n    two\r\n  """'));
add('ok', 'str-block-tabs-indent', ECHO('"""\n\t\tone\n\t\ttwo\n\t"""'));
add('ok', 'str-block-mixed-indent', ECHO('"""\n  \ta\n   b\n"""'));
add('ok', 'str-block-quotes-inside', ECHO('""" "one" ""two"" """'));
add('ok', 'str-from-variable', 'mutation M($k: String) { redeemReward(rewardId: "r-freeze", idempotencyKey: $k) { redemption { id } } }\n', { vars: { k: 'v\u00e9\u2028\ud83c\udf89"\\\n\t\u0001' } });
add('ok', 'str-id-echo-int-literal', 'mutation { redeemReward(rewardId: "r-freeze", idempotencyKey: "7") { redemption { id rewardId } } }\n');

// ---- number literals ----------------------------------------------------------------------
add('validation', 'num-float-upper-exponent', '{ leaderboard(first: 1E2) { totalCount } }\n', { expect: 'Int cannot represent non-integer value: 1E2' });
add('validation', 'num-float-signed-exponent', '{ leaderboard(first: 1e+2) { totalCount } }\n', { expect: 'Int cannot represent non-integer value: 1e+2' });
add('validation', 'num-float-negative-exponent', '{ leaderboard(first: -1.0e-2) { totalCount } }\n', { expect: 'Int cannot represent non-integer value: -1.0e-2' });
add('validation', 'num-float-zero-point-zero', '{ leaderboard(first: 0.0) { totalCount } }\n', { expect: 'Int cannot represent non-integer value: 0.0' });
add('ok', 'num-int-zero', '{ leaderboard(first: 0, board: "none") { totalCount } }\n');
add('field', 'num-int-zero-on-board', '{ leaderboard(first: 0) { totalCount } }\n', { expect: 'first must be between 1 and 100' });
add('validation', 'num-default-overflow', 'query Q($n: Int = 2147483648) { leaderboard(first: $n) { totalCount } }\n', { expect: 'Int cannot represent non 32-bit signed integer value: 2147483648' });
add('syntax', 'num-exponent-without-digits-sign', '{ leaderboard(first: 1e+) { totalCount } }\n', { expect: 'Invalid number, expected digit but got: ")".' });
add('syntax', 'num-minus-zero-leading', '{ leaderboard(first: -01) { totalCount } }\n', { expect: 'Invalid number, unexpected digit after 0: "1".' });
add('syntax', 'num-float-then-name', '{ leaderboard(first: 1.5e3x) { totalCount } }\n', { expect: 'Invalid number, expected digit but got: "x".' });

// ---- more execution shapes ----------------------------------------------------------------
add('field', 'exe-error-path-uses-aliases', '{ me: userProfile(userId: "u4") { bs: badges { b: badge { n: name } } } }\n', { expect: 'badge ghost is not in the rules file' });
add('ok', 'exe-interleaved-fragments-order', '{ userProfile { ...A level ...C } }\nfragment A on UserProfile { userId }\nfragment C on UserProfile { coins exp }\n');
add('ok', 'exe-skip-typename-root', '{ __typename @skip(if: true) }\n');
add('ok', 'exe-variable-used-only-in-skipped-field', 'query Q($id: ID) { userProfile(userId: $id) @skip(if: true) { userId } rewards { id } }\n', { vars: { id: 'u2' } });
add('ok', 'exe-inline-fragment-skip-with-sibling', '{ userProfile { ... on UserProfile @skip(if: true) { exp } userId } }\n');
add('ok', 'exe-same-fragment-spread-twice', '{ userProfile { ...P ...P level } }\nfragment P on UserProfile { userId exp }\n');
add('field', 'exe-merged-error-field-in-fragments', '{ userProfile(userId: "u5") { ...A ...B } }\nfragment A on UserProfile { coins }\nfragment B on UserProfile { userId coins }\n', { expect: 'coins are private' });
add('validation', 'op-invalid-other-operation', 'query Good { rewards { id } }\nquery Bad { rewards { nope } }\n', { op: 'Good', expect: 'Cannot query field "nope" on type "Reward".' });
add('ok', 'int-type-wrapper-name', '{ a: __type(name: "[Int]") { name } b: __type(name: "Int!") { name } c: __type(name: "int") { name } }\n');
add('validation', 'val-unknown-field-underscore', '{ _userProfile { exp } }\n', { expect: 'Cannot query field "_userProfile" on type "Query". Did you mean "userProfile"?' });

// ---- validation: executable definitions ---------------------------------------
add('validation', 'val-exec-type-definition', '{ userProfile { exp } }\ntype Extra { a: Int }\n', { expect: 'The "Extra" definition is not executable.' });
add('validation', 'val-exec-schema-definition', 'schema { query: Query }\n{ __typename }\n', { expect: 'The schema definition is not executable.' });
add('validation', 'val-exec-directive-definition', 'directive @cached on FIELD\n{ __typename }\n', { expect: 'The "cached" definition is not executable.' });
add('validation', 'val-exec-enum-and-scalar', '{ __typename }\nenum Color { RED }\nscalar Url\n', { expect: 'The "Color" definition is not executable.' });

// ---- validation: operation names ---------------------------------------------
add('validation', 'val-duplicate-operation-name', 'query Me { userProfile { exp } }\nquery Me { rewards { id } }\n', { expect: 'There can be only one operation named "Me".' });
add('validation', 'val-duplicate-name-query-mutation', 'query Go { rewards { id } }\nmutation Go { redeemReward(rewardId: "r-freeze") { status } }\n', { expect: 'There can be only one operation named "Go".' });
add('validation', 'val-duplicate-operation-name-thrice', 'query A { __typename }\nquery A { __typename }\nquery A { __typename }\n', { expect: 'There can be only one operation named "A".' });
add('validation', 'val-anonymous-and-named', '{ userProfile { exp } }\nquery Named { rewards { id } }\n', { expect: 'This anonymous operation must be the only defined operation.' });
add('validation', 'val-two-anonymous', '{ userProfile { exp } }\n{ rewards { id } }\n', { expect: 'This anonymous operation must be the only defined operation.' });
add('validation', 'val-anonymous-mutation-and-query', 'mutation { redeemReward(rewardId: "r-freeze") { status } }\nquery Q { __typename }\n', { expect: 'This anonymous operation must be the only defined operation.' });
add('ok', 'val-anonymous-with-fragment', '{ userProfile { ...P } }\nfragment P on UserProfile { exp level }\n');

// ---- validation: known type names --------------------------------------------
add('validation', 'val-unknown-variable-type', 'query Q($id: UserId) { userProfile(userId: $id) { exp } }\n', { expect: 'Unknown type "UserId".' });
add('validation', 'val-unknown-type-suggestion', 'query Q($id: [Strin]) { __typename }\n', { expect: 'Unknown type "Strin". Did you mean "String" or "Streak"?' });
add('validation', 'val-fragment-on-unknown-type', '{ userProfile { ...P } }\nfragment P on Profile { exp }\n', { expect: 'Unknown type "Profile".' });
add('validation', 'val-inline-fragment-unknown-type', '{ userProfile { ... on Learner { exp } } }\n', { expect: 'Unknown type "Learner".' });
add('validation', 'val-unknown-type-non-null-list', 'query Q($x: [Rewrd!]!) { rewards { id } }\n', { expect: 'Unknown type "Rewrd". Did you mean "Reward"?' });

// ---- validation: fragments on composite types ----------------------------------
add('validation', 'val-fragment-on-scalar', '{ userProfile { exp { ...F } } }\nfragment F on Int { __typename }\n', { expect: 'Fragment "F" cannot condition on non composite type "Int".' });
add('validation', 'val-inline-fragment-on-enum', '{ leaderboard { period { ... on LeaderboardPeriod { __typename } } } }\n', { expect: 'Fragment cannot condition on non composite type "LeaderboardPeriod".' });
add('validation', 'val-fragment-on-datetime', 'fragment T on DateTime { x }\n{ userProfile { exp } }\n', { expect: 'Fragment "T" cannot condition on non composite type "DateTime".' });
add('validation', 'val-inline-fragment-on-scalar-root', '{ ... on String { length } }\n', { expect: 'Fragment cannot condition on non composite type "String".' });

// ---- validation: variables are input types -------------------------------------
add('validation', 'val-variable-of-object-type', 'query Q($p: UserProfile) { userProfile { exp } }\n', { expect: 'Variable "$p" cannot be non-input type "UserProfile".' });
add('validation', 'val-variable-of-list-of-objects', 'query Q($r: [Reward!]) { rewards { id } }\n', { expect: 'Variable "$r" cannot be non-input type "[Reward!]".' });
add('validation', 'val-variable-of-non-null-object', 'query Q($s: Streak!) { streaks { currentStreak } }\n', { expect: 'Variable "$s" cannot be non-input type "Streak!".' });
add('ok', 'val-variable-of-enum-type', 'query Q($p: LeaderboardPeriod) { leaderboard(period: $p) { period periodKey } }\n', { vars: { p: 'WEEKLY' } });

// ---- validation: leaf field selections ---------------------------------------
add('validation', 'val-object-without-selection', '{ userProfile }\n', { expect: 'Field "userProfile" of type "UserProfile" must have a selection of subfields. Did you mean "userProfile { ... }"?' });
add('validation', 'val-list-without-selection', '{ rewards }\n', { expect: 'Field "rewards" of type "[Reward!]!" must have a selection of subfields.' });
add('validation', 'val-nested-object-without-selection', '{ leaderboard { pageInfo entries } }\n', { expect: 'Field "pageInfo" of type "PageInfo!" must have a selection of subfields.' });
add('validation', 'val-selection-on-scalar', '{ rewards { id { value } } }\n', { expect: 'Field "id" must not have a selection since type "ID!" has no subfields.' });
add('validation', 'val-selection-on-enum', '{ leaderboard { period { name } } }\n', { expect: 'Field "period" must not have a selection since type "LeaderboardPeriod!" has no subfields.' });
add('validation', 'val-selection-on-typename', '{ __typename { name } }\n', { expect: 'Field "__typename" must not have a selection since type "String!" has no subfields.' });
add('validation', 'val-mutation-without-selection', 'mutation { redeemReward(rewardId: "r-freeze") }\n', { expect: 'Field "redeemReward" of type "RedeemRewardPayload" must have a selection of subfields.' });

// ---- validation: fields on correct type ------------------------------------------
add('validation', 'val-unknown-root-field', '{ user { exp } }\n', { expect: 'Cannot query field "user" on type "Query".' });
add('validation', 'val-unknown-field-suggestion', '{ userProfile { lvl exp } }\n', { expect: 'Cannot query field "lvl" on type "UserProfile". Did you mean "level"?' });
add('validation', 'val-unknown-nested-field', '{ leaderboard { entries { rank name } } }\n', { expect: 'Cannot query field "name" on type "LeaderboardEntry".' });
add('validation', 'val-query-field-on-mutation', 'mutation { rewards { id } }\n', { expect: 'Cannot query field "rewards" on type "Mutation".' });
add('validation', 'val-mutation-field-on-query', '{ redeemReward(rewardId: "r-freeze") { status } }\n', { expect: 'Cannot query field "redeemReward" on type "Query".' });
add('validation', 'val-typename-typo', '{ __typenam }\n', { expect: 'Cannot query field "__typenam" on type "Query".' });
add('validation', 'val-field-from-other-type', '{ userProfile { currentStreak } }\n', { expect: 'Cannot query field "currentStreak" on type "UserProfile".' });
add('validation', 'val-unknown-fields-in-fragment', '{ rewards { ...R } }\nfragment R on Reward { id price title }\n', { expect: 'Cannot query field "price" on type "Reward".' });
add('validation', 'val-schema-on-nested-type', '{ userProfile { __schema { queryType { name } } } }\n', { expect: 'Cannot query field "__schema" on type "UserProfile".' });
add('validation', 'val-type-on-mutation', 'mutation { __type(name: "Reward") { name } }\n', { expect: 'Cannot query field "__type" on type "Mutation".' });
add('validation', 'val-unknown-field-in-inline-fragment', '{ userProfile { ... on UserProfile { coinz } } }\n', { expect: 'Cannot query field "coinz" on type "UserProfile". Did you mean "coins"?' });
add('validation', 'val-many-unknown-fields', '{ a b c userProfile { d e } }\n', { expect: 'Cannot query field "e" on type "UserProfile".' });

// ---- validation: fragment names ----------------------------------------------
add('validation', 'val-duplicate-fragment-name', '{ userProfile { ...P } }\nfragment P on UserProfile { exp }\nfragment P on UserProfile { level }\n', { expect: 'There can be only one fragment named "P".' });
add('validation', 'val-duplicate-fragment-different-types', '{ rewards { ...X } streaks { ...X } }\nfragment X on Reward { id }\nfragment X on Streak { currentStreak }\n', { expect: 'There can be only one fragment named "X".' });
add('validation', 'val-unknown-fragment', '{ userProfile { ...Missing } }\n', { expect: 'Unknown fragment "Missing".' });
add('validation', 'val-unknown-fragment-nested', '{ userProfile { ...P } }\nfragment P on UserProfile { exp badges { ...B } }\n', { expect: 'Unknown fragment "B".' });
add('validation', 'val-unknown-fragment-in-mutation', 'mutation { redeemReward(rewardId: "r-freeze") { ...Payload } }\n', { expect: 'Unknown fragment "Payload".' });
add('validation', 'val-unused-fragment', '{ userProfile { exp } }\nfragment Unused on UserProfile { level }\n', { expect: 'Fragment "Unused" is never used.' });
add('validation', 'val-unused-fragments-two', '{ __typename }\nfragment A on Reward { id }\nfragment B on Streak { currentStreak }\n', { expect: 'Fragment "B" is never used.' });
add('validation', 'val-fragment-used-only-by-unused', '{ rewards { id } }\nfragment A on Reward { ...B }\nfragment B on Reward { name }\n', { expect: 'Fragment "A" is never used.' });
add('validation', 'val-fragment-used-in-other-op-only', 'query One { rewards { ...R } }\nquery Two { rewards { id } }\nfragment R on Reward { id }\nfragment S on Reward { name }\n', { expect: 'Fragment "S" is never used.' });

// ---- validation: possible fragment spreads -------------------------------------
add('validation', 'val-impossible-inline-spread', '{ userProfile { ... on Reward { id } } }\n', { expect: 'Fragment cannot be spread here as objects of type "UserProfile" can never be of type "Reward".' });
add('validation', 'val-impossible-named-spread', '{ streaks { ...B } }\nfragment B on Badge { id }\n', { expect: 'Fragment "B" cannot be spread here as objects of type "Streak" can never be of type "Badge".' });
add('validation', 'val-impossible-spread-on-root', '{ ...M }\nfragment M on Mutation { __typename }\n', { expect: 'Fragment "M" cannot be spread here as objects of type "Query" can never be of type "Mutation".' });
add('validation', 'val-impossible-spread-in-list', '{ leaderboard { entries { ... on LeaderboardMe { rank } } } }\n', { expect: 'Fragment cannot be spread here as objects of type "LeaderboardEntry" can never be of type "LeaderboardMe".' });
add('ok', 'val-inline-fragment-same-type', '{ userProfile { ... on UserProfile { exp } ... { level } } }\n');

// ---- validation: fragment cycles ---------------------------------------------
add('validation', 'val-fragment-self-cycle', '{ userProfile { ...P } }\nfragment P on UserProfile { exp ...P }\n', { expect: 'Cannot spread fragment "P" within itself.' });
add('validation', 'val-fragment-two-cycle', '{ userProfile { ...A } }\nfragment A on UserProfile { exp ...B }\nfragment B on UserProfile { level ...A }\n', { expect: 'Cannot spread fragment "A" within itself via "B".' });
add('validation', 'val-fragment-three-cycle', '{ rewards { ...A } }\nfragment A on Reward { id ...B }\nfragment B on Reward { name ...C }\nfragment C on Reward { cost ...A }\n', { expect: 'Cannot spread fragment "A" within itself via "B", "C".' });
add('validation', 'val-fragment-cycle-via-inline', '{ userProfile { ...A } }\nfragment A on UserProfile { ... on UserProfile { ...A } }\n', { expect: 'Cannot spread fragment "A" within itself.' });
add('validation', 'val-fragment-cycle-nested-field', '{ userProfile { ...A } }\nfragment A on UserProfile { streak { ...S } }\nfragment S on Streak { currentStreak }\nfragment B on UserProfile { ...B }\n', { expect: 'Cannot spread fragment "B" within itself.' });

// ---- validation: variables -------------------------------------------------------
add('validation', 'val-duplicate-variable', 'query Q($id: ID, $id: ID) { userProfile(userId: $id) { exp } }\n', { expect: 'There can be only one variable named "$id".' });
add('validation', 'val-duplicate-variable-three', 'query Q($a: Int, $a: Int, $a: String) { leaderboard(first: $a) { totalCount } }\n', { expect: 'There can be only one variable named "$a".' });
add('validation', 'val-undefined-variable', '{ userProfile(userId: $id) { exp } }\n', { expect: 'Variable "$id" is not defined.' });
add('validation', 'val-undefined-variable-named-op', 'query Profile { userProfile(userId: $id) { exp } }\n', { expect: 'Variable "$id" is not defined by operation "Profile".' });
add('validation', 'val-undefined-variable-in-fragment', 'query A($id: ID) { userProfile(userId: $id) { ...P } }\nfragment P on UserProfile { badges { earnedAt } streak @include(if: $withStreak) { currentStreak } }\n', { expect: 'Variable "$withStreak" is not defined by operation "A".' });
add('validation', 'val-undefined-variable-in-directive', '{ userProfile @skip(if: $no) { exp } }\n', { expect: 'Variable "$no" is not defined.' });
add('validation', 'val-undefined-variable-two-ops', 'query A($id: ID) { ...F }\nquery B { ...F }\nfragment F on Query { userProfile(userId: $id) { exp } }\n', { expect: 'Variable "$id" is not defined by operation "B".' });
add('validation', 'val-unused-variable', 'query Q($id: ID) { userProfile { exp } }\n', { expect: 'Variable "$id" is never used in operation "Q".' });
add('validation', 'val-unused-variable-anonymous', 'query ($id: ID, $n: Int) { leaderboard(first: $n) { totalCount } }\n', { expect: 'Variable "$id" is never used.' });
add('validation', 'val-unused-variable-one-of-two-ops', 'query A($id: ID) { ...F }\nquery B($id: ID) { rewards { id } }\nfragment F on Query { userProfile(userId: $id) { exp } }\n', { expect: 'Variable "$id" is never used in operation "B".' });
add('validation', 'val-unused-variable-in-unused-fragment', 'query Q($id: ID) { rewards { id } }\nfragment F on Query { userProfile(userId: $id) { exp } }\n', { expect: 'Variable "$id" is never used in operation "Q".' });

// ---- validation: directives ------------------------------------------------------
add('validation', 'val-unknown-directive', '{ userProfile @cached { exp } }\n', { expect: 'Unknown directive "@cached".' });
add('validation', 'val-unknown-directive-on-operation', 'query Q @live { __typename }\n', { expect: 'Unknown directive "@live".' });
add('validation', 'val-skip-on-query', 'query Q @skip(if: true) { __typename }\n', { expect: 'Directive "@skip" may not be used on QUERY.' });
add('validation', 'val-include-on-fragment-definition', '{ userProfile { ...P } }\nfragment P on UserProfile @include(if: true) { exp }\n', { expect: 'Directive "@include" may not be used on FRAGMENT_DEFINITION.' });
add('validation', 'val-deprecated-on-field', '{ userProfile { exp @deprecated } }\n', { expect: 'Directive "@deprecated" may not be used on FIELD.' });
add('validation', 'val-specified-by-on-field', '{ userProfile { exp @specifiedBy(url: "x") } }\n', { expect: 'Directive "@specifiedBy" may not be used on FIELD.' });
add('validation', 'val-skip-on-variable-definition', 'query Q($id: ID @skip(if: true)) { userProfile(userId: $id) { exp } }\n', { expect: 'Directive "@skip" may not be used on VARIABLE_DEFINITION.' });
add('validation', 'val-include-on-mutation', 'mutation M @include(if: true) { redeemReward(rewardId: "r-freeze") { status } }\n', { expect: 'Directive "@include" may not be used on MUTATION.' });
add('validation', 'val-duplicate-skip', '{ userProfile @skip(if: false) @skip(if: true) { exp } }\n', { expect: 'The directive "@skip" can only be used once at this location.' });
add('validation', 'val-duplicate-include-inline', '{ userProfile { ... @include(if: true) @include(if: false) { exp } } }\n', { expect: 'The directive "@include" can only be used once at this location.' });
add('validation', 'val-duplicate-skip-on-spread', '{ userProfile { ...P @skip(if: false) @skip(if: false) } }\nfragment P on UserProfile { exp }\n', { expect: 'The directive "@skip" can only be used once at this location.' });
add('ok', 'val-skip-and-include-together', '{ userProfile @skip(if: false) @include(if: true) { exp } rewards @skip(if: true) @include(if: true) { id } }\n');
add('validation', 'val-directive-missing-if', '{ userProfile @skip { exp } }\n', { expect: 'Directive "@skip" argument "if" of type "Boolean!" is required, but it was not provided.' });
add('validation', 'val-include-missing-if', '{ userProfile { exp @include } }\n', { expect: 'Directive "@include" argument "if" of type "Boolean!" is required, but it was not provided.' });
add('validation', 'val-directive-unknown-argument', '{ userProfile @skip(unless: true) { exp } }\n', { expect: 'Unknown argument "unless" on directive "@skip".' });
add('validation', 'val-directive-bad-if-value', '{ userProfile @include(if: "yes") { exp } }\n', { expect: 'Boolean cannot represent a non boolean value: "yes"' });
add('validation', 'val-directive-null-if', '{ userProfile @include(if: null) { exp } }\n', { expect: 'Expected value of type "Boolean!", found null.' });
add('validation', 'val-directive-duplicate-argument', '{ userProfile @skip(if: true, if: false) { exp } }\n', { expect: 'There can be only one argument named "if".' });

// ---- validation: arguments ---------------------------------------------------------
add('validation', 'val-unknown-argument', '{ userProfile(id: "u1") { exp } }\n', { expect: 'Unknown argument "id" on field "Query.userProfile".' });
add('validation', 'val-unknown-argument-suggestion', '{ userProfile(userID: "u1") { exp } }\n', { expect: 'Unknown argument "userID" on field "Query.userProfile". Did you mean "userId"?' });
add('validation', 'val-argument-on-field-without-args', '{ rewards(first: 2) { id } }\n', { expect: 'Unknown argument "first" on field "Query.rewards".' });
add('validation', 'val-unknown-argument-nested', '{ userProfile { badges(first: 1) { earnedAt } } }\n', { expect: 'Unknown argument "first" on field "UserProfile.badges".' });
add('validation', 'val-unknown-argument-leaderboard', '{ leaderboard(last: 5) { totalCount } }\n', { expect: 'Unknown argument "last" on field "Query.leaderboard".' });
add('validation', 'val-duplicate-argument', '{ userProfile(userId: "u1", userId: "u2") { exp } }\n', { expect: 'There can be only one argument named "userId".' });
add('validation', 'val-duplicate-argument-leaderboard', '{ leaderboard(first: 1, board: "global", first: 2) { totalCount } }\n', { expect: 'There can be only one argument named "first".' });
add('validation', 'val-missing-required-argument', 'mutation { redeemReward { status } }\n', { expect: 'Field "redeemReward" argument "rewardId" of type "ID!" is required, but it was not provided.' });
add('validation', 'val-missing-required-with-other', 'mutation { redeemReward(idempotencyKey: "k") { status } }\n', { expect: 'Field "redeemReward" argument "rewardId" of type "ID!" is required, but it was not provided.' });
add('validation', 'val-type-missing-name', '{ __type { name } }\n', { expect: 'Field "__type" argument "name" of type "String!" is required, but it was not provided.' });

// ---- validation: values of correct type ---------------------------------------------
add('validation', 'val-int-overflow', '{ leaderboard(first: 2147483648) { totalCount } }\n', { expect: 'Int cannot represent non 32-bit signed integer value: 2147483648' });
add('validation', 'val-int-underflow', '{ leaderboard(first: -2147483649) { totalCount } }\n', { expect: 'Int cannot represent non 32-bit signed integer value: -2147483649' });
add('validation', 'val-int-huge', '{ leaderboard(around: 123456789012345678901234567890) { totalCount } }\n', { expect: 'Int cannot represent non 32-bit signed integer value: 123456789012345678901234567890' });
add('ok', 'val-int-max-and-min', '{ a: leaderboard(first: 2147483647, board: "nowhere") { totalCount } b: leaderboard(first: -2147483648, board: "nowhere") { totalCount } }\n');
add('validation', 'val-int-given-float', '{ leaderboard(first: 1.5) { totalCount } }\n', { expect: 'Int cannot represent non-integer value: 1.5' });
add('validation', 'val-int-given-exponent', '{ leaderboard(first: 1e1) { totalCount } }\n', { expect: 'Int cannot represent non-integer value: 1e1' });
add('validation', 'val-int-given-string', '{ leaderboard(first: "10") { totalCount } }\n', { expect: 'Int cannot represent non-integer value: "10"' });
add('validation', 'val-int-given-boolean', '{ leaderboard(first: true) { totalCount } }\n', { expect: 'Int cannot represent non-integer value: true' });
add('validation', 'val-int-given-enum', '{ leaderboard(first: TEN) { totalCount } }\n', { expect: 'Int cannot represent non-integer value: TEN' });
add('validation', 'val-enum-typo', '{ leaderboard(period: WEEKLY_) { totalCount } }\n', { expect: 'Value "WEEKLY_" does not exist in "LeaderboardPeriod" enum. Did you mean the enum value "WEEKLY"?' });
add('validation', 'val-enum-lowercase', '{ leaderboard(period: weekly) { totalCount } }\n', { expect: 'Value "weekly" does not exist in "LeaderboardPeriod" enum.' });
add('validation', 'val-enum-given-string', '{ leaderboard(period: "WEEKLY") { totalCount } }\n', { expect: 'Enum "LeaderboardPeriod" cannot represent non-enum value: "WEEKLY". Did you mean the enum value "WEEKLY"?' });
add('validation', 'val-enum-given-int', '{ leaderboard(period: 1) { totalCount } }\n', { expect: 'Enum "LeaderboardPeriod" cannot represent non-enum value: 1.' });
add('validation', 'val-enum-given-true', '{ leaderboard(period: true) { totalCount } }\n', { expect: 'Enum "LeaderboardPeriod" cannot represent non-enum value: true.' });
add('ok', 'val-id-given-int', '{ userProfile(userId: 7) { exp } }\n');
add('validation', 'val-id-given-float', '{ userProfile(userId: 1.5) { exp } }\n', { expect: 'ID cannot represent a non-string and non-integer value: 1.5' });
add('validation', 'val-id-given-boolean', '{ userProfile(userId: true) { exp } }\n', { expect: 'ID cannot represent a non-string and non-integer value: true' });
add('validation', 'val-id-given-enum', '{ userProfile(userId: U1) { exp } }\n', { expect: 'ID cannot represent a non-string and non-integer value: U1' });
add('validation', 'val-id-given-list', '{ userProfile(userId: ["u1"]) { exp } }\n', { expect: 'ID cannot represent a non-string and non-integer value: ["u1"]' });
add('validation', 'val-id-given-object', '{ userProfile(userId: {id: "u1"}) { exp } }\n', { expect: 'ID cannot represent a non-string and non-integer value: {id: "u1"}' });
add('validation', 'val-string-given-int', '{ leaderboard(periodKey: 2026) { totalCount } }\n', { expect: 'String cannot represent a non string value: 2026' });
add('validation', 'val-string-given-enum', '{ leaderboard(after: CURSOR) { totalCount } }\n', { expect: 'String cannot represent a non string value: CURSOR' });
add('validation', 'val-required-given-null', 'mutation { redeemReward(rewardId: null) { status } }\n', { expect: 'Expected value of type "ID!", found null.' });
add('validation', 'val-type-name-given-null', '{ __type(name: null) { name } }\n', { expect: 'Expected value of type "String!", found null.' });
add('validation', 'val-type-name-given-int', '{ __type(name: 5) { name } }\n', { expect: 'String cannot represent a non string value: 5' });
add('validation', 'val-bad-default-value', 'query Q($n: Int = "ten") { leaderboard(first: $n) { totalCount } }\n', { expect: 'Int cannot represent non-integer value: "ten"' });
add('validation', 'val-bad-default-enum', 'query Q($p: LeaderboardPeriod = DAILY) { leaderboard(period: $p) { totalCount } }\n', { expect: 'Value "DAILY" does not exist in "LeaderboardPeriod" enum.' });
add('validation', 'val-null-default-for-non-null', 'query Q($id: ID! = null) { userProfile(userId: $id) { exp } }\n', { expect: 'Expected value of type "ID!", found null.' });
add('validation', 'val-default-list-item-wrong', 'query Q($ns: [Int] = [1, "2", 3]) { __typename }\n', { expect: 'Int cannot represent non-integer value: "2"' });
add('validation', 'val-several-bad-values', '{ leaderboard(board: 1.5, period: MONTH, first: "x", around: 99999999999) { totalCount } }\n', { expect: 'Value "MONTH" does not exist in "LeaderboardPeriod" enum.' });
add('validation', 'val-bad-value-in-mutation', 'mutation { redeemReward(rewardId: "r-freeze", idempotencyKey: 42) { status } }\n', { expect: 'String cannot represent a non string value: 42' });

// ---- validation: input object fields (our schema has no input types: object literals
// reach scalars, and the uniqueness rule still applies) ---------------------------------
add('validation', 'val-duplicate-input-field', '{ userProfile(userId: {a: 1, a: 2}) { exp } }\n', { expect: 'There can be only one input field named "a".' });
add('validation', 'val-duplicate-input-field-nested', '{ leaderboard(board: {x: {y: 1, y: 2}, z: 3}) { totalCount } }\n', { expect: 'There can be only one input field named "y".' });
add('validation', 'val-duplicate-input-field-in-default', 'query Q($id: ID = {k: 1, k: 2}) { userProfile(userId: $id) { exp } }\n', { expect: 'There can be only one input field named "k".' });

// ---- validation: variables in allowed position ---------------------------------------
add('validation', 'val-nullable-var-into-non-null', 'mutation M($id: ID) { redeemReward(rewardId: $id) { status } }\n', { vars: { id: 'r-freeze' }, expect: 'Variable "$id" of type "ID" used in position expecting type "ID!".' });
add('validation', 'val-string-var-into-int', 'query Q($n: String) { leaderboard(first: $n) { totalCount } }\n', { expect: 'Variable "$n" of type "String" used in position expecting type "Int".' });
add('validation', 'val-int-var-into-id', 'query Q($n: Int) { userProfile(userId: $n) { exp } }\n', { expect: 'Variable "$n" of type "Int" used in position expecting type "ID".' });
add('validation', 'val-nullable-bool-into-skip', 'query Q($b: Boolean) { userProfile @skip(if: $b) { exp } }\n', { expect: 'Variable "$b" of type "Boolean" used in position expecting type "Boolean!".' });
add('ok', 'val-nullable-bool-with-default-into-skip', 'query Q($b: Boolean = true) { userProfile @skip(if: $b) { exp } rewards { id } }\n');
add('validation', 'val-list-var-into-scalar', 'query Q($ids: [ID]) { userProfile(userId: $ids) { exp } }\n', { expect: 'Variable "$ids" of type "[ID]" used in position expecting type "ID".' });
add('ok', 'val-non-null-var-into-nullable', 'query Q($id: ID!) { userProfile(userId: $id) { userId } }\n', { vars: { id: 'u2' } });
add('validation', 'val-string-var-into-enum', 'query Q($p: String) { leaderboard(period: $p) { totalCount } }\n', { expect: 'Variable "$p" of type "String" used in position expecting type "LeaderboardPeriod".' });
add('validation', 'val-var-types-differ-across-fragment', 'query A($v: Int) { ...F }\nfragment F on Query { userProfile(userId: $v) { exp } }\n', { expect: 'Variable "$v" of type "Int" used in position expecting type "ID".' });
add('validation', 'val-nullable-string-into-type-name', 'query Q($n: String) { __type(name: $n) { name } }\n', { expect: 'Variable "$n" of type "String" used in position expecting type "String!".' });
add('validation', 'val-nullable-with-null-default-into-non-null', 'query Q($b: Boolean = null) { rewards @include(if: $b) { id } }\n', { expect: 'Variable "$b" of type "Boolean" used in position expecting type "Boolean!".' });
add('ok', 'val-non-null-enum-into-defaulted', 'query Q($p: LeaderboardPeriod!) { leaderboard(period: $p) { period periodKey } }\n', { vars: { p: 'MONTHLY' } });

// ---- validation: overlapping fields ----------------------------------------------------
add('validation', 'val-same-alias-different-fields', '{ x: userProfile { exp } x: streaks { currentStreak } }\n', { expect: 'Fields "x" conflict because "userProfile" and "streaks" are different fields. Use different aliases on the fields to fetch both if this was intentional.' });
add('validation', 'val-same-field-different-args', '{ userProfile(userId: "u1") { exp } userProfile(userId: "u2") { exp } }\n', { expect: 'Fields "userProfile" conflict because they have differing arguments. Use different aliases on the fields to fetch both if this was intentional.' });
add('validation', 'val-args-and-no-args', '{ userProfile { exp } userProfile(userId: "u2") { level } }\n', { expect: 'Fields "userProfile" conflict because they have differing arguments.' });
add('validation', 'val-alias-leaf-conflict', '{ userProfile { x: exp x: level } }\n', { expect: 'Fields "x" conflict because "exp" and "level" are different fields.' });
add('validation', 'val-alias-non-null-vs-nullable', '{ userProfile { n: exp n: coins } }\n', { expect: 'Fields "n" conflict because "exp" and "coins" are different fields.' });
add('validation', 'val-conflict-through-fragments', '{ userProfile { ...A ...B } }\nfragment A on UserProfile { value: exp }\nfragment B on UserProfile { value: level }\n', { expect: 'Fields "value" conflict because "exp" and "level" are different fields.' });
add('validation', 'val-conflict-nested-subfields', '{ userProfile { streak { n: currentStreak } } userProfile { streak { n: longestStreak } } }\n', { expect: 'Fields "userProfile" conflict because subfields "streak" conflict because subfields "n" conflict because "currentStreak" and "longestStreak" are different fields.' });
add('validation', 'val-conflict-different-variables', 'query Q($a: ID, $b: ID) { userProfile(userId: $a) { exp } userProfile(userId: $b) { exp } }\n', { expect: 'Fields "userProfile" conflict because they have differing arguments.' });
add('validation', 'val-conflict-typename-alias', '{ rewards { name: __typename name } }\n', { expect: 'Fields "name" conflict because "__typename" and "name" are different fields.' });
add('validation', 'val-conflict-enum-arg-values', '{ leaderboard(period: WEEKLY) { totalCount } leaderboard(period: MONTHLY) { totalCount } }\n', { expect: 'Fields "leaderboard" conflict because they have differing arguments.' });
add('validation', 'val-conflict-inline-fragments', '{ userProfile { ... on UserProfile { v: exp } ... { v: level } } }\n', { expect: 'Fields "v" conflict because "exp" and "level" are different fields.' });
add('validation', 'val-conflict-list-vs-object-via-alias', '{ leaderboard { x: entries { rank } x: me { rank } } }\n', { expect: 'Fields "x" conflict because "entries" and "me" are different fields.' });
add('ok', 'val-same-args-different-order', '{ leaderboard(first: 2, board: "global") { totalCount } leaderboard(board: "global", first: 2) { periodKey } }\n');
add('ok', 'val-identical-fields-merge', '{ userProfile { exp exp level } userProfile { exp streak { currentStreak } } }\n');
add('ok', 'val-same-alias-same-field', '{ p: userProfile(userId: "u2") { exp } p: userProfile(userId: "u2") { level } }\n');
add('validation', 'val-conflict-in-mutation', 'mutation { r: redeemReward(rewardId: "r-freeze") { status } r: redeemReward(rewardId: "r-badge") { status } }\n', { expect: 'Fields "r" conflict because they have differing arguments.' });

// ---- validation: subscriptions and several rules at once -------------------------------
add('validation', 'val-many-rules-at-once', 'query Q($unused: Int, $p: String) {\n  userProfile(userID: "u1") { lvl }\n  leaderboard(period: $p, first: 1.5) { entries }\n  ...Missing\n}\nfragment Unused on Reward { id }\n', { expect: 'Unknown argument "userID"' });
add('validation', 'val-errors-in-two-operations', 'query A { userProfile { nope } }\nquery B { rewards { nada } }\n', { expect: 'Cannot query field "nada" on type "Reward".' });
add('validation', 'val-error-in-fragment-used-twice', '{ a: userProfile { ...P } b: userProfile(userId: "u2") { ...P } }\nfragment P on UserProfile { exp wrong }\n', { expect: 'Cannot query field "wrong" on type "UserProfile".' });

// ---- execution: profiles -----------------------------------------------------------
add('ok', 'exe-profile-viewer', `{ userProfile { ${PROFILE} ${BADGES} ${STREAK} } }\n`);
for (const u of ['u1', 'u2', 'u3']) {
    add('ok', `exe-profile-${u}`, `query Profile { userProfile(userId: "${u}") { ${PROFILE} ${BADGES} ${STREAK} } }\n`);
}
add('field', 'exe-profile-u4-null-badge-name', `{ userProfile(userId: "u4") { ${PROFILE} ${BADGES} } }\n`, { expect: 'badge ghost is not in the rules file' });
add('field', 'exe-profile-u4-icon-only', '{ userProfile(userId: "u4") { userId badges { badge { id icon } } } }\n', { expect: 'icon store timed out' });
add('field', 'exe-profile-u5-nullable-errors', `{ userProfile(userId: "u5") { ${PROFILE} ${STREAK} } }\n`, { expect: 'coins are private' });
add('field', 'exe-profile-u6-non-null-level', `{ userProfile(userId: "u6") { ${PROFILE} } }\n`, { expect: 'level table missing' });
add('ok', 'exe-profile-u6-without-level', '{ userProfile(userId: "u6") { userId exp coins } }\n');
add('field', 'exe-profile-u6-streak-longest', `{ userProfile(userId: "u6") { userId ${STREAK} } }\n`, { expect: 'longest streak unknown' });
add('field', 'exe-profile-u7-int-range', `{ userProfile(userId: "u7") { ${PROFILE} } }\n`, { expect: 'Int cannot represent non 32-bit signed integer value: 2147483648' });
add('field', 'exe-profile-u7-streak-overflow', `{ userProfile(userId: "u7") { userId ${STREAK} } }\n`, { expect: 'Int cannot represent non 32-bit signed integer value: 3000000000' });
add('field', 'exe-profile-u8-badges-marker', `{ userProfile(userId: "u8") { userId ${BADGES} } }\n`, { expect: 'badge index rebuilding' });
add('ok', 'exe-profile-u9-missing-member', '{ userProfile(userId: "u9") { userId nextLevelExp coins } }\n');
add('field', 'exe-profile-u9-earned-at-marker', `{ userProfile(userId: "u9") { userId ${BADGES} } }\n`, { expect: 'earnedAt is not recorded' });
add('ok', 'exe-profile-u9-escapes-in-strings', '{ userProfile(userId: "u9") { badges { badge { id name icon criteria } } } }\n');
add('ok', 'exe-profile-unknown-learner', '{ userProfile(userId: "u10") { userId } nobody: userProfile(userId: "nobody") { exp } }\n');
add('field', 'exe-profile-marker-at-root', '{ userProfile(userId: "u-broken") { userId } rewards { id } }\n', { expect: 'profile store unavailable' });
add('ok', 'exe-profile-null-user-id-is-viewer', '{ userProfile(userId: null) { userId level } }\n');
add('ok', 'exe-profile-empty-user-id', '{ userProfile(userId: "") { userId } }\n');

// ---- execution: root lists and non-null propagation to the root -----------------------
add('ok', 'exe-badges-viewer', '{ badges { badge { id name } earnedAt } }\n');
add('ok', 'exe-badges-unknown-learner', '{ badges(userId: "nobody") { earnedAt } }\n');
add('ok', 'exe-badges-empty', '{ badges(userId: "u3") { earnedAt } }\n');
add('field', 'exe-badges-marker-nulls-data', '{ rewards { id } badges(userId: "u8") { earnedAt } }\n', { expect: 'badge index rebuilding' });
add('field', 'exe-badges-broken-learner-nulls-data', '{ badges(userId: "u-broken") { earnedAt } userProfile { userId } }\n', { expect: 'profile store unavailable' });
add('field', 'exe-badges-item-error-nulls-data', '{ badges(userId: "u4") { badge { name } } }\n', { expect: 'badge ghost is not in the rules file' });
add('field', 'exe-badges-nullable-item-field', '{ badges(userId: "u4") { badge { id icon } earnedAt } }\n', { expect: 'icon store timed out' });
add('ok', 'exe-streaks-viewer', `{ streaks { ${STREAK_FIELDS} } }\n`);
add('ok', 'exe-streaks-null-streak', '{ streaks(userId: "u3") { currentStreak } none: streaks(userId: "nobody") { currentStreak } }\n');
add('field', 'exe-streaks-marker', '{ streaks(userId: "u5") { currentStreak } }\n', { expect: 'streak store unavailable' });
add('field', 'exe-streaks-non-null-child', `{ streaks(userId: "u6") { ${STREAK_FIELDS} } }\n`, { expect: 'longest streak unknown' });
add('ok', 'exe-rewards-all', `{ rewards { ${REWARD} } }\n`);
add('ok', 'exe-rewards-stock-only', '{ rewards { id stock } }\n');

// ---- execution: aliases, fragments, typename -----------------------------------------
add('ok', 'exe-aliases', '{ me: userProfile { id: userId xp: exp } other: userProfile(userId: "u2") { id: userId xp: exp } }\n');
add('ok', 'exe-alias-same-as-other-field', '{ userProfile { level: exp exp: level } }\n');
add('ok', 'exe-alias-typename', '{ kind: __typename userProfile { kind: __typename t2: __typename } }\n');
add('ok', 'exe-typename-everywhere', `{ __typename userProfile { __typename badges { __typename badge { __typename id } } streak { __typename } } leaderboard { __typename entries { __typename } me { __typename } pageInfo { __typename } } rewards { __typename } }\n`);
add('ok', 'exe-typename-mutation-root', 'mutation { __typename }\n');
add('ok', 'exe-typename-mutation-payload', 'mutation { redeemReward(rewardId: "r-freeze") { __typename redemption { __typename } } }\n');
add('ok', 'exe-named-fragment', '{ userProfile { ...Basics } }\nfragment Basics on UserProfile { userId exp level }\n');
add('ok', 'exe-fragment-defined-first', 'fragment Basics on UserProfile { userId exp level }\nquery { userProfile { ...Basics } }\n');
add('ok', 'exe-three-fragment-profile', `query Profile($id: ID) { userProfile(userId: $id) { ...Progress ...Badges ...Streak } }\nfragment Progress on UserProfile { userId exp level coins nextLevelExp }\nfragment Badges on UserProfile { ${BADGES} }\nfragment Streak on UserProfile { ${STREAK} }\n`, { vars: { id: 'u1' } });
add('ok', 'exe-nested-fragments', '{ userProfile { ...A } }\nfragment A on UserProfile { userId ...B }\nfragment B on UserProfile { exp badges { ...C } }\nfragment C on UserBadge { earnedAt badge { ...D } }\nfragment D on Badge { id name }\n');
add('ok', 'exe-fragment-twice-different-users', '{ a: userProfile(userId: "u1") { ...P } b: userProfile(userId: "u2") { ...P } }\nfragment P on UserProfile { userId level coins }\n');
add('ok', 'exe-fragment-on-query-root', '{ ...Root }\nfragment Root on Query { rewards { id } streaks { currentStreak } }\n');
add('ok', 'exe-inline-fragment-typed', '{ userProfile { ... on UserProfile { userId exp } level } }\n');
add('ok', 'exe-inline-fragment-untyped', '{ userProfile { ... { userId } ... { exp } } }\n');
add('ok', 'exe-field-merging-order', '{ userProfile { exp } rewards { id } userProfile { userId level } }\n');
add('ok', 'exe-merge-subselections', '{ userProfile { streak { currentStreak } } userProfile { streak { longestStreak } userId } }\n');
add('ok', 'exe-merge-fragment-and-field', '{ userProfile { level ...P exp } }\nfragment P on UserProfile { exp userId level }\n');
add('ok', 'exe-merge-order-first-occurrence', '{ userProfile { ... { exp } level ... { userId exp } } }\n');

// ---- execution: skip and include -------------------------------------------------------
add('ok', 'exe-skip-true', '{ userProfile { userId exp @skip(if: true) level } }\n');
add('ok', 'exe-skip-false', '{ userProfile { userId exp @skip(if: false) } }\n');
add('ok', 'exe-include-false', '{ userProfile { userId exp @include(if: false) } }\n');
add('ok', 'exe-include-true', '{ userProfile { userId exp @include(if: true) } }\n');
add('ok', 'exe-skip-root-field', '{ userProfile @skip(if: true) { userId } rewards { id } }\n');
add('ok', 'exe-skip-everything', '{ userProfile @skip(if: true) { userId } rewards @include(if: false) { id } }\n');
add('ok', 'exe-skip-and-include-matrix', '{ userProfile { a: exp @skip(if: true) @include(if: true) b: exp @skip(if: false) @include(if: true) c: exp @skip(if: true) @include(if: false) d: exp @skip(if: false) @include(if: false) } }\n');
add('ok', 'exe-skip-fragment-spread', '{ userProfile { userId ...P @skip(if: true) } }\nfragment P on UserProfile { exp }\n');
add('ok', 'exe-include-inline-fragment', '{ userProfile { userId ... @include(if: false) { exp } ... on UserProfile @include(if: true) { level } } }\n');
add('ok', 'exe-skip-one-of-two-occurrences', '{ userProfile { exp @skip(if: true) exp } }\n');
add('ok', 'exe-skip-variable-true', 'query Q($s: Boolean!) { userProfile { userId exp @skip(if: $s) } }\n', { vars: { s: true } });
add('ok', 'exe-skip-variable-false', 'query Q($s: Boolean!) { userProfile { userId exp @skip(if: $s) } }\n', { vars: { s: false } });
add('ok', 'exe-include-variable-default', 'query Q($i: Boolean! = false) { userProfile { userId coins @include(if: $i) } }\n');
add('ok', 'exe-include-variable-overrides-default', 'query Q($i: Boolean! = false) { userProfile { userId coins @include(if: $i) } }\n', { vars: { i: true } });
add('ok', 'exe-skip-variable-on-fragment', 'query Q($withBadges: Boolean!) { userProfile { userId ...B @include(if: $withBadges) } }\nfragment B on UserProfile { badges { earnedAt } }\n', { vars: { withBadges: true } });
add('ok', 'exe-skip-mutation-field', 'mutation { a: redeemReward(rewardId: "r-freeze") @skip(if: true) { status } b: redeemReward(rewardId: "r-sticker") { status reason } }\n');
add('ok', 'exe-skip-avoids-error', '{ userProfile(userId: "u5") { userId coins @skip(if: true) streak @include(if: false) { currentStreak } } }\n');

// ---- execution: variables -----------------------------------------------------------------
add('ok', 'var-id-provided', 'query Q($id: ID) { userProfile(userId: $id) { userId exp } }\n', { vars: { id: 'u3' } });
add('ok', 'var-id-default', 'query Q($id: ID = "u2") { userProfile(userId: $id) { userId exp } }\n');
add('ok', 'var-id-explicit-null-over-default', 'query Q($id: ID = "u2") { userProfile(userId: $id) { userId } }\n', { vars: { id: null } });
add('ok', 'var-id-absent-no-default', 'query Q($id: ID) { userProfile(userId: $id) { userId } }\n');
add('ok', 'var-id-given-int', 'query Q($id: ID) { userProfile(userId: $id) { userId } }\n', { vars: { id: 7 } });
add('request', 'var-id-given-float', 'query Q($id: ID) { userProfile(userId: $id) { userId } }\n', { vars: { id: 1.5 }, expect: 'Variable "$id" got invalid value 1.5; ID cannot represent value: 1.5' });
add('request', 'var-id-given-bool', 'query Q($id: ID) { userProfile(userId: $id) { userId } }\n', { vars: { id: true }, expect: 'Variable "$id" got invalid value true; ID cannot represent value: true' });
add('request', 'var-id-given-object', 'query Q($id: ID) { userProfile(userId: $id) { userId } }\n', { vars: { id: { a: 1 } }, expect: 'Variable "$id" got invalid value { a: 1 }; ID cannot represent value: { a: 1 }' });
add('request', 'var-required-missing', 'query Q($id: ID!) { userProfile(userId: $id) { userId } }\n', { expect: 'Variable "$id" of required type "ID!" was not provided.' });
add('request', 'var-required-null', 'query Q($id: ID!) { userProfile(userId: $id) { userId } }\n', { vars: { id: null }, expect: 'Variable "$id" of non-null type "ID!" must not be null.' });
add('ok', 'var-first-default', 'query Q($n: Int = 3) { leaderboard(first: $n) { entries { rank } pageInfo { endCursor hasNextPage } } }\n');
add('ok', 'var-first-provided', 'query Q($n: Int = 3) { leaderboard(first: $n) { entries { rank } pageInfo { endCursor } } }\n', { vars: { n: 5 } });
add('ok', 'var-int-integral-float', 'query Q($n: Int) { leaderboard(first: $n) { entries { rank } } }\n', { vars: '{"n": 2.0}' });
add('ok', 'var-int-exponent', 'query Q($n: Int) { leaderboard(first: $n) { entries { rank } } }\n', { vars: '{"n": 2e0}' });
add('request', 'var-int-big-exponent', 'query Q($n: Int) { leaderboard(first: $n) { entries { rank } } }\n', { vars: '{"n": 1e10}', expect: 'Int cannot represent non 32-bit signed integer value: 10000000000' });
add('request', 'var-int-fraction', 'query Q($n: Int) { leaderboard(first: $n) { totalCount } }\n', { vars: { n: 2.5 }, expect: 'Variable "$n" got invalid value 2.5; Int cannot represent non-integer value: 2.5' });
add('request', 'var-int-overflow', 'query Q($n: Int) { leaderboard(first: $n) { totalCount } }\n', { vars: { n: 2147483648 }, expect: 'Variable "$n" got invalid value 2147483648; Int cannot represent non 32-bit signed integer value: 2147483648' });
add('request', 'var-int-given-string', 'query Q($n: Int) { leaderboard(first: $n) { totalCount } }\n', { vars: { n: '3' }, expect: 'Variable "$n" got invalid value "3"; Int cannot represent non-integer value: "3"' });
add('request', 'var-int-given-list', 'query Q($n: Int) { leaderboard(first: $n) { totalCount } }\n', { vars: { n: [3] }, expect: 'Variable "$n" got invalid value [3]; Int cannot represent non-integer value: [3]' });
add('ok', 'var-enum-provided', 'query Q($p: LeaderboardPeriod) { leaderboard(period: $p) { period periodKey totalCount } }\n', { vars: { p: 'MONTHLY' } });
add('request', 'var-enum-lowercase', 'query Q($p: LeaderboardPeriod) { leaderboard(period: $p) { period } }\n', { vars: { p: 'monthly' }, expect: 'Variable "$p" got invalid value "monthly"; Value "monthly" does not exist in "LeaderboardPeriod" enum.' });
add('request', 'var-enum-given-int', 'query Q($p: LeaderboardPeriod) { leaderboard(period: $p) { period } }\n', { vars: { p: 1 }, expect: 'Variable "$p" got invalid value 1; Enum "LeaderboardPeriod" cannot represent non-string value: 1.' });
add('ok', 'var-enum-default', 'query Q($p: LeaderboardPeriod = WEEKLY) { leaderboard(period: $p) { period periodKey } }\n');
add('request', 'var-bool-given-string', 'query Q($s: Boolean!) { userProfile @skip(if: $s) { userId } }\n', { vars: { s: 'true' }, expect: 'Variable "$s" got invalid value "true"; Boolean cannot represent a non boolean value: "true"' });
add('request', 'var-bool-given-int', 'query Q($s: Boolean!) { userProfile @skip(if: $s) { userId } }\n', { vars: { s: 1 }, expect: 'Variable "$s" got invalid value 1; Boolean cannot represent a non boolean value: 1' });
add('request', 'var-string-given-int', 'query Q($k: String) { leaderboard(periodKey: $k) { periodKey } }\n', { vars: { k: 2026 }, expect: 'Variable "$k" got invalid value 2026; String cannot represent a non string value: 2026' });
add('ok', 'var-extra-variables-ignored', 'query Q($id: ID) { userProfile(userId: $id) { userId } }\n', { vars: { id: 'u2', other: 'x', n: 5 } });
add('request', 'var-two-bad-values', 'query Q($n: Int, $p: LeaderboardPeriod) { leaderboard(first: $n, period: $p) { totalCount } }\n', { vars: { n: 'x', p: 'YEARLY' }, expect: 'Variable "$p" got invalid value "YEARLY"' });
add('ok', 'var-non-null-with-default', 'query Q($id: ID! = "u2") { userProfile(userId: $id) { userId } }\n');
add('ok', 'var-used-in-fragment', 'query Q($id: ID, $n: Int) { userProfile(userId: $id) { userId } ...L }\nfragment L on Query { leaderboard(first: $n) { entries { rank } } }\n', { vars: { id: 'u2', n: 2 } });
add('ok', 'var-default-string-escape', 'query Q($id: ID = "\\u0075\\u0033") { userProfile(userId: $id) { userId level } }\n');
add('ok', 'var-default-block-string', 'query Q($id: ID = """\n  u2\n""") { userProfile(userId: $id) { userId } }\n');
add('request', 'var-mutation-required-missing', 'mutation M($r: ID!) { redeemReward(rewardId: $r) { status } }\n', { expect: 'Variable "$r" of required type "ID!" was not provided.' });
add('ok', 'var-mutation-provided', 'mutation M($r: ID!, $k: String) { redeemReward(rewardId: $r, idempotencyKey: $k) { status reason redemption { id rewardId status } } }\n', { vars: { r: 'r-badge', k: 'abc-123' } });

// ---- execution: operation selection -------------------------------------------------------
add('ok', 'op-select-named', 'query A { userProfile { userId } }\nquery B { rewards { id } }\n', { op: 'B' });
add('ok', 'op-select-mutation', 'query A { userProfile { userId } }\nmutation B { redeemReward(rewardId: "r-freeze") { status } }\n', { op: 'B' });
add('request', 'op-unknown-name', 'query A { userProfile { userId } }\nquery B { rewards { id } }\n', { op: 'C', expect: 'Unknown operation named "C".' });
add('request', 'op-missing-name', 'query A { userProfile { userId } }\nquery B { rewards { id } }\n', { expect: 'Must provide operation name if query contains multiple operations.' });
add('ok', 'op-single-named-without-name', 'query Only { userProfile { userId } }\n');
add('ok', 'op-name-for-single-op', 'query Only { userProfile { userId } }\n', { op: 'Only' });
add('request', 'op-wrong-name-for-single-op', 'query Only { userProfile { userId } }\n', { op: 'Other', expect: 'Unknown operation named "Other".' });
add('validation', 'op-only-fragments', 'fragment F on Query { __typename }\n', { expect: 'Fragment "F" is never used.' });
add('ok', 'op-variables-of-selected-op', 'query A($id: ID) { userProfile(userId: $id) { userId } }\nquery B($n: Int) { leaderboard(first: $n) { entries { rank } } }\n', { op: 'B', vars: { n: 1, id: 'u2' } });
add('request', 'op-variables-checked-for-selected-op', 'query A($id: ID!) { userProfile(userId: $id) { userId } }\nquery B { rewards { id } }\n', { op: 'A', expect: 'Variable "$id" of required type "ID!" was not provided.' });
add('validation', 'op-subscription-query-field', 'subscription S { userProfile { userId } }\n', { expect: 'Cannot query field "userProfile" on type "Subscription".' });

// ---- execution: leaderboard and pagination ---------------------------------------------------
add('ok', 'lb-default', `{ leaderboard { ${LB} } }\n`);
add('ok', 'lb-first-3', `{ leaderboard(first: 3) { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-first-1', `{ leaderboard(first: 1) { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-first-100', `{ leaderboard(first: 100) { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-first-null-is-default', `{ leaderboard(first: null) { ${ENTRIES} ${PAGE} } }\n`);
add('field', 'lb-first-0', `{ leaderboard(first: 0) { totalCount } }\n`, { expect: 'first must be between 1 and 100' });
add('field', 'lb-first-101', `{ rewards { id } leaderboard(first: 101) { totalCount } }\n`, { expect: 'first must be between 1 and 100' });
add('field', 'lb-first-negative', `{ leaderboard(first: -5) { totalCount } }\n`, { expect: 'first must be between 1 and 100' });
add('ok', 'lb-after-cursor', `{ leaderboard(first: 3, after: "cursor:2") { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-after-second-to-last', `{ leaderboard(first: 5, after: "cursor:10") { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-after-last', `{ leaderboard(after: "cursor:11") { ${ENTRIES} ${PAGE} } }\n`);
add('field', 'lb-after-out-of-range', `{ leaderboard(after: "cursor:12") { totalCount } }\n`, { expect: 'invalid cursor' });
add('field', 'lb-after-leading-zero', `{ leaderboard(after: "cursor:01") { totalCount } }\n`, { expect: 'invalid cursor' });
add('field', 'lb-after-negative', `{ leaderboard(after: "cursor:-1") { totalCount } }\n`, { expect: 'invalid cursor' });
add('field', 'lb-after-garbage', `{ leaderboard(after: "abc") { totalCount } }\n`, { expect: 'invalid cursor' });
add('field', 'lb-after-seven-digits', `{ leaderboard(after: "cursor:1000000") { totalCount } }\n`, { expect: 'invalid cursor' });
add('ok', 'lb-after-null', `{ leaderboard(first: 2, after: null) { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-two-pages-aliased', `{ p1: leaderboard(first: 4) { ${ENTRIES} ${PAGE} } p2: leaderboard(first: 4, after: "cursor:3") { ${ENTRIES} ${PAGE} } p3: leaderboard(first: 4, after: "cursor:7") { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-around-1', `{ leaderboard(around: 1) { ${ENTRIES} me { rank score } ${PAGE} } }\n`);
add('ok', 'lb-around-0', `{ leaderboard(around: 0) { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-around-5-clamped', `{ leaderboard(around: 5) { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-around-25', `{ leaderboard(around: 25, first: 2) { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-around-viewer-absent', `{ leaderboard(period: WEEKLY, around: 2) { ${ENTRIES} me { rank } ${PAGE} } }\n`);
add('field', 'lb-around-26', `{ leaderboard(around: 26) { totalCount } }\n`, { expect: 'around must be between 0 and 25' });
add('field', 'lb-around-negative', `{ leaderboard(around: -1) { totalCount } }\n`, { expect: 'around must be between 0 and 25' });
add('field', 'lb-around-and-after', `{ leaderboard(around: 1, after: "cursor:0") { totalCount } }\n`, { expect: 'after and around cannot be combined' });
add('field', 'lb-first-checked-before-around', `{ leaderboard(first: 0, around: 99) { totalCount } }\n`, { expect: 'first must be between 1 and 100' });
add('ok', 'lb-around-null-with-after', `{ leaderboard(around: null, after: "cursor:0", first: 1) { ${ENTRIES} } }\n`);
add('ok', 'lb-weekly-current', `{ leaderboard(period: WEEKLY) { ${LB} } }\n`);
add('ok', 'lb-weekly-previous', `{ leaderboard(period: WEEKLY, periodKey: "2026-W47") { ${LB} } }\n`);
add('ok', 'lb-weekly-unknown-key', '{ leaderboard(period: WEEKLY, periodKey: "2020-W01") { board } }\n');
add('ok', 'lb-monthly', `{ leaderboard(period: MONTHLY) { ${LB} } }\n`);
add('ok', 'lb-monthly-around-1', `{ leaderboard(period: MONTHLY, around: 1) { ${ENTRIES} ${PAGE} } }\n`);
add('ok', 'lb-class-board', `{ leaderboard(board: "class-7b") { ${LB} } }\n`);
add('ok', 'lb-class-board-weekly-missing', '{ leaderboard(board: "class-7b", period: WEEKLY) { board } }\n');
add('ok', 'lb-unknown-board', '{ leaderboard(board: "nope") { board totalCount } }\n');
add('ok', 'lb-board-null-is-global', '{ leaderboard(board: null, period: null) { board period periodKey totalCount } }\n');
add('ok', 'lb-board-as-int-id', '{ leaderboard(board: 7) { board } }\n');
add('ok', 'lb-periodkey-all-explicit', '{ leaderboard(periodKey: "all", first: 2) { periodKey entries { userId } } }\n');
add('field', 'lb-broken-entries', `{ leaderboard(board: "broken") { board ${ENTRIES} } }\n`, { expect: 'score overflowed the counter' });
add('field', 'lb-broken-first-page-ok-third-errors', '{ a: leaderboard(board: "broken", first: 1) { entries { rank score } } b: leaderboard(board: "broken", first: 1, after: "cursor:1") { entries { userId } } }\n', { expect: 'user id redacted' });
add('ok', 'lb-broken-ranks-only', '{ leaderboard(board: "broken") { entries { rank } } }\n');
add('field', 'lb-private-me', `{ leaderboard(board: "private") { ${ENTRIES} me { rank score } totalCount } }\n`, { expect: 'rank hidden by the board\'s settings' });
add('field', 'lb-nocount', '{ leaderboard(board: "nocount") { board entries { rank } totalCount } rewards { id } }\n', { expect: 'count unavailable' });
add('ok', 'lb-nocount-without-total', `{ leaderboard(board: "nocount") { board ${ENTRIES} me { rank } ${PAGE} } }\n`);
add('ok', 'lb-opted-out-entries', '{ leaderboard(first: 12) { entries { rank userId } } }\n');
add('ok', 'lb-variables-all-args', `query Board($board: ID, $period: LeaderboardPeriod, $key: String, $first: Int, $after: String) { leaderboard(board: $board, period: $period, periodKey: $key, first: $first, after: $after) { ${LB} } }\n`, { vars: { board: 'global', period: 'WEEKLY', key: '2026-W47', first: 1, after: 'cursor:0' } });
add('ok', 'lb-variables-around', `query Board($around: Int = 2) { leaderboard(around: $around) { ${ENTRIES} ${PAGE} } }\n`);
add('field', 'lb-variables-bad-first', 'query Board($first: Int) { leaderboard(first: $first) { totalCount } }\n', { vars: { first: 1000 }, expect: 'first must be between 1 and 100' });
add('ok', 'lb-me-only', '{ leaderboard { me { rank score } } weekly: leaderboard(period: WEEKLY) { me { rank } } }\n');

// ---- execution: the mutation ------------------------------------------------------------------
add('ok', 'mut-completed', `mutation { redeemReward(rewardId: "r-freeze") { ${PAYLOAD} } }\n`);
add('ok', 'mut-completed-with-key', `mutation { redeemReward(rewardId: "r-badge", idempotencyKey: "k-1") { ${PAYLOAD} } }\n`);
add('ok', 'mut-insufficient-coins', `mutation { redeemReward(rewardId: "r-avatar") { ${PAYLOAD} } }\n`);
add('ok', 'mut-out-of-stock', `mutation { redeemReward(rewardId: "r-sticker") { ${PAYLOAD} } }\n`);
add('ok', 'mut-inactive', `mutation { redeemReward(rewardId: "r-old") { ${PAYLOAD} } }\n`);
add('ok', 'mut-unknown-reward', `mutation { redeemReward(rewardId: "nope") { ${PAYLOAD} } }\n`);
add('ok', 'mut-limit-override', `mutation { redeemReward(rewardId: "r-limit") { ${PAYLOAD} } }\n`);
add('ok', 'mut-pending-override', `mutation { redeemReward(rewardId: "r-pending") { ${PAYLOAD} } }\n`);
add('field', 'mut-marker-at-root', `mutation { redeemReward(rewardId: "r-fail") { ${PAYLOAD} } }\n`, { expect: 'event log unavailable' });
add('field', 'mut-non-null-status-error', `mutation { redeemReward(rewardId: "r-bad-status") { ${PAYLOAD} } }\n`, { expect: 'outcome unknown' });
add('field', 'mut-bad-enum-value', 'mutation { redeemReward(rewardId: "r-bad-enum") { status } }\n', { expect: 'Enum "RedemptionStatus" cannot represent value: "REFUNDED"' });
add('field', 'mut-bad-enum-value-nested', 'mutation { redeemReward(rewardId: "r-bad-enum") { reason redemption { id status } } }\n', { expect: 'Enum "RedemptionStatus" cannot represent value: "LOST"' });
add('ok', 'mut-serial-aliases', `mutation Many { a: redeemReward(rewardId: "r-freeze", idempotencyKey: "1") { ${PAYLOAD} } b: redeemReward(rewardId: "r-avatar") { status reason } c: redeemReward(rewardId: "r-badge") { redemption { id } } }\n`);
add('field', 'mut-serial-with-failure', 'mutation { a: redeemReward(rewardId: "r-freeze") { status } b: redeemReward(rewardId: "r-fail") { status } c: redeemReward(rewardId: "r-limit") { reason } }\n', { expect: 'event log unavailable' });
add('ok', 'mut-fragment-on-payload', 'mutation { redeemReward(rewardId: "r-freeze") { ...Outcome } }\nfragment Outcome on RedeemRewardPayload { status reason redemption { ...R } }\nfragment R on Redemption { id rewardId status }\n');
add('ok', 'mut-fragment-on-mutation-root', 'mutation { ...Redeem }\nfragment Redeem on Mutation { redeemReward(rewardId: "r-badge") { status } }\n');
add('ok', 'mut-empty-key', 'mutation { redeemReward(rewardId: "r-freeze", idempotencyKey: "") { redemption { id } } }\n');
add('ok', 'mut-key-null', 'mutation { redeemReward(rewardId: "r-freeze", idempotencyKey: null) { redemption { id } } }\n');
add('ok', 'mut-id-as-int', 'mutation { redeemReward(rewardId: 42) { status reason } }\n');
add('ok', 'mut-unicode-key', 'mutation { redeemReward(rewardId: "r-freeze", idempotencyKey: "cl\u00e9-\u2615") { redemption { id } } }\n');

// ---- execution: several root fields and errors together ------------------------------------------
add('field', 'exe-sibling-errors-in-order', '{ a: userProfile(userId: "u5") { coins } b: userProfile(userId: "u4") { badges { badge { icon } } } c: streaks(userId: "u5") { currentStreak } }\n', { expect: 'streak store unavailable' });
add('field', 'exe-error-and-data-side-by-side', `{ userProfile(userId: "u6") { level } rewards { id } leaderboard(first: 2) { ${ENTRIES} } }\n`, { expect: 'level table missing' });
add('field', 'exe-same-error-twice-aliased', '{ a: userProfile(userId: "u-broken") { userId } b: userProfile(userId: "u-broken") { exp } }\n', { expect: 'profile store unavailable' });
add('field', 'exe-error-via-fragment-location', '{ userProfile(userId: "u6") { ...P } }\nfragment P on UserProfile {\n  userId\n  level\n}\n', { expect: 'level table missing' });
add('field', 'exe-error-merged-field-locations', '{ userProfile(userId: "u6") { level ... { level } } }\n', { expect: 'level table missing' });
add('field', 'exe-error-nested-list-path', '{ userProfile(userId: "u9") { badges { badge { id } earnedAt } } }\n', { expect: 'earnedAt is not recorded' });
add('ok', 'exe-everything-u1', `{ userProfile { ${PROFILE} ${BADGES} ${STREAK} } rewards { ${REWARD} } leaderboard(first: 5) { ${LB} } streaks { ${STREAK_FIELDS} } badges { earnedAt } }\n`);

// ---- introspection ------------------------------------------------------------------------------
add('ok', 'int-typename-root', '{ __typename }\n');
add('ok', 'int-schema-roots', '{ __schema { queryType { name kind } mutationType { name } subscriptionType { name } } }\n');
add('ok', 'int-schema-description', '{ __schema { description } }\n');
add('ok', 'int-schema-types', '{ __schema { types { name kind } } }\n');
add('ok', 'int-schema-directives', '{ __schema { directives { name description locations isRepeatable args { name description type { kind name ofType { kind name } } defaultValue } } } }\n');
const TYPE_SEL = `kind name description specifiedByURL
    fields(includeDeprecated: true) { name description isDeprecated deprecationReason
      args(includeDeprecated: true) { name description defaultValue isDeprecated deprecationReason type { ...Ref } }
      type { ...Ref } }
    inputFields(includeDeprecated: true) { name type { ...Ref } defaultValue }
    interfaces { name }
    enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
    possibleTypes { name }`;
const REF = 'fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }\n';
for (const t of ['Query', 'Mutation', 'UserProfile', 'UserBadge', 'Badge', 'Leaderboard', 'LeaderboardEntry',
    'LeaderboardMe', 'PageInfo', 'LeaderboardPeriod', 'Reward', 'Streak', 'RedeemRewardPayload',
    'RedemptionStatus', 'RejectionReason', 'Redemption', 'DateTime', 'String', 'Int', 'Float', 'Boolean',
    'ID', '__Schema', '__Type', '__Field', '__InputValue', '__EnumValue', '__Directive', '__TypeKind',
    '__DirectiveLocation']) {
    add('ok', `int-type-${t.replace(/^__/, 'meta-')}`, `{\n  __type(name: "${t}") {\n    ${TYPE_SEL}\n  }\n}\n${REF}`);
}
add('ok', 'int-type-unknown', '{ __type(name: "Nope") { name } }\n');
add('ok', 'int-type-empty-name', '{ __type(name: "") { name } }\n');
add('ok', 'int-type-by-variable', 'query T($n: String!) { __type(name: $n) { name kind fields { name } } }\n', { vars: { n: 'Streak' } });
add('ok', 'int-type-aliases', '{ a: __type(name: "Reward") { name } b: __type(name: "Badge") { n: name k: kind } }\n');
add('ok', 'int-deprecated-default-filter', '{ __type(name: "Query") { fields { name args { name } } } }\n');
add('ok', 'int-deprecated-false', '{ __type(name: "Leaderboard") { fields(includeDeprecated: false) { name isDeprecated } } }\n');
add('ok', 'int-args-include-deprecated-false', '{ __type(name: "Query") { fields { name args(includeDeprecated: false) { name defaultValue isDeprecated } } } }\n');
add('ok', 'int-enum-values-default', '{ __type(name: "RejectionReason") { enumValues { name description } } }\n');
add('ok', 'int-object-nulls', '{ __type(name: "Reward") { inputFields { name } enumValues { name } possibleTypes { name } interfaces { name } ofType { name } specifiedByURL } }\n');
add('ok', 'int-scalar-nulls', '{ __type(name: "Int") { fields { name } interfaces { name } enumValues { name } } }\n');
add('ok', 'int-with-typename', '{ __schema { __typename queryType { __typename name } } __type(name: "Badge") { __typename fields { __typename name } } }\n');
add('ok', 'int-mixed-with-data', '{ __typename userProfile { __typename userId } __type(name: "Streak") { name } }\n');
add('ok', 'int-type-fragment', '{ __type(name: "PageInfo") { ...T } }\nfragment T on __Type { name fields { name type { name kind ofType { name } } } }\n');
add('ok', 'int-skip-in-introspection', '{ __type(name: "Badge") { name description @skip(if: true) fields @include(if: false) { name } } }\n');
add('validation', 'int-unknown-meta-field', '{ __type(name: "Badge") { name isOneOf } }\n', { expect: 'Cannot query field "isOneOf" on type "__Type".' });
add('validation', 'int-fields-bad-arg', '{ __type(name: "Badge") { fields(includeDeprecated: "yes") { name } } }\n', { expect: 'Boolean cannot represent a non boolean value: "yes"' });
add('validation', 'int-type-without-selection', '{ __type(name: "Badge") }\n', { expect: 'Field "__type" of type "__Type" must have a selection of subfields.' });
add('ok', 'int-schema-types-fields', '{ __schema { types { name fields { name } } } }\n');
add('ok', 'introspection-full', getIntrospectionQuery({
    descriptions: true,
    schemaDescription: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    inputValueDeprecation: true,
}) + '\n');

// ---- documents past our operational limits (limits.txt) --------------------------------------------
const limited = [];
function addLimited(name, src) {
    add('ok', name, src);
    limited.push(name);
}
{
    // Aliases below one root field, so that only the alias limit is passed.
    let s = '{\n  userProfile {\n';
    for (let i = 0; i < 31; i++) s += `    a${i}: exp\n`;
    addLimited('lim-aliases-31', s + '  }\n}\n');
    s = '{\n';
    for (let i = 0; i < 21; i++) s += `  f${i}: userProfile { userId }\n`;
    addLimited('lim-root-fields-21', s + '}\n');
    s = '{\n';
    // Each costs 1 + 1 + 100 * 3 (entries has no `first`: the default list size).
    for (let i = 0; i < 20; i++) s += `  lb${i}: leaderboard(first: 100) { entries { rank userId score } }\n`;
    addLimited('lim-cost-leaderboards', s + '}\n');
    s = '{\n';
    // Each costs 1 + 100 * 6.
    for (let i = 0; i < 9; i++) s += `  r${i}: rewards { id name cost type stock active }\n`;
    addLimited('lim-cost-rewards', s + '}\n');
    s = '{\n  userProfile {\n';
    for (let i = 0; i < 30; i++) s += `    a${i}: exp\n`;
    add('ok', 'lim-aliases-30-allowed', s + '  }\n}\n');
    s = '{\n';
    for (let i = 0; i < 20; i++) s += `  f${i}: streaks { currentStreak }\n`;
    add('ok', 'lim-root-fields-20-allowed', s + '}\n');
}

// ---- names away from their keyword: comments, commas, tabs, line breaks, CRLF -------------------
// graphql-js points these errors at the name token (an operation's or
// fragment's name, a spread's name, a type condition, a variable's name), at
// a definition's description, or at a root operation type's name; nothing
// may be guessed from the keyword's position.
add('validation', 'val-layout-duplicate-operation-name', 'query # first\n  Dup { __typename }\nquery\n\n\tDup\n{ __typename }\n', { expect: 'There can be only one operation named "Dup".' });
add('validation', 'val-layout-duplicate-operation-commas', 'query,,A,{ __typename }\nmutation , # m\n  A { __typename }\n', { expect: 'There can be only one operation named "A".' });
add('validation', 'val-layout-duplicate-operation-crlf', 'query\r\n  Q { __typename }\r\nquery\r\n  Q { __typename }\r\n', { expect: 'There can be only one operation named "Q".' });
add('validation', 'val-layout-duplicate-fragment-name', '{ userProfile { ...P } }\nfragment\nP\non\nUserProfile { exp }\nfragment ,, P # again\n on UserProfile { level }\n', { expect: 'There can be only one fragment named "P".' });
add('validation', 'val-layout-duplicate-fragment-thrice', 'fragment F on Query { __typename }\nfragment # 2\nF on Query { __typename }\nfragment\nF on Query { __typename }\n{ ...F }\n', { expect: 'There can be only one fragment named "F".' });
add('validation', 'val-layout-unknown-fragment-comment', '{ userProfile { ... # spread\n  Missing } }\n', { expect: 'Unknown fragment "Missing".' });
add('validation', 'val-layout-unknown-fragment-newlines', '{ userProfile { ...\n\n   Missing @include(if: true) } }\n', { expect: 'Unknown fragment "Missing".' });
add('validation', 'val-layout-unused-fragment-indented', '{ __typename }\n  fragment\n  Unused on Reward { id }\n', { expect: 'Fragment "Unused" is never used.' });
add('validation', 'val-layout-fragment-cycle', '{ rewards { ...A } }\nfragment A on Reward { ... \n B }\nfragment B on Reward { ...,A }\n', { expect: 'Cannot spread fragment "A" within itself via "B".' });
add('validation', 'val-layout-fragment-unknown-type', '{ userProfile { ...P } }\nfragment P on\n  # t\n  Profile { exp }\n', { expect: 'Unknown type "Profile".' });
add('validation', 'val-layout-fragment-unknown-type-tabs', '{ userProfile { ...\t\tF } }\nfragment\t\tF\t\ton\t\tUserProfil\t{ exp }\n', { expect: 'Unknown type "UserProfil". Did you mean "UserProfile"?' });
add('validation', 'val-layout-inline-unknown-type', '{ userProfile { ...on Learner { exp } ... on\n\tLearner2 { exp } } }\n', { expect: 'Unknown type "Learner2".' });
add('validation', 'val-layout-fragment-on-scalar', '{ userProfile { exp { ...F } } }\nfragment F\n on\n Int { __typename }\n', { expect: 'Fragment "F" cannot condition on non composite type "Int".' });
add('validation', 'val-layout-inline-fragment-on-enum', '{ leaderboard { period { ...on,LeaderboardPeriod { __typename } } } }\n', { expect: 'Fragment cannot condition on non composite type "LeaderboardPeriod".' });
add('validation', 'val-layout-impossible-spread', '{ streaks { ...\n B } }\nfragment\n B on Badge { id }\n', { expect: 'Fragment "B" cannot be spread here as objects of type "Streak" can never be of type "Badge".' });
add('validation', 'val-layout-unused-variable', 'query Q($\n  unused: Int) { __typename }\n', { expect: 'Variable "$unused" is never used in operation "Q".' });
add('validation', 'val-layout-unused-variable-anonymous', 'query ($ x: Int) { __typename }\n', { expect: 'Variable "$x" is never used.' });
add('validation', 'val-layout-unused-variable-name-after-comment', 'mutation\n#c\nM($id: ID) { __typename }\n', { expect: 'Variable "$id" is never used in operation "M".' });
add('validation', 'val-layout-undefined-variable', 'query\n  Q { userProfile(userId: $ id) { exp } }\n', { expect: 'Variable "$id" is not defined by operation "Q".' });
add('validation', 'val-layout-duplicate-variables', 'query Q($ a: Int, $\ta: Int, $a: Int) { leaderboard(first: $a) { totalCount } }\n', { expect: 'There can be only one variable named "$a".' });
add('validation', 'val-layout-non-input-variable', 'query Q($p:\n  UserProfile) { userProfile { exp } }\n', { expect: 'Variable "$p" cannot be non-input type "UserProfile".' });
add('validation', 'val-layout-variable-position', 'mutation\n#c\nM($ id: ID) { redeemReward(rewardId: $\nid) { status } }\n', { expect: 'Variable "$id" of type "ID" used in position expecting type "ID!".' });
add('validation', 'val-layout-unknown-type-in-list', 'query Q($id: [\n Strin ]) { __typename }\n', { expect: 'Unknown type "Strin". Did you mean "String" or "Streak"?' });
add('validation', 'val-exec-type-with-description', '{ __typename }\n"desc"\ntype Extra { a: Int }\n', { expect: 'The "Extra" definition is not executable.' });
add('validation', 'val-exec-scalar-with-block-description', '{ __typename }\n"""\nblock\n"""  scalar Url\n', { expect: 'The "Url" definition is not executable.' });
add('validation', 'val-exec-directive-with-description', '"d" directive @x on FIELD\n{ __typename }\n', { expect: 'The "x" definition is not executable.' });
add('validation', 'val-exec-schema-unknown-root-type', '{ __typename }\nschema { query\n:Qery }\n', { expect: 'Unknown type "Qery". Did you mean "Query"?' });

// ---- escapes as graphql-js reads them: the message quotes the source from the backslash ----------
add('syntax', 'syn-braced-escape-nine-digits', '{ userProfile(userId: "\\u{000000041}") { exp } }\n', { expect: 'Invalid Unicode escape sequence: "\\u{000000041".' });
add('ok', 'lex-braced-escape-eight-digits', '{ userProfile(userId: "\\u{00000041}") { userId } }\n');
add('syntax', 'syn-braced-escape-overflow', '{ userProfile(userId: "\\u{FFFFFFFFF}") { exp } }\n', { expect: 'Invalid Unicode escape sequence: "\\u{FFFFFFFF".' });
add('syntax', 'syn-braced-escape-at-quote', '{ userProfile(userId: "\\u{12") { exp } }\n', { expect: 'Invalid Unicode escape sequence: "\\u{12"".' });
add('syntax', 'syn-braced-escape-non-ascii', '{ userProfile(userId: "\\u{1\u2615}") { exp } }\n', { expect: 'Invalid Unicode escape sequence: "\\u{1\u2615".' });
add('syntax', 'syn-short-unicode-escape-at-eof', '{ userProfile(userId: "\\u1', { expect: 'Invalid Unicode escape sequence: "\\u1".' });
add('syntax', 'syn-short-unicode-escape-non-ascii', '{ userProfile(userId: "\\u1\u00e9\u2615xyz") { exp } }\n', { expect: 'Invalid Unicode escape sequence: "\\u1\u00e9\u2615x".' });
add('syntax', 'syn-surrogate-bad-trailing', '{ userProfile(userId: "\\uD800\\u0041") { exp } }\n', { expect: 'Invalid Unicode escape sequence: "\\uD800".' });
add('syntax', 'syn-char-escape-non-ascii', '{ userProfile(userId: "a\\\u00e9") { exp } }\n', { expect: 'Invalid character escape sequence: "\\\u00e9".' });
add('syntax', 'syn-backslash-at-end-of-line', '{ userProfile(userId: "abc\\\n") { exp } }\n', { expect: 'Invalid character escape sequence: "\\' });
add('syntax', 'syn-backslash-before-crlf', '{ userProfile(userId: "abc\\\r\n") { exp } }\r\n', { expect: 'Invalid character escape sequence: "\\' });
add('syntax', 'syn-backslash-at-eof', '{ userProfile(userId: "abc\\', { expect: 'Invalid character escape sequence: "\\".' });

// ---- overlap through lone spreads: a set that is only `...F` compares nothing itself, but when F
// spreads other fragments graphql-js records the pairs it compared, which decides what later sets report.
add('validation', 'val-overlap-lone-spread-of-spreading-fragment', '{ userProfile { ...A } }\nfragment A on UserProfile { ...B x: exp }\nfragment B on UserProfile { x: level }\n', { expect: 'Fields "x" conflict because "exp" and "level" are different fields.' });
add('validation', 'val-overlap-lone-spread-then-pair', '{ a: userProfile { ...A } b: userProfile { ...A ...B } }\nfragment A on UserProfile { ...C }\nfragment B on UserProfile { v: level }\nfragment C on UserProfile { v: exp }\n', { expect: 'conflict because' });
add('validation', 'val-overlap-lone-spread-twice', '{ a: userProfile { ...A } a: userProfile { ...B } }\nfragment A on UserProfile { v: exp }\nfragment B on UserProfile { v: level }\n', { expect: 'Fields "a" conflict because subfields "v" conflict because "exp" and "level" are different fields.' });
add('ok', 'exe-lone-spread-sets', '{ userProfile { ...P } }\nfragment P on UserProfile { badges { ...E } streak { ...S } }\nfragment E on UserBadge { earnedAt }\nfragment S on Streak { currentStreak }\n');

// ---- the learner's history and the badge catalogue (no data here: the root members are absent) ----
add('validation', 'val-history-redemption-without-id', '{ redemption { id } }\n', { expect: 'Field "redemption" argument "id" of type "ID!" is required, but it was not provided.' });
add('validation', 'val-history-ledger-first-string', '{ ledger(first: "x") { totalCount } }\n', { expect: 'Int cannot represent non-integer value: "x"' });
add('validation', 'val-history-ledger-field-suggestion', '{ ledger { entries { expdelta } } }\n', { expect: 'Cannot query field "expdelta" on type "LedgerEntry". Did you mean "expDelta"?' });
add('validation', 'val-history-catalogue-without-selection', '{ badgeCatalogue }\n', { expect: 'must have a selection of subfields' });
add('validation', 'val-history-page-info-on-redemption', '{ redemptions { entries { pageInfo { endCursor } } } }\n', { expect: 'Cannot query field "pageInfo" on type "Redemption".' });
add('ok', 'exe-history-nullable-roots', '{ ledger(first: 5) { totalCount pageInfo { endCursor } } redemption(id: "r1") { status reason occurredAt } }\n');
add('field', 'exe-history-catalogue-null-propagates', '{ badgeCatalogue { earned } __typename }\n');
add('validation', 'val-history-order-unknown', '{ ledger(order: NEWEST) { totalCount } }\n', { expect: 'does not exist in "HistoryOrder" enum' });
add('validation', 'val-history-order-string', '{ redemptions(order: "NEWEST_FIRST") { totalCount } }\n', { expect: 'Enum "HistoryOrder" cannot represent non-enum value: "NEWEST_FIRST"' });
add('field', 'exe-history-order', '{ ledger(first: 2, order: NEWEST_FIRST) { totalCount } redemptions(order: OLDEST_FIRST, after: "r0.1") { totalCount } }\n');
add('ok', 'exe-history-order-variable', 'query($o: HistoryOrder = NEWEST_FIRST) { ledger(order: $o) { pageInfo { hasNextPage } } }\n', { vars: { o: 'OLDEST_FIRST' } });

// ---- writing ---------------------------------------------------------------------------------------
const names = new Set();
fs.mkdirSync(OUT, { recursive: true });
for (const f of fs.readdirSync(OUT)) {
    if (/\.(graphql|vars\.json|op)$/.test(f) || f === 'expect.tsv') fs.unlinkSync(path.join(OUT, f));
}
const expect = ['# name\tclass\tpiece of an error message (written by gen-corpus.mjs)'];
docs.forEach((d, i) => {
    if (names.has(d.name)) throw new Error('duplicate corpus name ' + d.name);
    names.add(d.name);
    const file = String(i + 1).padStart(3, '0') + '-' + d.name;
    d.file = file;
    fs.writeFileSync(path.join(OUT, file + '.graphql'), d.src);
    // A string is written as it is: JSON.stringify would print 2.0 as 2.
    if (d.vars !== undefined) {
        fs.writeFileSync(path.join(OUT, file + '.vars.json'),
            (typeof d.vars === 'string' ? d.vars : JSON.stringify(d.vars)) + '\n');
    }
    if (d.op !== undefined) fs.writeFileSync(path.join(OUT, file + '.op'), d.op + '\n');
    expect.push([file, d.cls, d.expect ?? ''].join('\t'));
});
fs.writeFileSync(path.join(OUT, 'expect.tsv'), expect.join('\n') + '\n');
const byName = new Map(docs.map((d) => [d.name, d.file]));
fs.writeFileSync(path.join(HERE, 'limits.txt'),
    '# Documents graphql-js accepts that our operational limits (api/graphql/validate.h)\n' +
    '# reject with QUERY_TOO_COMPLEX. Written by gen-corpus.mjs.\n' +
    limited.map((n) => byName.get(n)).join('\n') + '\n');
const counts = {};
for (const d of docs) counts[d.cls] = (counts[d.cls] ?? 0) + 1;
console.log(`${docs.length} documents:`, JSON.stringify(counts));
