/* SPDX-License-Identifier: ISC */
/*
 * Configuration: table-driven good and bad files, environment overrides,
 * derived values and the normalised printout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/unit.h"

#include "common/config.h"

static char *
write_temp(const char *text)
{
	static char path[64];
	FILE *fp;
	int fd;

	strcpy(path, "/tmp/alia-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	return path;
}

static const struct {
	const char *text;
	const char *key; /* a key whose normalised value is checked */
	const char *want;
} good[] = {
    {"", "listen", "127.0.0.1:8080"},
    {"# comment\n\n  listen =  127.0.0.1:9000  \n", "listen", "127.0.0.1:9000"},
    {"listen = [::1]:8080\n", "listen", "[::1]:8080"},
    {"memory = 512m\n", "memory", "512m"},
    {"memory = 1073741824\n", "memory", "1g"},
    {"memory = 1536M\n", "memory", "1536m"},
    {"", "record_max", "1g"},
    {"record_max = 0\n", "record_max", "0"},
    {"record_max = 64k\n", "record_max", "64k"},
    {"", "max_sessions", "200"},
    {"", "live_restore", "1"},
    {"live_restore = 0\n", "live_restore", "0"},
    {"", "pool", "2"},
    {"pool = 0\n", "pool", "0"},
    {"", "max_viewers", "64"},
    {"", "max_viewers_per_user", "8"},
    {"", "max_walls_per_user", "4"},
    {"max_viewers = 500\n", "max_viewers", "500"},
    {"", "record_quota", "2g/day"},
    {"record_quota = 0\n", "record_quota", "0"},
    {"record_quota = 200k/day\n", "record_quota", "200k/day"},
    {"record_quota = 1g/24h\n", "record_quota", "1g/day"},
    {"record_quota = 512M/hour\n", "record_quota", "512m/hour"},
    {"record_quota = 5g/week\n", "record_quota", "5g/week"},
    {"record_quota = 100m/90m\n", "record_quota", "100m/90m"},
    {"record_quota = 3000/2d\n", "record_quota", "3000/2d"},
    {"", "record_disk_floor", "1g"},
    {"record_disk_floor = 0\n", "record_disk_floor", "0"},
    {"record_disk_floor = 300m\n", "record_disk_floor", "300m"},
    {"", "record_disk_path", ""},
    {"record_disk_path = /srv/pg\n", "record_disk_path", "/srv/pg"},
    {"", "record_retention", "0"},
    {"record_retention = 90d\n", "record_retention", "90d"},
    {"", "record_retention_every", "1h"},
    {"record_retention_every = 2\n", "record_retention_every", "2s"},
    {"cpus = 1.25\n", "cpus", "1.25"},
    {"cpus = 2\n", "cpus", "2"},
    {"pids = 64\n", "pids", "64"},
    {"idle_timeout = 90\n", "idle_timeout", "90s"},
    {"idle_timeout = 120\n", "idle_timeout", "2m"},
    {"idle_timeout = 0\n", "idle_timeout", "0"},
    {"max_lifetime = 2d\n", "max_lifetime", "2d"},
    {"auth = password\n", "auth", "password"},
    {"listen = 0.0.0.0:80\n", "auth", "password"},
    {"", "auth", "none"},
    {"database = host=/tmp dbname=x\n", "database", "host=/tmp dbname=x"},
    {"", "front_role", "alia_front"},
    {"front_role = web_ro2\n", "front_role", "web_ro2"},
    {"front_role =\n", "front_role", ""},
    {"docker = tcp://127.0.0.1:2376\n", "docker", "tcp://127.0.0.1:2376"},
    {"network = none\nimage = my-image:1\n", "image", "my-image:1"},
    {"", "trusted_proxies", ""},
    {"trusted_proxies = 127.0.0.1\n", "trusted_proxies", "127.0.0.1"},
    {"trusted_proxies = 127.0.0.1, 10.0.0.0/8, ::1\n", "trusted_proxies",
        "127.0.0.1, 10.0.0.0/8, ::1"},
    {"trusted_proxies = 10.1.0.0/16 fd00::/8,,0:0::1/128\n", "trusted_proxies",
        "10.1.0.0/16, fd00::/8, ::1"},
    {"trusted_proxies = ::ffff:192.0.2.1 0.0.0.0/0\n", "trusted_proxies",
        "192.0.2.1, 0.0.0.0/0"},
};

static const struct {
	const char *text;
	const char *err; /* expected in the message */
} bad[] = {
    {"nosuchkey = 1\n", "unknown key 'nosuchkey'"},
    {"listen\n", "expected 'key = value'"},
    {"listen = 127.0.0.1\n", "listen: '127.0.0.1' is not HOST:PORT"},
    {"listen = 127.0.0.1:0\n", "not HOST:PORT"},
    {"listen = 127.0.0.1:70000\n", "not HOST:PORT"},
    {"memory = lots\n", "memory: bad value 'lots'"},
    {"memory = 1k\n", "memory: '1k' is out of range"},
    {"memory = 12x\n", "memory: bad value"},
    {"record_max = -1\n", "record_max: bad value '-1'"},
    {"max_viewers = 0\n", "max_viewers: '0' is out of range"},
    {"max_sessions = 0\n", "max_sessions: '0' is out of range"},
    {"record_quota = 2g\n", "record_quota: bad value '2g'"},
    {"record_quota = 2g/fortnight\n", "record_quota: bad value"},
    {"record_quota = 2g/30s\n", "record_quota: bad value"},
    {"record_quota = /day\n", "record_quota: bad value"},
    {"record_quota = -1/day\n", "record_quota: bad value"},
    {"record_quota = 2x/day\n", "record_quota: bad value"},
    {"record_quota = 2g/day/day\n", "record_quota: bad value"},
    {"record_quota = 2000000t/day\n", "record_quota: '2000000t/day' is out"},
    {"record_disk_floor = 5%\n", "record_disk_floor: bad value"},
    {"record_retention = forever\n", "record_retention: bad value"},
    {"record_retention_every = 0\n", "record_retention_every: '0' is out"},
    {"memory = -5\n", "memory: bad value"},
    {"memory = 99999999999999999999t\n", "memory: bad value"},
    {"cpus = 0\n", "cpus: '0' is out of range"},
    {"cpus = 1.\n", "cpus: bad value"},
    {"cpus = .5\n", "cpus: bad value"},
    {"pids = 2\n", "pids: '2' is out of range"},
    {"pids = 10k\n", "pids: bad value"},
    {"idle_timeout = soon\n", "idle_timeout: bad value"},
    {"auth = maybe\n", "auth: 'maybe' is neither none nor password"},
    {"auth = none\nlisten = 0.0.0.0:8080\n", "loopback"},
    {"docker = http://x\n", "docker: 'http://x' is neither"},
    {"docker = a=tcp://x:1, a=tcp://y:1\n", "docker: engine a is named twice"},
    {"docker = unix:///a, unix:///b\n", "engine local is named twice"},
    {"docker = Big=tcp://x:1\n", "'Big' is not an engine name"},
    {"docker = 1a=tcp://x:1\n", "'1a' is not an engine name"},
    {"docker = a=ftp://x\n", "'ftp://x' is neither"},
    {"docker = ,\n", "docker: no engine"},
    {"docker = a=unix:///a,b=unix:///a,c=unix:///a,d=unix:///a,"
     "e=unix:///a,f=unix:///a,g=unix:///a,h=unix:///a,i=unix:///a,"
     "j=unix:///a,k=unix:///a,l=unix:///a,m=unix:///a,n=unix:///a,"
     "o=unix:///a,p=unix:///a,q=unix:///a\n",
        "docker: more than 16 engines"},
    {"docker_capacity_zz = 3\n",
        "docker_capacity_zz: docker names no "
        "engine zz"},
    {"docker_capacity_local = lots\n", "docker_capacity_local: bad value"},
    {"docker_capacity_Local = 1\n", "docker_capacity_Local: not an engine"},
    {"engine_max_sessions = -1\n", "engine_max_sessions: bad value"},
    {"image =\n", "image: must not be empty"},
    {"network =\n", "network: empty"},
    {"front_role = Front\n", "front_role: 'Front' is not a role name"},
    {"front_role = a b\n", "front_role: 'a b' is not a role name"},
    {"front_role = 1x\n", "front_role: '1x' is not a role name"},
    {"trusted_proxies = proxy.example\n",
        "trusted_proxies: 'proxy.example' is not an IPv4 or IPv6"},
    {"trusted_proxies = 127.0.0.1, 10.0.0.0/33\n",
        "trusted_proxies: '10.0.0.0/33': the prefix length must be 0 to 32"},
    {"trusted_proxies = ::/129\n", "must be 0 to 128"},
    {"trusted_proxies = 10.0.0.0/\n", "must be 0 to 32"},
    {"trusted_proxies = 10.0.0.0/8x\n", "must be 0 to 32"},
    {"trusted_proxies = 10.0.0.1/8\n", "'10.0.0.1/8' has bits set past its /8"},
    {"trusted_proxies = 127.0.0.1:80\n", "is not an IPv4 or IPv6"},
    {"environments = debian\n", "'debian' is not NAME=IMAGE"},
    {"environments = Deb=x\n", "'Deb' is not an environment name"},
    {"environments = a=x, a=y\n", "environments: a is named twice"},
    {"environments = a=\n", "environments: a: an image of 1 to"},
    {"environments = a=x y\n", "'x y' is not an image name"},
    {"environments = ,\n", "environments: none"},
    {"environments = a=x,b=x,c=x,d=x,e=x,f=x,g=x,h=x,i=x\n",
        "environments: more than 8"},
    {"environment_description_zz = hi\n",
        "environment_description_zz: environments names no zz"},
    {"environment_description_Z = hi\n", "not an environment name"},
    {"check_timeout = 0\n", "check_timeout: '0' is out of range"},
    {"check_timeout = 11m\n", "check_timeout: '11m' is out of range"},
};

/* Loads text as a file and finishes; returns 0/-1 with err filled. */
static int
load(const char *text, struct config *c, char *err, size_t errlen)
{
	char *path = write_temp(text);
	int r;

	config_defaults(c);
	r = config_load(c, path, err, errlen);
	if (r == 0)
		r = config_finish(c, err, errlen);
	unlink(path);
	return r;
}

/* The value printed for key, from config_print. */
static void
printed(const struct config *c, const char *key, char *out, size_t len)
{
	char *buf = NULL, *line, *save;
	size_t blen = 0;
	FILE *fp = open_memstream(&buf, &blen);

	config_print(c, fp);
	fclose(fp);
	out[0] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, key, strlen(key)) == 0 &&
		    strncmp(line + strlen(key), " = ", 3) == 0)
			snprintf(out, len, "%s", line + strlen(key) + 3);
	free(buf);
}

static void
test_good(void **state)
{
	struct config c;
	char err[512], got[512];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (load(good[i].text, &c, err, sizeof(err)) != 0)
			fail_msg("case %zu: %s", i, err);
		printed(&c, good[i].key, got, sizeof(got));
		if (strcmp(got, good[i].want) != 0)
			fail_msg("case %zu: %s = '%s', want '%s'", i,
			    good[i].key, got, good[i].want);
	}
}

static void
test_bad(void **state)
{
	struct config c;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (load(bad[i].text, &c, err, sizeof(err)) != -1)
			fail_msg("case %zu accepted: %s", i, bad[i].text);
		if (strstr(err, bad[i].err) == NULL)
			fail_msg("case %zu: error '%s' lacks '%s'", i, err,
			    bad[i].err);
	}
	config_defaults(&c);
	assert_int_equal(
	    config_load(&c, "/nonexistent/alia.conf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

static void
test_env(void **state)
{
	char *env_ok[] = {"PATH=/bin", "ALIA_LISTEN=127.0.0.1:7000",
	    "ALIA_MEMORY=1g", "ALIA_BIN=/ignored/not/a/key",
	    "ALIA_RECORD_QUOTA=200k/hour", NULL};
	char *env_bad[] = {"ALIA_PIDS=many", NULL};
	struct config c;
	char err[512], got[64];

	config_defaults(&c);
	assert_int_equal(config_env(&c, env_ok, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "127.0.0.1:7000");
	assert_int_equal(c.memory, INT64_C(1) << 30);
	assert_int_equal(c.record_quota, 200 * 1024);
	assert_int_equal(c.record_quota_window, 3600);
	config_defaults(&c);
	assert_int_equal(config_env(&c, env_bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ALIA_PIDS"));

	/* DOCKER_HOST fills docker when the key is not set */
	setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
	config_defaults(&c);
	assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
	assert_string_equal(c.docker, "tcp://127.0.0.1:2375");
	assert_int_equal(
	    config_set(&c, "docker", "unix:///x.sock", err, sizeof(err)), 0);
	assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
	assert_string_equal(c.docker, "unix:///x.sock");
	unsetenv("DOCKER_HOST");
	config_defaults(&c);
	assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
	assert_string_equal(c.docker, "unix:///var/run/docker.sock");
	printed(&c, "cpus", got, sizeof(got));
	assert_string_equal(got, "0.5");
}

/* docker as a list of engines, their capacities, from file and env. */
static void
test_engines(void **state)
{
	char *env[] = {"ALIA_DOCKER_CAPACITY_T=7", NULL};
	struct config c;
	char err[512];

	assert_int_equal(load("docker = local=unix:///var/run/docker.sock, "
	                      "p=tcp://10.0.0.2:2375 ,t=tcp://[::1]:2376\n"
	                      "docker_capacity_p = 3\n"
	                      "engine_max_sessions = 5\n",
	                     &c, err, sizeof(err)),
	    0);
	assert_int_equal(c.nengines, 3);
	assert_string_equal(c.engine[0].name, "local");
	assert_string_equal(c.engine[0].url, "unix:///var/run/docker.sock");
	assert_string_equal(c.engine[1].name, "p");
	assert_string_equal(c.engine[1].url, "tcp://10.0.0.2:2375");
	assert_string_equal(c.engine[2].name, "t");
	assert_string_equal(c.engine[2].url, "tcp://[::1]:2376");
	assert_int_equal(c.engine[0].capacity, 5);
	assert_int_equal(c.engine[1].capacity, 3);
	assert_int_equal(c.engine[2].capacity, 5);

	/* ALIA_DOCKER_CAPACITY_<NAME> is a key like the others */
	config_defaults(&c);
	assert_int_equal(
	    config_set(&c, "docker", "t=tcp://10.0.0.3:2376,u=unix:///u.sock",
	        err, sizeof(err)),
	    0);
	assert_int_equal(config_env(&c, env, err, sizeof(err)), 0);
	assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
	assert_int_equal(c.engine[0].capacity, 7);
	assert_int_equal(c.engine[1].capacity, 0);

	/* a lone URL is the engine local */
	assert_int_equal(
	    load("docker = tcp://h:2375\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.nengines, 1);
	assert_string_equal(c.engine[0].name, "local");
	assert_string_equal(c.engine[0].url, "tcp://h:2375");
}

/* environments: the default list, a list of one's own, descriptions. */
static void
test_environments(void **state)
{
	char *env[] = {
	    "ALIA_ENVIRONMENT_DESCRIPTION_PY=Python, and more", NULL};
	struct config c;
	char err[512];

	assert_int_equal(load("image = mine:1\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.nenvs, 2);
	assert_string_equal(c.env[0].name, "debian");
	assert_string_equal(c.env[0].image, "alia-sandbox:debian");
	assert_string_equal(c.env[1].name, "busybox");
	assert_string_equal(c.env[1].image, "mine:1"); /* image's */
	assert_non_null(strstr(c.env[0].description, "Debian 12"));
	assert_ptr_equal(config_env_find(&c, NULL), &c.env[0]);
	assert_ptr_equal(config_env_find(&c, ""), &c.env[0]);
	assert_ptr_equal(config_env_find(&c, "busybox"), &c.env[1]);
	assert_null(config_env_find(&c, "plan9"));
	assert_int_equal(c.check_timeout, 10);

	config_defaults(&c);
	assert_int_equal(
	    config_set(&c, "environments",
	        " py = reg.example/py:3.12 ,sh-2=alia:sh ", err, sizeof(err)),
	    0);
	assert_int_equal(config_env(&c, env, err, sizeof(err)), 0);
	assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
	assert_int_equal(c.nenvs, 2);
	assert_string_equal(c.env[0].name, "py");
	assert_string_equal(c.env[0].image, "reg.example/py:3.12");
	assert_string_equal(c.env[0].description, "Python, and more");
	assert_string_equal(c.env[1].name, "sh-2");
	assert_string_equal(c.env[1].image, "alia:sh");
	assert_string_equal(c.env[1].description, "");
}

/* Printing and reading back gives the same configuration. */
static void
test_print_round_trip(void **state)
{
	struct config a, b;
	char err[512], *buf = NULL, *path;
	size_t len = 0;
	FILE *fp;

	assert_int_equal(load("memory = 300m\ncpus = 1.5\nidle_timeout = 45\n"
	                      "database = dbname=x\n"
	                      "docker = a=unix:///a.sock,b=tcp://b:2375\n"
	                      "docker_capacity_b = 9\n"
	                      "environments = x=img:1, y=img:2\n"
	                      "environment_description_y = Why not\n"
	                      "check_timeout = 30\n",
	                     &a, err, sizeof(err)),
	    0);
	fp = open_memstream(&buf, &len);
	config_print(&a, fp);
	fclose(fp);
	path = write_temp(buf);
	config_defaults(&b);
	assert_int_equal(config_load(&b, path, err, sizeof(err)), 0);
	assert_int_equal(config_finish(&b, err, sizeof(err)), 0);
	unlink(path);
	free(buf);
	assert_memory_equal(&a, &b, sizeof(a));
}

UNIT_MAIN(cmocka_unit_test(test_good), cmocka_unit_test(test_bad),
    cmocka_unit_test(test_env), cmocka_unit_test(test_engines),
    cmocka_unit_test(test_environments),
    cmocka_unit_test(test_print_round_trip))
