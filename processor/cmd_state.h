/*
 * cmd_state.h: what the state commands share with each other: the audit
 * view of a whole state (single or partitioned), the what-if note of a
 * replay's summary, and the replay of a Kafka topic (cmd_replay_kafka.c).
 */
#ifndef GM_CMD_STATE_H
#define GM_CMD_STATE_H

#include "state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The dump (audit view, DESIGN section 3) of the state in folder state, a
 * single state or the partition-N folders of a partitioned one, merged and
 * sorted by userId; only user's line when user is not NULL. Opens read-only.
 * *text is new (free with free()); *what_if (may be NULL) is set when any
 * part is a what-if state. Returns 0, GM_ENOTFOUND (user in no part), or a
 * process exit code > 0 after reporting on stderr.
 */
int gm__state_dump(const char *state, const char *user, char **text, size_t *len, bool *what_if);

/* " (what-if: N RulesPublished ignored)" for a what-if state, else "";
 * written into buf (cap bytes) when not empty. */
const char *gm__what_if_note(const struct gm_state *st, const struct gm_state_stats *ss, char *buf,
                             size_t cap);

/* What `gamify replay` hands to the Kafka replay. Strings are borrowed. */
struct gm_replay_kafka_opts {
    const char *state;          /* the folder: partition-N states go under it */
    struct gm_state_opts store; /* for each partition's state */
    const char *rules;          /* the seed rules file (for messages), or NULL */
    const char *rules_text;     /* its text: seeds rules when the topic published none */
    size_t rules_len;
    const char *override;      /* the what-if rules file (for messages), or NULL */
    const char *override_text; /* its text */
    size_t override_len;
    const char *out_uri;   /* outbound events, or NULL */
    size_t batch;          /* records per commit, at most */
    size_t batch_bytes;    /* ...or once it holds this much heap (gm_state_batch_bytes) */
    bool quiet;            /* no progress lines */
    bool no_feed;          /* trim the change feed as it goes (--no-feed) */
    uint64_t min_free_mib; /* stop before a batch below this free on the disk; 0: never */
};

/*
 * Replays the topic of a kafka:// log (rest: what follows "kafka://"):
 * every partition from its state's offset to the high watermark taken at
 * the start, each into its own state. Returns the process exit code.
 */
int gm__replay_kafka(const char *rest, const struct gm_replay_kafka_opts *o);

#endif
