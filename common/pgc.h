/* SPDX-License-Identifier: ISC */
/*
 * alia's PostgreSQL: where the database is (embedded under data_dir, or
 * the external one of `database`) for every process that connects to it.
 */
#ifndef ALIA_PGC_H
#define ALIA_PGC_H

#include <stddef.h>

struct config;

/* Whether alia runs its own cluster (no `database` configured). */
int pg_embedded(const struct config *);
/* The embedded cluster's data and socket directories (either may be NULL). */
void pg_paths(
    const struct config *, char *pgdata, size_t, char *sockdir, size_t);
/* The libpq conninfo of alia's database (dbname NULL: alia's own). */
void pg_conninfo(const struct config *, const char *dbname, char *, size_t);

#endif
