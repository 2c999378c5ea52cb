/* SPDX-License-Identifier: ISC */
/*
 * The alia-worker binary's entry: the second image of alia, which master
 * executes for the roles worker and wall with the same argv as alia's
 * (`alia: worker -R worker [-v]`). It is linked with only what these roles
 * call, so an idle session's process maps no libpq, OpenSSL or libsodium.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/proc.h"
#include "worker/worker.h"

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr,
	    "usage: alia-worker -R worker|wall [-v]\n"
	    "(master runs it; operators run alia)\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *role = NULL;
	int ch, verbose = 0;

	proc_init(argc, argv);
	log_init("alia", 0);
	while ((ch = getopt(argc, argv, "R:v")) != -1) {
		switch (ch) {
		case 'R':
			role = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (role == NULL || optind != argc)
		usage();
	log_init("alia", verbose);
	if (strcmp(role, "worker") == 0)
		return worker_main(verbose);
	if (strcmp(role, "wall") == 0)
		return wall_main(verbose);
	usage();
}
