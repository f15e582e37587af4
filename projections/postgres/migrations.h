/*
 * migrations.h: the SQL migrations compiled into the program (generated
 * from migrations/NNNN_name.sql by embed_sql at build time), in version
 * order. Internal to the Postgres projector library.
 */
#ifndef GM_PG_MIGRATIONS_H
#define GM_PG_MIGRATIONS_H

#include <stddef.h>

struct gm_pg_migration {
    int version;
    const char *name; /* "0001_read_model" */
    const char *sql;
};

extern const struct gm_pg_migration gm_pg_migrations[];
extern const size_t gm_pg_n_migrations;

#endif
