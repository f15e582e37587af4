/*
 * arena.c: the request arena (see arena.h).
 *
 * Chunks form a list, newest first; allocation bumps an offset in the newest
 * chunk. A request bigger than a quarter of an ordinary chunk gets a chunk of
 * its own, placed behind the newest so the newest keeps its free space. The
 * budget counts whole chunks (header included): it bounds what the process
 * really holds, not just what callers asked for.
 */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct gm_arena_chunk {
    struct gm_arena_chunk *next;
    size_t size; /* bytes of data[] */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

#define ALIGN_UP(n) (((n) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

void
gm_arena_init(struct gm_arena *a, size_t budget)
{
    memset(a, 0, sizeof *a);
    a->budget = budget;
    a->next_size = GM_ARENA_CHUNK_MIN;
}

/* Returns a new chunk of at least size data bytes, or NULL past the budget. */
static struct gm_arena_chunk *
chunk_new(struct gm_arena *a, size_t size)
{
    size_t total = sizeof(struct gm_arena_chunk) + size;
    if (a->budget && (total > a->budget || a->reserved > a->budget - total))
        return NULL;
    struct gm_arena_chunk *c = malloc(total);
    if (!c)
        abort();
    c->next = NULL;
    c->size = size;
    c->used = 0;
    a->reserved += total;
    return c;
}

/* The inline fast path (arena.h) bumps a->cur; the head chunk's used follows it. */
static void
sync_head(struct gm_arena *a)
{
    if (a->head)
        a->head->used = (size_t)(a->cur - a->head->data);
}

static void
set_head(struct gm_arena *a, struct gm_arena_chunk *c)
{
    a->head = c;
    a->cur = c ? c->data + c->used : NULL;
    a->end = c ? c->data + c->size : NULL;
}

static void *
alloc_slow(struct gm_arena *a, size_t size)
{
    if (size > SIZE_MAX / 2)
        return NULL;
    size = ALIGN_UP(size ? size : 1);
    struct gm_arena_chunk *c = a->head;
    if (c && c->size - c->used >= size) {
        void *p = c->data + c->used;
        c->used += size;
        memset(p, 0, size);
        return p;
    }
    if (size > a->next_size / 4) {
        /* A big block: its own chunk, behind the newest. */
        struct gm_arena_chunk *big = chunk_new(a, size);
        if (!big)
            return NULL;
        big->used = size;
        if (c) {
            big->next = c->next;
            c->next = big;
        } else {
            a->head = big; /* full: set_head leaves no free space */
        }
        memset(big->data, 0, size);
        return big->data;
    }
    size_t want = a->next_size;
    if (a->budget && a->reserved < a->budget) {
        /* Near the budget, a smaller last chunk may still fit the request. */
        size_t room = a->budget - a->reserved;
        if (room > sizeof(struct gm_arena_chunk) && room - sizeof(struct gm_arena_chunk) < want)
            want = (room - sizeof(struct gm_arena_chunk)) & ~(alignof(max_align_t) - 1);
    }
    if (want < size)
        return NULL;
    struct gm_arena_chunk *n = chunk_new(a, want);
    if (!n)
        return NULL;
    if (a->next_size < GM_ARENA_CHUNK_MAX)
        a->next_size *= 2;
    n->next = a->head;
    a->head = n;
    n->used = size;
    memset(n->data, 0, size);
    return n->data;
}

void *
gm__arena_alloc_slow(struct gm_arena *a, size_t size)
{
    sync_head(a);
    void *p = alloc_slow(a, size);
    set_head(a, a->head);
    return p;
}

char *
gm_arena_strndup(struct gm_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = gm_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void
gm_arena_reset(struct gm_arena *a)
{
    struct gm_arena_chunk *keep = NULL;
    struct gm_arena_chunk *c = a->head;
    /* Keep one chunk of the first size, so a reused arena rarely mallocs. */
    while (c) {
        struct gm_arena_chunk *next = c->next;
        if (!keep && c->size == GM_ARENA_CHUNK_MIN)
            keep = c;
        else
            free(c);
        c = next;
    }
    a->reserved = 0;
    a->next_size = GM_ARENA_CHUNK_MIN;
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
        a->reserved = sizeof(struct gm_arena_chunk) + keep->size;
        a->next_size = 2 * GM_ARENA_CHUNK_MIN;
    }
    set_head(a, keep);
}

void
gm_arena_deinit(struct gm_arena *a)
{
    struct gm_arena_chunk *c = a->head;
    while (c) {
        struct gm_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    set_head(a, NULL);
    a->reserved = 0;
    a->next_size = GM_ARENA_CHUNK_MIN;
}

size_t
gm_arena_reserved(const struct gm_arena *a)
{
    return a->reserved;
}
