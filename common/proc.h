/* SPDX-License-Identifier: ISC */
/*
 * Process start: every alia process but master is `alia` re-executed with
 * a role (the worker's roles: PROC_WORKER_IMAGE, beside it), its channel to the parent on PROC_CHAN_FD, every other fd closed
 * and every signal disposition reset.
 */
#ifndef ALIA_PROC_H
#define ALIA_PROC_H

#include <sys/types.h>

#define PROC_CHAN_FD      3
/* The second image of alia: the roles worker and wall. */
#define PROC_WORKER_IMAGE "alia-worker"

/* Remembers the running binary's path; call first thing in main. */
void proc_init(int argc, char **argv);
const char *proc_self(void);
/* The path of the binary image in the running binary's directory. */
int proc_beside(const char *image, char *path, size_t size);
/*
 * Forks and re-executes alia (image NULL) or the binary image beside it
 * as ROLE with chan as PROC_CHAN_FD; the child gets nothing else but
 * stdin (from /dev/null), stdout and stderr. chan stays open in the parent
 * (the caller closes its copy).
 */
pid_t proc_spawn(const char *image, const char *role, int chan, int verbose);
/*
 * Forks and executes argv[0] with argv as the given user (NULL: unchanged),
 * with signals reset and fds above 2 closed. dir: working directory or NULL.
 * outfd >= 0: the child's stdout and stderr go there instead. The child
 * gets SIGINT when master dies: postgres's fast shutdown, which ends with
 * a checkpoint, so that the next start needs no crash recovery. env: NULL,
 * or "NAME=VALUE" strings, NULL-terminated, added to the child's
 * environment.
 */
pid_t proc_exec(char *const argv[], char *const env[], const char *user,
    const char *dir, int outfd);
/* In a freshly forked child: default signal dispositions, empty mask. */
void proc_reset_signals(void);
/* Closes every fd >= from. */
void proc_close_from(int from);
/* Sets the title shown by ps: "alia: ROLE", and the comm "alia-ROLE". */
void proc_title(const char *role);
/* Switches to user (and its group) for good; only when running as root. */
int proc_drop_privileges(const char *user);
/* Looks up uid and gid of a user name. */
int proc_user(const char *user, uid_t *, gid_t *);

#endif
