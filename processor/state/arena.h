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

struct gm_arena_chunk;

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
/* Returns size bytes aligned to 16, valid until the next reset; aborts when
 * out of memory. */
void *gm_arena_alloc(struct gm_arena *a, size_t size);
/* A protobuf-c allocator drawing from a (borrowed; valid as long as a). */
ProtobufCAllocator *gm_arena_protobuf(struct gm_arena *a);

#endif
