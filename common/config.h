/* SPDX-License-Identifier: ISC */
/*
 * The configuration: a `key = value` file, then ALIA_<KEY> environment
 * overrides, then defaults resolved. The struct is plain and fixed-size so
 * master can hand a copy to every child in one MSG_CONFIG message.
 */
#ifndef ALIA_CONFIG_H
#define ALIA_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define CONFIG_STR  256
#define CONFIG_PATH 1024

enum config_auth {
	CONFIG_AUTH_AUTO = 0, /* resolved: none on loopback, else password */
	CONFIG_AUTH_NONE,
	CONFIG_AUTH_PASSWORD,
};

/* What one role may use; 0: the global value (memory, cpus, ...). */
struct config_limits {
	int64_t max_sessions;
	int64_t memory;
	int64_t nano_cpus;
	int64_t pids;
};
#define CONFIG_ROLE_LEARNER    0
#define CONFIG_ROLE_INSTRUCTOR 1
#define CONFIG_ROLE_ADMIN      2
#define CONFIG_NROLES          3

/*
 * One Docker engine of `docker` (NAME=URL, or a lone URL: "local"), and
 * what it may hold (docker_capacity_NAME, else engine_max_sessions).
 */
#define CONFIG_ENGINES     16
#define CONFIG_ENGINE_NAME 32
struct config_engine {
	char name[CONFIG_ENGINE_NAME]; /* [a-z][a-z0-9_]* */
	char url[CONFIG_STR];          /* unix:///path or tcp://host:port */
	int64_t capacity;              /* sessions at most; 0: no limit */
};

/*
 * One environment of `environments` (NAME=IMAGE, ...; the first is the
 * default) and its description (environment_description_NAME).
 */
#define CONFIG_ENVS     8
#define CONFIG_ENV_NAME 32
struct config_env {
	char name[CONFIG_ENV_NAME]; /* [a-z][a-z0-9_-]* */
	char image[CONFIG_STR];
	char description[CONFIG_STR];
};

struct config {
	char listen[CONFIG_STR];          /* host:port */
	char docker[CONFIG_PATH];         /* the engines, as written */
	char docker_tls_dir[CONFIG_PATH]; /* NAME/{ca,cert,key}.pem */
	char database[CONFIG_PATH];       /* libpq conninfo; empty: embedded */
	char data_dir[CONFIG_PATH];
	char web_dir[CONFIG_PATH];   /* empty: the build's web/ */
	char pg_bin[CONFIG_PATH];    /* empty: newest installed */
	char front_role[CONFIG_STR]; /* front's database role; empty: none */
	char user[CONFIG_STR];       /* unprivileged user when root */
	char node[CONFIG_STR];       /* this host's name in labels */
	char image[CONFIG_STR];
	char network[CONFIG_STR];
	char control_consent[16];   /* required | notify */
	char tls_cert[CONFIG_PATH]; /* PEM chain; set: front speaks HTTPS */
	char tls_key[CONFIG_PATH];  /* PEM private key */
	int auth;                   /* enum config_auth */
	int pad;
	int64_t memory;    /* bytes */
	int64_t nano_cpus; /* 1e9 = one cpu */
	int64_t pids;
	int64_t idle_timeout;    /* seconds; 0 = never */
	int64_t max_lifetime;    /* seconds; 0 = never */
	int64_t reconnect_grace; /* seconds */
	int64_t max_sessions_per_user;
	int64_t max_body;     /* bytes of an HTTP request body */
	int64_t record;       /* 0: sessions are not recorded at all */
	int64_t record_input; /* 1: unechoed typed input recorded as '*' */
	int64_t record_max;   /* output bytes recorded per session; 0: all */
	/* per role (auth = password) */
	struct config_limits limits[CONFIG_NROLES];
	int64_t max_sessions;         /* live sessions, all users */
	int64_t max_viewers;          /* browsers per session */
	int64_t max_viewers_per_user; /* ... of one identity (not links) */
	int64_t max_walls_per_user;   /* open instructor walls */
	int64_t record_quota;         /* output bytes per user per window; 0 */
	int64_t record_quota_window;  /* seconds: the quota's rolling window */
	int64_t record_disk_floor;    /* free bytes under which output stops */
	char record_disk_path[CONFIG_PATH]; /* where; empty: data_dir/pg */
	int64_t record_retention; /* seconds; 0: recordings kept forever */
	int64_t record_retention_every; /* seconds between retention runs */
	int64_t live_restore; /* 1: a stop leaves sessions to take up again */
	int64_t pool;         /* containers started ahead of demand */
	/* proxies whose X-Forwarded-For/-Proto are believed (proxy.h) */
	char trusted_proxies[CONFIG_PATH];
	int64_t engine_max_sessions; /* per engine without its own; 0: none */
	/* docker_capacity_NAME as set, matched to engines by config_finish */
	struct {
		char name[CONFIG_ENGINE_NAME];
		int64_t n;
	} capacity[CONFIG_ENGINES];
	int64_t ncapacity;
	/* `docker` resolved by config_finish */
	struct config_engine engine[CONFIG_ENGINES];
	int64_t nengines;
	char environments[CONFIG_PATH]; /* as written; empty: the default */
	char lessons_dir[CONFIG_PATH];  /* empty: lessons/ beside the binary */
	int64_t check_timeout;          /* seconds a lesson's check may run */
	/* environment_description_NAME as set, matched by config_finish */
	struct {
		char name[CONFIG_ENV_NAME];
		char text[CONFIG_STR];
	} env_desc[CONFIG_ENVS];
	int64_t nenv_desc;
	/* `environments` resolved by config_finish */
	struct config_env env[CONFIG_ENVS];
	int64_t nenvs;
};

/* Fills in the defaults. */
void config_defaults(struct config *);
/* Reads FILE over the current values; errors are written to err. */
int config_load(struct config *, const char *file, char *err, size_t errlen);
/* Applies ALIA_<KEY> variables found in envp. */
int config_env(struct config *, char **envp, char *err, size_t errlen);
/* Sets one key from text, as the file and the environment do. */
int config_set(struct config *, const char *key, const char *value, char *err,
    size_t errlen);
/* Resolves derived values (auth, docker from DOCKER_HOST) and checks. */
int config_finish(struct config *, char *err, size_t errlen);
/* Prints the configuration normalised, one `key = value` per line. */
void config_print(const struct config *, FILE *);
/*
 * Parses a `docker` value (NAME=URL, ...; a lone URL is "local") into e,
 * CONFIG_ENGINES of them at most: how many, or -1 with err set.
 */
int config_engines(
    const char *, struct config_engine *e, char *err, size_t errlen);
/*
 * Parses an `environments` value (NAME=IMAGE, ...) into e, CONFIG_ENVS of
 * them at most: how many, or -1 with err set.
 */
int config_environments(
    const char *, struct config_env *e, char *err, size_t errlen);
/* The environment named name, or NULL; NULL or "" names the default. */
const struct config_env *config_env_find(
    const struct config *, const char *name);
/* Whether the listen address is a loopback one. */
int config_listen_loopback(const struct config *);
/* Splits listen into host and port. */
int config_listen_split(const struct config *, char *host, size_t hostlen,
    char *port, size_t portlen);

#endif
