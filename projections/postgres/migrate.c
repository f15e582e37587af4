/*
 * migrate.c: `gamify migrate`: brings a database's schema to the version
 * this program knows, one migration per transaction, each recorded in
 * schema_migrations. Concurrent migrators serialise on a lock of that
 * table; a database already migrated by a newer program is refused rather
 * than written with an older idea of the schema.
 */
#include "migrations.h"
#include "pgproj.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
gm_pgproj_schema_version(void)
{
    return gm_pg_n_migrations ? gm_pg_migrations[gm_pg_n_migrations - 1].version : 0;
}

/* Runs sql (no parameters); 0 or GM_EDB with err naming what. */
static int
exec_ok(PGconn *conn, const char *sql, const char *what, struct gm_err *err)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType s = PQresultStatus(res);
    int rc = 0;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        rc = gm_err_set(err, GM_EDB, "postgres: %s: %s", what, PQerrorMessage(conn));
    PQclear(res);
    return rc;
}

/* The highest recorded version, inside the open transaction. */
static int
recorded_version(PGconn *conn, int *version, struct gm_err *err)
{
    PGresult *res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = gm_err_set(err, GM_EDB, "postgres: reading schema_migrations: %s",
                        PQerrorMessage(conn));
    else
        *version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

int
gm_pgproj_migrate(const char *conninfo, int *applied, struct gm_err *err)
{
    int rc = gm_pgproj_check_conninfo(conninfo, err), count = 0;
    if (rc)
        return rc;
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        rc = gm_err_set(err, GM_EDB, "postgres: connect: %s", PQerrorMessage(conn));
        goto out;
    }
    if ((rc = exec_ok(conn, "SET client_min_messages = warning", "settings", err)) ||
        (rc = exec_ok(conn,
                      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                      "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                      "creating schema_migrations", err)))
        goto out;
    int known = gm_pgproj_schema_version();
    for (size_t i = 0; i < gm_pg_n_migrations; i++) {
        const struct gm_pg_migration *m = &gm_pg_migrations[i];
        int have = 0;
        if ((rc = exec_ok(conn, "BEGIN", "begin", err)) ||
            (rc = exec_ok(conn, "LOCK TABLE schema_migrations IN EXCLUSIVE MODE", "lock", err)) ||
            (rc = recorded_version(conn, &have, err)))
            goto rollback;
        if (have > known) {
            rc = gm_err_set(err, GM_EUNSUPPORTED,
                            "the database schema is at version %d, newer than this program "
                            "knows (%d): use a newer gamify",
                            have, known);
            goto rollback;
        }
        if (have >= m->version) {
            exec_ok(conn, "ROLLBACK", "rollback", NULL);
            continue;
        }
        if ((rc = exec_ok(conn, m->sql, m->name, err)))
            goto rollback;
        {
            char version[16];
            const char *params[2] = {version, m->name};
            snprintf(version, sizeof version, "%d", m->version);
            PGresult *res =
                PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                             2, NULL, params, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                rc = gm_err_set(err, GM_EDB, "postgres: recording %s: %s", m->name,
                                PQerrorMessage(conn));
            PQclear(res);
            if (rc)
                goto rollback;
        }
        if ((rc = exec_ok(conn, "COMMIT", m->name, err)))
            goto out;
        count++;
        continue;
    rollback:
        exec_ok(conn, "ROLLBACK", "rollback", NULL);
        goto out;
    }
    /* Up to date, but maybe newer than us (no migration ran to notice). */
    {
        int have = 0;
        if ((rc = recorded_version(conn, &have, err)))
            goto out;
        if (have > known)
            rc = gm_err_set(err, GM_EUNSUPPORTED,
                            "the database schema is at version %d, newer than this program "
                            "knows (%d): use a newer gamify",
                            have, known);
    }
out:
    if (applied)
        *applied = count;
    PQfinish(conn);
    return rc;
}
