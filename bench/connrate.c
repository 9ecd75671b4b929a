// connrate: new-connection rate and latency, as wrk would measure it with
// connections never reused. One binary, two roles:
//
//   connrate serve  --listen IP:PORT [--threads N] [--name NAME]
//   connrate client --target IP:PORT --duration S [--concurrency C]
//                   [--threads T] [--warmup S] [--timeout-ms MS]
//
// serve: N threads (default: one per CPU), each with its own SO_REUSEPORT
//   listener and epoll loop. Per connection: read the request (the first read
//   that returns data), write "ok NAME\n" (NAME defaults to the hostname),
//   close. Once every listener is bound it prints
//   {"listening":"IP:PORT","threads":N} on stdout; on SIGINT or SIGTERM it
//   prints {"served":N,"aborted":A,"errors":E} and exits 0. Aborted counts
//   connections the client closed or reset before it had the reply (a client
//   stopping with connections in flight leaves a few); errors counts accepts
//   and replies that failed otherwise.
// client: T threads (default 1) share C connections in flight (default 8).
//   Each one loops: socket, connect, send "hello\n", read to EOF, close. The
//   latency of a connection runs from just before connect() to the EOF of the
//   reply. Prints one JSON line on stdout:
//     {"connections":N,"errors":E,"errorKinds":{"ECONNREFUSED":E},
//      "durationSec":D,"connPerSec":R,
//      "latencyUs":{"p50":..,"p90":..,"p99":..,"max":..}}
//   latencyUs is null when no connection completed. Only what completes in
//   the window after --warmup counts. Errors (refused, reset, a connection not
//   done within --timeout-ms, default 1000: ETIMEDOUT; EOF before any reply
//   byte: EMPTY_REPLY) are counted, never fatal: exit status 0 after a run,
//   1 when the run could not start, 2 on a usage error.
//
// IP:PORT is 10.0.0.1:80 or [fd00::1]:80. Run either role in a network
// namespace with `ip netns exec NS build/bench/connrate ...`.
#define _GNU_SOURCE // accept4, strerrorname_np
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST "hello\n"
#define MAX_EVENTS 256

static const char *prog = "connrate";

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: %s serve --listen IP:PORT [--threads N] [--name NAME]\n"
			"       %s client --target IP:PORT --duration S [--concurrency C]"
			" [--threads T] [--warmup S] [--timeout-ms MS]\n",
		prog, prog);
	exit(2);
}

#include "tool.h"


static int online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

// Many connections in flight, or many accepted at once, need many descriptors.
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

// ---------------------------------------------------------------------------
// Latency histogram, HDR style: log-linear buckets over microseconds.
//
// Values below 2^HIST_SUB_BITS (256 us) each have a bucket of their own.
// Above, each power of two [2^k, 2^(k+1)) is cut into 2^(HIST_SUB_BITS-1) =
// 128 equal buckets, so a bucket is at most 1/128 (0.8%) of the values in it.
// Percentiles report the highest value a bucket holds (never under-reporting),
// capped by the exact maximum. Values of 2^(HIST_MAX_EXP+1) us (134 s) and
// more land in the last bucket. The array is 2688 counters (21 KB) per thread,
// whatever the number of samples.

#define HIST_SUB_BITS 8
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)
#define HIST_HALF_COUNT (HIST_SUB_COUNT / 2)
#define HIST_MAX_EXP 26
#define HIST_BUCKETS (HIST_SUB_COUNT + (HIST_MAX_EXP - HIST_SUB_BITS + 1) * HIST_HALF_COUNT)

struct histogram {
	uint64_t count;
	uint64_t max;
	uint64_t buckets[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t us)
{
	unsigned shift;

	if (us < HIST_SUB_COUNT)
		return (unsigned)us;
	if (us >> (HIST_MAX_EXP + 1))
		return HIST_BUCKETS - 1;
	// us >> shift lands in [HIST_HALF_COUNT, HIST_SUB_COUNT).
	shift = (63 - (unsigned)__builtin_clzll(us)) - (HIST_SUB_BITS - 1);
	return HIST_SUB_COUNT + (shift - 1) * HIST_HALF_COUNT +
	       (unsigned)((us >> shift) - HIST_HALF_COUNT);
}

// The highest value that falls in bucket i.
static uint64_t hist_bucket_top(unsigned i)
{
	unsigned shift, sub;

	if (i < HIST_SUB_COUNT)
		return i;
	shift = (i - HIST_SUB_COUNT) / HIST_HALF_COUNT + 1;
	sub = (i - HIST_SUB_COUNT) % HIST_HALF_COUNT + HIST_HALF_COUNT;
	return (((uint64_t)sub + 1) << shift) - 1;
}

static void hist_record(struct histogram *h, uint64_t us)
{
	h->buckets[hist_index(us)]++;
	h->count++;
	if (us > h->max)
		h->max = us;
}

static void hist_merge(struct histogram *into, const struct histogram *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	if (from->max > into->max)
		into->max = from->max;
}

// The value at or below which `permille`/1000 of the samples fall (nearest
// rank: the ceil(p*n)-th smallest sample's bucket).
static uint64_t hist_percentile(const struct histogram *h, unsigned permille)
{
	uint64_t rank = (h->count * permille + 999) / 1000, seen = 0;

	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t top = hist_bucket_top(i);
			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}

// ---------------------------------------------------------------------------
// Error kinds: one counter per errno, plus what is not an errno.

#define KIND_ERRNO_MAX 256
#define KIND_EMPTY_REPLY KIND_ERRNO_MAX
#define KIND_COUNT (KIND_ERRNO_MAX + 1)

static const char *kind_name(unsigned kind, char *buf, size_t len)
{
	const char *name;

	if (kind == KIND_EMPTY_REPLY)
		return "EMPTY_REPLY";
	name = strerrorname_np((int)kind);
	if (name)
		return name;
	snprintf(buf, len, "E%u", kind);
	return buf;
}

// ---------------------------------------------------------------------------
// serve

struct server {
	const struct endpoint *listen;
	const char *reply;
	size_t reply_len;
	atomic_bool *stop;
	pthread_t thread;
	int listen_fd;
	int epoll_fd;
	uint64_t served;
	uint64_t aborted;
	uint64_t errors;
};

// One listener per thread: SO_REUSEPORT lets the kernel spread connections
// over them by their 4-tuple, so no lock is shared. TCP_DEFER_ACCEPT wakes
// accept only once the request has arrived, which saves an epoll round trip
// per connection.
static int server_listen(const struct endpoint *ep)
{
	int fd, one = 1, defer = 1;

	fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die_errno("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer)))
		die_errno("setsockopt on the listener");
	if (bind(fd, (const struct sockaddr *)&ep->addr, ep->len))
		die_errno("bind");
	if (listen(fd, 4096))
		die_errno("listen");
	return fd;
}

// Reads the request and answers it, or returns false when there is nothing to
// read yet. Any bytes count as a request: the client sends one short write.
static bool server_answer(struct server *s, int fd)
{
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return false;
	if (n > 0)
		n = send(fd, s->reply, s->reply_len, MSG_NOSIGNAL);
	if (n == (ssize_t)s->reply_len)
		s->served++;
	else if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
		s->aborted++; // EOF instead of a request, or a reset
	else
		s->errors++;
	close(fd);
	return true;
}

static void server_accept_all(struct server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				s->errors++;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (server_answer(s, fd))
			continue;
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
			s->errors++;
			close(fd);
		}
	}
}

static void *server_run(void *arg)
{
	struct server *s = arg;
	struct epoll_event events[MAX_EVENTS];

	while (!atomic_load_explicit(s->stop, memory_order_relaxed)) {
		int n = epoll_wait(s->epoll_fd, events, MAX_EVENTS, 200);

		for (int i = 0; i < n; i++) {
			if (events[i].data.fd == s->listen_fd)
				server_accept_all(s);
			else
				server_answer(s, events[i].data.fd);
		}
	}
	return NULL;
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ 0 },
	};
	const char *listen_text = NULL;
	char name[256], reply[300];
	int threads = online_cpus(), opt;
	struct endpoint ep;
	atomic_bool stop = false;
	sigset_t sigs;

	if (gethostname(name, sizeof(name)))
		strcpy(name, "connrate");
	name[sizeof(name) - 1] = '\0';
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen_text = optarg;
			break;
		case 't':
			threads = (int)parse_count(optarg, "--threads", 1, 1024);
			break;
		case 'n':
			snprintf(name, sizeof(name), "%s", optarg);
			break;
		default:
			die_usage("%s", "unknown option");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument %s", argv[optind]);
	if (!listen_text)
		die_usage("%s", "serve needs --listen IP:PORT");
	if (!endpoint_parse(listen_text, &ep))
		die_usage("--listen %s: not IP:PORT", listen_text);
	int reply_len = snprintf(reply, sizeof(reply), "ok %s\n", name);
	raise_fd_limit();

	// Threads inherit this mask; only sigwait below takes the signals.
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct server *servers = calloc(threads, sizeof(*servers));
	if (!servers)
		die_errno("calloc");
	for (int i = 0; i < threads; i++) {
		struct server *s = &servers[i];

		*s = (struct server){ .listen = &ep, .reply = reply, .reply_len = (size_t)reply_len,
				      .stop = &stop };
		s->listen_fd = server_listen(&ep);
		s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
		if (s->epoll_fd < 0)
			die_errno("epoll_create1");
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = s->listen_fd };
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev))
			die_errno("epoll_ctl");
	}
	for (int i = 0; i < threads; i++) {
		errno = pthread_create(&servers[i].thread, NULL, server_run, &servers[i]);
		if (errno)
			die_errno("pthread_create");
	}
	printf("{\"listening\":\"%s\",\"threads\":%d}\n", listen_text, threads);
	fflush(stdout);

	int sig;
	sigwait(&sigs, &sig);
	atomic_store(&stop, true);

	uint64_t served = 0, aborted = 0, errors = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(servers[i].thread, NULL);
		served += servers[i].served;
		aborted += servers[i].aborted;
		errors += servers[i].errors;
	}
	printf("{\"served\":%llu,\"aborted\":%llu,\"errors\":%llu}\n",
	       (unsigned long long)served, (unsigned long long)aborted,
	       (unsigned long long)errors);
	free(servers);
	return 0;
}

// ---------------------------------------------------------------------------
// client

enum conn_state { CONN_IDLE, CONN_CONNECTING, CONN_READING };

struct conn {
	int fd;
	enum conn_state state;
	uint64_t start_ns;    // just before connect()
	uint64_t deadline_ns; // start_ns + the per-connection timeout
	size_t reply_bytes;
};

struct worker {
	const struct endpoint *target;
	uint64_t warmup_end_ns, end_ns, timeout_ns;
	int nconns;
	pthread_t thread;
	int epoll_fd;
	struct conn *conns;
	uint64_t errors;
	uint64_t error_kinds[KIND_COUNT];
	struct histogram hist;
};

// Only what ends inside the measured window counts, successes and errors
// alike: warmup is excluded, and so is what is cut short at the end.
static bool in_window(const struct worker *w, uint64_t t)
{
	return t >= w->warmup_end_ns && t < w->end_ns;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = CONN_IDLE;
}

static void conn_fail(struct worker *w, struct conn *c, unsigned kind)
{
	if (in_window(w, now_ns())) {
		w->errors++;
		w->error_kinds[kind < KIND_COUNT ? kind : KIND_ERRNO_MAX - 1]++;
	}
	conn_close(c);
}

static void conn_done(struct worker *w, struct conn *c)
{
	uint64_t t = now_ns();

	if (c->reply_bytes == 0) {
		conn_fail(w, c, KIND_EMPTY_REPLY);
		return;
	}
	// Deadlines are checked between epoll rounds; one that finished past its
	// deadline (a retransmitted SYN answered at 1 s, say) is still a timeout,
	// so no latency recorded exceeds --timeout-ms.
	if (t >= c->deadline_ns) {
		conn_fail(w, c, ETIMEDOUT);
		return;
	}
	if (in_window(w, t))
		hist_record(&w->hist, (t - c->start_ns) / 1000);
	conn_close(c);
}

// SO_LINGER {on, 0 s} makes close() send RST and free the socket at once,
// instead of a FIN that leaves this side in TIME_WAIT for 60 s. At tens of
// thousands of connections a second, TIME_WAIT would hold every ephemeral port
// (28k by default) within a second and connect() would fail with
// EADDRNOTAVAIL. The reply has been read to EOF by then, so the RST loses
// nothing. (net.ipv4.tcp_tw_reuse=1 is the alternative, but it is a sysctl of
// the namespace, and this tool changes nothing outside itself.) The server's
// side, already closed, is freed by the RST too.
static void conn_start(struct worker *w, struct conn *c)
{
	static const struct linger abort_on_close = { .l_onoff = 1, .l_linger = 0 };
	int fd;

	fd = socket(w->target->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_fail(w, c, (unsigned)errno);
		return;
	}
	c->fd = fd;
	c->reply_bytes = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close))) {
		conn_fail(w, c, (unsigned)errno);
		return;
	}
	// Edge-triggered, registered once: EPOLLOUT reports the connect, EPOLLIN
	// the reply, and no EPOLL_CTL_MOD is needed in between.
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
	if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		conn_fail(w, c, (unsigned)errno);
		return;
	}
	c->start_ns = now_ns();
	c->deadline_ns = c->start_ns + w->timeout_ns;
	c->state = CONN_CONNECTING;
	if (connect(fd, (const struct sockaddr *)&w->target->addr, w->target->len) &&
	    errno != EINPROGRESS)
		conn_fail(w, c, (unsigned)errno);
}

static void conn_send(struct worker *w, struct conn *c)
{
	ssize_t n = send(c->fd, REQUEST, sizeof(REQUEST) - 1, MSG_NOSIGNAL);

	if (n == (ssize_t)(sizeof(REQUEST) - 1))
		c->state = CONN_READING;
	else
		conn_fail(w, c, n < 0 ? (unsigned)errno : EMSGSIZE);
}

// Edge-triggered: read until EOF or EAGAIN.
static void conn_read(struct worker *w, struct conn *c)
{
	char buf[512];

	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n > 0) {
			c->reply_bytes += (size_t)n;
		} else if (n == 0) {
			conn_done(w, c);
			return;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else if (errno != EINTR) {
			conn_fail(w, c, (unsigned)errno);
			return;
		}
	}
}

static void conn_event(struct worker *w, struct conn *c, uint32_t events)
{
	if (c->state == CONN_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (err) {
			conn_fail(w, c, (unsigned)err);
			return;
		}
		conn_send(w, c);
		if (c->state != CONN_READING)
			return;
	}
	if (c->state == CONN_READING && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		conn_read(w, c);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[MAX_EVENTS];

	for (;;) {
		uint64_t t = now_ns();
		if (t >= w->end_ns)
			break;
		// Start what is idle and time out what is overdue. A linear scan:
		// a thread holds tens to a few thousand connections.
		for (int i = 0; i < w->nconns; i++) {
			struct conn *c = &w->conns[i];

			if (c->state != CONN_IDLE && t >= c->deadline_ns)
				conn_fail(w, c, ETIMEDOUT);
			if (c->state == CONN_IDLE)
				conn_start(w, c);
		}
		// Wake at least every 10 ms to check deadlines and the end.
		uint64_t left_ms = (w->end_ns - t + 999999) / 1000000;
		int n = epoll_wait(w->epoll_fd, events, MAX_EVENTS, left_ms < 10 ? (int)left_ms : 10);
		for (int i = 0; i < n; i++)
			conn_event(w, events[i].data.ptr, events[i].events);
	}
	for (int i = 0; i < w->nconns; i++)
		conn_close(&w->conns[i]);
	return NULL;
}

static void print_client_result(const struct worker *workers, int nworkers, double duration)
{
	static struct histogram hist; // 21 KB: not on the stack
	uint64_t errors = 0, kinds[KIND_COUNT] = { 0 };
	char buf[32];
	bool first = true;

	for (int i = 0; i < nworkers; i++) {
		hist_merge(&hist, &workers[i].hist);
		errors += workers[i].errors;
		for (unsigned k = 0; k < KIND_COUNT; k++)
			kinds[k] += workers[i].error_kinds[k];
	}
	printf("{\"connections\":%llu,\"errors\":%llu,\"errorKinds\":{",
	       (unsigned long long)hist.count, (unsigned long long)errors);
	for (unsigned k = 0; k < KIND_COUNT; k++) {
		if (!kinds[k])
			continue;
		printf("%s\"%s\":%llu", first ? "" : ",", kind_name(k, buf, sizeof(buf)),
		       (unsigned long long)kinds[k]);
		first = false;
	}
	printf("},\"durationSec\":%.3f,\"connPerSec\":%.1f,\"latencyUs\":", duration,
	       (double)hist.count / duration);
	if (hist.count)
		printf("{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu}}\n",
		       (unsigned long long)hist_percentile(&hist, 500),
		       (unsigned long long)hist_percentile(&hist, 900),
		       (unsigned long long)hist_percentile(&hist, 990),
		       (unsigned long long)hist.max);
	else
		printf("null}\n");
}

static int cmd_client(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 'a' },
		{ "duration", required_argument, NULL, 'd' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "timeout-ms", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *target_text = NULL;
	double duration = -1, warmup = 0;
	int concurrency = 8, threads = 1, timeout_ms = 1000, opt;
	struct endpoint ep;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			target_text = optarg;
			break;
		case 'd':
			duration = parse_seconds(optarg, "--duration", 0.001);
			break;
		case 'c':
			concurrency = (int)parse_count(optarg, "--concurrency", 1, 1000000);
			break;
		case 't':
			threads = (int)parse_count(optarg, "--threads", 1, 1024);
			break;
		case 'w':
			warmup = parse_seconds(optarg, "--warmup", 0);
			break;
		case 'o':
			timeout_ms = (int)parse_count(optarg, "--timeout-ms", 1, 3600000);
			break;
		default:
			die_usage("%s", "unknown option");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument %s", argv[optind]);
	if (!target_text || duration < 0)
		die_usage("%s", "client needs --target IP:PORT and --duration S");
	if (!endpoint_parse(target_text, &ep))
		die_usage("--target %s: not IP:PORT", target_text);
	if (threads > concurrency)
		threads = concurrency;
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);

	struct worker *workers = calloc(threads, sizeof(*workers));
	if (!workers)
		die_errno("calloc");
	uint64_t t0 = now_ns();
	uint64_t warmup_end = t0 + (uint64_t)(warmup * 1e9);
	uint64_t end = warmup_end + (uint64_t)(duration * 1e9);
	for (int i = 0; i < threads; i++) {
		struct worker *w = &workers[i];

		w->target = &ep;
		w->warmup_end_ns = warmup_end;
		w->end_ns = end;
		w->timeout_ns = (uint64_t)timeout_ms * 1000000u;
		w->nconns = concurrency / threads + (i < concurrency % threads);
		w->conns = calloc(w->nconns, sizeof(*w->conns));
		if (!w->conns)
			die_errno("calloc");
		for (int j = 0; j < w->nconns; j++)
			w->conns[j] = (struct conn){ .fd = -1, .state = CONN_IDLE };
		w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epoll_fd < 0)
			die_errno("epoll_create1");
	}
	for (int i = 0; i < threads; i++) {
		errno = pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]);
		if (errno)
			die_errno("pthread_create");
	}
	for (int i = 0; i < threads; i++)
		pthread_join(workers[i].thread, NULL);

	print_client_result(workers, threads, duration);
	for (int i = 0; i < threads; i++) {
		close(workers[i].epoll_fd);
		free(workers[i].conns);
	}
	free(workers);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die_usage("%s", "missing subcommand");
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "client") == 0)
		return cmd_client(argc - 1, argv + 1);
	die_usage("unknown subcommand %s", argv[1]);
	return 2;
}
