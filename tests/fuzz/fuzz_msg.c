/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the inter-process message decoder: any bytes are
 * one packet; a packet that decodes must re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[MSG_MAX_PACKET];
	struct msg m;
	char err[256];
	size_t n;

	if (msg_decode(data, size, &m, err, sizeof(err)) == -1)
		return 0;
	if (m.len != size - sizeof(struct msg_hdr) || m.fd != -1)
		abort();
	n = msg_encode(out, sizeof(out), m.hdr.type, m.hdr.id, m.hdr.flags,
	    m.payload, m.len);
	/* The header's pad field is not carried: compare the rest. */
	if (n != size ||
	    memcmp(out, data, offsetof(struct msg_hdr, pad)) != 0 ||
	    memcmp(out + offsetof(struct msg_hdr, id),
	        data + offsetof(struct msg_hdr, id),
	        size - offsetof(struct msg_hdr, id)) != 0)
		abort();
	return 0;
}
