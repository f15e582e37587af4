/*
 * lbscores.c: writing and reading the leaderboard-scores message
 * (lbscores.h). The writer names a key once for a run of members of it
 * (the projector queues a batch's scores key by key); the reader checks
 * every length against the message's end and GM_LBSCORES_ITEM_MAX.
 */
#include "lbscores.h"
#include "fmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
reserve(struct gm_lbscores *m, size_t more)
{
    if (m->len == 0)
        more++; /* the leading 'S' */
    if (m->len + more <= m->cap)
        goto out;
    size_t cap = m->cap ? m->cap : 256;
    while (cap < m->len + more)
        cap *= 2;
    m->buf = realloc(m->buf, cap);
    if (!m->buf)
        abort();
    m->cap = cap;
out:
    if (m->len == 0)
        m->buf[m->len++] = 'S';
}

static void
put(struct gm_lbscores *m, const void *p, size_t n)
{
    memcpy(m->buf + m->len, p, n);
    m->len += n;
}

/* tag, the decimal n, ':' (room reserved by the caller) */
static void
put_len(struct gm_lbscores *m, char tag, size_t n)
{
    m->buf[m->len++] = tag;
    m->len += gm_fmt_i64(m->buf + m->len, (int64_t)n);
    m->buf[m->len++] = ':';
}

void
gm_lbscores_add_text(struct gm_lbscores *m, const char *key, size_t key_len, const char *member,
                     size_t member_len, const char *score, size_t score_len)
{
    /* two tags, two lengths and their ':', the score's ';' */
    reserve(m, 2 * (2 + GM_FMT_I64_MAX) + 1 + key_len + member_len + score_len);
    if (!m->has_key || m->klen != key_len || memcmp(m->buf + m->kat, key, key_len) != 0) {
        put_len(m, 'k', key_len);
        m->kat = m->len;
        m->klen = key_len;
        m->has_key = 1;
        put(m, key, key_len);
    }
    put_len(m, 'm', member_len);
    put(m, member, member_len);
    put(m, score, score_len);
    m->buf[m->len++] = ';';
    m->members++;
}

void
gm_lbscores_add(struct gm_lbscores *m, const char *key, size_t key_len, const char *member,
                size_t member_len, int64_t score)
{
    char num[GM_FMT_I64_MAX];
    size_t n = gm_fmt_i64(num, score);
    gm_lbscores_add_text(m, key, key_len, member, member_len, num, n);
}

void
gm_lbscores_reset(struct gm_lbscores *m)
{
    reserve(m, 1);
    put(m, "R", 1);
    m->has_key = 0;
}

void
gm_lbscores_deinit(struct gm_lbscores *m)
{
    free(m->buf);
    memset(m, 0, sizeof *m);
}

/* A decimal length then ':' at *p; advances *p past the ':'. -1 when malformed. */
static long
length(const char **p, const char *end)
{
    long v = 0;
    const char *s = *p;
    if (s == end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > GM_LBSCORES_ITEM_MAX)
            return -1;
    }
    if (s == end || *s != ':')
        return -1;
    *p = s + 1;
    return v;
}

int
gm_lbscores_parse(const char *msg, size_t len, const struct gm_lbscores_cb *cb)
{
    const char *p = msg, *end = msg + len, *key = NULL;
    size_t key_len = 0;
    if (len == 0 || *p++ != 'S')
        return -1;
    while (p < end) {
        char kind = *p++;
        if (kind == 'R') {
            key = NULL;
            cb->reset(cb->ctx);
            continue;
        }
        if (kind != 'k' && kind != 'm')
            return -1;
        long n = length(&p, end);
        if (n < 0 || n > end - p)
            return -1;
        const char *s = p;
        p += n;
        if (kind == 'k') {
            key = s;
            key_len = (size_t)n;
            continue;
        }
        if (!key)
            return -1;
        /* the score: an optional '-', 1 to 18 digits, ';' */
        int neg = p < end && *p == '-';
        p += neg;
        int64_t v = 0;
        int digits = 0;
        while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (digits == 0 || p == end || *p != ';')
            return -1;
        p++;
        cb->score(cb->ctx, key, key_len, s, (size_t)n, neg ? -v : v);
    }
    return 0;
}
