/*
 * message.c: the leaderboard-changed message a step publishes, written
 * straight into one buffer (it was built as a jansson tree: an eighth of
 * the projector's instructions per change, BENCHMARKS.md projcost), and
 * the PUBLISH of the leaderboard-scores message (common/lbscores.h).
 */
#include "redis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A string literal, its length counted by the compiler. */
#define PUT(o, lit) put((o), (lit), sizeof(lit) - 1)

struct out {
    char *buf;
    size_t len, cap;
};

static void
put(struct out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 1024;
        while (cap < o->len + n + 1)
            cap *= 2;
        if (!(o->buf = realloc(o->buf, cap)))
            abort();
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

/* The length of the valid UTF-8 sequence at s (0: not one). */
static size_t
utf8_len(const unsigned char *s)
{
    size_t n;
    unsigned min;
    unsigned c = s[0];
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, min = 0x80, c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, min = 0x800, c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return n;
}

/* s as a JSON string; bytes that are not UTF-8 become U+FFFD. */
static void
put_string(struct out *o, const char *s)
{
    put(o, "\"", 1);
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        size_t run = 0; /* plain ASCII copied as it is */
        while (u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\')
            run++;
        if (run) {
            put(o, (const char *)u, run);
            u += run;
            continue;
        }
        if (*u == '"' || *u == '\\') {
            char e[2] = {'\\', (char)*u};
            put(o, e, 2);
            u++;
        } else if (*u < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", *u);
            put(o, e, 6);
            u++;
        } else {
            size_t n = utf8_len(u);
            if (n) {
                put(o, (const char *)u, n);
                u += n;
            } else {
                put(o, "\\ufffd", 6);
                u++;
            }
        }
    }
    put(o, "\"", 1);
}

char *
gm__redis_message(const struct gm__pairs *pairs, size_t max_pairs, char *const *pruned,
                  size_t n_pruned, int partition, int64_t next)
{
    struct out o = {0};
    char num[64];
    snprintf(num, sizeof num, "{\"partition\":%d,\"next\":%lld,\"changed\":[", partition,
             (long long)next);
    put(&o, num, strlen(num));
    for (size_t i = 0; i < pairs->n && i < max_pairs; i++) {
        if (i)
            PUT(&o, ",");
        PUT(&o, "{\"board\":");
        put_string(&o, pairs->v[i].board);
        PUT(&o, ",\"period\":");
        put_string(&o, pairs->v[i].period);
        PUT(&o, "}");
    }
    PUT(&o, "],\"pruned\":[");
    for (size_t i = 0; i < n_pruned; i++) {
        if (i)
            PUT(&o, ",");
        put_string(&o, pruned[i]);
    }
    PUT(&o, "]");
    if (pairs->n > max_pairs)
        PUT(&o, ",\"truncated\":true");
    PUT(&o, "}");
    return o.buf;
}

bool
gm__redis_queue_scores(struct gm_redisproj *p, const struct gm_lbscores *m)
{
    static const char reset[] = "SR";
    if (m && m->len <= 1)
        return false;
    char *channel = gm__redis_name(p, "leaderboard-scores");
    const char *argv[3] = {"PUBLISH", channel, m ? m->buf : reset};
    size_t lens[3] = {7, strlen(channel), m ? m->len : sizeof reset - 1};
    gm__redis_append(p, 3, argv, lens);
    free(channel);
    return true;
}
