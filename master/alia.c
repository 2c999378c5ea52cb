/* SPDX-License-Identifier: ISC */
/* The alia command line: dispatches to a role or a subcommand. */
#include "common/log.h"

int
main(int argc, char *argv[])
{
	log_init("alia", 0);
	return 0;
}
