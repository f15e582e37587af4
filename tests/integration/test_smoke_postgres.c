/*
 * test_smoke_postgres.c: the PostgreSQL that tests/run starts answers
 * libpq the way the Postgres projector will rely on: parameterised writes,
 * typed reads back, and an error status (not a crash) for a bad query.
 */
#include "server_env.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PGconn *
connect_or_fail(void)
{
    const char *conninfo = gm_test_server_env("GAMIFY_TEST_PG");
    PGconn *conn = PQconnectdb(conninfo);

    cr_assert_not_null(conn);
    cr_assert_eq(PQstatus(conn), CONNECTION_OK, "connect to '%s': %s", conninfo,
                 PQerrorMessage(conn));
    return conn;
}

/* Runs sql, asserts its status and returns the result; PQclear it. */
static PGresult *
exec_expect(PGconn *conn, const char *sql, ExecStatusType want)
{
    PGresult *res = PQexec(conn, sql);

    cr_assert_eq(PQresultStatus(res), want, "%s: %s", sql, PQerrorMessage(conn));
    return res;
}

Test(smoke_postgres, parameterised_insert_and_select)
{
    PGconn *conn = connect_or_fail();
    PGresult *res;
    enum { ROWS = 20 };

    PQclear(exec_expect(conn,
                        "CREATE TEMP TABLE smoke (id integer PRIMARY KEY, user_id text NOT NULL, "
                        "exp bigint NOT NULL)",
                        PGRES_COMMAND_OK));

    for (int i = 0; i < ROWS; i++) {
        char id[16], user[32], exp[32];
        const char *params[3] = {id, user, exp};

        snprintf(id, sizeof id, "%d", i);
        /* A quote and a semicolon: parameters are never spliced into SQL. */
        snprintf(user, sizeof user, "u'%d;", i);
        snprintf(exp, sizeof exp, "%lld", 5000000000LL + i * 7);
        res = PQexecParams(conn, "INSERT INTO smoke (id, user_id, exp) VALUES ($1, $2, $3)", 3,
                           NULL, params, NULL, NULL, 0);
        cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "insert %d: %s", i,
                     PQerrorMessage(conn));
        cr_assert_str_eq(PQcmdTuples(res), "1");
        PQclear(res);
    }

    res = exec_expect(conn, "SELECT id, user_id, exp FROM smoke ORDER BY id DESC", PGRES_TUPLES_OK);
    cr_assert_eq(PQntuples(res), ROWS);
    cr_assert_eq(PQnfields(res), 3);
    for (int row = 0; row < ROWS; row++) {
        int i = ROWS - 1 - row;
        char user[32];

        snprintf(user, sizeof user, "u'%d;", i);
        cr_assert_eq(atoi(PQgetvalue(res, row, 0)), i);
        cr_assert_str_eq(PQgetvalue(res, row, 1), user);
        cr_assert_eq(strtoll(PQgetvalue(res, row, 2), NULL, 10), 5000000000LL + i * 7);
    }
    PQclear(res);

    {
        const char *params[1] = {"u'3;"};
        res = PQexecParams(conn, "SELECT exp FROM smoke WHERE user_id = $1", 1, NULL, params, NULL,
                           NULL, 0);
        cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
        cr_assert_eq(PQntuples(res), 1);
        cr_assert_str_eq(PQgetvalue(res, 0, 0), "5000000021");
        PQclear(res);
    }

    PQfinish(conn);
}

Test(smoke_postgres, bad_query_reports_an_error)
{
    PGconn *conn = connect_or_fail();
    PGresult *res;

    res = PQexec(conn, "SELEC 1");
    cr_assert_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
    cr_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42601"); /* syntax_error */
    PQclear(res);

    res = PQexec(conn, "SELECT * FROM gamify_no_such_table");
    cr_assert_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
    cr_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42P01"); /* undefined_table */
    PQclear(res);

    /* The connection survives a failed statement. */
    res = exec_expect(conn, "SELECT 1 + 1", PGRES_TUPLES_OK);
    cr_assert_str_eq(PQgetvalue(res, 0, 0), "2");
    PQclear(res);

    PQfinish(conn);
}
