/*
 * pgproj.h: the Postgres projector: keeps a read model (learners, badges,
 * rewards with stock left, redemptions, ledger) in Postgres from the change
 * feed of a state, exactly once, and the schema migrations it needs.
 *
 * Exactly once: each step reads the partition's cursor from Postgres, and
 * writes the rows of one batch of changes together with the new cursor in
 * one Postgres transaction. Rows are absolute values guarded by change
 * sequence numbers and inserts ignore what is there, so a batch written
 * twice (a crash between commit and anything else) changes nothing.
 *
 * An instance is one Postgres connection: use it from one thread at a
 * time; instances share nothing, so several may run in parallel threads
 * (one per partition). No global state.
 */
#ifndef GM_PGPROJ_H
#define GM_PGPROJ_H

#include "err.h"
#include "state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The newest schema version this program knows (its last migration). */
int gm_pgproj_schema_version(void);

/*
 * Applies the migrations the database at conninfo lacks, each in its own
 * transaction, recording each in schema_migrations(version, name,
 * applied_at). *applied (may be NULL) is how many were applied (0: it was
 * up to date). Errors: GM_EINVAL (a malformed conninfo), GM_EDB (connection
 * or SQL failed), GM_EUNSUPPORTED
 * (the database's schema is newer than this program knows), with err.
 */
int gm_pgproj_migrate(const char *conninfo, int *applied, struct gm_err *err);

/*
 * Checks conninfo without connecting: its syntax and option names, and the
 * values libpq would refuse only when connecting (a port that is not a
 * number from 1 to 65535, an unknown sslmode, more ports than hosts...).
 * Returns 0, or GM_EINVAL with err saying what is wrong.
 */
int gm_pgproj_check_conninfo(const char *conninfo, struct gm_err *err);

struct gm_pgproj;

/*
 * Creates a projector for partition (0 for a single, unpartitioned state)
 * writing to conninfo. It connects on the first step (and again after a
 * failure), so Postgres may be down now. *out is new; free with
 * gm_pgproj_close. Errors: GM_EINVAL (a malformed conninfo, see
 * gm_pgproj_check_conninfo, or partition).
 */
int gm_pgproj_open(const char *conninfo, int partition, struct gm_pgproj **out, struct gm_err *err);

/*
 * Projects up to max_changes changes of st's feed from the cursor stored in
 * Postgres, in one transaction with the cursor update. At the first step
 * and whenever the rules' sha256 differs from the one last recorded, it
 * syncs the badge and reward catalogues too. *n is the number of changes
 * projected (0: up to date). Borrows st (a read-only open is enough).
 * Errors (nothing is committed; call again to retry): GM_EDB (Postgres
 * down, SQL failed; the connection is dropped and reopened next step),
 * GM_EUNSUPPORTED (the schema is not the one this program knows: run
 * `gamify migrate`), GM_ENOTFOUND (the cursor points at trimmed changes:
 * rebuild the read model), GM_EINVAL (the cursor is past the end of the
 * feed: the read model belongs to another state), GM_ECORRUPT.
 */
int gm_pgproj_step(struct gm_pgproj *p, struct gm_state *st, size_t max_changes, size_t *n,
                   struct gm_err *err);

/* From now on the steps read the change feed through sh (feedshare.h,
 * borrowed: it must outlive p; NULL: alone). */
struct gm_feedshare;
void gm_pgproj_set_share(struct gm_pgproj *p, struct gm_feedshare *sh);

/* The cursor as of the last step: the next change to project (-1: unknown). */
int64_t gm_pgproj_cursor(const struct gm_pgproj *p);

/*
 * Steps that wrote the ledger through the guard (a staging table and an
 * insert that skips rows already there) because the cursor had been moved
 * back behind rows of the ledger; the others copy the ledger's rows
 * straight into it (pgproj.c says why).
 */
size_t gm_pgproj_guarded_steps(const struct gm_pgproj *p);

/*
 * Fault seam for tests: when on, the next step writes everything and then
 * drops the connection instead of committing, as if the process were
 * killed there, and returns GM_EDB.
 */
void gm_pgproj_fault_before_commit(struct gm_pgproj *p, bool on);

/* Closes the connection (an open transaction is rolled back); NULL is fine. */
void gm_pgproj_close(struct gm_pgproj *p);

#endif
