/* SPDX-License-Identifier: ISC */
/*
 * Process start: a child spawned with proc_spawn() (this test binary
 * re-executed with -R) finds its channel on fd 3 and no other fd beyond
 * stderr, default signal dispositions although the parent ignored SIGPIPE,
 * an empty signal mask and its title; proc_exec() gives an external
 * program the same clean start.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/proc.h"

/*
 * The child side, when the binary is re-executed with -R tester: reports
 * in a ping's nonce how many fds above stderr it has (10 per fd) and
 * whether fd 3 is a SOCK_SEQPACKET socket (1).
 */
static int
child_fds(void)
{
	struct msg_ping p;
	struct dirent *de;
	DIR *d;
	int fd, type, nfds = 0;
	socklen_t len = sizeof(type);

	if ((d = opendir("/proc/self/fd")) == NULL)
		return 1;
	while ((de = readdir(d)) != NULL) {
		fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd > 2 && fd != dirfd(d))
			nfds++;
	}
	closedir(d);
	memset(&p, 0, sizeof(p));
	p.nonce = (uint64_t)nfds * 10;
	if (getsockopt(PROC_CHAN_FD, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type == SOCK_SEQPACKET)
		p.nonce += 1;
	return msg_send_ping_blocking(
	           PROC_CHAN_FD, &(struct uuid){{[15] = 7}}, &p) == -1;
}

/* Spawns image (NULL: this binary) as the tester and checks its start. */
static void
spawn_clean(const char *image)
{
	unsigned char buf[MSG_MAX_PACKET];
	struct msg_ping p;
	struct msg m;
	char err[128];
	int sv[2], extra[2], status;
	pid_t pid;

	assert_int_equal(pipe(extra), 0); /* not close-on-exec */
	assert_int_equal(msg_socketpair(sv), 0);
	pid = proc_spawn(image, "tester", sv[1], 0);
	assert_true(pid > 0);
	close(sv[1]);
	assert_int_equal(msg_recv_blocking(sv[0], buf, sizeof(buf), &m, 10000,
	                     err, sizeof(err)),
	    0);
	assert_int_equal(msg_get_ping(&m, &p), 0);
	assert_int_equal(m.hdr.session.b[15], 7);
	/* exactly one fd above stderr, and it is the channel */
	assert_int_equal(p.nonce, 11);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(sv[0]);
	close(extra[0]);
	close(extra[1]);
}

/* Spawns image as role with a channel it does not use; its exit status. */
static int
spawn_exit(const char *image, const char *role)
{
	int sv[2], status;
	pid_t pid;

	assert_int_equal(msg_socketpair(sv), 0);
	pid = proc_spawn(image, role, sv[1], 0);
	assert_true(pid > 0);
	close(sv[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	close(sv[0]);
	return WEXITSTATUS(status);
}

static void
test_spawn_clean(void **state)
{
	spawn_clean(NULL);
}

/*
 * An image named by its file name is found beside the running binary
 * (this test's own name, as master names alia-worker beside alia); one
 * that is not there fails in the child, with exit 127.
 */
static void
test_spawn_image(void **state)
{
	char path[PATH_MAX], self[PATH_MAX];
	const char *base;

	base = strrchr(proc_self(), '/') + 1;
	assert_int_equal(proc_beside(base, path, sizeof(path)), 0);
	assert_string_equal(path, proc_self());
	assert_int_equal(proc_beside("x", path, 4), -1);
	spawn_clean(base);

	snprintf(self, sizeof(self), "%s.none", base);
	assert_int_equal(spawn_exit(self, "tester"), 127);
}

/* With -R signals: exits 0 only with a clean signal state and the title. */
static int
child_signals(void)
{
	struct sigaction sa;
	sigset_t set;
	char comm[16] = "";

	sigaction(SIGPIPE, NULL, &sa);
	sigprocmask(SIG_SETMASK, NULL, &set);
	proc_title("tester");
	prctl(PR_GET_NAME, comm);
	if (sa.sa_handler != SIG_DFL)
		return 10;
	if (sigismember(&set, SIGUSR1))
		return 11;
	if (strcmp(comm, "alia-tester") != 0)
		return 12;
	return 0;
}

static void
test_spawn_signals(void **state)
{
	sigset_t block;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	assert_int_equal(spawn_exit(NULL, "signals"), 0);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
}

/*
 * proc_exec: an external program sees no ignored signal, an empty mask and
 * no extra fd. The program is sleep(1), inspected from outside through
 * /proc once it has exec'd, so no shell's own forks and pipes can blur what
 * proc_exec handed over.
 */
static void
test_exec_clean(void **state)
{
	char *argv[] = {"/bin/sleep", "30", NULL};
	char path[64], line[256], comm[32] = "";
	int extra[2], status, tries, fds = 0, others = 0;
	int blk_ok = 0, ign_ok = 0, sleeping = 0;
	struct dirent *de;
	FILE *fp;
	DIR *dir;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(extra), 0);
	pid = proc_exec(argv, NULL, NULL, "/", -1);
	assert_true(pid > 0);
	/* wait for the exec: the child's comm turns from ours into "sleep" */
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	for (tries = 0; tries < 500; tries++) {
		if ((fp = fopen(path, "r")) != NULL) {
			if (fgets(comm, sizeof(comm), fp) == NULL)
				comm[0] = '\0';
			fclose(fp);
		}
		if (strcmp(comm, "sleep\n") == 0)
			break;
		usleep(10000);
	}
	assert_string_equal(comm, "sleep\n");

	/*
	 * Past the exec, the dynamic loader still opens and closes its
	 * libraries: the fds are counted once sleep sleeps (state S).
	 */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (tries = 0; tries < 500 && !sleeping; tries++) {
		assert_non_null(fp = fopen(path, "r"));
		blk_ok = ign_ok = 0;
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (strncmp(line, "State:\tS", 8) == 0)
				sleeping = 1;
			if (strcmp(line, "SigBlk:\t0000000000000000\n") == 0)
				blk_ok = 1;
			if (strcmp(line, "SigIgn:\t0000000000000000\n") == 0)
				ign_ok = 1;
		}
		fclose(fp);
		if (!sleeping)
			usleep(10000);
	}
	assert_true(sleeping);
	assert_true(blk_ok);
	assert_true(ign_ok);

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	assert_non_null(dir = opendir(path));
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (strcmp(de->d_name, "0") == 0 ||
		    strcmp(de->d_name, "1") == 0 ||
		    strcmp(de->d_name, "2") == 0)
			fds++;
		else
			others++;
	}
	closedir(dir);
	assert_int_equal(fds, 3);
	assert_int_equal(others, 0);

	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	close(extra[0]);
	close(extra[1]);
	signal(SIGPIPE, SIG_DFL);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spawn_clean),
	    cmocka_unit_test(test_spawn_image),
	    cmocka_unit_test(test_spawn_signals),
	    cmocka_unit_test(test_exec_clean),
	};

	proc_init(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "-R") == 0) {
		log_init(argv[2], 0);
		if (strcmp(argv[2], "tester") == 0)
			return child_fds();
		return child_signals();
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
