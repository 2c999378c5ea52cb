/* SPDX-License-Identifier: ISC */
/*
 * Trusted reverse proxies and what they forward. A proxy that terminates
 * the browser's connection says whom it forwards for by appending the
 * address it saw to X-Forwarded-For, and which scheme the browser used in
 * X-Forwarded-Proto. Anyone can send those headers, so they are believed
 * only from a TCP peer in trusted_proxies, and X-Forwarded-For only from
 * the right: each trusted hop appended the entry to its left's address,
 * so the walk goes right to left over trusted addresses and stops at the
 * first one that is not trusted. That is the client; entries further
 * left were written by the client itself and are never looked at. An
 * IPv4 address mapped into IPv6 (::ffff:a.b.c.d, a dual-stack listener's
 * view) counts as the IPv4 address, in the list and in the headers.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/http.h"
#include "common/proxy.h"

/* One address in binary, IPv4-mapped IPv6 folded to IPv4. */
struct proxy_addr {
	int family;
	unsigned char a[16];
};

static const unsigned char proxy_mapped[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses a bare address of len bytes (no brackets, no port). */
static int
proxy_addr_parse(const char *s, size_t len, struct proxy_addr *out)
{
	char buf[PROXY_ADDR_LEN];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->a) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->a) != 1)
		return -1;
	out->family = AF_INET6;
	if (memcmp(out->a, proxy_mapped, sizeof(proxy_mapped)) == 0) {
		memmove(out->a, out->a + 12, 4);
		memset(out->a + 4, 0, 12);
		out->family = AF_INET;
	}
	return 0;
}

static void
proxy_addr_text(const struct proxy_addr *a, char *out, size_t len)
{
	char buf[PROXY_ADDR_LEN];

	if (inet_ntop(a->family, a->a, buf, sizeof(buf)) == NULL)
		buf[0] = '\0';
	snprintf(out, len, "%s", buf);
}

static int
proxy_net_has(const struct proxy_net *n, const struct proxy_addr *a)
{
	int whole = n->bits / 8, rest = n->bits % 8;
	unsigned char mask;

	if (n->family != a->family || memcmp(n->addr, a->a, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (n->addr[whole] & mask) == (a->a[whole] & mask);
}

static int
proxy_has(const struct proxy_trust *t, const struct proxy_addr *a)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (proxy_net_has(&t->nets[i], a))
			return 1;
	return 0;
}

/* Parses one list entry "ADDR[/BITS]" of len bytes into n. */
static int
proxy_net_parse(
    const char *s, size_t len, struct proxy_net *n, char *err, size_t errlen)
{
	const char *slash = memchr(s, '/', len);
	struct proxy_addr a;
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	int max, bits = -1, i;

	if (proxy_addr_parse(s, alen, &a) == -1) {
		snprintf(err, errlen,
		    "'%.*s' is not an IPv4 or IPv6 address (with an optional "
		    "/BITS)",
		    (int)len, s);
		return -1;
	}
	max = a.family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		bits = 0;
		for (i = 1; (size_t)(slash - s) + i < len; i++) {
			if (!isdigit((unsigned char)slash[i]) || i > 3) {
				bits = -1;
				break;
			}
			bits = bits * 10 + (slash[i] - '0');
		}
		if (i == 1 || bits < 0 || bits > max) {
			snprintf(err, errlen,
			    "'%.*s': the prefix length must be 0 to %d",
			    (int)len, s, max);
			return -1;
		}
	} else
		bits = max;
	memset(n, 0, sizeof(*n));
	n->family = a.family;
	n->bits = bits;
	memcpy(n->addr, a.a, sizeof(n->addr));
	for (i = bits; i < max; i++)
		if (a.a[i / 8] & (0x80 >> (i % 8))) {
			snprintf(err, errlen,
			    "'%.*s' has bits set past its /%d: write the "
			    "network's first address",
			    (int)len, s, bits);
			return -1;
		}
	return 0;
}

int
proxy_trust_parse(
    struct proxy_trust *t, const char *list, char *err, size_t errlen)
{
	const char *p = list, *e;

	memset(t, 0, sizeof(*t));
	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			return 0;
		for (e = p;
		     *e != '\0' && *e != ',' && !isspace((unsigned char)*e);
		     e++)
			;
		if (t->n == PROXY_MAX_NETS) {
			snprintf(err, errlen, "more than %d entries",
			    PROXY_MAX_NETS);
			return -1;
		}
		if (proxy_net_parse(
		        p, (size_t)(e - p), &t->nets[t->n], err, errlen) == -1)
			return -1;
		t->n++;
		p = e;
	}
}

int
proxy_trust_format(const struct proxy_trust *t, char *out, size_t len)
{
	struct proxy_addr a;
	char buf[PROXY_ADDR_LEN];
	size_t used = 0;
	int i, n;

	if (len > 0)
		out[0] = '\0';
	for (i = 0; i < t->n; i++) {
		a.family = t->nets[i].family;
		memcpy(a.a, t->nets[i].addr, sizeof(a.a));
		proxy_addr_text(&a, buf, sizeof(buf));
		if (t->nets[i].bits == (a.family == AF_INET ? 32 : 128))
			n = snprintf(out + used, len - used, "%s%s",
			    i > 0 ? ", " : "", buf);
		else
			n = snprintf(out + used, len - used, "%s%s/%d",
			    i > 0 ? ", " : "", buf, t->nets[i].bits);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

int
proxy_trusted(const struct proxy_trust *t, const char *addr)
{
	struct proxy_addr a;

	if (proxy_addr_parse(addr, strlen(addr), &a) == -1)
		return 0;
	return proxy_has(t, &a);
}

/*
 * One X-Forwarded-For entry of len bytes, blanks trimmed: an address,
 * "[IPv6]" or "[IPv6]:PORT", or "IPv4:PORT" (some proxies add the port).
 */
static int
proxy_entry_parse(const char *s, size_t len, struct proxy_addr *a)
{
	const char *close, *colon;
	size_t i;

	if (len > PROXY_ADDR_LEN + 8)
		return -1;
	if (len > 0 && s[0] == '[') {
		if ((close = memchr(s, ']', len)) == NULL)
			return -1;
		i = (size_t)(close - s) + 1;
		if (i < len) {
			if (s[i] != ':' || i + 1 == len)
				return -1;
			for (i++; i < len; i++)
				if (!isdigit((unsigned char)s[i]))
					return -1;
		}
		if (proxy_addr_parse(s + 1, (size_t)(close - s) - 1, a) == -1 ||
		    a->family != AF_INET6)
			return -1;
		return 0;
	}
	if (proxy_addr_parse(s, len, a) == 0)
		return 0;
	/* IPv4:PORT: exactly one colon */
	if ((colon = memchr(s, ':', len)) == NULL ||
	    memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) != NULL ||
	    (size_t)(colon - s) + 1 == len)
		return -1;
	for (i = (size_t)(colon - s) + 1; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	if (proxy_addr_parse(s, (size_t)(colon - s), a) == -1 ||
	    a->family != AF_INET)
		return -1;
	return 0;
}

/*
 * The right-to-left walk over every X-Forwarded-For line, last line
 * first: 1 with the client in *client, 0 when there is no entry, -1 when
 * one walked is malformed or there are too many trusted hops.
 */
static int
proxy_walk(const struct proxy_trust *t, const struct http_request *req,
    struct proxy_addr *client)
{
	const char *v, *end, *s, *e;
	size_t h;
	int hops = 0;

	for (h = req->nheaders; h-- > 0;) {
		if (strcasecmp(req->headers[h].name, "X-Forwarded-For") != 0)
			continue;
		v = req->headers[h].value;
		end = v + strlen(v);
		while (end > v) {
			for (s = end; s > v && s[-1] != ','; s--)
				;
			e = end;
			end = s > v ? s - 1 : v;
			while (s < e && isspace((unsigned char)*s))
				s++;
			while (e > s && isspace((unsigned char)e[-1]))
				e--;
			if (s == e)
				continue; /* an empty list element */
			if (++hops > PROXY_MAX_HOPS ||
			    proxy_entry_parse(s, (size_t)(e - s), client) == -1)
				return -1;
			if (!proxy_has(t, client))
				return 1;
		}
	}
	return hops > 0 ? 1 : 0; /* all trusted: the left-most walked */
}

/* X-Forwarded-Proto: 1 https, 0 http, -1 none, -2 malformed. */
static int
proxy_proto(const struct http_request *req)
{
	const char *v = NULL, *s, *e;
	size_t h;

	for (h = 0; h < req->nheaders; h++) {
		if (strcasecmp(req->headers[h].name, "X-Forwarded-Proto") != 0)
			continue;
		if (v != NULL)
			return -2; /* more than one */
		v = req->headers[h].value;
	}
	if (v == NULL)
		return -1;
	for (s = v; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	if (e - s == 5 && strncasecmp(s, "https", 5) == 0)
		return 1;
	if (e - s == 4 && strncasecmp(s, "http", 4) == 0)
		return 0;
	return -2;
}

int
proxy_client(const struct proxy_trust *t, const struct http_request *req,
    const char *peer, char *client, size_t len, int *https)
{
	struct proxy_addr p, c;
	int flags = 0, r;

	if (proxy_addr_parse(peer, strlen(peer), &p) == -1) {
		snprintf(client, len, "%s", peer); /* not an address: as is */
		return 0;
	}
	proxy_addr_text(&p, client, len);
	if (t == NULL || !proxy_has(t, &p))
		return 0;
	if ((r = proxy_walk(t, req, &c)) == 1) {
		proxy_addr_text(&c, client, len);
		flags |= PROXY_FOR;
	} else if (r == -1)
		flags |= PROXY_BAD;
	if ((r = proxy_proto(req)) >= 0) {
		*https = r;
		flags |= PROXY_PROTO;
	} else if (r == -2)
		flags |= PROXY_BAD;
	return flags;
}
