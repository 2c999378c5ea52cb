/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the parser of browsers' JSON control messages:
 * any bytes must give either a well-formed result or a refusal with a
 * one-line reason, never a crash, a hang or a leak; whatever nests
 * deeper than JSON_MAX_DEPTH is refused.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "worker/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ws_control c;
	char err[160];

	err[0] = '\0';
	if (ws_control_parse(data, len, &c, err, sizeof(err)) == 0) {
		if (c.type == WS_CONTROL_RESIZE &&
		    (c.cols < 1 || c.cols > TERM_SIZE_MAX || c.rows < 1 ||
		        c.rows > TERM_SIZE_MAX))
			abort();
		if (c.type == WS_CONTROL_CONTROL && c.action > WS_ACTION_RETURN)
			abort();
		if (c.type != WS_CONTROL_RESIZE && c.type != WS_CONTROL_PING &&
		    c.type != WS_CONTROL_CONTROL)
			abort();
		if (!json_depth_ok(data, len, JSON_MAX_DEPTH))
			abort();
	} else if (err[0] == '\0' || strchr(err, '\n') != NULL)
		abort();
	return 0;
}
