/* SPDX-License-Identifier: ISC */
/*
 * Configuration parsing. One table names every key with its kind (text,
 * size in bytes, duration in seconds, cpu count, count, auth mode); the
 * file, the environment and the printer all go through it, so a key
 * exists in one place only.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/proxy.h"
#include "common/str.h"

enum config_kind {
	KIND_TEXT,
	KIND_SIZE,
	KIND_DURATION,
	KIND_CPUS,
	KIND_COUNT,
	KIND_AUTH,
	KIND_QUOTA, /* SIZE/WINDOW into the field and the next int64_t */
};

struct config_key {
	const char *name;
	enum config_kind kind;
	size_t off;
	size_t len; /* for text: the field's size */
	int64_t min, max;
};

#define TEXT(n, f)                                        \
	{                                                 \
		n, KIND_TEXT, offsetof(struct config, f), \
		    sizeof(((struct config *)0)->f), 0, 0 \
	}
#define NUM(n, k, f, lo, hi)                                \
	{                                                   \
		n, k, offsetof(struct config, f), 0, lo, hi \
	}

/* KIND_QUOTA's window is the field after its size. */
_Static_assert(offsetof(struct config, record_quota_window) ==
        offsetof(struct config, record_quota) + sizeof(int64_t),
    "record_quota_window must follow record_quota");

static const struct config_key config_keys[] = {
    TEXT("listen", listen),
    TEXT("docker", docker),
    TEXT("docker_tls_dir", docker_tls_dir),
    NUM("engine_max_sessions", KIND_COUNT, engine_max_sessions, 0, 100000),
    TEXT("database", database),
    TEXT("data_dir", data_dir),
    TEXT("web_dir", web_dir),
    TEXT("pg_bin", pg_bin),
    TEXT("front_role", front_role),
    TEXT("user", user),
    TEXT("node", node),
    {"auth", KIND_AUTH, offsetof(struct config, auth), 0, 0, 0},
    TEXT("image", image),
    NUM("memory", KIND_SIZE, memory, 6 * 1024 * 1024, INT64_C(1) << 40),
    NUM("cpus", KIND_CPUS, nano_cpus, 10000000, INT64_C(1024) * 1000000000),
    NUM("pids", KIND_COUNT, pids, 8, 1000000),
    TEXT("network", network),
    NUM("idle_timeout", KIND_DURATION, idle_timeout, 0, 365 * 86400),
    NUM("max_lifetime", KIND_DURATION, max_lifetime, 0, 365 * 86400),
    NUM("reconnect_grace", KIND_DURATION, reconnect_grace, 0, 86400),
    NUM("max_sessions_per_user", KIND_COUNT, max_sessions_per_user, 1, 100000),
    NUM("max_sessions", KIND_COUNT, max_sessions, 1, 100000),
    NUM("max_viewers", KIND_COUNT, max_viewers, 1, 10000),
    NUM("max_viewers_per_user", KIND_COUNT, max_viewers_per_user, 1, 10000),
    NUM("max_walls_per_user", KIND_COUNT, max_walls_per_user, 1, 1000),
    NUM("max_body", KIND_SIZE, max_body, 1024, 64 * 1024 * 1024),
    TEXT("control_consent", control_consent),
    TEXT("tls_cert", tls_cert),
    TEXT("tls_key", tls_key),
    NUM("record", KIND_COUNT, record, 0, 1),
    NUM("record_input", KIND_COUNT, record_input, 0, 1),
    NUM("record_max", KIND_SIZE, record_max, 0, INT64_C(1) << 50),
    NUM("record_quota", KIND_QUOTA, record_quota, 0, INT64_C(1) << 50),
    NUM("record_disk_floor", KIND_SIZE, record_disk_floor, 0, INT64_C(1) << 50),
    TEXT("record_disk_path", record_disk_path),
    NUM("record_retention", KIND_DURATION, record_retention, 0,
        INT64_C(100) * 365 * 86400),
    NUM("record_retention_every", KIND_DURATION, record_retention_every, 1,
        7 * 86400),
    NUM("live_restore", KIND_COUNT, live_restore, 0, 1),
    NUM("pool", KIND_COUNT, pool, 0, 1000),
    TEXT("trusted_proxies", trusted_proxies),
    TEXT("environments", environments),
    TEXT("lessons_dir", lessons_dir),
    NUM("check_timeout", KIND_DURATION, check_timeout, 1, 600),
#define ROLE_LIMITS(role, i)                                             \
	NUM(role "_max_sessions", KIND_COUNT, limits[i].max_sessions, 0, \
	    100000),                                                     \
	    NUM(role "_memory", KIND_SIZE, limits[i].memory, 0,          \
	        INT64_C(1) << 40),                                       \
	    NUM(role "_cpus", KIND_CPUS, limits[i].nano_cpus, 0,         \
	        INT64_C(1024) * 1000000000),                             \
	    NUM(role "_pids", KIND_COUNT, limits[i].pids, 0, 1000000)
    ROLE_LIMITS("learner", CONFIG_ROLE_LEARNER),
    ROLE_LIMITS("instructor", CONFIG_ROLE_INSTRUCTOR),
    ROLE_LIMITS("admin", CONFIG_ROLE_ADMIN),
};

static int
config_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8080");
	snprintf(c->data_dir, sizeof(c->data_dir), "./var");
	snprintf(c->user, sizeof(c->user), "alia");
	snprintf(c->front_role, sizeof(c->front_role), "alia_front");
	snprintf(c->image, sizeof(c->image), "alia-sandbox:latest");
	snprintf(c->network, sizeof(c->network), "none");
	c->auth = CONFIG_AUTH_AUTO;
	c->memory = 256 * 1024 * 1024;
	c->nano_cpus = 500000000;
	c->pids = 128;
	c->idle_timeout = 30 * 60;
	c->max_lifetime = 8 * 3600;
	c->reconnect_grace = 5 * 60;
	c->max_sessions_per_user = 4;
	c->max_sessions = 200;
	c->max_viewers = 64;
	c->max_viewers_per_user = 8;
	c->max_walls_per_user = 4;
	c->max_body = 1024 * 1024;
	snprintf(c->control_consent, sizeof(c->control_consent), "required");
	c->record = 1;
	c->record_input = 1;
	c->record_max = INT64_C(1) << 30;
	c->record_quota = INT64_C(2) << 30;
	c->record_quota_window = 86400;
	c->record_disk_floor = INT64_C(1) << 30;
	c->record_retention = 0;
	c->record_retention_every = 3600;
	c->live_restore = 1;
	c->pool = 2;
	c->check_timeout = 10;
}

static const struct config_key *
config_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* Parses a whole number followed by one unit letter from units/mults. */
static int
config_number(
    const char *v, const char *units, const int64_t *mults, int64_t *out)
{
	char *end;
	long long n;
	const char *u;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0)
		return -1;
	if (*end == '\0') {
		*out = n;
		return 0;
	}
	if (end[1] != '\0' ||
	    (u = strchr(units, tolower((unsigned char)*end))) == NULL)
		return -1;
	if (n > INT64_MAX / mults[u - units])
		return -1;
	*out = n * mults[u - units];
	return 0;
}

/* Parses a decimal number of cpus into billionths. */
static int
config_cpus(const char *v, int64_t *out)
{
	int64_t whole = 0, frac = 0, scale = 100000000;
	const char *p = v;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > 100000)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (scale == 0)
				return -1;
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p != '\0')
		return -1;
	*out = whole * 1000000000 + frac;
	return 0;
}

/* The named windows of record_quota, in seconds. */
static const struct {
	const char *name;
	int64_t secs;
} config_windows[] = {
    {"hour", 3600},
    {"day", 86400},
    {"week", 7 * 86400},
};

/*
 * Parses a quota: 0 (none), or SIZE/WINDOW where WINDOW is hour, day,
 * week or a duration (24h, 90m); the size goes to out[0], the window in
 * seconds to out[1] (at least a minute, at most a year).
 */
static int
config_quota(const char *v, const int64_t *size_mult, const int64_t *dur_mult,
    int64_t *out)
{
	char size[64];
	const char *slash;
	size_t i;

	if (strcmp(v, "0") == 0) {
		out[0] = 0;
		return 0;
	}
	if ((slash = strchr(v, '/')) == NULL ||
	    (size_t)(slash - v) >= sizeof(size))
		return -1;
	memcpy(size, v, (size_t)(slash - v));
	size[slash - v] = '\0';
	if (config_number(size, "kmgt", size_mult, &out[0]) == -1)
		return -1;
	for (i = 0; i < sizeof(config_windows) / sizeof(config_windows[0]); i++)
		if (strcmp(slash + 1, config_windows[i].name) == 0) {
			out[1] = config_windows[i].secs;
			return 0;
		}
	if (config_number(slash + 1, "smhd", dur_mult, &out[1]) == -1 ||
	    out[1] < 60 || out[1] > 365 * 86400)
		return -1;
	return 0;
}

/* Whether v can be a role name in "-c role=v" without quoting. */
static int
config_role_ok(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if (!(v[i] >= 'a' && v[i] <= 'z') && v[i] != '_' &&
		    !(i > 0 && v[i] >= '0' && v[i] <= '9'))
			return 0;
	return i < 64;
}

static int
config_text_ok(
    const struct config_key *k, const char *v, char *err, size_t errlen)
{
	const char *p;

	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return config_err(err, errlen,
			    "%s: control characters are not allowed", k->name);
	if (strlen(v) >= k->len)
		return config_err(err, errlen,
		    "%s: value longer than %zu bytes", k->name, k->len - 1);
	if (strcmp(k->name, "network") == 0 && v[0] == '\0')
		return config_err(
		    err, errlen, "network: empty; use 'none' for no network");
	if ((strcmp(k->name, "image") == 0 || strcmp(k->name, "user") == 0 ||
	        strcmp(k->name, "data_dir") == 0 ||
	        strcmp(k->name, "listen") == 0) &&
	    v[0] == '\0')
		return config_err(
		    err, errlen, "%s: must not be empty", k->name);
	if (strcmp(k->name, "front_role") == 0 && !config_role_ok(v))
		return config_err(err, errlen,
		    "front_role: '%s' is not a role name of lower-case "
		    "letters, digits and _ (at most 63), or empty",
		    v);
	if (strcmp(k->name, "docker") == 0 && v[0] != '\0') {
		struct config_engine e[CONFIG_ENGINES];

		return config_engines(v, e, err, errlen) == -1 ? -1 : 0;
	}
	return 0;
}

/*
 * Whether the len bytes of v are a name: a lower-case letter, then
 * letters, digits and the characters of more; shorter than size.
 */
static int
config_name_ok(const char *v, size_t len, size_t size, const char *more)
{
	size_t i;

	if (len == 0 || len >= size || !islower((unsigned char)v[0]))
		return 0;
	for (i = 1; i < len; i++)
		if (!islower((unsigned char)v[i]) &&
		    !isdigit((unsigned char)v[i]) &&
		    (v[i] == '\0' || strchr(more, v[i]) == NULL))
			return 0;
	return 1;
}

/* An engine's name: [a-z][a-z0-9_]*. */
static int
config_engine_name_ok(const char *v, size_t len)
{
	return config_name_ok(v, len, CONFIG_ENGINE_NAME, "_");
}

/*
 * The next item of a comma-separated list at *p, blanks trimmed: its
 * start and *len, *p moved past it; NULL after the last.
 */
static const char *
config_item(const char **p, size_t *len)
{
	const char *item;

	while (**p == ' ' || **p == ',')
		(*p)++;
	if (**p == '\0')
		return NULL;
	item = *p;
	*p += strcspn(*p, ",");
	*len = (size_t)(*p - item);
	while (*len > 0 && item[*len - 1] == ' ')
		(*len)--;
	return item;
}

/*
 * Parses `docker`: NAME=URL, ... (a lone URL is the engine "local") into
 * e; the number of engines, or -1.
 */
int
config_engines(const char *v, struct config_engine *e, char *err, size_t errlen)
{
	const char *next = v, *p, *eq, *url;
	size_t len, ulen;
	int n = 0, i;

	while ((p = config_item(&next, &len)) != NULL) {
		if (n == CONFIG_ENGINES)
			return config_err(err, errlen,
			    "docker: more than %d engines", CONFIG_ENGINES);
		memset(&e[n], 0, sizeof(e[n]));
		eq = memchr(p, '=', len);
		if (eq != NULL && memchr(p, ':', (size_t)(eq - p)) == NULL) {
			if (!config_engine_name_ok(p, (size_t)(eq - p)))
				return config_err(err, errlen,
				    "docker: '%.*s' is not an engine name: a "
				    "lower-case letter, then letters, digits "
				    "and _, at most %d",
				    (int)(eq - p), p, CONFIG_ENGINE_NAME - 1);
			memcpy(e[n].name, p, (size_t)(eq - p));
			url = eq + 1;
		} else {
			snprintf(e[n].name, sizeof(e[n].name), "local");
			url = p;
		}
		ulen = (size_t)(p + len - url);
		if (ulen >= sizeof(e[n].url))
			return config_err(err, errlen,
			    "docker: engine %s: URL longer than %zu bytes",
			    e[n].name, sizeof(e[n].url) - 1);
		memcpy(e[n].url, url, ulen);
		if (strncmp(e[n].url, "unix://", 7) != 0 &&
		    strncmp(e[n].url, "tcp://", 6) != 0)
			return config_err(err, errlen,
			    "docker: '%s' is neither unix:///PATH nor "
			    "tcp://HOST:PORT",
			    e[n].url);
		for (i = 0; i < n; i++)
			if (strcmp(e[i].name, e[n].name) == 0)
				return config_err(err, errlen,
				    "docker: engine %s is named twice%s",
				    e[n].name,
				    strcmp(e[n].name, "local") == 0
				        ? " (a URL without NAME= is local)"
				        : "");
		n++;
	}
	if (n == 0)
		return config_err(err, errlen, "docker: no engine");
	return n;
}

#define CAPACITY_PREFIX "docker_capacity_"

/* docker_capacity_NAME = N: kept until config_finish knows the engines. */
static int
config_capacity(struct config *c, const char *name, const char *value,
    char *err, size_t errlen)
{
	char *end;
	long long n;
	int64_t i;

	if (!config_engine_name_ok(name, strlen(name)))
		return config_err(err, errlen, "%s%s: not an engine name",
		    CAPACITY_PREFIX, name);
	errno = 0;
	n = strtoll(value, &end, 10);
	if (!isdigit((unsigned char)value[0]) || *end != '\0' || errno != 0 ||
	    n < 0 || n > 100000)
		return config_err(err, errlen,
		    "%s%s: bad value '%s': sessions, 0 to 100000",
		    CAPACITY_PREFIX, name, value);
	for (i = 0; i < c->ncapacity; i++)
		if (strcmp(c->capacity[i].name, name) == 0)
			break;
	if (i == CONFIG_ENGINES)
		return config_err(err, errlen, "more than %d %sNAME keys",
		    CONFIG_ENGINES, CAPACITY_PREFIX);
	snprintf(c->capacity[i].name, sizeof(c->capacity[i].name), "%s", name);
	c->capacity[i].n = n;
	if (i == c->ncapacity)
		c->ncapacity++;
	return 0;
}

/* An environment's name: [a-z][a-z0-9_-]*. */
static int
config_env_name_ok(const char *v, size_t len)
{
	return config_name_ok(v, len, CONFIG_ENV_NAME, "_-");
}

int
config_environments(
    const char *v, struct config_env *e, char *err, size_t errlen)
{
	const char *next = v, *p, *eq, *image;
	size_t len, ilen, nlen;
	int n = 0, i;

	while ((p = config_item(&next, &len)) != NULL) {
		if (n == CONFIG_ENVS)
			return config_err(err, errlen,
			    "environments: more than %d", CONFIG_ENVS);
		memset(&e[n], 0, sizeof(e[n]));
		if ((eq = memchr(p, '=', len)) == NULL)
			return config_err(err, errlen,
			    "environments: '%.*s' is not NAME=IMAGE", (int)len,
			    p);
		nlen = (size_t)(eq - p);
		while (nlen > 0 && p[nlen - 1] == ' ')
			nlen--;
		if (!config_env_name_ok(p, nlen))
			return config_err(err, errlen,
			    "environments: '%.*s' is not an environment name: "
			    "a lower-case letter, then letters, digits, _ and "
			    "-, at most %d",
			    (int)nlen, p, CONFIG_ENV_NAME - 1);
		memcpy(e[n].name, p, nlen);
		image = eq + 1;
		while (*image == ' ' && image < p + len)
			image++;
		ilen = (size_t)(p + len - image);
		if (ilen == 0 || ilen >= sizeof(e[n].image))
			return config_err(err, errlen,
			    "environments: %s: an image of 1 to %zu bytes",
			    e[n].name, sizeof(e[n].image) - 1);
		memcpy(e[n].image, image, ilen);
		if (strpbrk(e[n].image, " \t\"\\") != NULL)
			return config_err(err, errlen,
			    "environments: %s: '%s' is not an image name",
			    e[n].name, e[n].image);
		for (i = 0; i < n; i++)
			if (strcmp(e[i].name, e[n].name) == 0)
				return config_err(err, errlen,
				    "environments: %s is named twice",
				    e[n].name);
		n++;
	}
	if (n == 0)
		return config_err(err, errlen, "environments: none");
	return n;
}

const struct config_env *
config_env_find(const struct config *c, const char *name)
{
	int64_t i;

	if (name == NULL || name[0] == '\0')
		return c->nenvs > 0 ? &c->env[0] : NULL;
	for (i = 0; i < c->nenvs; i++)
		if (strcmp(c->env[i].name, name) == 0)
			return &c->env[i];
	return NULL;
}

#define ENV_DESC_PREFIX "environment_description_"

/* environment_description_NAME = text: matched by config_finish. */
static int
config_env_desc(struct config *c, const char *name, const char *value,
    char *err, size_t errlen)
{
	int64_t i;

	if (!config_env_name_ok(name, strlen(name)))
		return config_err(err, errlen, "%s%s: not an environment name",
		    ENV_DESC_PREFIX, name);
	if (strlen(value) >= sizeof(c->env_desc[0].text))
		return config_err(err, errlen, "%s%s: longer than %zu bytes",
		    ENV_DESC_PREFIX, name, sizeof(c->env_desc[0].text) - 1);
	for (i = 0; i < c->nenv_desc; i++)
		if (strcmp(c->env_desc[i].name, name) == 0)
			break;
	if (i == CONFIG_ENVS)
		return config_err(err, errlen, "more than %d %sNAME keys",
		    CONFIG_ENVS, ENV_DESC_PREFIX);
	snprintf(c->env_desc[i].name, sizeof(c->env_desc[i].name), "%s", name);
	snprintf(c->env_desc[i].text, sizeof(c->env_desc[i].text), "%s", value);
	if (i == c->nenv_desc)
		c->nenv_desc++;
	return 0;
}

/* environments resolved, with their descriptions. */
static int
config_finish_envs(struct config *c, char *err, size_t errlen)
{
	static const struct {
		const char *name, *text;
	} builtin[] = {
	    {"debian",
	        "Debian 12 (bookworm): bash, coreutils, man pages, "
	        "python3, git, nano and vim"},
	    {"busybox",
	        "BusyBox: a small sh and the basic commands, "
	        "nothing else"},
	};
	char def[CONFIG_PATH];
	const char *v = c->environments;
	int64_t i, j;
	int n;

	if (v[0] == '\0') {
		if (snprintf(def, sizeof(def),
		        "debian=alia-sandbox:debian, busybox=%s",
		        c->image) >= (int)sizeof(def))
			return config_err(err, errlen, "image: too long");
		v = def;
	}
	if ((n = config_environments(v, c->env, err, errlen)) == -1)
		return -1;
	c->nenvs = n;
	for (j = 0; j < n; j++)
		for (i = 0; i < (int64_t)(sizeof(builtin) / sizeof(builtin[0]));
		     i++)
			if (strcmp(c->env[j].name, builtin[i].name) == 0)
				snprintf(c->env[j].description,
				    sizeof(c->env[j].description), "%s",
				    builtin[i].text);
	for (i = 0; i < c->nenv_desc; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(c->env[j].name, c->env_desc[i].name) == 0)
				break;
		if (j == n)
			return config_err(err, errlen,
			    "%s%s: environments names no %s", ENV_DESC_PREFIX,
			    c->env_desc[i].name, c->env_desc[i].name);
		snprintf(c->env[j].description, sizeof(c->env[j].description),
		    "%s", c->env_desc[i].text);
	}
	return 0;
}

int
config_set(struct config *c, const char *key, const char *value, char *err,
    size_t errlen)
{
	static const int64_t size_mult[] = {
	    1024, INT64_C(1) << 20, INT64_C(1) << 30, INT64_C(1) << 40};
	static const int64_t dur_mult[] = {1, 60, 3600, 86400};
	static const int64_t one[] = {1};
	const struct config_key *k;
	struct proxy_trust trust;
	int64_t n = 0, q[2];
	int r = 0;
	char *field, msg[256];

	if (strncmp(key, CAPACITY_PREFIX, strlen(CAPACITY_PREFIX)) == 0)
		return config_capacity(
		    c, key + strlen(CAPACITY_PREFIX), value, err, errlen);
	if (strncmp(key, ENV_DESC_PREFIX, strlen(ENV_DESC_PREFIX)) == 0)
		return config_env_desc(
		    c, key + strlen(ENV_DESC_PREFIX), value, err, errlen);
	if ((k = config_find(key)) == NULL)
		return config_err(err, errlen, "unknown key '%s'", key);
	field = (char *)c + k->off;
	switch (k->kind) {
	case KIND_TEXT:
		if (config_text_ok(k, value, err, errlen) == -1)
			return -1;
		snprintf(field, k->len, "%s", value);
		if (strcmp(key, "trusted_proxies") == 0) {
			if (proxy_trust_parse(
			        &trust, value, msg, sizeof(msg)) == -1)
				return config_err(
				    err, errlen, "trusted_proxies: %s", msg);
			if (proxy_trust_format(&trust, field, k->len) == -1)
				return config_err(err, errlen,
				    "trusted_proxies: longer than %zu bytes once "
				    "written as ADDR, ADDR/BITS, ...",
				    k->len - 1);
		}
		if (strcmp(key, "listen") == 0 &&
		    config_listen_split(c, NULL, 0, NULL, 0) == -1)
			return config_err(err, errlen,
			    "listen: '%s' is not HOST:PORT", value);
		return 0;
	case KIND_AUTH:
		if (strcmp(value, "none") == 0)
			*(int *)field = CONFIG_AUTH_NONE;
		else if (strcmp(value, "password") == 0)
			*(int *)field = CONFIG_AUTH_PASSWORD;
		else
			return config_err(err, errlen,
			    "auth: '%s' is neither none nor password", value);
		return 0;
	case KIND_QUOTA:
		q[1] = ((int64_t *)field)[1];
		if (config_quota(value, size_mult, dur_mult, q) == -1)
			return config_err(err, errlen,
			    "%s: bad value '%s': 0, or SIZE/WINDOW with a window "
			    "of hour, day, week or a duration (2g/day, 500m/12h)",
			    key, value);
		if (q[0] > k->max)
			return config_err(err, errlen,
			    "%s: '%s' is out of range", key, value);
		((int64_t *)field)[0] = q[0];
		((int64_t *)field)[1] = q[1];
		return 0;
	case KIND_SIZE:
		r = config_number(value, "kmgt", size_mult, &n);
		break;
	case KIND_DURATION:
		r = config_number(value, "smhd", dur_mult, &n);
		break;
	case KIND_COUNT:
		r = config_number(value, "", one, &n);
		break;
	case KIND_CPUS:
		r = config_cpus(value, &n);
		break;
	}
	if (r == -1)
		return config_err(
		    err, errlen, "%s: bad value '%s'", key, value);
	if (n < k->min || n > k->max)
		return config_err(
		    err, errlen, "%s: '%s' is out of range", key, value);
	*(int64_t *)field = n;
	return 0;
}

static char *
config_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_load(struct config *c, const char *file, char *err, size_t errlen)
{
	char line[4096], msg[512], *key, *value, *eq;
	FILE *fp;
	int lineno = 0;

	if ((fp = fopen(file, "r")) == NULL)
		return config_err(err, errlen, "%s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			fclose(fp);
			return config_err(
			    err, errlen, "%s:%d: line too long", file, lineno);
		}
		key = config_trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			fclose(fp);
			return config_err(err, errlen,
			    "%s:%d: expected 'key = value'", file, lineno);
		}
		*eq = '\0';
		key = config_trim(key);
		value = config_trim(eq + 1);
		if (config_set(c, key, value, msg, sizeof(msg)) == -1) {
			fclose(fp);
			return config_err(
			    err, errlen, "%s:%d: %s", file, lineno, msg);
		}
	}
	fclose(fp);
	return 0;
}

int
config_env(struct config *c, char **envp, char *err, size_t errlen)
{
	char key[64], msg[512];
	const char *eq, *p;
	size_t i, n;

	for (; envp != NULL && *envp != NULL; envp++) {
		if (strncmp(*envp, "ALIA_", 5) != 0 ||
		    (eq = strchr(*envp, '=')) == NULL)
			continue;
		n = (size_t)(eq - (*envp + 5));
		if (n == 0 || n >= sizeof(key))
			continue;
		for (i = 0, p = *envp + 5; i < n; i++, p++)
			key[i] = (char)tolower((unsigned char)*p);
		key[n] = '\0';
		/* Variables of the scripts and tests, not configuration. */
		if (config_find(key) == NULL &&
		    strncmp(key, CAPACITY_PREFIX, strlen(CAPACITY_PREFIX)) !=
		        0 &&
		    strncmp(key, ENV_DESC_PREFIX, strlen(ENV_DESC_PREFIX)) != 0)
			continue;
		if (config_set(c, key, eq + 1, msg, sizeof(msg)) == -1)
			return config_err(err, errlen, "ALIA_%.*s: %s", (int)n,
			    *envp + 5, msg);
	}
	return 0;
}

int
config_listen_split(const struct config *c, char *host, size_t hostlen,
    char *port, size_t portlen)
{
	const char *colon, *h = c->listen, *end;
	char *pend;
	long pn;

	if ((colon = strrchr(c->listen, ':')) == NULL || colon == c->listen)
		return -1;
	end = colon;
	if (h[0] == '[') {
		if (colon[-1] != ']')
			return -1;
		h++;
		end--;
	}
	if (end <= h)
		return -1;
	errno = 0;
	pn = strtol(colon + 1, &pend, 10);
	if (colon[1] == '\0' || *pend != '\0' || errno != 0 || pn < 1 ||
	    pn > 65535)
		return -1;
	if (host != NULL)
		snprintf(host, hostlen, "%.*s", (int)(end - h), h);
	if (port != NULL)
		snprintf(port, portlen, "%ld", pn);
	return 0;
}

int
config_listen_loopback(const struct config *c)
{
	char host[CONFIG_STR];

	if (config_listen_split(c, host, sizeof(host), NULL, 0) == -1)
		return 0;
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	    strcmp(host, "localhost") == 0;
}

int
config_finish(struct config *c, char *err, size_t errlen)
{
	const char *dh;
	int i, j, n;

	if (c->docker[0] == '\0') {
		dh = getenv("DOCKER_HOST");
		if (str_copy(c->docker, sizeof(c->docker),
		        dh != NULL && dh[0] != '\0'
		            ? dh
		            : "unix:///var/run/docker.sock") == -1)
			return config_err(err, errlen,
			    "DOCKER_HOST: longer than %zu bytes",
			    sizeof(c->docker) - 1);
		if (strncmp(c->docker, "unix://", 7) != 0 &&
		    strncmp(c->docker, "tcp://", 6) != 0)
			return config_err(err, errlen,
			    "DOCKER_HOST: '%s' is neither unix:///PATH nor "
			    "tcp://HOST:PORT",
			    c->docker);
	}
	if ((n = config_engines(c->docker, c->engine, err, errlen)) == -1)
		return -1;
	c->nengines = n;
	for (i = 0; i < c->ncapacity; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(c->engine[j].name, c->capacity[i].name) == 0)
				break;
		if (j == n)
			return config_err(err, errlen,
			    "%s%s: docker names no engine %s", CAPACITY_PREFIX,
			    c->capacity[i].name, c->capacity[i].name);
		c->engine[j].capacity = c->capacity[i].n;
	}
	for (j = 0; j < n; j++)
		if (c->engine[j].capacity == 0)
			c->engine[j].capacity = c->engine_max_sessions;
	if (config_finish_envs(c, err, errlen) == -1)
		return -1;
	if (c->node[0] == '\0' && gethostname(c->node, sizeof(c->node)) == -1)
		snprintf(c->node, sizeof(c->node), "alia");
	c->node[sizeof(c->node) - 1] = '\0';
	if (c->auth == CONFIG_AUTH_AUTO)
		c->auth = config_listen_loopback(c) ? CONFIG_AUTH_NONE
		                                    : CONFIG_AUTH_PASSWORD;
	if (c->auth == CONFIG_AUTH_NONE && !config_listen_loopback(c))
		return config_err(err, errlen,
		    "auth = none is allowed only on a loopback listen address "
		    "(listen = %s): set auth = password",
		    c->listen);
	for (i = 0; i < CONFIG_NROLES; i++) {
		if (c->limits[i].memory != 0 &&
		    c->limits[i].memory < 6 * 1024 * 1024)
			return config_err(err, errlen,
			    "a role's memory is 0 (the global memory) or at "
			    "least 6m");
		if (c->limits[i].nano_cpus != 0 &&
		    c->limits[i].nano_cpus < 10000000)
			return config_err(err, errlen,
			    "a role's cpus is 0 (the global cpus) or at least "
			    "0.01");
		if (c->limits[i].pids != 0 && c->limits[i].pids < 8)
			return config_err(err, errlen,
			    "a role's pids is 0 (the global pids) or at least 8");
	}
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0'))
		return config_err(err, errlen,
		    "tls_cert and tls_key go together: set both, or neither");
	if (strcmp(c->control_consent, "required") != 0 &&
	    strcmp(c->control_consent, "notify") != 0)
		return config_err(err, errlen,
		    "control_consent must be required or notify, not \"%s\"",
		    c->control_consent);
	return 0;
}

/* Prints n with the largest unit that divides it exactly. */
static void
config_print_unit(
    FILE *fp, int64_t n, const char *units, const int64_t *mults, int nunits)
{
	int i;

	for (i = nunits - 1; i >= 0; i--)
		if (n != 0 && n % mults[i] == 0) {
			fprintf(
			    fp, "%lld%c", (long long)(n / mults[i]), units[i]);
			return;
		}
	fprintf(fp, "%lld", (long long)n);
}

/* Prints a quota as SIZE/WINDOW, naming the window when it has a name. */
static void
config_print_quota(FILE *fp, const int64_t *q, const int64_t *size_mult,
    const int64_t *dur_mult)
{
	size_t i;

	if (q[0] == 0) {
		fprintf(fp, "0");
		return;
	}
	config_print_unit(fp, q[0], "kmgt", size_mult, 4);
	fputc('/', fp);
	for (i = 0; i < sizeof(config_windows) / sizeof(config_windows[0]); i++)
		if (q[1] == config_windows[i].secs) {
			fprintf(fp, "%s", config_windows[i].name);
			return;
		}
	config_print_unit(fp, q[1], "smhd", dur_mult, 4);
}

void
config_print(const struct config *c, FILE *fp)
{
	static const int64_t size_mult[] = {
	    1024, INT64_C(1) << 20, INT64_C(1) << 30, INT64_C(1) << 40};
	static const int64_t dur_mult[] = {1, 60, 3600, 86400};
	const struct config_key *k;
	const char *field;
	int64_t n;
	size_t i;

	for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		k = &config_keys[i];
		field = (const char *)c + k->off;
		fprintf(fp, "%s = ", k->name);
		switch (k->kind) {
		case KIND_TEXT:
			fprintf(fp, "%s", field);
			break;
		case KIND_AUTH:
			fprintf(fp, "%s",
			    *(const int *)field == CONFIG_AUTH_NONE ? "none"
			        : *(const int *)field == CONFIG_AUTH_PASSWORD
			        ? "password"
			        : "auto");
			break;
		case KIND_SIZE:
			config_print_unit(
			    fp, *(const int64_t *)field, "kmgt", size_mult, 4);
			break;
		case KIND_QUOTA:
			config_print_quota(
			    fp, (const int64_t *)field, size_mult, dur_mult);
			break;
		case KIND_DURATION:
			n = *(const int64_t *)field;
			if (n == 0)
				fprintf(fp, "0");
			else
				config_print_unit(fp, n, "smhd", dur_mult, 4);
			break;
		case KIND_COUNT:
			fprintf(fp, "%lld", (long long)*(const int64_t *)field);
			break;
		case KIND_CPUS:
			n = *(const int64_t *)field;
			fprintf(fp, "%lld", (long long)(n / 1000000000));
			if (n % 1000000000 != 0) {
				char frac[16];
				size_t e;

				snprintf(frac, sizeof(frac), "%09lld",
				    (long long)(n % 1000000000));
				for (e = strlen(frac);
				     e > 0 && frac[e - 1] == '0'; e--)
					frac[e - 1] = '\0';
				fprintf(fp, ".%s", frac);
			}
			break;
		}
		fputc('\n', fp);
	}
	for (i = 0; i < (size_t)c->ncapacity; i++)
		fprintf(fp, "%s%s = %lld\n", CAPACITY_PREFIX,
		    c->capacity[i].name, (long long)c->capacity[i].n);
	for (i = 0; i < (size_t)c->nenv_desc; i++)
		fprintf(fp, "%s%s = %s\n", ENV_DESC_PREFIX, c->env_desc[i].name,
		    c->env_desc[i].text);
}
