/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the inter-process message decoder and the typed
 * getters: any bytes are one packet; a packet that decodes must re-encode
 * to the same bytes, and goes to the getter of its kind (with an fd when
 * it is flagged), which must take it or refuse it without reading past
 * the packet, and on success hand over the fd and data within it (a
 * string kind's data: one string and its NUL, filling it).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define F_FD_NEVER
#define F_FD_ALWAYS   , &fd
#define F_FD_OPTIONAL , &fd
#define F_DATA_FIXED
#define F_DATA_VAR     , &data
#define F_DATA_STR     , &str
#define F_LEN_FIXED(p) 0
#define F_LEN_VAR(p)   (p).len
#define F_LEN_STR(p)   (p).len
#define F_STR_FIXED
#define F_STR_VAR
#define F_STR_STR                                                \
	if (r == 0 && (p).len > 0 && strlen(str) + 1 != (p).len) \
		abort();                                         \
	data = str;

/* The getter of m's kind; 1 if m is no kind's. */
static int
fuzz_get(struct msg *m, size_t *datalen, const void **datap, int *fdp)
{
	const void *data = NULL;
	const char *str = NULL;
	int fd = -1, r;

	switch (m->hdr.type) {
#define MSGDEF(K, name, num, T, from, to, fd_, dt, strings)       \
	case MSG_##K: {                                           \
		struct T p;                                       \
                                                                  \
		r = msg_get_##name(m, &p F_FD_##fd_ F_DATA_##dt); \
		*datalen = r == 0 ? F_LEN_##dt(p) : 0;            \
		F_STR_##dt break;                                 \
	}
#include "common/msgdef.h"
#undef MSGDEF
	default:
		return 1;
	}
	*datap = data;
	*fdp = fd;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[MSG_MAX_PACKET];
	const unsigned char *end = data + size;
	const void *got;
	struct msg m;
	char err[256];
	size_t n, glen;
	int fd;

	if (msg_decode(data, size, &m, err, sizeof(err)) == -1)
		return 0;
	if (m.len != size - sizeof(struct msg_hdr) || m.fd != -1)
		abort();
	n = msg_encode(out, sizeof(out), m.hdr.type, &m.hdr.session,
	    m.hdr.flags, m.payload, m.len);
	/* The header's pad field is not carried: compare the rest. */
	if (n != size ||
	    memcmp(out, data, offsetof(struct msg_hdr, pad)) != 0 ||
	    memcmp(out + offsetof(struct msg_hdr, session),
	        data + offsetof(struct msg_hdr, session),
	        size - offsetof(struct msg_hdr, session)) != 0)
		abort();
	if (m.hdr.flags & MSG_F_FD)
		m.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	switch (fuzz_get(&m, &glen, &got, &fd)) {
	case 0:
		if (got != NULL &&
		    ((const unsigned char *)got < data ||
		        (const unsigned char *)got + glen != end))
			abort();
		if ((m.hdr.flags & MSG_F_FD) && (fd == -1 || m.fd != -1))
			abort();
		break;
	case -1:
		break;
	default:
		abort(); /* decoded, yet no kind's */
	}
	if (fd != -1)
		close(fd);
	if (m.fd != -1)
		close(m.fd);
	return 0;
}
