/* SPDX-License-Identifier: ISC */
/*
 * master's watch on the free disk under the database: the disk floor.
 * Once a second it measures (statvfs) the file system of
 * record_disk_path, or of data_dir/pg when the database is the embedded
 * one; with an external database and no record_disk_path nothing is
 * measured and the floor does not apply. When the space free to
 * unprivileged users falls under record_disk_floor, output recording
 * pauses for every session: a log line, the metrics, and a
 * MSG_BROKER_DISK to the broker, which passes it as MSG_RECORD_PAUSE to
 * each worker (now and as they connect), and each worker marks it in its
 * recording. It resumes the same way once the free space is back above
 * the floor plus a tenth of it (the margin keeps a disk that hovers at
 * the floor from pausing and resuming every second). A new broker is told
 * the current state at once.
 */
#include <sys/statvfs.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proto.h"
#include "master/master.h"

#define DISK_CHECK_MS 1000

static struct {
	const struct config *conf;
	struct event *ev;
	char path[PATH_MAX];
	int measured; /* a path to measure and a floor */
	int known;    /* at least one measurement */
	int failing;  /* statvfs fails (logged once) */
	int paused;
	uint64_t free, pauses;
} dk;

/* Tells the broker whether output recording is paused for the disk. */
static void
disk_tell(void)
{
	struct msgchan *broker = master_broker();
	struct msg_record_pause rp;

	if (broker == NULL || !dk.known)
		return;
	memset(&rp, 0, sizeof(rp));
	rp.reason = RECORD_PAUSE_DISK;
	rp.paused = dk.paused;
	if (dk.paused)
		snprintf(rp.why, sizeof(rp.why),
		    "%llu MB free under the database, under record_disk_floor "
		    "(%llu MB)",
		    (unsigned long long)(dk.free >> 20),
		    (unsigned long long)(dk.conf->record_disk_floor >> 20));
	else
		snprintf(rp.why, sizeof(rp.why),
		    "%llu MB free under the database again",
		    (unsigned long long)(dk.free >> 20));
	msg_send_broker_disk(broker, NULL, &rp);
}

static void
disk_check_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t floor = (uint64_t)dk.conf->record_disk_floor;
	struct timeval tv = {
	    DISK_CHECK_MS / 1000, (DISK_CHECK_MS % 1000) * 1000};
	struct statvfs st;
	int was = dk.paused, first = !dk.known;

	evtimer_add(dk.ev, &tv);
	if (statvfs(dk.path, &st) == -1) {
		if (!dk.failing)
			log_warn("record_disk_floor: statvfs %s", dk.path);
		dk.failing = 1;
		return;
	}
	dk.failing = 0;
	dk.known = 1;
	dk.free = (uint64_t)st.f_bavail * st.f_frsize;
	if (!dk.paused && dk.free < floor)
		dk.paused = 1;
	else if (dk.paused && dk.free >= floor + floor / 10)
		dk.paused = 0;
	if (dk.paused && !was) {
		dk.pauses++;
		log_warnx("%llu MB free under %s, under record_disk_floor "
		          "(%llu MB): output recording paused for every "
		          "session",
		    (unsigned long long)(dk.free >> 20), dk.path,
		    (unsigned long long)(floor >> 20));
	} else if (!dk.paused && was)
		log_info("%llu MB free under %s: output recording resumed",
		    (unsigned long long)(dk.free >> 20), dk.path);
	if (first || dk.paused != was)
		disk_tell();
}

void
disk_init(struct event_base *base, const struct config *conf)
{
	memset(&dk, 0, sizeof(dk));
	dk.conf = conf;
	if (conf->record_disk_floor == 0 || !conf->record)
		return;
	if (conf->record_disk_path[0] != '\0')
		snprintf(
		    dk.path, sizeof(dk.path), "%s", conf->record_disk_path);
	else if (pg_embedded(conf))
		pg_paths(conf, dk.path, sizeof(dk.path), NULL, 0);
	else {
		log_info("record_disk_floor does not apply: the database is "
		         "external and record_disk_path is not set");
		return;
	}
	dk.measured = 1;
	dk.ev = evtimer_new(base, disk_check_cb, NULL);
	disk_check_cb(-1, 0, NULL);
}

void
disk_free(void)
{
	if (dk.ev != NULL)
		event_free(dk.ev);
	dk.ev = NULL;
}

void
disk_broker_started(void)
{
	disk_tell();
}

void
disk_metrics(struct msg_metrics *m)
{
	m->disk_measured = dk.measured && dk.known;
	m->disk_free = dk.free;
	m->disk_paused = dk.paused;
	m->disk_pauses = dk.pauses;
}
