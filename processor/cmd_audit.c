/*
 * cmd_audit.c: the audit commands that read states side by side or down to
 * the ledger: `gamify diff` (which learners two states disagree on, and by
 * how much in total) and `gamify ledger` (every EXP and coin change of one
 * learner, and the sums that must equal the learner's balances). Both open
 * states read-only and work beside a running processor, on single and
 * partitioned states alike.
 */
#include "cmd_state.h"
#include "cmd_util.h"
#include "commands.h"
#include "feed.h"
#include "state.h"
#include "timefmt.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- diff ---- */

struct learner_line {
    const char *user_id; /* borrowed from obj */
    json_t *obj;
};

struct side {
    struct learner_line *l;
    size_t n;
    bool what_if;
};

static int
line_cmp(const void *a, const void *b)
{
    return strcmp(((const struct learner_line *)a)->user_id,
                  ((const struct learner_line *)b)->user_id);
}

/* Reads the audit view of state into *sd. Returns 0 or an exit code. */
static int
load_side(const char *state, const char *user, struct side *sd)
{
    char *text;
    size_t len;
    int code = gm__state_dump(state, user, &text, &len, &sd->what_if);
    if (code == GM_ENOTFOUND)
        code = 0; /* the learner is not in this state: compared as absent */
    if (code) {
        free(text);
        return code;
    }
    size_t cap = 0;
    for (char *line = text, *nl; line < text + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl)
            nl = text + len;
        if (nl == line)
            continue;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)(nl - line), 0, &je);
        const char *id = json_string_value(json_object_get(o, "userId"));
        if (!o || !id) {
            fprintf(stderr, "gamify diff: %s: a dump line that is not a learner: %s\n", state,
                    o ? "no userId" : je.text);
            json_decref(o);
            free(text);
            return 2;
        }
        if (sd->n == cap) {
            cap = cap ? 2 * cap : 1024;
            sd->l = realloc(sd->l, cap * sizeof *sd->l);
            if (!sd->l)
                abort();
        }
        sd->l[sd->n++] = (struct learner_line){id, o};
    }
    free(text);
    qsort(sd->l, sd->n, sizeof *sd->l, line_cmp);
    return 0;
}

static void
free_side(struct side *sd)
{
    for (size_t i = 0; i < sd->n; i++)
        json_decref(sd->l[i].obj);
    free(sd->l);
}

struct totals {
    uint64_t compared, changed;
    int64_t exp_moved, coins_moved;
    json_t *levels;        /* "FROM->TO": learners */
    json_t *badges_gained; /* badge: learners */
    json_t *badges_lost;
};

static void
bump(json_t *counts, const char *key, json_int_t by)
{
    json_t *v = json_object_get(counts, key);
    json_object_set_new(counts, key, json_integer((v ? json_integer_value(v) : 0) + by));
}

static bool
has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* The badges in from that to lacks, counted into counts. */
static void
badge_delta(const json_t *from, const json_t *to, json_t *counts)
{
    size_t i;
    json_t *v;
    json_array_foreach(from, i, v)
    {
        if (json_is_string(v) && !has_string(to, json_string_value(v)))
            bump(counts, json_string_value(v), 1);
    }
}

/* Compares one learner (a or b may be NULL: absent); prints a line when they differ. */
static void
compare(const char *user, json_t *a, json_t *b, struct totals *t)
{
    t->compared++;
    json_t *changed = json_object();
    const char *key;
    json_t *v;
    json_t *keys = json_object();
    if (a)
        json_object_foreach(a, key, v) json_object_set(keys, key, json_null());
    if (b)
        json_object_foreach(b, key, v) json_object_set(keys, key, json_null());
    json_object_foreach(keys, key, v)
    {
        json_t *x = a ? json_object_get(a, key) : NULL, *y = b ? json_object_get(b, key) : NULL;
        if (x && y && json_equal(x, y))
            continue;
        json_t *pair = json_object();
        json_object_set(pair, "before", x ? x : json_null());
        json_object_set(pair, "after", y ? y : json_null());
        json_object_set_new(changed, key, pair);
    }
    json_decref(keys);
    if (json_object_size(changed) == 0) {
        json_decref(changed);
        return;
    }
    t->changed++;
    json_int_t exp_a = json_integer_value(a ? json_object_get(a, "exp") : NULL);
    json_int_t exp_b = json_integer_value(b ? json_object_get(b, "exp") : NULL);
    json_int_t coins_a = json_integer_value(a ? json_object_get(a, "coins") : NULL);
    json_int_t coins_b = json_integer_value(b ? json_object_get(b, "coins") : NULL);
    t->exp_moved += exp_b - exp_a;
    t->coins_moved += coins_b - coins_a;
    json_int_t lv_a = json_integer_value(a ? json_object_get(a, "level") : NULL);
    json_int_t lv_b = json_integer_value(b ? json_object_get(b, "level") : NULL);
    if (lv_a != lv_b) {
        char k[64];
        snprintf(k, sizeof k, "%lld->%lld", (long long)lv_a, (long long)lv_b);
        bump(t->levels, k, 1);
    }
    json_t *ba = a ? json_object_get(a, "badges") : NULL,
           *bb = b ? json_object_get(b, "badges") : NULL;
    badge_delta(bb, ba, t->badges_gained);
    badge_delta(ba, bb, t->badges_lost);
    /* jansson keeps insertion order: userId first, fields in dump order */
    json_t *line = json_pack("{s:s, s:s, s:o}", "userId", user, "in",
                             a && b ? "both"
                             : a    ? "first"
                                    : "second",
                             "changed", changed);
    char *text = json_dumps(line, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(line);
}

int
gm_cmd_diff(int argc, char **argv)
{
    const char *states[2] = {NULL, NULL}, *user = NULL;
    size_t n_states = 0;
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"user", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (n_states == 2) {
                fprintf(stderr, "gamify diff: give --state exactly twice\n");
                return 2;
            }
            states[n_states++] = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'h':
            printf("usage: gamify diff --state A --state B [--user ID]\n"
                   "Compares the audit view (gamify dump) of two states, single or\n"
                   "partitioned: one JSON line per learner that differs, with each field\n"
                   "that differs as {before, after} (before: A, after: B; \"in\" says whether\n"
                   "the learner is in both, only the first or only the second), then one\n"
                   "summary line: learners compared and changed, EXP and coins moved (B\n"
                   "minus A), level changes as \"FROM->TO\": learners, badges gained and\n"
                   "lost (badge: learners). Exit 0 when equal, 1 when they differ, 2 on\n"
                   "errors. Opens both read-only: works beside a running processor.\n");
            return 0;
        default:
            return 2;
        }
    }
    if (n_states != 2 || optind != argc) {
        fprintf(stderr, "usage: gamify diff --state A --state B [--user ID]\n");
        return 2;
    }
    struct side sa = {0}, sb = {0};
    int code = load_side(states[0], user, &sa);
    if (code == 0)
        code = load_side(states[1], user, &sb);
    if (code) {
        free_side(&sa);
        free_side(&sb);
        return code;
    }
    struct totals t = {
        .levels = json_object(), .badges_gained = json_object(), .badges_lost = json_object()};
    size_t i = 0, j = 0;
    while (i < sa.n || j < sb.n) {
        int cmp = i == sa.n ? 1 : j == sb.n ? -1 : strcmp(sa.l[i].user_id, sb.l[j].user_id);
        if (cmp == 0) {
            compare(sa.l[i].user_id, sa.l[i].obj, sb.l[j].obj, &t);
            i++;
            j++;
        } else if (cmp < 0) {
            compare(sa.l[i].user_id, sa.l[i].obj, NULL, &t);
            i++;
        } else {
            compare(sb.l[j].user_id, NULL, sb.l[j].obj, &t);
            j++;
        }
    }
    json_t *sum = json_pack("{s:{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:b, s:b}}", "summary",
                            "learnersCompared", (json_int_t)t.compared, "learnersChanged",
                            (json_int_t)t.changed, "expMoved", (json_int_t)t.exp_moved,
                            "coinsMoved", (json_int_t)t.coins_moved, "levelChanges", t.levels,
                            "badgesGained", t.badges_gained, "badgesLost", t.badges_lost,
                            "firstIsWhatIf", sa.what_if, "secondIsWhatIf", sb.what_if);
    char *text = json_dumps(sum, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(sum);
    free_side(&sa);
    free_side(&sb);
    fflush(stdout);
    return t.changed ? 1 : 0;
}

/* ---- ledger ---- */

struct ledger_walk {
    const char *user;
    int64_t since, until; /* occurred_at bounds, [since, until) */
    uint64_t entries;
    int64_t exp, coins, capped;
    int64_t last_exp_after, last_coins_after;
};

static int
print_entry(void *ctx, const struct gm_ledger_entry *e)
{
    struct ledger_walk *w = ctx;
    if (strcmp(e->user_id, w->user) != 0 || e->occurred_at < w->since || e->occurred_at >= w->until)
        return 0;
    char when[40];
    gm_time_format_rfc3339(e->occurred_at, 0, when);
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "seq", (json_int_t)e->seq, "eventId",
        e->event_id ? e->event_id : "", "occurredAt", when, "kind", e->kind ? e->kind : "",
        "detail", e->detail ? e->detail : "", "expDelta", (json_int_t)e->exp_delta, "coinsDelta",
        (json_int_t)e->coins_delta, "expAfter", (json_int_t)e->exp_after, "coinsAfter",
        (json_int_t)e->coins_after, "cappedExp", (json_int_t)e->capped_exp);
    if (!o)
        return GM_EINVAL; /* not UTF-8: cannot happen for validated events */
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", text);
    free(text);
    json_decref(o);
    w->entries++;
    w->exp += e->exp_delta;
    w->coins += e->coins_delta;
    w->capped += e->capped_exp;
    w->last_exp_after = e->exp_after;
    w->last_coins_after = e->coins_after;
    return 0;
}

static int
parse_when(const char *s, const char *flag, int64_t *out)
{
    int32_t nanos;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) {
        *out = v;
        return 0;
    }
    if (gm_time_parse_rfc3339(s, strlen(s), out, &nanos) == 0)
        return 0;
    fprintf(stderr, "gamify ledger: %s: %s is neither an RFC 3339 time nor seconds\n", flag, s);
    return 2;
}

/* Walks the ledger of the state in dir when it holds user: *found says so. */
static int
ledger_of(const char *dir, struct ledger_walk *w, bool *found, int64_t *exp, int64_t *coins)
{
    struct gm_state *st;
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_state_opts opts = {.read_only = true};
    if (gm_state_open(dir, &opts, &st, &err)) {
        fprintf(stderr, "gamify ledger: %s\n", err.msg);
        return 2;
    }
    struct gm_feed *f;
    int rc = gm_feed_open(st, &f);
    if (rc == 0) {
        struct gm_learner l;
        rc = gm_feed_learner(f, w->user, &l);
        if (rc == 0) {
            *found = true;
            *exp = l.exp;
            *coins = l.coins;
            rc = gm_feed_ledger(f, 0, INT64_MAX, print_entry, w);
        } else if (rc == GM_ENOTFOUND) {
            rc = 0;
        }
        gm_feed_close(f);
    }
    gm_state_close(st);
    if (rc) {
        fprintf(stderr, "gamify ledger: %s: %s\n", dir, gm_strerror(rc));
        return 2;
    }
    return 0;
}

/* gamify ledger with its settings parsed: an exit status. */
static int
ledger_run(const struct gm_config *opt)
{
    const char *state = gm_config_str(opt, "state");
    const char *since = gm_config_str(opt, "since"), *until = gm_config_str(opt, "until");
    struct ledger_walk w = {
        .since = INT64_MIN, .until = INT64_MAX, .user = gm_config_str(opt, "user")};
    bool windowed = since || until;
    if ((since && parse_when(since, "--since", &w.since)) ||
        (until && parse_when(until, "--until", &w.until)))
        return 2;
    char **dirs;
    size_t n_dirs;
    gm__partition_dirs(state, &dirs, NULL, &n_dirs);
    bool found = false;
    int64_t exp = 0, coins = 0;
    int code = 0;
    if (n_dirs == 0)
        code = ledger_of(state, &w, &found, &exp, &coins);
    /* a learner lives in one partition: stop at the one that holds it */
    for (size_t i = 0; i < n_dirs && code == 0 && !found; i++)
        code = ledger_of(dirs[i], &w, &found, &exp, &coins);
    gm__free_dirs(dirs, n_dirs);
    if (code)
        return code;
    if (!found) {
        fprintf(stderr, "gamify ledger: no learner %s in %s\n", w.user, state);
        return 1;
    }
    bool balanced = w.exp == exp && w.coins == coins;
    json_t *sum = json_pack("{s:{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}}", "summary", "userId",
                            w.user, "entries", (json_int_t)w.entries, "expDelta", (json_int_t)w.exp,
                            "coinsDelta", (json_int_t)w.coins, "cappedExp", (json_int_t)w.capped,
                            "exp", (json_int_t)exp, "coins", (json_int_t)coins, "balanced",
                            windowed ? json_null() : json_boolean(balanced));
    char *text = json_dumps(sum, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", text);
    free(text);
    json_decref(sum);
    if (!windowed && !balanced) {
        fprintf(stderr,
                "gamify ledger: the ledger of %s sums to exp %lld and coins %lld, but the "
                "learner has exp %lld and coins %lld\n",
                w.user, (long long)w.exp, (long long)w.coins, (long long)exp, (long long)coins);
        return 1;
    }
    return 0;
}

static const struct gm_setting ledger_settings[] = {
    {"state", GM_SET_STRING, NULL, 0, 0, true, "the state (a folder of partition-N states too)"},
    {"user", GM_SET_STRING, NULL, 0, 0, true, "the learner's id", true},
    {"since", GM_SET_STRING, NULL, 0, 0, false,
     "entries of events at or after TIME (RFC 3339 or seconds since 1970)"},
    {"until", GM_SET_STRING, NULL, 0, 0, false, "entries of events before TIME"},
};

static const struct gm__command ledger_cmd = {
    "ledger",
    "--state DIR --user ID [--since TIME] [--until TIME]",
    "The learner's ledger: every EXP and coin change in log order, one JSON line each\n"
    "(seq, eventId, occurredAt, kind, detail, expDelta, coinsDelta, expAfter,\n"
    "coinsAfter, cappedExp), then a summary line with their sums. Without\n"
    "--since/--until the sums must equal the learner's exp and coins (gamify dump):\n"
    "the summary says whether they do, and the exit status is 1 when they do not.\n"
    "Times are the events' occurredAt, --since inclusive, --until exclusive. Opens the\n"
    "state read-only.\n",
    ledger_settings,
    sizeof ledger_settings / sizeof *ledger_settings,
    0};

int
gm_cmd_ledger(int argc, char **argv)
{
    return gm__command_run(&ledger_cmd, argc, argv, ledger_run);
}
