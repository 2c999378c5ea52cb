/* SPDX-License-Identifier: ISC */
/*
 * Trusted reverse proxies: a list of addresses and CIDR ranges parsed
 * from the trusted_proxies key, and the client address and scheme that a
 * request from one of them carries in X-Forwarded-For and
 * X-Forwarded-Proto. It does no I/O and knows no process.
 */
#ifndef ALIA_PROXY_H
#define ALIA_PROXY_H

#include <stddef.h>

struct http_request;

#define PROXY_MAX_NETS 64 /* entries in trusted_proxies */
#define PROXY_MAX_HOPS 16 /* X-Forwarded-For entries walked, at most */
#define PROXY_ADDR_LEN 46 /* INET6_ADDRSTRLEN: an address as text */

struct proxy_net {
	int family; /* AF_INET or AF_INET6 */
	int bits;   /* prefix length */
	unsigned char addr[16];
};

struct proxy_trust {
	struct proxy_net nets[PROXY_MAX_NETS];
	int n;
};

/*
 * Parses "ADDR[/BITS], ..." (commas or blanks between entries; empty:
 * no proxy is trusted); -1 with err naming the entry that is wrong.
 */
int proxy_trust_parse(
    struct proxy_trust *, const char *list, char *err, size_t errlen);
/*
 * Writes the list back normalised ("127.0.0.1, 10.0.0.0/8, ::1"); -1
 * when it does not fit in len.
 */
int proxy_trust_format(const struct proxy_trust *, char *out, size_t len);
/* Whether the address (text, no port) is in the list. */
int proxy_trusted(const struct proxy_trust *, const char *addr);

#define PROXY_FOR   0x1 /* the client address came from X-Forwarded-For */
#define PROXY_PROTO 0x2 /* the scheme came from X-Forwarded-Proto */
#define PROXY_BAD   0x4 /* a forwarded header was malformed, and ignored */

/*
 * Where req really comes from. peer is the TCP peer's address (no port)
 * and *https whether the connection itself is TLS. When peer is trusted:
 * client is the right-most X-Forwarded-For address that is not trusted
 * (the left-most walked if all are), and *https follows
 * X-Forwarded-Proto. Otherwise, and for a header that is malformed (an
 * entry that is no address, longer than an address, more than
 * PROXY_MAX_HOPS trusted hops; a scheme other than one http or https),
 * client is peer and *https stays. Returns PROXY_* flags.
 */
int proxy_client(const struct proxy_trust *, const struct http_request *,
    const char *peer, char *client, size_t len, int *https);

#endif
