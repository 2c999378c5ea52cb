/* SPDX-License-Identifier: ISC */
/*
 * Process start and privilege drop. Master forks each child and re-executes
 * the alia binary with `-R ROLE` (or alia-worker, the second image in the
 * same directory, for the worker's roles), so every role starts from a
 * clean image:
 * the channel to master on fd 3, stdin from /dev/null, stdout and stderr
 * inherited for logging, no other fd, default signal dispositions (a child
 * must not inherit master's ignored SIGPIPE) and an empty signal mask.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"

static char proc_path[PATH_MAX];
static char **proc_argv;
static size_t proc_argv_len;

void
proc_init(int argc, char **argv)
{
	ssize_t n;
	int i;

	if ((n = readlink(
	         "/proc/self/exe", proc_path, sizeof(proc_path) - 1)) == -1)
		fatal("%s: readlink /proc/self/exe", __func__);
	proc_path[n] = '\0';
	proc_argv = argv;
	/* The argv strings are contiguous: the title may use all of them. */
	proc_argv_len = 0;
	for (i = 0; i < argc; i++)
		proc_argv_len += strlen(argv[i]) + 1;
}

const char *
proc_self(void)
{
	return proc_path;
}

void
proc_reset_signals(void)
{
	struct sigaction sa;
	sigset_t set;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

void
proc_close_from(int from)
{
	int fd, max;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == 0)
		return;
#endif
	max = (int)sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = from; fd < max; fd++)
		(void)close(fd);
}

/* Points stdin at /dev/null in a child. */
static void
proc_null_stdin(void)
{
	int fd;

	if ((fd = open("/dev/null", O_RDONLY)) == -1)
		return;
	if (fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
}

/* Forks for what: the pid in the parent (-1 logged), 0 in the child. */
static pid_t
proc_fork(const char *what)
{
	pid_t pid;

	if ((pid = fork()) == -1)
		log_warn("%s: fork %s", __func__, what);
	else if (pid == 0)
		proc_reset_signals();
	return pid;
}

int
proc_beside(const char *image, char *path, size_t size)
{
	const char *slash;
	int n;

	if ((slash = strrchr(proc_path, '/')) == NULL)
		return -1;
	n = snprintf(
	    path, size, "%.*s/%s", (int)(slash - proc_path), proc_path, image);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

pid_t
proc_spawn(const char *image, const char *role, int chan, int verbose)
{
	char title[64], path[PATH_MAX];
	const char *exe = proc_path;
	char *argv[6];
	pid_t pid;
	int i = 0;

	if (image != NULL) {
		if (proc_beside(image, path, sizeof(path)) == -1) {
			log_warnx("%s: path of %s too long", __func__, image);
			return -1;
		}
		exe = path;
	}
	if ((pid = proc_fork(role)) != 0)
		return pid;
	if (chan != PROC_CHAN_FD) {
		if (dup2(chan, PROC_CHAN_FD) == -1)
			_exit(127);
	} else if (fcntl(chan, F_SETFD, 0) == -1)
		_exit(127);
	proc_close_from(PROC_CHAN_FD + 1);
	proc_null_stdin();
	snprintf(title, sizeof(title), "alia: %s", role);
	argv[i++] = title;
	argv[i++] = (char *)"-R";
	argv[i++] = (char *)role;
	if (verbose)
		argv[i++] = (char *)"-v";
	argv[i] = NULL;
	execv(exe, argv);
	log_warn("%s: exec %s", __func__, exe);
	_exit(127);
}

int
proc_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno == 0)
			errno = ENOENT;
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
proc_drop_privileges(const char *user)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	if (proc_user(user, &uid, &gid) == -1) {
		log_warnx("%s: no user '%s' to run as (create it: useradd "
		          "--system %s)",
		    __func__, user, user);
		return -1;
	}
	if (uid == 0) {
		log_warnx("%s: user '%s' is root", __func__, user);
		return -1;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		log_warn("%s: switching to %s", __func__, user);
		return -1;
	}
	if (setuid(0) != -1 || geteuid() == 0)
		fatalx("%s: could regain root", __func__);
	(void)prctl(PR_SET_DUMPABLE, 1);
	return 0;
}

pid_t
proc_exec(char *const argv[], char *const env[], const char *user,
    const char *dir, int outfd)
{
	pid_t pid;
	size_t i;

	if ((pid = proc_fork(argv[0])) != 0)
		return pid;
	if (outfd >= 0 &&
	    (dup2(outfd, STDOUT_FILENO) == -1 ||
	        dup2(outfd, STDERR_FILENO) == -1))
		_exit(126);
	proc_close_from(STDERR_FILENO + 1);
	proc_null_stdin();
	if (user != NULL && proc_drop_privileges(user) == -1)
		_exit(126);
	/*
	 * After the credential change, which clears it: stop with master.
	 * SIGINT, not SIGQUIT: postgres's immediate shutdown costs the next
	 * start a crash recovery, which first fsyncs every file of the data
	 * directory (seconds on a busy machine, all of it before a
	 * restarted alia can take its sessions up).
	 */
	(void)prctl(PR_SET_PDEATHSIG, SIGINT);
	for (i = 0; env != NULL && env[i] != NULL; i++)
		if (putenv(env[i]) != 0)
			_exit(126);
	if (dir != NULL && chdir(dir) == -1) {
		log_warn("%s: chdir %s as %s (are its parents searchable?)",
		    __func__, dir, user ? user : "this user");
		_exit(126);
	}
	execv(argv[0], argv);
	log_warn("%s: exec %s", __func__, argv[0]);
	_exit(127);
}

void
proc_title(const char *role)
{
	char comm[16];

	snprintf(comm, sizeof(comm), "alia-%s", role);
	(void)prctl(PR_SET_NAME, comm);
	if (proc_argv != NULL && proc_argv_len > 1) {
		memset(proc_argv[0], 0, proc_argv_len);
		snprintf(proc_argv[0], proc_argv_len, "alia: %s", role);
		proc_argv[1] = NULL;
	}
}
