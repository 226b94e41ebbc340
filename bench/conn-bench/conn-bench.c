/* SPDX-License-Identifier: MIT */
/*
 * conn-bench: what a connection costs through ivtd.
 *
 *  1. Setup: connect + accept + 1-byte round trip + close, one after the
 *     other, through a private ivtd (ivt_listen/ivt_accept over shm), and
 *     the same over TCP loopback and Unix stream sockets in the same run:
 *     setups per second, p50/p99 latency, and ivt's ratio to each; the
 *     CPU time and sleeps per setup of every process involved (cost.c).
 *  2. Held open: N channels (default 1,000 and 10,000) open at once on one
 *     listener (connectors in a child process), with ivtd's RSS and open
 *     fds from /proc before, during and after: bytes and fds per channel.
 *
 * Targets (issue 11): setup within 2x of TCP loopback connect+accept;
 * ivtd RSS per open channel under 4 KiB.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cost.h"
#include "ivt/ivt.h"
#include "ivtd_run.h"

#define CHANNEL "cb-conn"
/* Limits high enough for --hold 10000; a rule that sets limits itself
 * has direct lines only when it says so (conf/README.md, "lines"). */
#define POLICY                                                                                \
	"{\"version\":1,\"channels\":[{\"name\":\"cb-*\",\"listeners\":[\"*\"],"             \
	"\"connectors\":[\"*\"],\"backend\":\"shm\",\"ring_size\":4096,"                      \
	"\"backlog\":4096,\"max_connections\":1000000,\"lines\":true}]}"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "conn-bench: %s: %s\n", what, rc < 0 ? ivt_strerror(rc) : strerror(errno));
	exit(1);
}

/* ---- setup latency ------------------------------------------------------ */

struct result {
	const char *name;
	double per_s, p50, p99;
	double phase_p50[3]; /* ivt: open (connect+accept+setup), round trip, close */
	struct cost cost;    /* per setup: CPU of every process involved, sleeps */
	int ok;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void summarize(struct result *r, double *lat, int n, double total_us)
{
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	r->per_s = n / (total_us / 1e6);
	r->p50 = lat[n / 2];
	r->p99 = lat[(int)(n * 0.99) < n ? (int)(n * 0.99) : n - 1];
	r->ok = 1;
}

/* ivt: a thread accepts, echoes one byte, closes. */
static void *ivt_server(void *arg)
{
	ivt_listener *l = arg;
	for (;;) {
		ivt_channel *ch;
		if (ivt_accept(l, &ch) < 0)
			return NULL; /* listener closed */
		char c;
		if (ivt_recv(ch, &c, 1) == 1)
			ivt_send(ch, &c, 1);
		ivt_close(ch);
	}
}

/* The ways of setting up a connection (docs/conn-setup.md): 0 over the
 * direct line ivtd granted with the second connection (the default), 1
 * through ivtd with the connector's ring (IVT_LINES=0), 2 with the
 * accepting end's setup relayed by ivtd (IVT_CONN_RING=0), 3 over the
 * line with a new ring each time (IVT_RING_REUSE=0: no ring kept). */
#define WAYS 4
#define NROWS 6 /* the ways and TCP, Unix */
static const char *const way_names[WAYS] = {"line", "ivtd", "relayed", "fresh"};

static void set_way(int way)
{
	/* only ever overwritten (glibc keeps the old strings), so the
	 * accepting thread may read them meanwhile */
	setenv("IVT_LINES", way == 0 || way == 3 ? "1" : "0", 1);
	setenv("IVT_CONN_RING", way == 2 ? "0" : "1", 1);
	setenv("IVT_RING_REUSE", way == 3 ? "0" : "1", 1);
}

/* One setup, one way: ivt_open's time, the round trip's, the whole
 * (with ivt_close), in us. */
static void ivt_setup(int way, double *t_open, double *t_rt, double *t_all)
{
	set_way(way);
	double t0 = now_us();
	ivt_channel *ch;
	char c = 'x';
	int rc = ivt_open(CHANNEL, 0, NULL, &ch);
	if (rc < 0)
		die("ivt_open", rc);
	double t1 = now_us();
	if (ivt_send(ch, &c, 1) != 1 || ivt_recv(ch, &c, 1) != 1)
		die("ivt round trip", -EIO);
	double t2 = now_us();
	ivt_close(ch);
	*t_all = now_us() - t0;
	*t_open = t1 - t0;
	*t_rt = t2 - t1;
}

/* The ways in turn, one connection each (the order rotating), so that
 * all see the same load. */
static void bench_ivt(struct result *rv, int iters, double *lat, pid_t ivtd)
{
	ivt_listener *l;
	set_way(0);
	int rc = ivt_listen(CHANNEL, NULL, &l);
	if (rc < 0)
		die("ivt_listen", rc);
	pthread_t t;
	pthread_create(&t, NULL, ivt_server, l);
	double *lats[WAYS] = {lat};
	for (int w = 1; w < WAYS; w++)
		lats[w] = calloc((size_t)iters, sizeof(double));
	double *ph = calloc((size_t)iters * 3 * WAYS, sizeof(*ph)); /* open, round trip, close */
	double total[WAYS] = {0};
	/* CONN_BENCH_WAY=line|fresh|ivtd|relayed: every connection one way (strace, perf) */
	const char *only = getenv("CONN_BENCH_WAY");
	int only_way = -1;
	for (int w = 0; only && w < WAYS; w++)
		if (!strcmp(only, way_names[w]))
			only_way = w;
	double x[3];
	/* warm, not timed: ivtd grants the line with a process's second
	 * connection to a listener (docs/conn-setup.md), so the line rows
	 * time only connections over it */
	for (int i = 0; i < 2; i++)
		ivt_setup(0, &x[0], &x[1], &x[2]);
	for (int i = 0; i < WAYS * iters; i++) {
		int k = i / WAYS;
		int way = (i + k) % WAYS; /* 0 1 2 3, 1 2 3 0, ...: none always first */
		int run = only_way >= 0 ? only_way : way;
		double *p = ph + way * 3 * iters;
		ivt_setup(run, &p[k], &p[iters + k], &lats[way][k]);
		p[2 * iters + k] = lats[way][k] - p[k] - p[iters + k];
		total[way] += lats[way][k];
	}
	/* What each way costs, in a pass of its own (the sampling reads
	 * /proc, which must not sit between the timed setups above). */
	int cn = iters / 2;
	for (int w = 0; w < WAYS; w++) {
		struct cost a, b;
		cost_sample(&a, ivtd);
		for (int i = 0; i < cn; i++)
			ivt_setup(only_way >= 0 ? only_way : w, &x[0], &x[1], &x[2]);
		cost_sample(&b, ivtd);
		cost_per(&rv[w].cost, &a, &b, cn);
	}
	for (int w = 0; w < WAYS; w++) {
		summarize(&rv[w], lats[w], iters, total[w]);
		for (int k = 0; k < 3; k++) {
			double *p = ph + w * 3 * iters + k * iters;
			qsort(p, (size_t)iters, sizeof(*p), cmp_double);
			rv[w].phase_p50[k] = p[iters / 2];
		}
	}
	free(ph);
	for (int w = 1; w < WAYS; w++)
		free(lats[w]);
	unsetenv("IVT_CONN_RING");
	unsetenv("IVT_LINES");
	unsetenv("IVT_RING_REUSE");
	/* the server thread is in ivt_accept: a last connector wakes it, and
	 * it sees the listener gone on the next one */
	pthread_cancel(t);
	pthread_join(t, NULL);
	ivt_listener_close(l);
}

/* sockets: the same shape over TCP loopback or a Unix stream socket */
static void *sock_server(void *arg)
{
	int lfd = *(int *)arg;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		char c;
		if (read(fd, &c, 1) == 1 && write(fd, &c, 1) != 1) {
			/* the client sees it */
		}
		close(fd);
	}
}

static void bench_sock(struct result *r, int iters, double *lat, int family, const char *dir)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*in);
	} else {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s/unix.sock", dir);
		unlink(un->sun_path);
		sl = sizeof(*un);
	}
	int lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, sl) != 0 || listen(lfd, 4096) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl) != 0)
		die("listen socket", 0);
	pthread_t t;
	pthread_create(&t, NULL, sock_server, &lfd);
	struct cost ca, cb;
	cost_sample(&ca, 0);
	double start = now_us();
	for (int i = 0; i < iters; i++) {
		double t0 = now_us();
		int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (family == AF_INET)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		char c = 'x';
		if (connect(fd, (struct sockaddr *)&ss, sl) != 0 || write(fd, &c, 1) != 1 ||
		    read(fd, &c, 1) != 1)
			die("socket round trip", 0);
		close(fd);
		lat[i] = now_us() - t0;
	}
	double total = now_us() - start;
	cost_sample(&cb, 0);
	cost_per(&r->cost, &ca, &cb, iters);
	summarize(r, lat, iters, total);
	pthread_cancel(t);
	pthread_join(t, NULL);
	close(lfd);
	if (family == AF_UNIX)
		unlink(((struct sockaddr_un *)&ss)->sun_path);
}

/* ---- channels held open ------------------------------------------------- */

/* Ends per helper process: each end holds ~8 fds in libivt, and a
 * process without CAP_SYS_RESOURCE may be held to a 20,000-fd limit. */
#define ENDS_PER_PROC 2000

/* Child: open (connectors) or accept (l non-NULL) n ends, say how many on
 * `report`, wait for the parent's byte on `go`, close them all. */
static int hold_ends(ivt_listener *l, int n, int report, int go)
{
	ivt_channel **chs = calloc((size_t)n, sizeof(*chs));
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 30000};
	int opened = 0;
	for (; chs && opened < n; opened++) {
		/* acceptors give up once connectors stop coming (they failed) */
		struct pollfd p = {.fd = l ? ivt_listener_fd(l) : -1, .events = POLLIN};
		if (l && poll(&p, 1, 10000) != 1) {
			fprintf(stderr, "conn-bench: no connector for 10 s after %d\n", opened);
			break;
		}
		int rc = l ? ivt_accept(l, &chs[opened]) : ivt_open(CHANNEL, 0, &o, &chs[opened]);
		if (rc < 0) {
			fprintf(stderr, "conn-bench: %s %d: %s\n", l ? "accept" : "connector", opened,
				ivt_strerror(rc));
			break;
		}
	}
	if (write(report, &opened, sizeof(opened)) != sizeof(opened))
		return 1;
	char c;
	if (read(go, &c, 1) != 1) {
		/* parent gone: close anyway */
	}
	for (int i = 0; i < opened; i++)
		ivt_close(chs[i]);
	free(chs);
	return 0;
}

struct hold_result {
	int want, got;
	long rss0, rss, rss_after, fds0, fds, fds_after;
	long ivtd_fd_limit;
};

static long proc_fd_limit(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	FILE *f = fopen(path, "r");
	long soft = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Max open files %ld", &soft) == 1)
			break;
	if (f)
		fclose(f);
	return soft;
}

/* n channels on one listener: acceptor processes share the listener (as
 * a pre-forked server does), connector processes open; ENDS_PER_PROC
 * each. */
static void bench_hold(struct hold_result *h, int n, pid_t ivtd)
{
	memset(h, 0, sizeof(*h));
	h->want = n;
	h->ivtd_fd_limit = proc_fd_limit(ivtd);
	/* Every channel through ivtd: what ivtd holds per channel. Over a
	 * direct line (the default after a process's second connection)
	 * ivtd holds nothing for it, which would make the figure
	 * meaningless. */
	setenv("IVT_LINES", "0", 1);
	ivt_listener *l;
	int rc = ivt_listen(CHANNEL, NULL, &l);
	if (rc < 0)
		die("ivt_listen", rc);
	usleep(200000);
	h->rss0 = ivtd_run_rss_kib(ivtd, NULL);
	h->fds0 = ivtd_run_fds(ivtd);
	int rep[2], go[2];
	if (pipe(rep) || pipe(go))
		die("pipe", 0);
	int procs = (n + ENDS_PER_PROC - 1) / ENDS_PER_PROC;
	pid_t *kids = calloc((size_t)procs * 2, sizeof(*kids));
	fflush(NULL);
	for (int i = 0; i < procs * 2; i++) {
		int share = i % procs == procs - 1 ? n - (procs - 1) * ENDS_PER_PROC : ENDS_PER_PROC;
		kids[i] = fork();
		if (kids[i] == 0)
			_exit(hold_ends(i < procs ? l : NULL, share, rep[1], go[0]));
	}
	int ends = 0;
	for (int i = 0; i < procs * 2; i++) {
		int got = 0;
		if (read(rep[0], &got, sizeof(got)) == sizeof(got))
			ends += got; /* acceptors and connectors alike */
	}
	h->got = ends / 2; /* two ends per channel */
	usleep(200000);
	h->rss = ivtd_run_rss_kib(ivtd, NULL);
	h->fds = ivtd_run_fds(ivtd);
	for (int i = 0; i < procs * 2; i++)
		if (write(go[1], "x", 1) != 1) {
			/* child gone */
		}
	for (int i = 0; i < procs * 2; i++)
		waitpid(kids[i], NULL, 0);
	free(kids);
	ivt_listener_close(l);
	unsetenv("IVT_LINES");
	usleep(300000);
	h->rss_after = ivtd_run_rss_kib(ivtd, NULL);
	h->fds_after = ivtd_run_fds(ivtd);
	close(rep[0]);
	close(rep[1]);
	close(go[0]);
	close(go[1]);
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"NAME\n"
"    conn-bench - connection setup cost and per-channel memory through ivtd\n"
"\n"
"SYNOPSIS\n"
"    conn-bench [--iters N] [--hold N[,N...]] [--quick]\n"
"\n"
"DESCRIPTION\n"
"    Starts a private ivtd ($IVT_BIN_DIR/ivtd, else the build's) and measures\n"
"    connect + accept + 1-byte round trip + close through it (ivt_listen /\n"
"    ivt_accept, shm), over TCP loopback and over Unix stream sockets in the\n"
"    same run: setups per second and p50/p99 latency, with ivt's ratio to\n"
"    each. ivt's connections take four ways in turn: over the direct line\n"
"    ivtd granted with the second connection (the default, ivtd not\n"
"    involved; docs/conn-setup.md), through ivtd with the connector's own\n"
"    ring (IVT_LINES=0), with the accepting end's setup relayed by\n"
"    ivtd (IVT_CONN_RING=0), and over the line with a new ring each time\n"
"    (IVT_RING_REUSE=0; by default a line keeps closed rings for the next\n"
"    connection). The connector and the accepting thread are\n"
"    threads of this one process, so each munmap in ivt_close shoots\n"
"    down the other thread's TLB (an IPI): CPU a real two-process\n"
"    setup does not pay. For each way it also reports the CPU time (user + system) and\n"
"    the sleeps (voluntary context switches) per setup of every process\n"
"    involved: this one's threads (getrusage) and, for ivt, ivtd's\n"
"    (/proc/PID/task/*/schedstat and status), ivt's from a pass of\n"
"    iters/2 setups of each way after the timed ones; on a loaded\n"
"    machine these move less than the latencies. Then holds N channels\n"
"    open on one listener at once, all through ivtd (IVT_LINES=0: over a\n"
"    line ivtd holds nothing for a channel), and reports ivtd's RSS and\n"
"    open fds (/proc) per channel.\n"
"\n"
"OPTIONS\n"
"    --iters N     setups per transport (default 2000)\n"
"    --hold LIST   channel counts to hold open (default 1000,10000); ivtd\n"
"                  holds 2 fds per channel (one control connection per\n"
"                  end) until half its table is used, then 1 (it lets go\n"
"                  of accepted ends: policy limits.detach_above), and\n"
"                  keeps 256 spare, so an fd limit L holds about\n"
"                  3 (L - 256) / 4 channels (RLIMIT_NOFILE, inherited by\n"
"                  ivtd): 14,800 under 20,000\n"
"    --quick       smoke run: 200 setups, hold 100\n"
"\n"
"    The benchmark raises its fd limit (and so ivtd's) as far as it may.\n"
"    Pin with taskset to compare runs.\n");
}

int main(int argc, char **argv)
{
	int iters = 2000;
	const char *hold = "1000,10000";
	static const struct option longopts[] = {
		{"iters", required_argument, NULL, 'i'}, {"hold", required_argument, NULL, 'H'},
		{"quick", no_argument, NULL, 'q'},       {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': iters = atoi(optarg); break;
		case 'H': hold = optarg; break;
		case 'q': iters = 200; hold = "100"; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (iters < 10) {
		fprintf(stderr, "conn-bench: --iters must be at least 10\n");
		return 2;
	}
	/* many channels: many descriptors, in ivtd (inherits this) and here */
	struct rlimit rl = {.rlim_cur = 1 << 20, .rlim_max = 1 << 20};
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	struct ivtd_run d;
	char why[256];
	if (ivtd_run_start(&d, POLICY, why, sizeof(why)) != 0) {
		fprintf(stderr, "conn-bench: %s\n", why);
		return 1;
	}
	double *lat = calloc((size_t)iters, sizeof(*lat));
	/* r[0]: over the direct line (the default, rings kept); r[3]: over
	 * the line, a new ring each time; r[4], r[5]: through ivtd, the
	 * connector's ring and the accepting end's setup relayed; all in
	 * turn (docs/conn-setup.md) */
	struct result r[NROWS] = {{.name = "ivt (line, shm)"}, {.name = "TCP loopback"},
				  {.name = "Unix socket"}, {.name = "ivt, line, new ring"},
				  {.name = "ivt, through ivtd"}, {.name = "ivt, relayed setup"}};
	struct result rv[WAYS] = {{.name = r[0].name}, {.name = r[4].name}, {.name = r[5].name},
				  {.name = r[3].name}};
	bench_ivt(rv, iters, lat, d.pid);
	r[0] = rv[0];
	r[3] = rv[3];
	r[4] = rv[1];
	r[5] = rv[2];
	bench_sock(&r[1], iters, lat, AF_INET, d.dir);
	bench_sock(&r[2], iters, lat, AF_UNIX, d.dir);
	free(lat);

	printf("Connection setup: connect + accept + 1-byte round trip + close, %d each, "
	       "one at a time\n", iters);
	printf("%-20s %10s %8s %8s %10s %11s %8s %7s %9s\n", "transport", "setups/s", "p50 us",
	       "p99 us", "p50 vs TCP", "p50 vs Unix", "CPU us", "sleeps", "preempted");
	for (int i = 0; i < NROWS; i++)
		printf("%-20s %10.0f %8.1f %8.1f %9.2fx %10.2fx %8.1f %7.1f %9.1f\n", r[i].name,
		       r[i].per_s, r[i].p50, r[i].p99, r[i].p50 / r[1].p50, r[i].p50 / r[2].p50,
		       r[i].cost.cpu_us, r[i].cost.sleeps, r[i].cost.preempted);
	printf("(CPU us, sleeps, preempted: per setup, every process involved (ivt: with "
	       "ivtd); ivt's from a pass of %d setups of each way after the timed ones)\n",
	       iters / 2);
	for (int i = 0; i < NROWS; i += (i ? 1 : 3))
		printf("%s p50 by phase: ivt_open (connect, accept, setup) %.1f us, first byte "
		       "round trip %.1f us, ivt_close %.1f us\n", r[i].name,
		       r[i].phase_p50[0], r[i].phase_p50[1], r[i].phase_p50[2]);
	printf("target: ivt p50 within 2x of TCP: %s (%.2fx)\n\n",
	       r[0].p50 <= 2 * r[1].p50 ? "met" : "NOT met", r[0].p50 / r[1].p50);

	printf("Channels held open on one listener (acceptor and connector processes of %d "
	       "ends each): ivtd\n", ENDS_PER_PROC);
	printf("%8s %8s %12s %12s %12s %10s %12s %12s\n", "want", "open", "RSS idle", "RSS open",
	       "B/channel", "fds open", "fds/channel", "RSS after");
	int status = 0;
	char list[256];
	snprintf(list, sizeof(list), "%s", hold);
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		int n = atoi(tok);
		if (n <= 0)
			continue;
		struct hold_result h;
		bench_hold(&h, n, d.pid);
		double per = h.got ? (double)(h.rss - h.rss0) * 1024 / h.got : 0;
		printf("%8d %8d %9ld KiB %9ld KiB %12.0f %10ld %12.2f %9ld KiB\n", h.want, h.got,
		       h.rss0, h.rss, per, h.fds, h.got ? (double)(h.fds - h.fds0) / h.got : 0,
		       h.rss_after);
		if (h.got < h.want) {
			status = 1;
			if (h.ivtd_fd_limit > 0 && (h.ivtd_fd_limit - 256) * 3 / 4 < h.want)
				printf("         not all open: ivtd holds 2 fds per channel (1 once "
				       "half its table is used), keeps 256 spare, and may open "
				       "only %ld (RLIMIT_NOFILE; raising it needs "
				       "CAP_SYS_RESOURCE)\n", h.ivtd_fd_limit);
		}
		else
			printf("         target: RSS per channel < 4096 B: %s\n",
			       per < 4096 ? "met" : "NOT met");
	}
	ivtd_run_stop(&d);
	return status;
}
