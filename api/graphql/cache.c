/*
 * cache.c: the engine and its cache of prepared documents (execute.h).
 *
 * gm_gql_prepare parses and validates a document once and keeps it, in an
 * arena of its own, in a bounded LRU cache keyed by a 64-bit hash of the
 * text; a hit compares the whole text, so a hash collision can only cost a
 * miss. Entries are refcounted: the cache holds one reference and every
 * caller of gm_gql_prepare another, so an entry evicted while a request
 * still runs it is freed by that request's release. The engine's mutex
 * guards the table and the LRU list; parsing and validation run outside it.
 * Documents with errors are never cached.
 *
 * The cache is bounded by entries and by bytes: an entry counts its arena
 * (the document, its index and the plans executions add to it later,
 * reported through gm__gql_cache_grew), so that many large documents
 * cannot hold cache_entries times the prepared budget.
 */
#include "exec_int.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ENTRIES 1024
#define DEFAULT_BUDGET  (8u * 1024 * 1024)
/* Arena kept back from validation (at most; an eighth of a small budget) for the error that
   reports it ran out. */
#define VALIDATION_RESERVE  (16u * 1024)
#define DEFAULT_CACHE_BYTES ((size_t)64 * 1024 * 1024)

/* A fast 64-bit hash of text (8 bytes a step, then a final mix). */
static uint64_t
text_hash(const char *s, size_t n)
{
    const uint64_t m = 0x9e3779b97f4a7c15ull;
    uint64_t h = 0xcbf29ce484222325ull ^ (n * m);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * m;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * m;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

struct gm_gql_engine *
gm_gql_engine_new(const struct gm_gql_schema *s, const struct gm_gql_engine_opts *opts)
{
    struct gm_gql_engine *e = calloc(1, sizeof(*e));
    if (!e)
        abort();
    e->schema = s;
    if (opts)
        e->opts = *opts;
    if (!e->opts.cache_entries)
        e->opts.cache_entries = DEFAULT_ENTRIES;
    if (!e->opts.arena_budget)
        e->opts.arena_budget = DEFAULT_BUDGET;
    if (!e->opts.cache_bytes)
        e->opts.cache_bytes = DEFAULT_CACHE_BYTES;
    e->n_buckets = 16;
    while (e->n_buckets < 2 * e->opts.cache_entries && e->n_buckets < ((size_t)1 << 30))
        e->n_buckets *= 2;
    e->buckets = calloc(e->n_buckets, sizeof(*e->buckets));
    e->sbuckets = calloc(e->n_buckets, sizeof(*e->sbuckets));
    if (!e->buckets || !e->sbuckets)
        abort();
    pthread_mutex_init(&e->lock, NULL);
    return e;
}

static void
prepared_free(struct gm_gql_prepared *p)
{
    pthread_mutex_destroy(&p->plan_lock);
    gm_arena_deinit(&p->arena);
    free(p);
}

static void
prepared_unref(struct gm_gql_prepared *p)
{
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        prepared_free(p);
}

void
gm_gql_engine_free(struct gm_gql_engine *e)
{
    if (!e)
        return;
    struct gm_gql_prepared *p = e->lru_head;
    while (p) {
        struct gm_gql_prepared *next = p->lnext;
        p->in_cache = false;
        prepared_unref(p);
        p = next;
    }
    pthread_mutex_destroy(&e->lock);
    free(e->buckets);
    free(e->sbuckets);
    free(e);
}

/* The SHA-256 index's bucket of a hash (its first bytes are already uniform). */
static size_t
sha_bucket(const struct gm_gql_engine *e, const unsigned char sha[32])
{
    uint64_t h;
    memcpy(&h, sha, sizeof(h));
    return (size_t)(h & (e->n_buckets - 1));
}

/* Under the lock: unlinks p from its buckets and the LRU list. */
static void
unlink_entry(struct gm_gql_engine *e, struct gm_gql_prepared *p)
{
    struct gm_gql_prepared **pp = &e->buckets[p->hash & (e->n_buckets - 1)];
    while (*pp != p)
        pp = &(*pp)->hnext;
    *pp = p->hnext;
    if (p->has_sha) {
        pp = &e->sbuckets[sha_bucket(e, p->sha)];
        while (*pp != p)
            pp = &(*pp)->snext;
        *pp = p->snext;
        p->snext = NULL;
        p->has_sha = false;
    }
    if (p->lprev)
        p->lprev->lnext = p->lnext;
    else
        e->lru_head = p->lnext;
    if (p->lnext)
        p->lnext->lprev = p->lprev;
    else
        e->lru_tail = p->lprev;
    p->hnext = p->lprev = p->lnext = NULL;
    p->in_cache = false;
    e->n_entries--;
    e->bytes -= p->charged;
    p->charged = 0;
}

/*
 * Under the lock: unlinks entries from the LRU tail while the cache holds
 * too many or too many bytes. Returns them chained through hnext, for
 * release_evicted once the lock is dropped.
 */
static struct gm_gql_prepared *
evict_over(struct gm_gql_engine *e)
{
    struct gm_gql_prepared *evicted = NULL;
    while (e->lru_tail &&
           (e->n_entries > e->opts.cache_entries || e->bytes > e->opts.cache_bytes)) {
        struct gm_gql_prepared *p = e->lru_tail;
        unlink_entry(e, p);
        p->hnext = evicted;
        evicted = p;
    }
    return evicted;
}

/* Drops the cache's references of the entries evict_over returned. */
static void
release_evicted(struct gm_gql_prepared *p)
{
    while (p) {
        struct gm_gql_prepared *next = p->hnext;
        p->hnext = NULL;
        prepared_unref(p);
        p = next;
    }
}

/* What p costs the cache when its arena holds reserved bytes. */
static size_t
entry_bytes(size_t reserved)
{
    return reserved + sizeof(struct gm_gql_prepared);
}

void
gm__gql_cache_grew(struct gm_gql_engine *e, struct gm_gql_prepared *p, size_t reserved)
{
    if (p->engine != e)
        return;
    struct gm_gql_prepared *evicted = NULL;
    pthread_mutex_lock(&e->lock);
    /* Reports can arrive out of order from threads building plans: keep the largest. */
    if (p->in_cache && entry_bytes(reserved) > p->charged) {
        e->bytes += entry_bytes(reserved) - p->charged;
        p->charged = entry_bytes(reserved);
        evicted = evict_over(e);
    }
    pthread_mutex_unlock(&e->lock);
    release_evicted(evicted);
}

/* Under the lock: moves p to the front of the LRU list. */
static void
touch(struct gm_gql_engine *e, struct gm_gql_prepared *p)
{
    if (e->lru_head == p)
        return;
    p->lprev->lnext = p->lnext;
    if (p->lnext)
        p->lnext->lprev = p->lprev;
    else
        e->lru_tail = p->lprev;
    p->lprev = NULL;
    p->lnext = e->lru_head;
    e->lru_head->lprev = p;
    e->lru_head = p;
}

/* Under the lock: the cached entry for the text, or NULL. */
static struct gm_gql_prepared *
lookup(struct gm_gql_engine *e, uint64_t h, const char *src, size_t len)
{
    for (struct gm_gql_prepared *p = e->buckets[h & (e->n_buckets - 1)]; p; p = p->hnext)
        if (p->hash == h && p->len == len && memcmp(p->text, src, len) == 0)
            return p;
    return NULL;
}

/* Parses, validates and indexes src into a new entry (one reference), or NULL with errs. */
static int
build(struct gm_gql_engine *e, const char *src, size_t len, uint64_t h, struct gm_arena *a,
      struct gm_gql_errors *errs, struct gm_gql_prepared **out)
{
    struct gm_gql_prepared *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    gm_arena_init(&p->arena, GM__GQL_PREPARED_BUDGET);
    pthread_mutex_init(&p->plan_lock, NULL);
    atomic_init(&p->refs, 1);
    p->hash = h;
    p->len = len;
    p->engine = e;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_gql_parse(src, len, &e->opts.parse, &p->arena, &p->doc, &err);
    if (rc < 0) {
        struct gm_gql_loc loc = {err.line, err.column, 0};
        gm_gql_errors_add(errs, a, rc == GM_ETOOBIG ? GM_GQL_CODE_COMPLEX : GM_GQL_CODE_PARSE, &loc,
                          err.line ? 1 : 0, NULL, "%s", err.msg);
        goto out;
    }
    /*
     * Validation's scratch goes to the caller's arena, bounded like a
     * request's, less a reserve: when validation runs out of memory, the
     * reserve still holds the error that says so.
     */
    size_t saved_budget = a->budget;
    size_t budget = saved_budget ? saved_budget : e->opts.arena_budget;
    size_t reserve = budget / 8 < VALIDATION_RESERVE ? budget / 8 : VALIDATION_RESERVE;
    a->budget = budget - reserve;
    rc = gm_gql_validate(e->schema, p->doc, &e->opts.validate, a, errs);
    a->budget = budget;
    if (rc < 0 && !errs->head)
        gm_gql_errors_add(errs, a, GM_GQL_CODE_COMPLEX, NULL, 0, NULL,
                          "The document is too complex to validate.");
    a->budget = saved_budget;
    if (rc < 0)
        goto out;
    p->text = gm_arena_strndup(&p->arena, src, len);
    rc = p->text ? gm__gql_prepared_index(e->schema, p) : GM_ETOOBIG;
    if (rc < 0)
        gm_gql_errors_add(errs, a, GM_GQL_CODE_COMPLEX, NULL, 0, NULL,
                          "The document is too large to prepare.");
out:
    if (rc < 0) {
        prepared_free(p);
        p = NULL;
    }
    *out = p;
    return rc;
}

int
gm_gql_prepare(struct gm_gql_engine *e, const char *src, size_t len, struct gm_arena *a,
               struct gm_gql_errors *errs, struct gm_gql_prepared **out)
{
    *out = NULL;
    uint64_t h = text_hash(src, len);
    struct gm_gql_prepared *p;
    if (!e->opts.cache_off) {
        pthread_mutex_lock(&e->lock);
        p = lookup(e, h, src, len);
        if (p) {
            touch(e, p);
            atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
            e->hits++;
        } else {
            e->misses++;
        }
        pthread_mutex_unlock(&e->lock);
        if (p) {
            *out = p;
            return 0;
        }
    }
    int rc = build(e, src, len, h, a, errs, &p);
    if (rc < 0)
        return rc;
    if (e->opts.cache_off) {
        *out = p;
        return 0;
    }
    struct gm_gql_prepared *evicted = NULL;
    pthread_mutex_lock(&e->lock);
    struct gm_gql_prepared *other = lookup(e, h, src, len);
    if (other) {
        /* Another thread prepared the same text meanwhile: share its entry. */
        touch(e, other);
        atomic_fetch_add_explicit(&other->refs, 1, memory_order_relaxed);
        pthread_mutex_unlock(&e->lock);
        prepared_unref(p);
        *out = other;
        return 0;
    }
    struct gm_gql_prepared **bucket = &e->buckets[h & (e->n_buckets - 1)];
    p->hnext = *bucket;
    *bucket = p;
    p->lnext = e->lru_head;
    if (e->lru_head)
        e->lru_head->lprev = p;
    e->lru_head = p;
    if (!e->lru_tail)
        e->lru_tail = p;
    p->in_cache = true;
    e->n_entries++;
    /* p is not shared yet: its arena is stable to read. */
    p->charged = entry_bytes(gm_arena_reserved(&p->arena));
    e->bytes += p->charged;
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed); /* the cache's */
    /* The least recently used go first; p itself last, when it alone is too big. */
    evicted = evict_over(e);
    pthread_mutex_unlock(&e->lock);
    release_evicted(evicted);
    *out = p;
    return 0;
}

void
gm_gql_prepared_release(struct gm_gql_engine *e, struct gm_gql_prepared *p)
{
    (void)e;
    if (p)
        prepared_unref(p);
}

void
gm_gql_engine_stats(struct gm_gql_engine *e, struct gm_gql_engine_stats *out)
{
    pthread_mutex_lock(&e->lock);
    out->cache_hits = e->hits;
    out->cache_misses = e->misses;
    out->cache_entries = e->n_entries;
    out->cache_bytes = e->bytes;
    out->persisted_hits = e->persisted_hits;
    out->persisted_misses = e->persisted_misses;
    pthread_mutex_unlock(&e->lock);
}

/* Decodes 64 hexadecimal digits (either case); false when hex is anything else. */
static bool
sha_from_hex(const char *hex, size_t len, unsigned char out[32])
{
    if (!hex || len != 64)
        return false;
    for (size_t i = 0; i < 64; i++) {
        char ch = hex[i];
        int v = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return true;
}

/* Under the lock: the registered entry with this hash, or NULL. */
static struct gm_gql_prepared *
lookup_sha(struct gm_gql_engine *e, const unsigned char sha[32])
{
    for (struct gm_gql_prepared *p = e->sbuckets[sha_bucket(e, sha)]; p; p = p->snext)
        if (memcmp(p->sha, sha, 32) == 0)
            return p;
    return NULL;
}

int
gm_gql_prepare_persisted(struct gm_gql_engine *e, const char *sha256_hex, size_t hex_len,
                         const char *src, size_t len, struct gm_arena *a,
                         struct gm_gql_errors *errs, struct gm_gql_prepared **out)
{
    *out = NULL;
    unsigned char sha[32];
    if (!sha_from_hex(sha256_hex, hex_len, sha)) {
        gm_gql_errors_add(errs, a, GM_GQL_CODE_INPUT, NULL, 0, NULL,
                          "persistedQuery.sha256Hash must be 64 hexadecimal digits.");
        return GM_EINVAL;
    }
    if (!src) {
        struct gm_gql_prepared *p = NULL;
        pthread_mutex_lock(&e->lock);
        if (!e->opts.cache_off)
            p = lookup_sha(e, sha);
        if (p) {
            touch(e, p);
            atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
            e->persisted_hits++;
        } else {
            e->persisted_misses++;
        }
        pthread_mutex_unlock(&e->lock);
        *out = p;
        return p ? 0 : GM_ENOTFOUND;
    }
    unsigned char got[32];
    unsigned int got_len = 0;
    if (EVP_Digest(src, len, got, &got_len, EVP_sha256(), NULL) != 1 || got_len != 32)
        abort(); /* OpenSSL fails here only without memory */
    if (memcmp(got, sha, 32) != 0) {
        gm_gql_errors_add(errs, a, GM_GQL_CODE_INPUT, NULL, 0, NULL,
                          "provided sha does not match query");
        return GM_EINVAL;
    }
    struct gm_gql_prepared *p = NULL;
    int rc = gm_gql_prepare(e, src, len, a, errs, &p);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&e->lock);
    /* Only an entry still in the cache is indexed: eviction unlinks both together. */
    if (p->in_cache && !p->has_sha) {
        memcpy(p->sha, sha, 32);
        p->has_sha = true;
        size_t b = sha_bucket(e, sha);
        p->snext = e->sbuckets[b];
        e->sbuckets[b] = p;
    }
    pthread_mutex_unlock(&e->lock);
    *out = p;
    return 0;
}
