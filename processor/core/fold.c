/*
 * fold.c: (state, event, rules) -> (new state, changes). See fold.h and
 * the fold order in docs/rules.md ("How one event is folded"); each step
 * below is named after its number there.
 */
#include "fold.h"

#include "timefmt.h"
#include "tz.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

void
gm_fold_out_init(struct gm_fold_out *out)
{
    memset(out, 0, sizeof *out);
    gm_fold_out_reset(out);
}

void
gm_fold_out_reset(struct gm_fold_out *out)
{
    struct gm_ledger *ledger = out->ledger;
    struct gm_outbound *outbound = out->outbound;
    size_t cap_ledger = out->cap_ledger, cap_outbound = out->cap_outbound;
    /* all but the texts of a rejection (read to their NUL, written whole
     * by snprintf) and the groups (read below n_groups): a memset of the
     * whole struct per event showed in the fold's profile */
    memset(out, 0, offsetof(struct gm_fold_out, reason));
    out->reason[0] = '\0';
    out->detail[0] = '\0';
    memset(&out->touched, 0,
           offsetof(struct gm_fold_out, groups) - offsetof(struct gm_fold_out, touched));
    memset(&out->n_groups, 0, sizeof *out - offsetof(struct gm_fold_out, n_groups));
    out->ledger = ledger;
    out->cap_ledger = cap_ledger;
    out->outbound = outbound;
    out->cap_outbound = cap_outbound;
    gamify__internal__redemption__init(&out->new_redemption);
}

void
gm_fold_out_deinit(struct gm_fold_out *out)
{
    free(out->ledger);
    free(out->outbound);
    memset(out, 0, sizeof *out);
}

static void
push_ledger(struct gm_fold_out *out, const Gamify__Internal__UserState *st, const char *kind,
            const char *detail, int64_t exp_delta, int64_t coins_delta, int64_t capped)
{
    if (out->n_ledger == out->cap_ledger) {
        out->cap_ledger = out->cap_ledger ? out->cap_ledger * 2 : 8;
        out->ledger = realloc(out->ledger, out->cap_ledger * sizeof *out->ledger);
        if (!out->ledger)
            abort();
    }
    out->ledger[out->n_ledger++] = (struct gm_ledger){
        .kind = kind,
        .detail = detail,
        .exp_delta = exp_delta,
        .coins_delta = coins_delta,
        .exp_after = st->exp,
        .coins_after = st->coins,
        .capped_exp = capped,
    };
}

static void
push_out(struct gm_fold_out *out, struct gm_outbound o)
{
    if (out->n_outbound == out->cap_outbound) {
        out->cap_outbound = out->cap_outbound ? out->cap_outbound * 2 : 8;
        out->outbound = realloc(out->outbound, out->cap_outbound * sizeof *out->outbound);
        if (!out->outbound)
            abort();
    }
    out->outbound[out->n_outbound++] = o;
}

static void
reject(struct gm_fold_out *out, const char *reason, const char *what, const char *arg)
{
    out->rejected = true;
    snprintf(out->reason, sizeof out->reason, "%s", reason);
    snprintf(out->detail, sizeof out->detail, "%s%s", what, arg);
}

/* The detail of an UNKNOWN_TIMEZONE dead letter, before the name. */
static const char *
zone_problem(const char *name)
{
    return gm_tz_name_is_iana(name) ? "unknown time zone: "
                                    : "not an IANA time zone name (UTC, Etc/..., or Area/Location "
                                      "such as Europe/Berlin): ";
}

/* Replaces a protobuf-c string field (freeing the old value). */
static void
set_string(char **field, const char *value)
{
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = strdup(value);
    if (!*field)
        abort();
}

/* Writes "YYYY-Www" (tag 'W') or "YYYY-MM" (tag 0); years 0-9999. This is
 * on every event's path, where snprintf showed in profiles. */
static void
put_period(char out[GM_PERIOD_KEY_MAX], int64_t year, char tag, int64_t n)
{
    char *p = out;
    int y = (int)year;
    *p++ = (char)('0' + y / 1000 % 10);
    *p++ = (char)('0' + y / 100 % 10);
    *p++ = (char)('0' + y / 10 % 10);
    *p++ = (char)('0' + y % 10);
    *p++ = '-';
    if (tag)
        *p++ = tag;
    *p++ = (char)('0' + n / 10 % 10);
    *p++ = (char)('0' + n % 10);
    *p = '\0';
}

/* Floor division (C's / truncates toward zero). */
static int64_t
floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The week index of the week starting on day monday: Monday 1969-12-29
 * starts week 0. */
static int64_t
week_of_monday(int64_t monday)
{
    return floor_div(monday + 3, 7);
}

/*
 * The keys of one day, remembered: the events of a log come in time order
 * mostly, so the day repeats for thousands of events and naming its week
 * and month (two civil-date conversions, two formats) is done once for
 * them. Per thread (a Kafka processor folds partitions in threads); a
 * value of the day alone, so the fold stays a function of its input.
 */
struct period_memo {
    bool set;
    int64_t day, week_index, month_index;
    char week[GM_PERIOD_KEY_MAX], month[GM_PERIOD_KEY_MAX];
};
static _Thread_local struct period_memo memo;

static void periods_of(int64_t day, char week[GM_PERIOD_KEY_MAX], char month[GM_PERIOD_KEY_MAX],
                       int64_t *week_index, int64_t *month_index);

void
gm_fold_periods(int64_t day, char week[GM_PERIOD_KEY_MAX], char month[GM_PERIOD_KEY_MAX],
                int64_t *week_index, int64_t *month_index)
{
    if (!memo.set || memo.day != day) {
        periods_of(day, memo.week, memo.month, &memo.week_index, &memo.month_index);
        memo.day = day;
        memo.set = true;
    }
    memcpy(week, memo.week, GM_PERIOD_KEY_MAX);
    memcpy(month, memo.month, GM_PERIOD_KEY_MAX);
    *week_index = memo.week_index;
    *month_index = memo.month_index;
}

static void
periods_of(int64_t day, char week[GM_PERIOD_KEY_MAX], char month[GM_PERIOD_KEY_MAX],
           int64_t *week_index, int64_t *month_index)
{
    /* 1970-01-01 was a Thursday: weekday 3 counting Monday as 0. */
    int64_t wd = ((day % 7) + 7 + 3) % 7;
    int64_t monday = day - wd;
    int64_t thursday = monday + 3;
    int64_t y;
    int m, d;
    gm_civil_from_days(thursday, &y, &m, &d);
    int64_t iso_week = (thursday - gm_days_from_civil(y, 1, 1)) / 7 + 1;
    put_period(week, y, 'W', iso_week);
    *week_index = week_of_monday(monday);
    gm_civil_from_days(day, &y, &m, &d);
    put_period(month, y, 0, m);
    *month_index = (y - 1970) * 12 + (m - 1);
}

/* Reads a decimal number (optional sign) at *p, before end; false if none. */
static bool
read_int(const char **p, const char *end, int *out)
{
    const char *q = *p;
    bool neg = q < end && *q == '-';
    if (q < end && (*q == '-' || *q == '+'))
        q++;
    if (q == end || *q < '0' || *q > '9')
        return false;
    int64_t v = 0;
    while (q < end && *q >= '0' && *q <= '9' && v < 100000000)
        v = v * 10 + (*q++ - '0');
    *out = (int)(neg ? -v : v);
    *p = q;
    return true;
}

/* By hand: this runs for every score a learner holds while pruning, where
 * sscanf showed in profiles. */
int
gm_fold_period_parse(const char *p, size_t len, bool *weekly, int64_t *index)
{
    const char *end = p + len;
    int y, n;
    if (len >= GM_PERIOD_KEY_MAX || !read_int(&p, end, &y) || p == end || *p++ != '-')
        return -1;
    bool w = p < end && *p == 'W';
    if (w)
        p++;
    if (!read_int(&p, end, &n))
        return -1;
    if (w) {
        /* ISO week 1 is the week holding January 4th */
        int64_t jan4 = gm_days_from_civil(y, 1, 4);
        int64_t wd = ((jan4 % 7) + 7 + 3) % 7;
        *weekly = true;
        *index = week_of_monday(jan4 - wd + (int64_t)(n - 1) * 7);
        return 0;
    }
    *weekly = false;
    *index = (int64_t)(y - 1970) * 12 + (n - 1);
    return 0;
}

void
gm_fold_period_name(bool weekly, int64_t idx, char out[GM_PERIOD_KEY_MAX])
{
    char week[GM_PERIOD_KEY_MAX], month[GM_PERIOD_KEY_MAX];
    int64_t wi, mi, day;
    if (weekly) {
        day = idx * 7; /* the Thursday of the week: day 0 was a Thursday */
    } else {
        int64_t y = 1970 + floor_div(idx, 12);
        day = gm_days_from_civil(y, (int)(idx - floor_div(idx, 12) * 12) + 1, 1);
    }
    gm_fold_periods(day, week, month, &wi, &mi);
    memcpy(out, weekly ? week : month, GM_PERIOD_KEY_MAX);
}

const char *
gm_fold_reason_name(int reason)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &gamification__v1__rejection_reason__descriptor, reason);
    return v ? v->name : "UNKNOWN";
}

/* The counters an expression can read, from the state. */
static void
counters(const Gamify__Internal__UserState *st, int64_t vars[GM_VAR_COUNT])
{
    memset(vars, 0, sizeof(int64_t) * GM_VAR_COUNT);
    vars[GM_VAR_EXP] = st->exp;
    vars[GM_VAR_LEVEL] = st->level;
    vars[GM_VAR_COINS] = st->coins;
    vars[GM_VAR_COINS_EARNED] = st->coins_earned;
    vars[GM_VAR_COINS_SPENT] = st->coins_spent;
    vars[GM_VAR_LESSONS_COMPLETED] = st->lessons_completed;
    vars[GM_VAR_LESSON_COMPLETIONS] = st->lesson_completions;
    vars[GM_VAR_TOURNAMENTS_PLAYED] = st->tournaments_played;
    vars[GM_VAR_TOURNAMENT_WINS] = st->tournament_wins;
    vars[GM_VAR_TOURNAMENT_LOSSES] = st->tournament_losses;
    vars[GM_VAR_CURRENT_STREAK] = st->current_streak;
    vars[GM_VAR_LONGEST_STREAK] = st->longest_streak;
    vars[GM_VAR_BADGES] = (int64_t)st->n_badges;
    vars[GM_VAR_REDEMPTIONS] = st->redemptions;
}

/* a + b, clamped to the int64 range: totals saturate rather than wrap. */
static int64_t
sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* *v + 1, held at INT64_MAX: a counter saturates rather than wraps. */
static void
sat_inc(int64_t *v)
{
    if (*v < INT64_MAX)
        (*v)++;
}

static void
earn_coins(Gamify__Internal__UserState *st, int64_t coins)
{
    st->coins = sat_add(st->coins, coins);
    st->coins_earned = sat_add(st->coins_earned, coins);
}

/* Step 2: the streak, for a qualifying activity on local day `day`. */
static void
streak_step(const struct gm_rules *rules, Gamify__Internal__UserState *st, const struct gm_tz *tz,
            int64_t day, struct gm_fold_out *out)
{
    int64_t before = st->current_streak, now, used = 0;
    if (!st->has_active_day) {
        now = 1;
    } else if (day <= st->last_active_day) {
        return; /* same day, or an earlier one: nothing */
    } else {
        /* a day the learner's zone skipped (Pacific/Apia, 2011-12-30) was
         * not missed: the days either side of it are consecutive */
        int64_t missed =
            day - st->last_active_day - 1 - gm_tz_days_skipped(tz, st->last_active_day, day);
        if (missed == 0) {
            now = sat_add(before, 1);
        } else if (st->freezes_held >= missed) {
            st->freezes_held -= missed;
            used = missed;
            now = sat_add(before, 1);
        } else {
            now = 1;
        }
    }
    st->has_active_day = true;
    st->last_active_day = day;
    st->current_streak = now;
    if (now > st->longest_streak)
        st->longest_streak = now;
    out->touched = true;
    for (size_t i = 0; i < rules->n_milestones; i++) {
        const struct gm_milestone *m = &rules->milestones[i];
        if (m->days == now && m->coins > 0) {
            earn_coins(st, m->coins);
            push_ledger(out, st, "milestone", "streak", 0, m->coins, 0);
        }
    }
    if (now != before)
        push_out(out,
                 (struct gm_outbound){
                     .kind = GM_OUT_STREAK_UPDATED, .a = now, .b = st->longest_streak, .c = used});
}

/* Step 5: levels, one level.up per level gained. */
static void
levels_step(const struct gm_rules *rules, Gamify__Internal__UserState *st, struct gm_fold_out *out)
{
    while ((size_t)st->level < rules->n_levels && st->exp >= rules->thresholds[st->level]) {
        st->level++;
        earn_coins(st, rules->level_up_coins);
        push_ledger(out, st, "level_up", "level", 0, rules->level_up_coins, 0);
        push_out(out, (struct gm_outbound){.kind = GM_OUT_LEVEL_UP,
                                           .a = st->level,
                                           .b = rules->level_up_coins,
                                           .c = st->exp});
        out->touched = true;
    }
}

static bool
holds_badge(const Gamify__Internal__UserState *st, const char *id)
{
    /* most ids differ in their first byte: no call for those */
    for (size_t i = 0; i < st->n_badges; i++) {
        const char *h = st->badges[i]->id;
        if (h[0] == id[0] && strcmp(h, id) == 0)
            return true;
    }
    return false;
}

/* Step 6: badges in file order, repeated until a pass awards none. Which
 * of the first 64 badges the learner holds is looked up once, not in every
 * pass. */
static void
badges_step(const struct gm_rules *rules, const Gamification__V1__Event *ev,
            Gamify__Internal__UserState *st, struct gm_fold_out *out)
{
    int64_t vars[GM_VAR_COUNT];
    counters(st, vars);
    uint64_t held = 0;
    for (size_t i = 0; i < rules->n_badges && i < 64; i++) {
        if (holds_badge(st, rules->badges[i].id))
            held |= UINT64_C(1) << i;
    }
    bool awarded;
    do {
        awarded = false;
        for (size_t i = 0; i < rules->n_badges; i++) {
            const struct gm_badge_def *b = &rules->badges[i];
            bool has = i < 64 ? (held >> i & 1) != 0 : holds_badge(st, b->id);
            if (has || !gm_expr_eval(b->criteria, vars))
                continue;
            if (i < 64)
                held |= UINT64_C(1) << i;
            Gamify__Internal__HeldBadge *hb = malloc(sizeof *hb);
            if (!hb)
                abort();
            gamify__internal__held_badge__init(hb);
            set_string(&hb->id, b->id);
            set_string(&hb->event_id, ev->event_id);
            hb->earned_at = ev->occurred_at->seconds;
            st->badges = realloc(st->badges, (st->n_badges + 1) * sizeof *st->badges);
            if (!st->badges)
                abort();
            st->badges[st->n_badges++] = hb;
            vars[GM_VAR_BADGES] = (int64_t)st->n_badges;
            push_out(out, (struct gm_outbound){
                              .kind = GM_OUT_BADGE_EARNED, .id = b->id, .name = b->name});
            out->touched = true;
            awarded = true;
        }
    } while (awarded);
}

/* Steps 5 and 6, which every folded learner event ends with (but a
 * repeated redemption id, which changes nothing): under the
 * same rules they change something only after exp or a counter moved, but
 * rules published since the learner's last event may have lowered a
 * threshold or brought a badge already earned by the counters. */
static void
levels_and_badges(const struct gm_rules *rules, const Gamification__V1__Event *ev,
                  Gamify__Internal__UserState *st, struct gm_fold_out *out)
{
    levels_step(rules, st, out);
    badges_step(rules, ev, st, out);
}

/* Step 7: which boards and periods an EXP change goes to. */
static int
boards_step(const struct gm_rules *rules, const Gamification__V1__Event *ev, int64_t delta,
            struct gm_fold_out *out)
{
    if (delta == 0)
        return 0;
    const struct gm_tz *tz = rules->tz;
    int rc = tz ? 0 : gm_tz_get(rules->timezone, &tz, NULL);
    if (rc)
        return rc;
    int64_t day = gm_tz_local_day(tz, ev->occurred_at->seconds);
    out->boards = true;
    out->board_delta = delta;
    gm_fold_periods(day, out->week, out->month, &out->week_index, &out->month_index);
    if (!rules->period_weekly)
        out->week[0] = '\0';
    if (!rules->period_monthly)
        out->month[0] = '\0';
    out->n_groups = 0;
    for (size_t i = 0; i < ev->n_group_ids; i++) {
        /* a group named "global" is the global board, which every event
         * counts already: once, not twice */
        bool seen = strcmp(ev->group_ids[i], "global") == 0;
        for (size_t k = 0; k < out->n_groups && !seen; k++)
            seen = strcmp(out->groups[k], ev->group_ids[i]) == 0;
        if (!seen && out->n_groups < GM_GROUPS_MAX)
            out->groups[out->n_groups++] = ev->group_ids[i];
    }
    return 0;
}

/* The learner's zone: their own, else the rules'. */
static int
learner_zone(const struct gm_rules *rules, const Gamify__Internal__UserState *st,
             const struct gm_tz **tz)
{
    if (!(st->timezone && *st->timezone) && rules->tz) {
        *tz = rules->tz;
        return 0;
    }
    return gm_tz_get(st->timezone && *st->timezone ? st->timezone : rules->timezone, tz, NULL);
}

/* Steps 2-7 for lesson_completed and tournament_result. */
static int
activity(const struct gm_fold_in *in, Gamify__Internal__UserState *st, struct gm_fold_out *out)
{
    const struct gm_rules *rules = in->rules;
    const Gamification__V1__Event *ev = in->ev;
    bool lesson = ev->body_case == GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED;
    const struct gm_tz *tz;
    int rc = learner_zone(rules, st, &tz);
    if (rc)
        return rc;
    int64_t day = gm_tz_local_day(tz, ev->occurred_at->seconds);

    /* A repeated tournament result changes no counter, the streak included. */
    if (!lesson && !in->first_time) {
        levels_and_badges(rules, ev, st, out);
        return 0;
    }

    /* 2. streak */
    if (lesson ? rules->streak_lessons : rules->streak_tournaments)
        streak_step(rules, st, tz, day, out);

    /* 3. activity: base + bonuses whose `when` holds, first time only */
    int64_t exp = 0, coins = 0;
    const char *kind = lesson ? "lesson" : "tournament";
    const char *detail;
    if (lesson)
        detail = ev->lesson_completed->lesson_id;
    else
        detail = ev->tournament_result->tournament_id;
    if (in->first_time) {
        int64_t vars[GM_VAR_COUNT];
        counters(st, vars);
        const struct gm_bonus *bonuses;
        size_t n_bonuses;
        struct gm_grant base;
        if (lesson) {
            vars[GM_VAR_SCORE] = ev->lesson_completed->score;
            vars[GM_VAR_DURATION_S] = ev->lesson_completed->duration_s;
            base = rules->lesson.base;
            bonuses = rules->lesson.bonuses;
            n_bonuses = rules->lesson.n_bonuses;
        } else {
            vars[GM_VAR_RANK] = ev->tournament_result->rank;
            switch (ev->tournament_result->outcome) {
            case GAMIFICATION__V1__TOURNAMENT_RESULT__OUTCOME__WIN:
                base = rules->tournament_win;
                break;
            case GAMIFICATION__V1__TOURNAMENT_RESULT__OUTCOME__DRAW:
                base = rules->tournament_draw;
                break;
            default:
                base = rules->tournament_loss;
                break;
            }
            bonuses = rules->tournament_bonuses;
            n_bonuses = rules->n_tournament_bonuses;
        }
        int64_t flat = 0, percent = 0, bonus_coins = 0;
        for (size_t i = 0; i < n_bonuses; i++) {
            if (gm_expr_eval(bonuses[i].when, vars)) {
                flat += bonuses[i].exp;
                percent += bonuses[i].exp_percent;
                bonus_coins += bonuses[i].coins;
            }
        }
        exp = base.exp + flat + base.exp * percent / 100;
        coins = base.coins + bonus_coins;

        /* own counters, after the bonuses were judged: a `when` sees the
         * counters of the events before this one (and this one's streak) */
        out->mark_first = true;
        out->touched = true;
        if (lesson) {
            sat_inc(&st->lessons_completed);
            sat_inc(&st->lesson_completions);
        } else {
            sat_inc(&st->tournaments_played);
            if (ev->tournament_result->outcome == GAMIFICATION__V1__TOURNAMENT_RESULT__OUTCOME__WIN)
                sat_inc(&st->tournament_wins);
            else if (ev->tournament_result->outcome ==
                     GAMIFICATION__V1__TOURNAMENT_RESULT__OUTCOME__LOSS)
                sat_inc(&st->tournament_losses);
        }

        /* 4. daily cap on the latest first-activity local day. The tally is
         * kept under rules without a cap too: rules published in the middle
         * of a day that bring a cap count what that day already granted. */
        int64_t granted = exp, capped = 0;
        if (!st->has_cap_day || day > st->cap_day) {
            st->has_cap_day = true;
            st->cap_day = day;
            st->cap_exp = 0;
        }
        if (rules->exp_per_day > 0) {
            int64_t room = rules->exp_per_day - st->cap_exp;
            if (room < 0)
                room = 0;
            if (granted > room)
                granted = room;
            capped = exp - granted;
        }
        st->cap_exp = sat_add(st->cap_exp, granted);
        st->exp = sat_add(st->exp, granted);
        earn_coins(st, coins);
        push_ledger(out, st, kind, detail, granted, coins, capped);

        /* 5-7 */
        levels_and_badges(rules, ev, st, out);
        return boards_step(rules, ev, granted, out);
    }
    /* a repeated lesson: activity for the streak and lesson_completions only */
    sat_inc(&st->lesson_completions);
    out->touched = true;
    levels_and_badges(rules, ev, st, out);
    return 0;
}

static int64_t
held_count(const Gamify__Internal__UserState *st, const struct gm_reward_def *r)
{
    if (r->type == GM_REWARD_STREAK_FREEZE)
        return st->freezes_held;
    for (size_t i = 0; i < st->n_holdings; i++) {
        if (strcmp(st->holdings[i]->reward_id, r->id) == 0)
            return st->holdings[i]->count;
    }
    return 0;
}

static void
add_holding(Gamify__Internal__UserState *st, const struct gm_reward_def *r)
{
    if (r->type == GM_REWARD_STREAK_FREEZE) {
        sat_inc(&st->freezes_held);
        return;
    }
    for (size_t i = 0; i < st->n_holdings; i++) {
        if (strcmp(st->holdings[i]->reward_id, r->id) == 0) {
            sat_inc(&st->holdings[i]->count);
            return;
        }
    }
    Gamify__Internal__Holding *h = malloc(sizeof *h);
    if (!h)
        abort();
    gamify__internal__holding__init(h);
    set_string(&h->reward_id, r->id);
    h->count = 1;
    st->holdings = realloc(st->holdings, (st->n_holdings + 1) * sizeof *st->holdings);
    if (!st->holdings)
        abort();
    st->holdings[st->n_holdings++] = h;
}

/* A redemption, checked in the order of the rules' reward section. */
static int
redeem(const struct gm_fold_in *in, Gamify__Internal__UserState *st, struct gm_fold_out *out)
{
    const Gamification__V1__RedeemReward *rr = in->ev->redeem_reward;
    if (in->prior)
        return 0; /* a repeated redemption id: its first outcome stands, and it
                   * changes nothing (the rules file's words), steps 5-6 included */
    const struct gm_reward_def *r = gm_rules_find_reward(in->rules, rr->reward_id);
    int reason = 0;
    if (!r || !r->active)
        reason = GAMIFICATION__V1__REJECTION_REASON__UNKNOWN_REWARD;
    else if (r->stock >= 0 && in->stock_used >= r->stock)
        reason = GAMIFICATION__V1__REJECTION_REASON__OUT_OF_STOCK;
    else if (r->per_user_limit >= 0 && held_count(st, r) >= r->per_user_limit)
        reason = GAMIFICATION__V1__REJECTION_REASON__LIMIT_REACHED;
    else if (st->coins < r->cost)
        reason = GAMIFICATION__V1__REJECTION_REASON__INSUFFICIENT_COINS;

    Gamify__Internal__Redemption *red = &out->new_redemption;
    out->redemption = true;
    red->redemption_id = rr->redemption_id;
    red->reward_id = rr->reward_id;
    red->user_id = in->ev->user_id;
    red->event_id = in->ev->event_id;
    red->occurred_at = in->ev->occurred_at->seconds;
    red->seq = in->next_redemption_seq;
    if (reason) {
        red->completed = false;
        red->reason = reason;
        out->touched = true; /* the learner exists, if only with a refusal */
        push_out(out, (struct gm_outbound){.kind = GM_OUT_REDEMPTION_REJECTED,
                                           .a = reason,
                                           .id = rr->redemption_id,
                                           .name = rr->reward_id});
        levels_and_badges(in->rules, in->ev, st, out);
        return 0;
    }
    red->completed = true;
    red->cost = r->cost;
    st->coins -= r->cost; /* coins >= cost >= 0: no overflow */
    st->coins_spent = sat_add(st->coins_spent, r->cost);
    sat_inc(&st->redemptions);
    add_holding(st, r);
    /* counted whatever the stock of the rules in force: stock is a total
     * over the whole log, and later rules may give this reward a stock
     * (docs/rules.md, redeemReward) */
    out->stock_taken = true;
    out->touched = true;
    push_ledger(out, st, "redemption", rr->reward_id, 0, -r->cost, 0);
    push_out(out, (struct gm_outbound){.kind = GM_OUT_REWARD_REDEEMED,
                                       .a = r->cost,
                                       .b = st->coins,
                                       .id = rr->redemption_id,
                                       .name = rr->reward_id});
    levels_and_badges(in->rules, in->ev, st, out);
    return 0;
}

static int
adjust(const struct gm_fold_in *in, Gamify__Internal__UserState *st, struct gm_fold_out *out)
{
    const Gamification__V1__Adjustment *adj = in->ev->adjustment;
    int64_t exp = adj->exp ? adj->exp->value : 0;
    int64_t coins = adj->coins ? adj->coins->value : 0;
    /* sat_add: a sum past the int64 range must neither wrap (undefined)
     * nor pass for one below zero; a total at the edge saturates below */
    if (sat_add(st->exp, exp) < 0 || sat_add(st->coins, coins) < 0) {
        char what[160];
        snprintf(what, sizeof what, "exp %lld%+lld, coins %lld%+lld", (long long)st->exp,
                 (long long)exp, (long long)st->coins, (long long)coins);
        reject(out, "ADJUSTMENT_BELOW_ZERO", "adjustment would go below zero: ", what);
        return 0;
    }
    st->exp = sat_add(st->exp, exp);
    st->coins = sat_add(st->coins, coins);
    if (coins > 0)
        st->coins_earned = sat_add(st->coins_earned, coins);
    out->touched = true;
    push_ledger(out, st, "adjustment", adj->reason, exp, coins, 0);
    levels_and_badges(in->rules, in->ev, st, out);
    return boards_step(in->rules, in->ev, exp, out);
}

int
gm_fold_apply(const struct gm_fold_in *in, Gamify__Internal__UserState *st, struct gm_fold_out *out)
{
    const Gamification__V1__Event *ev = in->ev;
    const struct gm_tz *tz;

    /* The envelope's zone is the learner's from this event on. */
    if (ev->timezone && *ev->timezone) {
        if (gm_tz_get(ev->timezone, &tz, NULL)) {
            reject(out, "UNKNOWN_TIMEZONE", zone_problem(ev->timezone), ev->timezone);
            return 0;
        }
        if (strcmp(st->timezone, ev->timezone) != 0) {
            set_string(&st->timezone, ev->timezone);
            out->touched = true;
        }
    }

    switch (ev->body_case) {
    case GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED:
    case GAMIFICATION__V1__EVENT__BODY_TOURNAMENT_RESULT:
        return activity(in, st, out);
    case GAMIFICATION__V1__EVENT__BODY_REDEEM_REWARD:
        return redeem(in, st, out);
    case GAMIFICATION__V1__EVENT__BODY_ADJUSTMENT:
        return adjust(in, st, out);
    case GAMIFICATION__V1__EVENT__BODY_USER_SETTINGS: {
        const Gamification__V1__UserSettings *us = ev->user_settings;
        if (us->timezone && *us->timezone) {
            if (gm_tz_get(us->timezone, &tz, NULL)) {
                reject(out, "UNKNOWN_TIMEZONE", zone_problem(us->timezone), us->timezone);
                return 0;
            }
            set_string(&st->timezone, us->timezone);
        }
        st->opt_out = us->leaderboard_opt_out;
        out->touched = true;
        levels_and_badges(in->rules, ev, st, out);
        return 0;
    }
    default:
        /* RulesPublished is the store's business; validation rejects the rest. */
        assert(ev->body_case == GAMIFICATION__V1__EVENT__BODY_RULES_PUBLISHED);
        return 0;
    }
}
