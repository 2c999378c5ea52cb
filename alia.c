/* SPDX-License-Identifier: ISC */
/*
 * The alia binary's entry. `alia serve` runs master; `-R ROLE` is how master
 * re-executes the binary as one of its children (but worker and wall, which
 * master executes as alia-worker: worker/main.c); the rest are one-shot
 * commands an operator runs (migrate, psql, -n, cli/'s commands).
 *
 * The one file that sees every process's header: it picks the role, and
 * hands cli/ what it needs of master/ (struct cli_db). Every other file
 * includes only its own folder's headers, common/ and sql/.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/proc.h"
#include "broker/broker.h"
#include "cli/cli.h"
#include "front/front.h"
#include "master/master.h"
#include "recorder/recorder.h"

extern char **environ;

static const struct cli_db alia_cli_db = {
    .open = pg_open_oneshot,
    .close = pg_close_oneshot,
    .server_holds = pg_server_holds,
    .kill_container = docker_kill_now,
};

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr,
	    "usage: alia [-v] [-c FILE] COMMAND [ARGS]\n"
	    "       alia -n [-c FILE]            check and print the config\n"
	    "commands:\n"
	    "  serve [-c FILE] [-d] [-v]          run the server (-d: in the "
	    "foreground)\n"
	    "  migrate                            apply database migrations\n"
	    "  psql [PSQL-ARGS...]                psql on alia's database\n"
	    "  session list                       list recorded sessions\n"
	    "  session export ID [--format cast|text]\n"
	    "                                     a session as asciicast v2 "
	    "or text\n"
	    "  session kill ID                    end a running session\n"
	    "  engine list                        the Docker engines, their "
	    "state\n"
	    "  engine drain|undrain NAME          stop or resume placing "
	    "sessions there\n"
	    "  user add NAME --role learner|instructor|admin [--group G]...\n"
	    "                                     add a user; the password "
	    "is read\n"
	    "                                     from standard input\n"
	    "  user passwd NAME                   set a password, end the "
	    "user's sign-ins\n"
	    "  user list                          users, roles and groups\n"
	    "  user token NAME [--label L] [--days N]\n"
	    "                                     print a new API token "
	    "(90 days)\n"
	    "  group add G                        add a group\n"
	    "  group member G NAME                add a user to a group\n");
	exit(2);
}

/* Loads defaults, FILE, the environment and derived values; exits on error. */
static void
alia_config(struct config *c, const char *file)
{
	char err[1024], dir[PATH_MAX], *slash;

	config_defaults(c);
	if (file != NULL && config_load(c, file, err, sizeof(err)) == -1) {
		fprintf(stderr, "alia: config: %s\n", err);
		exit(1);
	}
	if (config_env(c, environ, err, sizeof(err)) == -1 ||
	    config_finish(c, err, sizeof(err)) == -1) {
		fprintf(stderr, "alia: config: %s\n", err);
		exit(1);
	}
	if (c->web_dir[0] == '\0') {
		/* The build puts web/ beside the binary. */
		snprintf(dir, sizeof(dir), "%s", proc_self());
		if ((slash = strrchr(dir, '/')) != NULL)
			*slash = '\0';
		if (snprintf(c->web_dir, sizeof(c->web_dir), "%s/web", dir) >=
		    (int)sizeof(c->web_dir))
			fatalx("web_dir: path of the binary too long");
	}
	if (c->lessons_dir[0] == '\0') {
		/* And lessons/ too. */
		snprintf(dir, sizeof(dir), "%s", proc_self());
		if ((slash = strrchr(dir, '/')) != NULL)
			*slash = '\0';
		if (snprintf(c->lessons_dir, sizeof(c->lessons_dir),
		        "%s/lessons", dir) >= (int)sizeof(c->lessons_dir))
			fatalx("lessons_dir: path of the binary too long");
	}
}

static int
alia_migrate(struct config *c)
{
	pid_t server = 0;
	int applied;

	if ((server = pg_start_oneshot(c)) == -1)
		return 1;

	applied = pg_migrate(c);
	pg_stop(server);
	if (applied == -1)
		return 1;
	printf(
	    "alia: %d migration%s applied\n", applied, applied == 1 ? "" : "s");
	return 0;
}

/* The options before the command, and those of `serve`. */
struct alia_opts {
	const char *file, *role;
	int check, verbose, foreground;
};

/* Parses argv with getopt's spec into o; usage() on anything else. */
static void
alia_opts(int argc, char **argv, const char *spec, struct alia_opts *o)
{
	int ch;

	while ((ch = getopt(argc, argv, spec)) != -1) {
		switch (ch) {
		case 'c':
			o->file = optarg;
			break;
		case 'd':
			o->foreground = 1;
			break;
		case 'n':
			o->check = 1;
			break;
		case 'R':
			o->role = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		default:
			usage();
		}
	}
	log_init("alia", o->verbose);
}

/*
 * The roles master re-executes the binary as (-R ROLE); worker and wall
 * run in the other image, alia-worker (worker/main.c).
 */
static const struct {
	const char *name;
	int (*main)(int verbose);
} alia_roles[] = {
    {"front", front_main},
    {"broker", broker_main},
    {"recorder", recorder_main},
};

/* The commands of cli/: each takes its own arguments after its name. */
static const struct {
	const char *name;
	int (*run)(const struct config *, const struct cli_db *, int, char **);
} alia_cli[] = {
    {"session", cli_session},
    {"engine", cli_engine},
    {"user", cli_user},
    {"group", cli_user_group},
};

int
main(int argc, char *argv[])
{
	struct config conf;
	struct alia_opts o = {0};
	char bindir[sizeof(conf.pg_bin)];
	size_t i;

	proc_init(argc, argv);
	log_init("alia", 0);
	alia_opts(argc, argv, "+c:dnR:vh", &o);
	argc -= optind;
	argv += optind;

	if (o.role != NULL) {
		for (i = 0; i < sizeof(alia_roles) / sizeof(alia_roles[0]); i++)
			if (strcmp(o.role, alia_roles[i].name) == 0)
				return alia_roles[i].main(o.verbose);
		if (strcmp(o.role, "worker") == 0 ||
		    strcmp(o.role, "wall") == 0)
			fatalx("role '%s' runs in alia-worker, beside alia",
			    o.role);
		fatalx("unknown role '%s'", o.role);
	}
	if (o.check) {
		alia_config(&conf, o.file);
		/* pg_bin as it will be used: the newest when left empty. */
		if (conf.pg_bin[0] == '\0' &&
		    pg_bindir(&conf, bindir, sizeof(bindir)) == 0)
			memcpy(conf.pg_bin, bindir, sizeof(conf.pg_bin));
		config_print(&conf, stdout);
		return 0;
	}
	if (argc == 0)
		usage();
	if (strcmp(argv[0], "serve") == 0) {
		optind = 1;
		alia_opts(argc, argv, "c:dv", &o);
		if (optind != argc)
			usage();
		alia_config(&conf, o.file);
		return master_main(&conf, o.file, o.foreground, o.verbose);
	}
	alia_config(&conf, o.file);
	if (strcmp(argv[0], "migrate") == 0) {
		if (argc != 1)
			usage();
		return alia_migrate(&conf);
	}
	if (strcmp(argv[0], "psql") == 0)
		return pg_psql(&conf, argc - 1, argv + 1);
	for (i = 0; i < sizeof(alia_cli) / sizeof(alia_cli[0]); i++)
		if (strcmp(argv[0], alia_cli[i].name) == 0)
			return alia_cli[i].run(
			    &conf, &alia_cli_db, argc - 1, argv + 1);
	fprintf(stderr, "alia: unknown command '%s'\n", argv[0]);
	usage();
}
