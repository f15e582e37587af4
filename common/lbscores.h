/*
 * lbscores.h: the leaderboard-scores message, the Redis projector's account
 * of every score it writes, for readers that keep boards of their own (the
 * board mirror of gamify-api, api/resolvers/mirror.c). The projector
 * PUBLISHes one per batch on PREFIX "leaderboard-scores", inside the
 * batch's MULTI/EXEC, so a subscriber sees the writes of each batch in the
 * order Redis applied them (docs/operations.md "Redis leaderboards").
 *
 * The message is bytes: 'S', then items, each one of
 *
 *   k<len>:<key>            the sorted set the next members belong to
 *   m<len>:<member><score>; a member's new score (the ZADD's, decimal)
 *   R                       forget every board: reload from Redis
 *
 * (len decimal). R stands for anything that changed the sorted sets other
 * than by ZADD (a prune, a rebuild, a reconcile's repair, the memory guard).
 */
#ifndef GM_LBSCORES_H
#define GM_LBSCORES_H

#include <stddef.h>
#include <stdint.h>

/* Longest key or member a message carries; a longer one makes it invalid. */
#define GM_LBSCORES_ITEM_MAX 4096

/* A message being built. Zero-initialise; gm_lbscores_deinit frees. */
struct gm_lbscores {
    char *buf;
    size_t len, cap;
    size_t members;   /* m items so far */
    size_t kat, klen; /* the last k item's key: offset in buf and length */
    int has_key;      /* a k item since the start or the last R */
};

/* Appends a k item (when key differs from the last one's) and an m item. */
void gm_lbscores_add(struct gm_lbscores *m, const char *key, size_t key_len, const char *member,
                     size_t member_len, int64_t score);
/* The same with the score as its decimal text (score_len bytes, an optional
 * '-' then 1 to 18 digits; not checked: the writer's own formatting). */
void gm_lbscores_add_text(struct gm_lbscores *m, const char *key, size_t key_len,
                          const char *member, size_t member_len, const char *score,
                          size_t score_len);
/* Appends an R item. */
void gm_lbscores_reset(struct gm_lbscores *m);
/* Frees the buffer; m is zeroed. */
void gm_lbscores_deinit(struct gm_lbscores *m);

/* What the parser hands its callbacks; key and member are borrowed from the message. */
struct gm_lbscores_cb {
    void (*score)(void *ctx, const char *key, size_t key_len, const char *member, size_t member_len,
                  int64_t score);
    void (*reset)(void *ctx);
    void *ctx;
};

/*
 * Parses msg (len bytes, borrowed), calling cb for each item in order.
 * Returns 0, or -1 at the first malformed item (the callbacks have seen
 * the items before it; treat the message as a reset).
 */
int gm_lbscores_parse(const char *msg, size_t len, const struct gm_lbscores_cb *cb);

#endif
