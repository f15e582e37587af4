/*
 * arena.h: a bump allocator for one GraphQL request.
 *
 * Everything a request builds (tokens' decoded strings, the AST, later the
 * validator's and executor's scratch) comes from one arena that is freed in
 * one go when the request ends. The arena has a byte budget so that hostile
 * input cannot grow memory without bound: past the budget an allocation
 * returns NULL and the caller reports GM_ETOOBIG. Running out of system
 * memory aborts (house style).
 */
#ifndef GM_GQL_ARENA_H
#define GM_GQL_ARENA_H

#include <stddef.h>

/* Size of the first chunk; later chunks double up to GM_ARENA_CHUNK_MAX. */
#define GM_ARENA_CHUNK_MIN (16 * 1024)
#define GM_ARENA_CHUNK_MAX (1024 * 1024)

struct gm_arena_chunk;

struct gm_arena {
    struct gm_arena_chunk *head; /* newest chunk first */
    size_t budget;               /* bytes of chunks allowed; 0 = unlimited */
    size_t reserved;             /* bytes of chunks held now */
    size_t next_size;            /* size of the next ordinary chunk */
    unsigned char *cur;          /* the free space of head: [cur, end) */
    unsigned char *end;
};

/* Initialises a (caller-allocated) with a byte budget (0 = unlimited). */
void gm_arena_init(struct gm_arena *a, size_t budget);

/*
 * Returns size zeroed bytes aligned to max_align_t, valid until the next
 * gm_arena_reset or gm_arena_deinit; NULL when the budget would be passed.
 */
void *gm__arena_alloc_slow(struct gm_arena *a, size_t size);

/*
 * The common case inline (a request makes thousands of small allocations):
 * bump within the newest chunk; anything else goes to the slow path.
 */
static inline void *
gm_arena_alloc(struct gm_arena *a, size_t size)
{
    size_t n = (size + (_Alignof(max_align_t) - 1)) & ~(_Alignof(max_align_t) - 1);
    if (size != 0 && size <= GM_ARENA_CHUNK_MAX && n <= (size_t)(a->end - a->cur)) {
        unsigned char *p = a->cur;
        a->cur += n;
        __builtin_memset(p, 0, size);
        return p;
    }
    return gm__arena_alloc_slow(a, size);
}

/*
 * Copies n bytes of s and a terminating NUL into the arena; NULL past the
 * budget. s may contain NUL bytes (the copy keeps them).
 */
char *gm_arena_strndup(struct gm_arena *a, const char *s, size_t n);

/* Frees every allocation at once, keeping the first chunk for reuse. */
void gm_arena_reset(struct gm_arena *a);

/* Frees all chunks; a may be reused after gm_arena_init. */
void gm_arena_deinit(struct gm_arena *a);

/* Bytes of chunks the arena holds now (what the budget counts). */
size_t gm_arena_reserved(const struct gm_arena *a);

#endif
