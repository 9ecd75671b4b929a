// What the load-test tools written in C share: errors, the clock, and the
// command line's addresses and numbers. Each tool defines, before including
// this, `prog` (its name, for messages) and die_usage() (its usage text).
#ifndef SWITCHYARD_BENCH_TOOL_H
#define SWITCHYARD_BENCH_TOOL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *prog;
static void die_usage(const char *fmt, const char *arg);

static void die_errno(const char *op)
{
	fprintf(stderr, "%s: %s: %s\n", prog, op, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// ---------------------------------------------------------------------------
// Addresses and numbers from the command line.

struct endpoint {
	struct sockaddr_storage addr;
	socklen_t len;
	int family;
};

// "10.0.0.1:80" or "[fd00::1]:80".
static bool endpoint_parse(const char *text, struct endpoint *ep)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *start = text, *end;
	char *rest;
	long port;

	memset(ep, 0, sizeof(*ep));
	if (*text == '[') {
		start = text + 1;
		end = strchr(start, ']');
		if (!end || end[1] != ':')
			return false;
		colon = end + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return false;
		end = colon;
	}
	if ((size_t)(end - start) >= sizeof(host) || end == start)
		return false;
	memcpy(host, start, end - start);
	host[end - start] = '\0';
	errno = 0;
	port = strtol(colon + 1, &rest, 10);
	if (errno || *rest || rest == colon + 1 || port < 1 || port > 65535)
		return false;

	struct sockaddr_in *in4 = (struct sockaddr_in *)&ep->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ep->addr;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		ep->len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		ep->len = sizeof(*in6);
	} else {
		return false;
	}
	ep->family = ep->addr.ss_family;
	return true;
}

static long parse_count(const char *text, const char *flag, long min, long max)
{
	char *rest;
	long v;

	errno = 0;
	v = strtol(text, &rest, 10);
	if (errno || *rest || rest == text || v < min || v > max)
		die_usage("%s: not a whole number in range", flag);
	return v;
}

static double parse_seconds(const char *text, const char *flag, double min)
{
	char *rest;
	double v;

	errno = 0;
	v = strtod(text, &rest);
	if (errno || *rest || rest == text || !(v >= min) || v > 86400)
		die_usage("%s: not a number of seconds in range", flag);
	return v;
}

#endif /* SWITCHYARD_BENCH_TOOL_H */
