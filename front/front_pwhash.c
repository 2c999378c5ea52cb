/* SPDX-License-Identifier: ISC */
/*
 * Password checks off front's event loop. One Argon2id verify
 * (crypto_pwhash_str_verify at libsodium's interactive limits) takes
 * 0.1-0.5 s of CPU and 64 MiB on the machines alia runs on: done in the
 * loop, a class signing in at once would hold every page, API call and
 * websocket handoff for seconds.
 *
 * A few threads take jobs from one queue. A finished job's pointer goes
 * back through a pipe whose read end is an event in front's base, and the
 * caller's callback runs there, in the loop, like any other event. The
 * threads touch nothing but their job and the queue. Jobs are bounded
 * (max_jobs, queued and running): past that front_pwhash_verify refuses,
 * and the caller answers "busy, retry". Every job's callback runs once,
 * in the loop: with 1 (the password matches), 0 (it does not) or, for a
 * job dropped at shutdown, -1. It runs even when the request has gone;
 * the callback checks, as for a query.
 */
#include <sys/queue.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "front/front.h"

struct pwhash_job {
	TAILQ_ENTRY(pwhash_job) entry;
	char *stored;   /* the crypto_pwhash string */
	char *password; /* wiped before it is freed */
	int ok;
	void (*cb)(int result, void *arg);
	void *arg;
};
TAILQ_HEAD(pwhash_jobs, pwhash_job);

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct pwhash_jobs queue; /* under lock */
	int stopping;             /* under lock */
	pthread_t *threads;
	int nthreads;
	int jobs; /* queued, running or not yet called back; loop only */
	int max_jobs;
	int pipe[2]; /* finished jobs' pointers: threads -> loop */
	struct event *ev;
} pw_;

static void
pwhash_job_free(struct pwhash_job *j)
{
	sodium_memzero(j->password, strlen(j->password));
	free(j->password);
	free(j->stored);
	free(j);
}

static void *
pwhash_thread(void *unused)
{
	struct pwhash_job *j;
	ssize_t n;

	(void)unused;
	for (;;) {
		pthread_mutex_lock(&pw_.lock);
		while (!pw_.stopping && TAILQ_EMPTY(&pw_.queue))
			pthread_cond_wait(&pw_.wake, &pw_.lock);
		if (pw_.stopping) {
			pthread_mutex_unlock(&pw_.lock);
			return NULL;
		}
		j = TAILQ_FIRST(&pw_.queue);
		TAILQ_REMOVE(&pw_.queue, j, entry);
		pthread_mutex_unlock(&pw_.lock);

		j->ok = crypto_pwhash_str_verify(
		            j->stored, j->password, strlen(j->password)) == 0;
		/* A pointer is written whole: PIPE_BUF is far larger. */
		do
			n = write(pw_.pipe[1], &j, sizeof(j));
		while (n == -1 && errno == EINTR);
		if (n != (ssize_t)sizeof(j))
			fatal("%s: write", __func__);
	}
}

static void
pwhash_done_cb(evutil_socket_t fd, short what, void *unused)
{
	struct pwhash_job *j;
	ssize_t n;

	(void)what;
	(void)unused;
	while ((n = read(fd, &j, sizeof(j))) == (ssize_t)sizeof(j)) {
		pw_.jobs--;
		j->cb(j->ok, j->arg);
		pwhash_job_free(j);
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		fatal("%s: read", __func__);
	if (n > 0)
		fatalx("%s: a torn pointer (%zd bytes)", __func__, n);
}

void
front_pwhash_init(struct event_base *base, int nthreads, int max_jobs)
{
	sigset_t all, old;
	int i, flags;

	memset(&pw_, 0, sizeof(pw_));
	TAILQ_INIT(&pw_.queue);
	pthread_mutex_init(&pw_.lock, NULL);
	pthread_cond_init(&pw_.wake, NULL);
	pw_.max_jobs = max_jobs;
	if (pipe2(pw_.pipe, O_CLOEXEC) == -1)
		fatal("%s: pipe2", __func__);
	if ((flags = fcntl(pw_.pipe[0], F_GETFL)) == -1 ||
	    fcntl(pw_.pipe[0], F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("%s: fcntl", __func__);
	pw_.ev = event_new(
	    base, pw_.pipe[0], EV_READ | EV_PERSIST, pwhash_done_cb, NULL);
	if (pw_.ev == NULL || event_add(pw_.ev, NULL) == -1)
		fatalx("%s: event", __func__);

	/* Signals stay with the loop's thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pw_.threads = xcalloc((size_t)nthreads, sizeof(*pw_.threads));
	for (i = 0; i < nthreads; i++) {
		if ((errno = pthread_create(
		         &pw_.threads[i], NULL, pwhash_thread, NULL)) != 0)
			fatal("%s: pthread_create", __func__);
		pw_.nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int
front_pwhash_verify(const char *stored, const char *password,
    void (*cb)(int result, void *arg), void *arg)
{
	struct pwhash_job *j;

	if (pw_.jobs >= pw_.max_jobs)
		return -1;
	j = xcalloc(1, sizeof(*j));
	j->stored = xstrdup(stored);
	j->password = xstrdup(password);
	j->cb = cb;
	j->arg = arg;
	pw_.jobs++;
	pthread_mutex_lock(&pw_.lock);
	TAILQ_INSERT_TAIL(&pw_.queue, j, entry);
	pthread_cond_signal(&pw_.wake);
	pthread_mutex_unlock(&pw_.lock);
	return 0;
}

int
front_pwhash_pending(void)
{
	return pw_.jobs;
}

void
front_pwhash_free(void)
{
	struct pwhash_job *j;
	int i;

	if (pw_.threads == NULL)
		return;
	pthread_mutex_lock(&pw_.lock);
	pw_.stopping = 1;
	pthread_cond_broadcast(&pw_.wake);
	pthread_mutex_unlock(&pw_.lock);
	for (i = 0; i < pw_.nthreads; i++)
		pthread_join(pw_.threads[i], NULL);
	free(pw_.threads);
	pw_.threads = NULL;
	/* Jobs never run, and finished ones not yet called back: dropped. */
	while ((j = TAILQ_FIRST(&pw_.queue)) != NULL) {
		TAILQ_REMOVE(&pw_.queue, j, entry);
		j->cb(-1, j->arg);
		pwhash_job_free(j);
	}
	while (read(pw_.pipe[0], &j, sizeof(j)) == (ssize_t)sizeof(j)) {
		j->cb(-1, j->arg);
		pwhash_job_free(j);
	}
	event_free(pw_.ev);
	close(pw_.pipe[0]);
	close(pw_.pipe[1]);
	pthread_cond_destroy(&pw_.wake);
	pthread_mutex_destroy(&pw_.lock);
	pw_.jobs = 0;
}
