/*
 * arena.c: the bump allocator of arena.h. Chunks form a list from the
 * newest; the oldest (first allocated) survives a reset.
 */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

static struct gm_arena_chunk *
chunk_new(size_t size, struct gm_arena_chunk *next)
{
    struct gm_arena_chunk *c = malloc(sizeof *c + size);
    if (!c)
        abort();
    c->next = next;
    c->used = 0;
    c->size = size;
    return c;
}

static void *
pb_alloc(void *data, size_t size)
{
    return gm_arena_alloc(data, size);
}

static void
pb_free(void *data, void *p)
{
    (void)data;
    (void)p; /* given back at the reset */
}

void
gm_arena_init(struct gm_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size;
    a->pb.alloc = pb_alloc;
    a->pb.free = pb_free;
    a->pb.allocator_data = a;
}

void
gm_arena_deinit(struct gm_arena *a)
{
    while (a->head) {
        struct gm_arena_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

void
gm_arena_reset(struct gm_arena *a)
{
    while (a->head && a->head->next) {
        struct gm_arena_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    if (a->head)
        a->head->used = 0;
}

void *
gm__arena_alloc_slow(struct gm_arena *a, size_t size)
{
    struct gm_arena_chunk *c = a->head;
    if (!c || c->size - c->used < size) {
        if (c && c->used == 0 && c->next == NULL && size > c->size) {
            /* an empty first chunk too small for this: replace it */
            free(c);
            c = NULL;
            a->head = NULL;
        }
        size_t want = size > a->chunk_size ? size : a->chunk_size;
        c = a->head = chunk_new(want, a->head);
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

ProtobufCAllocator *
gm_arena_protobuf(struct gm_arena *a)
{
    return &a->pb;
}
