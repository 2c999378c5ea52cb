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
	return msg_send_blocking(
	           PROC_CHAN_FD, MSG_PING, 7, -1, &p, sizeof(p)) == -1;
}

static void
test_spawn_clean(void **state)
{
	unsigned char buf[MSG_MAX_PACKET];
	struct msg_ping p;
	struct msg m;
	char err[128];
	int sv[2], extra[2], status;
	pid_t pid;

	assert_int_equal(pipe(extra), 0); /* not close-on-exec */
	assert_int_equal(msg_socketpair(sv), 0);
	pid = proc_spawn("tester", sv[1], 0);
	assert_true(pid > 0);
	close(sv[1]);
	assert_int_equal(msg_recv_blocking(sv[0], buf, sizeof(buf), &m, 10000,
	                     err, sizeof(err)),
	    0);
	assert_int_equal(msg_get(&m, MSG_PING, &p, sizeof(p)), 0);
	assert_int_equal(m.hdr.id, 7);
	/* exactly one fd above stderr, and it is the channel */
	assert_int_equal(p.nonce, 11);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(sv[0]);
	close(extra[0]);
	close(extra[1]);
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
	int sv[2], status;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	assert_int_equal(msg_socketpair(sv), 0);
	pid = proc_spawn("signals", sv[1], 0);
	assert_true(pid > 0);
	close(sv[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(sv[0]);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
}

/* proc_exec: an external program sees no ignored signal and no extra fd. */
static void
test_exec_clean(void **state)
{
	char path[] = "/tmp/alia-test-proc-XXXXXX", script[512], out[1024];
	char *argv[] = {"/bin/sh", "-c", script, NULL};
	int fd, extra[2], status;
	ssize_t n;
	pid_t pid;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	snprintf(script, sizeof(script),
	    "exec >%s; grep -E '^Sig(Ign|Blk)' /proc/$$/status; "
	    "ls /proc/$$/fd | tr '\\n' ' '",
	    path);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(extra), 0);
	pid = proc_exec(argv, NULL, "/");
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	n = read(fd, out, sizeof(out) - 1);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "SigBlk:\t0000000000000000"));
	assert_non_null(strstr(out, "SigIgn:\t0000000000000000"));
	/* the fd list is the last line: exactly stdin, stdout, stderr */
	assert_non_null(strstr(out, "\n0 1 2 "));
	assert_string_equal(strstr(out, "\n0 1 2 "), "\n0 1 2 ");
	close(fd);
	unlink(path);
	close(extra[0]);
	close(extra[1]);
	signal(SIGPIPE, SIG_DFL);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spawn_clean),
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
