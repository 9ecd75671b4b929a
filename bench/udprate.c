// udprate: datagrams per second through a path (a NodePort, a router), as a
// packet generator and a counter at the far end measure it. One binary, two
// roles, like connrate:
//
//   udprate sink --listen IP:PORT [--threads N]
//   udprate send --target IP:PORT --duration S [--warmup S] [--flows F]
//                [--threads T] [--size BYTES] [--batch B] [--run ID]
//
// send: T threads (default 1) share F flows (default 8): F connected UDP
//   sockets, each with its own source port, so a proxy sees F flows. Each
//   thread sends B datagrams (default 32) per sendmmsg, to each of its
//   sockets in turn, as fast as the kernel takes them: open loop, nothing
//   waits for the far end. Each datagram is BYTES of payload (default 64,
//   at least 16) starting with a header: a magic number, the run ID (default
//   1), the phase it was sent in (warmup or the measured window, by the
//   sender's clock) and a sequence number. Prints one JSON line on stdout:
//     {"run":ID,"sent":N,"errors":E,"errorKinds":{"ECONNREFUSED":E},
//      "durationSec":D,"sentPerSec":R,"flows":F,"size":BYTES}
//   sent counts the datagrams the kernel accepted in the window (after
//   --warmup); errors counts the sendmmsg calls that failed in it, by errno
//   (a connected socket may report an ICMP error from the path as
//   ECONNREFUSED, but sendmmsg drops an error that comes after the first
//   datagram of a batch: a diagnostic, not a loss count), never fatal: exit
//   status 0 after a run, 1 when the run could not start, 2 on a usage error.
// sink: N threads (default 1), each with its own SO_REUSEPORT socket (a
//   16 MiB receive buffer, so the counter is not what drops) reading with
//   recvmmsg. It counts datagrams per run ID and phase. Once every socket is
//   bound it prints {"listening":"IP:PORT","threads":N}. On SIGUSR1 it prints
//     {"runs":[{"run":ID,"warmup":W,"window":X},...],"foreign":F}
//   for the last 64 run IDs it has seen (foreign: datagrams without our
//   header), and goes on; on SIGINT or SIGTERM it prints the same and exits 0.
//
// Datagrams per second through the path is the sink's "window" count of a
// run divided by the sender's durationSec: only what the sender sent inside
// its window and the sink received is counted, so neither clock needs to
// know the other's, and the sink can serve many runs in turn.
//
// IP:PORT is 10.0.0.1:80 or [fd00::1]:80. Run either role in a network
// namespace with `ip netns exec NS build/bench/udprate ...`.
#define _GNU_SOURCE // sendmmsg, recvmmsg, strerrorname_np
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x53595544u // "SYUD"
#define PHASE_WARMUP 0
#define PHASE_WINDOW 1
#define MIN_SIZE 16
#define MAX_SIZE 1472 // a 1500-byte MTU's UDP payload
#define MAX_BATCH 256
#define RUN_SLOTS 64
#define SINK_RCVBUF (16 << 20)

static const char *prog = "udprate";

// What every datagram starts with, in network byte order.
struct header {
	uint32_t magic;
	uint32_t run;
	uint32_t phase;
	uint32_t seq;
};

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr,
	        "\nusage: %s sink --listen IP:PORT [--threads N]\n"
	        "       %s send --target IP:PORT --duration S [--warmup S] [--flows F]"
	        " [--threads T] [--size BYTES] [--batch B] [--run ID]\n",
	        prog, prog);
	exit(2);
}

#include "tool.h"


// ---------------------------------------------------------------------------
// Error kinds: one counter per errno.

#define KIND_COUNT 256

static const char *kind_name(unsigned kind, char *buf, size_t len)
{
	const char *name = strerrorname_np((int)kind);

	if (name)
		return name;
	snprintf(buf, len, "E%u", kind);
	return buf;
}

// ---------------------------------------------------------------------------
// sink

struct run_slot {
	_Atomic uint32_t run;      // 0: unused
	_Atomic uint64_t count[2]; // by phase
};

struct sink {
	const struct endpoint *listen;
	atomic_bool *stop;
	pthread_t thread;
	int fd;
	// Written by this thread only; read by the reporter.
	struct run_slot slots[RUN_SLOTS];
	_Atomic uint64_t foreign;
};

static int sink_socket(const struct endpoint *ep)
{
	static const struct timeval tick = { .tv_sec = 0, .tv_usec = 200000 };
	int fd, one = 1, size = SINK_RCVBUF;

	fd = socket(ep->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die_errno("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick)))
		die_errno("setsockopt on the sink");
	// Past net.core.rmem_max needs CAP_NET_ADMIN; without it, what the sysctl allows.
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (const struct sockaddr *)&ep->addr, ep->len))
		die_errno("bind");
	return fd;
}

static void sink_count(struct sink *s, const unsigned char *buf, size_t len)
{
	struct header h;

	if (len < sizeof(h)) {
		atomic_fetch_add_explicit(&s->foreign, 1, memory_order_relaxed);
		return;
	}
	memcpy(&h, buf, sizeof(h));
	uint32_t run = ntohl(h.run), phase = ntohl(h.phase);
	if (ntohl(h.magic) != MAGIC || run == 0 || phase > PHASE_WINDOW) {
		atomic_fetch_add_explicit(&s->foreign, 1, memory_order_relaxed);
		return;
	}
	struct run_slot *slot = &s->slots[run % RUN_SLOTS];
	if (atomic_load_explicit(&slot->run, memory_order_relaxed) != run) {
		// A new run in this slot: what an older one counted there is dropped.
		atomic_store_explicit(&slot->count[0], 0, memory_order_relaxed);
		atomic_store_explicit(&slot->count[1], 0, memory_order_relaxed);
		atomic_store_explicit(&slot->run, run, memory_order_release);
	}
	// One writer per slot: a load and a store, no locked add.
	uint64_t n = atomic_load_explicit(&slot->count[phase], memory_order_relaxed);
	atomic_store_explicit(&slot->count[phase], n + 1, memory_order_relaxed);
}

static void *sink_run(void *arg)
{
	unsigned char(*bufs)[MAX_SIZE] = calloc(MAX_BATCH, MAX_SIZE);
	struct sink *s = arg;
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iovs[MAX_BATCH];

	if (!bufs)
		die_errno("calloc");
	for (int i = 0; i < MAX_BATCH; i++) {
		iovs[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof(bufs[i]) };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iovs[i], .msg_iovlen = 1 } };
	}
	while (!atomic_load_explicit(s->stop, memory_order_relaxed)) {
		// Blocks for the first datagram (up to SO_RCVTIMEO), then takes what is queued.
		int n = recvmmsg(s->fd, msgs, MAX_BATCH, MSG_WAITFORONE, NULL);

		for (int i = 0; i < n; i++)
			sink_count(s, bufs[i], msgs[i].msg_len);
	}
	free(bufs);
	return NULL;
}

// Every run ID some thread holds, with its counts summed over the threads.
static void sink_report(struct sink *sinks, int threads)
{
	uint32_t seen[RUN_SLOTS * 8];
	int nseen = 0;
	uint64_t foreign = 0;
	bool first = true;

	for (int t = 0; t < threads; t++) {
		foreign += atomic_load_explicit(&sinks[t].foreign, memory_order_relaxed);
		for (int i = 0; i < RUN_SLOTS; i++) {
			uint32_t run = atomic_load_explicit(&sinks[t].slots[i].run, memory_order_acquire);
			bool known = false;

			if (!run)
				continue;
			for (int k = 0; k < nseen && !known; k++)
				known = seen[k] == run;
			if (!known && nseen < (int)(sizeof(seen) / sizeof(seen[0])))
				seen[nseen++] = run;
		}
	}
	printf("{\"runs\":[");
	for (int k = 0; k < nseen; k++) {
		uint64_t count[2] = { 0, 0 };

		for (int t = 0; t < threads; t++) {
			struct run_slot *slot = &sinks[t].slots[seen[k] % RUN_SLOTS];

			if (atomic_load_explicit(&slot->run, memory_order_acquire) != seen[k])
				continue;
			count[0] += atomic_load_explicit(&slot->count[0], memory_order_relaxed);
			count[1] += atomic_load_explicit(&slot->count[1], memory_order_relaxed);
		}
		printf("%s{\"run\":%u,\"warmup\":%llu,\"window\":%llu}", first ? "" : ",", seen[k],
		       (unsigned long long)count[0], (unsigned long long)count[1]);
		first = false;
	}
	printf("],\"foreign\":%llu}\n", (unsigned long long)foreign);
	fflush(stdout);
}

static int cmd_sink(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ 0 },
	};
	const char *listen_text = NULL;
	int threads = 1, opt;
	struct endpoint ep;
	atomic_bool stop = false;
	sigset_t sigs;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen_text = optarg;
			break;
		case 't':
			threads = (int)parse_count(optarg, "--threads", 1, 256);
			break;
		default:
			die_usage("%s", "unknown option");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument %s", argv[optind]);
	if (!listen_text)
		die_usage("%s", "sink needs --listen IP:PORT");
	if (!endpoint_parse(listen_text, &ep))
		die_usage("--listen %s: not IP:PORT", listen_text);

	// Threads inherit this mask; only sigwait below takes the signals.
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	struct sink *sinks = calloc(threads, sizeof(*sinks));
	if (!sinks)
		die_errno("calloc");
	for (int i = 0; i < threads; i++) {
		sinks[i].listen = &ep;
		sinks[i].stop = &stop;
		sinks[i].fd = sink_socket(&ep);
	}
	for (int i = 0; i < threads; i++) {
		errno = pthread_create(&sinks[i].thread, NULL, sink_run, &sinks[i]);
		if (errno)
			die_errno("pthread_create");
	}
	printf("{\"listening\":\"%s\",\"threads\":%d}\n", listen_text, threads);
	fflush(stdout);

	for (;;) {
		int sig;

		sigwait(&sigs, &sig);
		if (sig != SIGUSR1)
			break;
		sink_report(sinks, threads);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < threads; i++) {
		pthread_join(sinks[i].thread, NULL);
		close(sinks[i].fd);
	}
	sink_report(sinks, threads);
	free(sinks);
	return 0;
}

// ---------------------------------------------------------------------------
// send

struct sender {
	const struct endpoint *target;
	uint64_t warmup_end_ns, end_ns;
	uint32_t run;
	int size, batch, nflows;
	int *fds;
	pthread_t thread;
	uint64_t sent;
	uint64_t errors;
	uint64_t error_kinds[KIND_COUNT];
};

static int sender_socket(const struct endpoint *ep)
{
	int fd = socket(ep->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die_errno("socket");
	// connect() binds an ephemeral source port: one flow per socket.
	if (connect(fd, (const struct sockaddr *)&ep->addr, ep->len))
		die_errno("connect");
	return fd;
}

static void *sender_run(void *arg)
{
	struct sender *w = arg;
	unsigned char(*bufs)[MAX_SIZE] = calloc(w->batch, MAX_SIZE);
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iovs[MAX_BATCH];
	uint32_t seq = 0;

	if (!bufs)
		die_errno("calloc");
	for (int i = 0; i < w->batch; i++) {
		iovs[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = (size_t)w->size };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iovs[i], .msg_iovlen = 1 } };
	}
	for (int flow = 0;; flow = (flow + 1) % w->nflows) {
		uint64_t t = now_ns();

		if (t >= w->end_ns)
			break;
		uint32_t phase = t >= w->warmup_end_ns ? PHASE_WINDOW : PHASE_WARMUP;
		for (int i = 0; i < w->batch; i++) {
			struct header h = {
				.magic = htonl(MAGIC),
				.run = htonl(w->run),
				.phase = htonl(phase),
				.seq = htonl(seq++),
			};
			memcpy(bufs[i], &h, sizeof(h));
		}
		// A partial batch is fine: what the kernel accepted counts.
		int n = sendmmsg(w->fds[flow], msgs, (unsigned)w->batch, 0);
		if (phase != PHASE_WINDOW)
			continue;
		if (n > 0) {
			w->sent += (uint64_t)n;
		} else if (n < 0 && errno != EINTR) {
			w->errors++;
			w->error_kinds[errno < KIND_COUNT ? errno : KIND_COUNT - 1]++;
		}
	}
	free(bufs);
	return NULL;
}

static int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 'a' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "flows", required_argument, NULL, 'f' },
		{ "threads", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "run", required_argument, NULL, 'r' },
		{ 0 },
	};
	const char *target_text = NULL;
	double duration = -1, warmup = 0;
	int flows = 8, threads = 1, size = 64, batch = 32, opt;
	uint32_t run = 1;
	struct endpoint ep;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			target_text = optarg;
			break;
		case 'd':
			duration = parse_seconds(optarg, "--duration", 0.001);
			break;
		case 'w':
			warmup = parse_seconds(optarg, "--warmup", 0);
			break;
		case 'f':
			flows = (int)parse_count(optarg, "--flows", 1, 65536);
			break;
		case 't':
			threads = (int)parse_count(optarg, "--threads", 1, 256);
			break;
		case 's':
			size = (int)parse_count(optarg, "--size", MIN_SIZE, MAX_SIZE);
			break;
		case 'b':
			batch = (int)parse_count(optarg, "--batch", 1, MAX_BATCH);
			break;
		case 'r':
			run = (uint32_t)parse_count(optarg, "--run", 1, UINT32_MAX);
			break;
		default:
			die_usage("%s", "unknown option");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument %s", argv[optind]);
	if (!target_text || duration < 0)
		die_usage("%s", "send needs --target IP:PORT and --duration S");
	if (!endpoint_parse(target_text, &ep))
		die_usage("--target %s: not IP:PORT", target_text);
	if (threads > flows)
		threads = flows;

	int *fds = calloc(flows, sizeof(*fds));
	struct sender *senders = calloc(threads, sizeof(*senders));
	if (!fds || !senders)
		die_errno("calloc");
	for (int i = 0; i < flows; i++)
		fds[i] = sender_socket(&ep);
	uint64_t t0 = now_ns();
	uint64_t warmup_end = t0 + (uint64_t)(warmup * 1e9);
	uint64_t end = warmup_end + (uint64_t)(duration * 1e9);
	for (int i = 0, next = 0; i < threads; i++) {
		struct sender *w = &senders[i];

		*w = (struct sender){ .target = &ep,
			              .warmup_end_ns = warmup_end,
			              .end_ns = end,
			              .run = run,
			              .size = size,
			              .batch = batch };
		w->nflows = flows / threads + (i < flows % threads);
		w->fds = &fds[next];
		next += w->nflows;
	}
	for (int i = 0; i < threads; i++) {
		errno = pthread_create(&senders[i].thread, NULL, sender_run, &senders[i]);
		if (errno)
			die_errno("pthread_create");
	}
	uint64_t sent = 0, errors = 0, kinds[KIND_COUNT] = { 0 };
	for (int i = 0; i < threads; i++) {
		pthread_join(senders[i].thread, NULL);
		sent += senders[i].sent;
		errors += senders[i].errors;
		for (unsigned k = 0; k < KIND_COUNT; k++)
			kinds[k] += senders[i].error_kinds[k];
	}

	char buf[32];
	bool first = true;
	printf("{\"run\":%u,\"sent\":%llu,\"errors\":%llu,\"errorKinds\":{", run, (unsigned long long)sent,
	       (unsigned long long)errors);
	for (unsigned k = 0; k < KIND_COUNT; k++) {
		if (!kinds[k])
			continue;
		printf("%s\"%s\":%llu", first ? "" : ",", kind_name(k, buf, sizeof(buf)), (unsigned long long)kinds[k]);
		first = false;
	}
	printf("},\"durationSec\":%.3f,\"sentPerSec\":%.1f,\"flows\":%d,\"size\":%d}\n", duration,
	       (double)sent / duration, flows, size);
	for (int i = 0; i < flows; i++)
		close(fds[i]);
	free(fds);
	free(senders);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die_usage("%s", "missing subcommand");
	if (strcmp(argv[1], "sink") == 0)
		return cmd_sink(argc - 1, argv + 1);
	if (strcmp(argv[1], "send") == 0)
		return cmd_send(argc - 1, argv + 1);
	die_usage("unknown subcommand %s", argv[1]);
	return 2;
}
