/*
 * arena.h: a bump allocator for memory that dies together: one decoded
 * event (reset after its fold), one batch's record copies (reset at commit).
 * Allocation is a pointer bump in the current chunk; reset frees every chunk
 * but the first, so a steady workload allocates nothing after warm-up. It
 * can also serve protobuf-c as an allocator (gm_arena_protobuf), whose
 * frees then do nothing until the reset.
 */
#ifndef GM_ARENA_H
#define GM_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

struct gm_arena_chunk {
    struct gm_arena_chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

struct gm_arena {
    struct gm_arena_chunk *head; /* current chunk; earlier ones follow ->next */
    size_t chunk_size;           /* size of an ordinary chunk */
    ProtobufCAllocator pb;       /* see gm_arena_protobuf */
};

/* Prepares a; chunks hold chunk_size bytes (bigger requests get their own). */
void gm_arena_init(struct gm_arena *a, size_t chunk_size);
/* Frees everything. */
void gm_arena_deinit(struct gm_arena *a);
/* Frees every allocation at once, keeping the first chunk for reuse. */
void gm_arena_reset(struct gm_arena *a);
/* The allocation of size bytes (a multiple of 16) when the current chunk
 * has no room for it: a new chunk. */
void *gm__arena_alloc_slow(struct gm_arena *a, size_t size);

/* Returns size bytes aligned to 16, valid until the next reset; aborts when
 * out of memory. Inline: the bump is a few instructions, called about a
 * dozen times per folded event (the decoder's messages and strings among
 * them). */
static inline void *
gm_arena_alloc(struct gm_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    struct gm_arena_chunk *c = a->head;
    if (c && c->size - c->used >= size) {
        void *p = c->data + c->used;
        c->used += size;
        return p;
    }
    return gm__arena_alloc_slow(a, size);
}
/* A protobuf-c allocator drawing from a (borrowed; valid as long as a). */
ProtobufCAllocator *gm_arena_protobuf(struct gm_arena *a);

#endif
