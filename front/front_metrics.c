/* SPDX-License-Identifier: ISC */
/*
 * GET /metrics: master's counters (sessions, bytes, restarts, Docker
 * calls and their latency, the recording's disk floor, the warm pool) in Prometheus'
 * text format. front asks master (front_master.c) on each request; the
 * route table lets only admins this far, or anyone when there are no
 * accounts (auth = none).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/xmalloc.h"
#include "front/front.h"

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One gauge per engine, labelled with its name (a-z, 0-9, _). */
static void
metrics_engines(struct evbuffer *b, const struct msg_metrics *m)
{
#define ENGINE_FIELD(f) \
	offsetof(struct msg_engine, f), sizeof(((struct msg_engine *)0)->f)
	static const struct {
		const char *name, *type, *help;
		size_t off, size; /* a uint32_t or uint64_t of msg_engine */
		int us;           /* microseconds, shown as seconds */
	} g[] = {
	    {"alia_engine_up", "gauge", "The Docker engine answers its pings.",
	        ENGINE_FIELD(up), 0},
	    {"alia_engine_ready", "gauge",
	        "The engine takes sessions: up, image there, reconciled.",
	        ENGINE_FIELD(ready), 0},
	    {"alia_engine_drained", "gauge",
	        "alia engine drain: no new sessions.", ENGINE_FIELD(drained),
	        0},
	    {"alia_engine_sessions", "gauge", "Live sessions on the engine.",
	        ENGINE_FIELD(sessions), 0},
	    {"alia_engine_pool_containers", "gauge",
	        "Warm pool containers on it.", ENGINE_FIELD(pool), 0},
	    {"alia_engine_capacity", "gauge",
	        "Sessions it may hold; 0: no limit.", ENGINE_FIELD(capacity),
	        0},
	    {"alia_engine_ping_seconds", "gauge", "The last ping's round trip.",
	        ENGINE_FIELD(ping_us), 1},
	    {"alia_engine_create_seconds", "gauge",
	        "Recent container create latency, averaged.",
	        ENGINE_FIELD(create_us), 1},
	    {"alia_engine_lost_total", "counter",
	        "Times the engine was found down.", ENGINE_FIELD(lost), 0},
	};
#undef ENGINE_FIELD
	const unsigned char *e;
	uint32_t v32;
	uint64_t v;
	size_t i, k, n;

	n = m->nengines < MSG_ENGINES ? (size_t)m->nengines : MSG_ENGINES;
	for (k = 0; k < sizeof(g) / sizeof(g[0]); k++) {
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n",
		    g[k].name, g[k].help, g[k].name, g[k].type);
		for (i = 0; i < n; i++) {
			e = (const unsigned char *)&m->engines[i];
			if (g[k].size == sizeof(v32)) {
				memcpy(&v32, e + g[k].off, sizeof(v32));
				v = v32;
			} else
				memcpy(&v, e + g[k].off, sizeof(v));
			evbuffer_add_printf(b, "%s{engine=\"%.*s\"} ",
			    g[k].name, (int)sizeof(m->engines[i].name),
			    m->engines[i].name);
			if (g[k].us)
				evbuffer_add_printf(b, "%.6f\n", v / 1e6);
			else
				evbuffer_add_printf(
				    b, "%llu\n", (unsigned long long)v);
		}
	}
}

static void
metrics_answer(struct conn *c, const struct msg_metrics *m)
{
	static const long buckets[] = METRICS_DOCKER_BUCKETS_MS;
	struct {
		const char *name, *type, *help;
		uint64_t v;
	} rows[] = {
	    {"alia_sessions_active", "gauge", "Sessions starting or running.",
	        m->sessions_active},
	    {"alia_sessions_created_total", "counter",
	        "Sessions created since start.", m->sessions_created},
	    {"alia_sessions_ended_total", "counter",
	        "Sessions ended since start.", m->sessions_ended},
	    {"alia_output_bytes_total", "counter",
	        "Terminal bytes from containers to browsers.", m->bytes_out},
	    {"alia_input_bytes_total", "counter",
	        "Bytes from browsers to containers.", m->bytes_in},
	    {"alia_resyncs_total", "counter",
	        "Slow browsers re-synced from the scrollback.", m->resyncs},
	    {"alia_worker_restarts_total", "counter",
	        "Session workers that died and were replaced.",
	        m->worker_restarts},
	    {"alia_child_restarts_total", "counter",
	        "Service processes restarted by master.", m->child_restarts},
	    {"alia_docker_errors_total", "counter", "Docker calls that failed.",
	        m->docker_errors},
	    {"alia_pool_containers", "gauge",
	        "Warm pool containers, ready or being made.",
	        m->pool_containers},
	    {"alia_pool_ready", "gauge",
	        "Warm pool containers ready to be taken.", m->pool_ready},
	    {"alia_pool_taken_total", "counter",
	        "Sessions given a warm pool container.", m->pool_taken},
	    {"alia_pool_missed_total", "counter",
	        "Sessions that found no warm pool container ready.",
	        m->pool_missed},
	    {"alia_lesson_checks_total", "counter",
	        "Lesson step checks run since start.", m->checks},
	    {"alia_lesson_checks_passed_total", "counter",
	        "Lesson step checks that passed.", m->checks_passed},
	    {"alia_lesson_checks_timed_out_total", "counter",
	        "Lesson step checks stopped at check_timeout.",
	        m->checks_timed_out},
	    {"alia_lesson_checks_running", "gauge",
	        "Lesson step checks running now.", m->checks_running},
	};
	struct evbuffer *b;
	size_t i, len;
	char *text;

	b = evbuffer_new();
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
		    rows[i].name, rows[i].help, rows[i].name, rows[i].type,
		    rows[i].name, (unsigned long long)rows[i].v);
	evbuffer_add_printf(b,
	    "# HELP alia_docker_call_seconds Docker Engine API call latency.\n"
	    "# TYPE alia_docker_call_seconds histogram\n");
	for (i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++)
		evbuffer_add_printf(b,
		    "alia_docker_call_seconds_bucket{le=\"%g\"} %llu\n",
		    buckets[i] / 1000.0,
		    (unsigned long long)m->docker_latency_le[i]);
	evbuffer_add_printf(b,
	    "alia_docker_call_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "alia_docker_call_seconds_sum %.6f\n"
	    "alia_docker_call_seconds_count %llu\n",
	    (unsigned long long)m->docker_calls, m->docker_latency_us_sum / 1e6,
	    (unsigned long long)m->docker_calls);
	if (m->disk_measured)
		evbuffer_add_printf(b,
		    "# HELP alia_record_disk_free_bytes Free disk under the "
		    "database.\n"
		    "# TYPE alia_record_disk_free_bytes gauge\n"
		    "alia_record_disk_free_bytes %llu\n",
		    (unsigned long long)m->disk_free);
	evbuffer_add_printf(b,
	    "# HELP alia_record_disk_paused Output recording paused: free "
	    "disk under record_disk_floor.\n"
	    "# TYPE alia_record_disk_paused gauge\n"
	    "alia_record_disk_paused %llu\n"
	    "# HELP alia_record_disk_pauses_total Times output recording "
	    "paused for the disk floor.\n"
	    "# TYPE alia_record_disk_pauses_total counter\n"
	    "alia_record_disk_pauses_total %llu\n",
	    (unsigned long long)m->disk_paused,
	    (unsigned long long)m->disk_pauses);
	metrics_engines(b, m);
	len = evbuffer_get_length(b);
	text = xmalloc(len + 1);
	evbuffer_remove(b, text, len);
	evbuffer_free(b);
	front_http_respond(
	    c, 200, METRICS_TYPE, text, len, "Cache-Control: no-store\r\n");
	free(text);
}

void
front_metrics_get(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	struct front_ask *p;

	p = front_master_park(c, NULL, NULL);
	p->metrics = metrics_answer;
	front_master_metrics(p);
}
