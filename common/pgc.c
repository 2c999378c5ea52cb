/* SPDX-License-Identifier: ISC */
/* Where alia's database is; see pgc.h. */
#include <limits.h>
#include <stdio.h>

#include "common/config.h"
#include "common/pgc.h"

int
pg_embedded(const struct config *c)
{
	return c->database[0] == '\0';
}

void
pg_paths(const struct config *c, char *pgdata, size_t pglen, char *sockdir,
    size_t socklen)
{
	if (pgdata != NULL)
		snprintf(pgdata, pglen, "%s/pg", c->data_dir);
	if (sockdir != NULL)
		snprintf(sockdir, socklen, "%s/run", c->data_dir);
}

void
pg_conninfo(const struct config *c, const char *dbname, char *buf, size_t len)
{
	char sockdir[PATH_MAX];

	if (!pg_embedded(c)) {
		snprintf(buf, len, "%s", c->database);
		return;
	}
	pg_paths(c, NULL, 0, sockdir, sizeof(sockdir));
	snprintf(buf, len, "host=%s dbname=%s user=alia", sockdir,
	    dbname != NULL ? dbname : "alia");
}
