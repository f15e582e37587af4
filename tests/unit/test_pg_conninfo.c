/*
 * test_pg_conninfo.c: a libpq connection string is checked when the
 * Postgres projector is created (gm_pgproj_open, gm_pgproj_migrate), not
 * when its thread first connects: values libpq refuses only at connect
 * time (a port "abc", an unknown sslmode, more ports than hosts) are
 * GM_EINVAL at once with a message naming the option. No server: nothing
 * here connects.
 */
#include "pgproj.h"

#include <criterion/criterion.h>
#include <string.h>

static void
refused(const char *conninfo, const char *want)
{
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_pgproj *p = NULL;
    cr_assert_eq(gm_pgproj_open(conninfo, 0, &p, &err), GM_EINVAL, "accepted: %s", conninfo);
    cr_assert_null(p);
    cr_assert(strstr(err.msg, "bad Postgres conninfo: ") == err.msg, "%s: %s", conninfo, err.msg);
    cr_assert(strstr(err.msg, want), "%s: expected '%s' in '%s'", conninfo, want, err.msg);
    cr_assert_eq(err.msg[strlen(err.msg) - 1] == '\n', 0, "a trailing newline: '%s'", err.msg);
    gm_err_clear(&err);
    cr_assert_eq(gm_pgproj_check_conninfo(conninfo, &err), GM_EINVAL);
    /* migrate refuses it before trying to connect */
    cr_assert_eq(gm_pgproj_migrate(conninfo, NULL, &err), GM_EINVAL, "%s", err.msg);
}

static void
accepted(const char *conninfo)
{
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_pgproj *p = NULL;
    cr_assert_eq(gm_pgproj_open(conninfo, 3, &p, &err), 0, "%s: %s", conninfo, err.msg);
    cr_assert_not_null(p);
    cr_assert_eq(gm_pgproj_cursor(p), -1);
    gm_pgproj_close(p);
}

Test(pg_conninfo, values_libpq_checks_only_when_connecting_are_refused_at_open)
{
    refused("host=127.0.0.1 port=abc", "port \"abc\" is not a number from 1 to 65535");
    refused("host=127.0.0.1 port=0", "port \"0\"");
    refused("host=127.0.0.1 port=65536", "port \"65536\"");
    refused("host=a,b port=5432,x", "port \"x\"");
    refused("postgresql://db.example:54x2/gamify", "port \"54x2\"");
    refused("host=127.0.0.1 sslmode=sometimes", "sslmode \"sometimes\" is not disable");
    refused("host=127.0.0.1 gssencmode=yes", "gssencmode \"yes\"");
    refused("host=127.0.0.1 channel_binding=maybe", "channel_binding \"maybe\"");
    refused("host=127.0.0.1 target_session_attrs=fast", "target_session_attrs \"fast\"");
    refused("host=127.0.0.1 ssl_min_protocol_version=SSLv3", "ssl_min_protocol_version");
    refused("host=127.0.0.1 connect_timeout=soon", "connect_timeout \"soon\" is not an integer");
    refused("host=127.0.0.1 keepalives_idle=1m", "keepalives_idle \"1m\"");
    refused("hostaddr=localhost", "hostaddr \"localhost\" is not a numeric");
    refused("host=a,b,c port=1,2", "2 ports for 3 hosts");
    refused("host=a,b hostaddr=10.0.0.1", "2 host names for 1 hostaddr values");
}

Test(pg_conninfo, syntax_errors_and_unknown_options_are_refused_without_a_newline)
{
    refused("garbage", "missing \"=\" after \"garbage\"");
    refused("host='127.0.0.1", "unterminated quoted string");
    refused("host=127.0.0.1 nonsense=1", "invalid connection option \"nonsense\"");
    refused("postgresql://h/db?flavour=mint", "invalid URI query parameter");
}

Test(pg_conninfo, well_formed_strings_are_accepted_without_connecting)
{
    accepted("");
    accepted("host=127.0.0.1 port=1 connect_timeout=2");
    accepted("host=a,b port=5432 dbname=x user=y");
    accepted("host=a,b port=5432,5433 sslmode=verify-full target_session_attrs=read-write");
    accepted("host=a,b,c port=5432,,5433");
    accepted("hostaddr=127.0.0.1,::1 host=a,b keepalives=1 keepalives_idle=30");
    accepted("postgresql://u:p@db.example:5432/gamify?sslmode=require&connect_timeout=5");
    accepted("host=/var/run/postgresql dbname=gamify ssl_min_protocol_version=TLSv1.2");
    /* resolving a name is the connection's business: retried, not refused */
    accepted("host=no-such-host.invalid");
}
