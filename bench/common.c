/* SPDX-License-Identifier: ISC */
/*
 * The helpers alia-bench and alia-load share: medians and percentiles of
 * latency samples, and creating and deleting a session over the JSON API.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/common.h"
#include "tests/lib/wsclient.h"

static int
common_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
common_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), common_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double
common_percentile(double *v, int n, double p)
{
	int i;

	qsort(v, (size_t)n, sizeof(*v), common_cmp_double);
	i = (int)(p * (n - 1) + 0.5);
	return v[i];
}

int
common_session_create(
    struct wsc_agent *a, char *id, size_t idlen, char *ws, size_t wslen)
{
	struct wsc_response r;
	int status;

	if (wsc_request(a, "POST", "/api/sessions", "{\"cols\":80,\"rows\":24}",
	        &r) == -1) {
		fprintf(stderr, "%s: POST /api/sessions: no answer\n",
		    program_invocation_short_name);
		wsc_response_free(&r);
		return -1;
	}
	status = r.status;
	if (status != 201 || wsc_json_get(r.body, "id", id, idlen) == -1 ||
	    wsc_json_get(r.body, "ws", ws, wslen) == -1) {
		fprintf(stderr, "%s: POST /api/sessions: %d %s\n",
		    program_invocation_short_name, r.status,
		    r.body != NULL ? r.body : "");
		if (status == 201)
			status = 0;
	}
	wsc_response_free(&r);
	return status;
}

int
common_session_delete(struct wsc_agent *a, const char *id)
{
	struct wsc_response r;
	char path[160];
	int status;

	snprintf(path, sizeof(path), "/api/sessions/%s", id);
	status = wsc_request(a, "DELETE", path, NULL, &r) == -1 ? -1 : r.status;
	wsc_response_free(&r);
	return status;
}
