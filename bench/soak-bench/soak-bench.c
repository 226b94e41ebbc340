/* SPDX-License-Identifier: MIT */
/*
 * ivt-soak: does ivtd stay flat under churn?
 *
 * A private ivtd (local control socket, shm) serves channels that child
 * processes open, fill with data and close, several pairs at a time, for
 * --minutes; a share of them (--kill-percent) has one end SIGKILLed at a
 * random moment. ivtd's resident memory and open descriptors are read
 * from /proc/<pid> every --interval seconds and printed as a table. The
 * baseline is the same ivtd idle before the first channel; at the end,
 * once every client is gone, it must be back at that descriptor count, and
 * its memory must not keep growing (the peak of the second half of the
 * run within 10% + 1 MiB of the first half's). Not a timed test: --quick
 * only checks that the run completes, no end hangs or fails, and no fd
 * leaks; memory is printed but not judged over 10 seconds.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ivtd_run.h"
#include "soak_client.h"
#include "soak_proc.h"

#define POLICY                                                                                \
	"{\"version\":1,\"channels\":[{\"name\":\"soak-*\",\"listeners\":[\"*\"],"            \
	"\"connectors\":[\"*\"],\"backend\":\"shm\",\"ring_size\":65536}]}"
#define MAX_PAIRS 64
/* A survivor of a kill may wait out its open timeout; it lingers in a slot
 * of its own while new pairs keep the load up. */
#define SLOTS (4 * MAX_PAIRS)
#define PAIR_DEADLINE_S 60 /* an end still running after this is stuck: a bug */

struct opts {
	double seconds, interval;
	int pairs, kill_pct;
	int quick;
	uint64_t max_bytes, seed;
};

struct pair {
	pid_t pid[2];    /* listener, connector; 0 once reaped */
	int status[2];
	double started, kill_at;
	int victim;      /* 0/1, or -1: no kill planned */
	int killed;
	int stuck;       /* outlived PAIR_DEADLINE_S and was killed by us */
};

static struct {
	uint64_t started, clean, killed, peer_saw_kill, failed, stuck;
} tally;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void start_pair(struct pair *p, const struct opts *o, uint64_t n)
{
	char name[32];
	snprintf(name, sizeof(name), "soak-%llu", (unsigned long long)n);
	uint64_t bytes = 1 + rnd() % o->max_bytes, seed = rnd();
	memset(p, 0, sizeof(*p));
	fflush(NULL);
	for (int i = 0; i < 2; i++) {
		p->pid[i] = fork();
		if (p->pid[i] == 0)
			_exit(i == 0 ? soak_listener(name, bytes, seed) : soak_connector(name, bytes, seed));
	}
	p->started = now_s();
	p->victim = (int)(rnd() % 100) < o->kill_pct ? (int)(rnd() % 2) : -1;
	p->kill_at = p->started + (double)(rnd() % 20000) / 1e6; /* within 20 ms: a pair lasts ~10 */
	tally.started++;
}

static int pair_active(const struct pair *p) { return p->pid[0] > 0 || p->pid[1] > 0; }

/* Counts against --pairs: running, and not just a kill's survivor. */
static int pair_busy(const struct pair *p)
{
	return pair_active(p) && !(p->killed && p->pid[p->victim] == 0);
}

static void top_up(struct pair *pairs, const struct opts *o, uint64_t *n)
{
	int busy = 0;
	for (int i = 0; i < SLOTS; i++)
		busy += pair_busy(&pairs[i]);
	for (int i = 0; i < SLOTS && busy < o->pairs; i++)
		if (!pair_active(&pairs[i])) {
			start_pair(&pairs[i], o, (*n)++);
			busy++;
		}
}

static void pair_done(struct pair *p)
{
	int ok[2];
	for (int i = 0; i < 2; i++)
		ok[i] = WIFEXITED(p->status[i]) ? WEXITSTATUS(p->status[i]) : -1;
	if (p->stuck) {
		tally.stuck++;
	} else if (p->killed) {
		tally.killed++;
		int survivor = ok[1 - p->victim];
		/* The survivor either finished first or heard of the death. */
		if (survivor == SOAK_PEER_GONE || survivor == SOAK_NO_PEER)
			tally.peer_saw_kill++;
		else if (survivor != SOAK_OK)
			tally.failed++;
	} else if (ok[0] == SOAK_OK && ok[1] == SOAK_OK) {
		tally.clean++;
	} else {
		tally.failed++;
	}
}

/* Reap exited children, fire planned kills, kill stuck pairs. */
static void service(struct pair *pairs, int n)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (int i = 0; i < n; i++)
			for (int j = 0; j < 2; j++)
				if (pairs[i].pid[j] == pid) {
					pairs[i].pid[j] = 0;
					pairs[i].status[j] = st;
					if (!pair_active(&pairs[i]))
						pair_done(&pairs[i]);
				}
	double t = now_s();
	for (int i = 0; i < n; i++) {
		struct pair *p = &pairs[i];
		if (p->victim >= 0 && !p->killed && t >= p->kill_at && p->pid[p->victim] > 0) {
			kill(p->pid[p->victim], SIGKILL);
			p->killed = 1;
		}
		if (pair_active(p) && !p->stuck && t - p->started > PAIR_DEADLINE_S) {
			fprintf(stderr, "ivt-soak: an end hung for %d s, killing it\n", PAIR_DEADLINE_S);
			p->stuck = 1;
			for (int j = 0; j < 2; j++)
				if (p->pid[j] > 0)
					kill(p->pid[j], SIGKILL);
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ivt-soak [--minutes M] [--quick] [options]\n"
		"Open and close shm channels with data through a private ivtd, killing\n"
		"random clients, and watch ivtd's RSS and open fds (from /proc) stay flat.\n"
		"  --minutes M        run time (default 1; fractions allowed)\n"
		"  --quick            a 10-second smoke run (ctest -L bench)\n"
		"  --pairs N          channel pairs at once (default 4, at most %d)\n"
		"  --kill-percent P   pairs that get one end SIGKILLed (default 25)\n"
		"  --max-bytes B      bytes per channel, random in 1..B (default 1048576)\n"
		"  --interval S       seconds between samples (default 5, quick 1)\n"
		"  --seed X           PRNG seed (default 1): same choices every run\n"
		"Exit status: 0 flat, 1 ivtd grew, leaked fds, died, or an end hung or\n"
		"failed, 2 usage or setup error.\n",
		MAX_PAIRS);
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"minutes", 1, 0, 'm'}, {"quick", 0, 0, 'q'}, {"pairs", 1, 0, 'p'},
		{"kill-percent", 1, 0, 'k'}, {"max-bytes", 1, 0, 'b'}, {"interval", 1, 0, 'i'},
		{"seed", 1, 0, 's'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	*o = (struct opts){.seconds = 60, .interval = 5, .pairs = 4, .kill_pct = 25,
			   .max_bytes = 1 << 20, .seed = 1};
	int c, interval_set = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'm': o->seconds = atof(optarg) * 60; break;
		case 'q': o->quick = 1; o->seconds = 10; if (!interval_set) o->interval = 1; break;
		case 'p': o->pairs = atoi(optarg); break;
		case 'k': o->kill_pct = atoi(optarg); break;
		case 'b': o->max_bytes = strtoull(optarg, NULL, 0); break;
		case 'i': o->interval = atof(optarg); interval_set = 1; break;
		case 's': o->seed = strtoull(optarg, NULL, 0); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc || o->seconds <= 0 || o->interval <= 0 || o->pairs < 1 ||
	    o->pairs > MAX_PAIRS || o->kill_pct < 0 || o->kill_pct > 100 || o->max_bytes < 1) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse(argc, argv, &o))
		return 2;
	rng_state = o.seed;
	signal(SIGPIPE, SIG_IGN);
	struct ivtd_run d;
	char why[256];
	if (ivtd_run_start(&d, POLICY, why, sizeof(why))) {
		fprintf(stderr, "ivt-soak: %s\n", why);
		return 2;
	}
	struct soak_series ser;
	soak_series_init(&ser, d.pid);
	printf("ivt-soak: %d pairs at once, %d%% with a killed end, up to %llu bytes each, %.0f s\n",
	       o.pairs, o.kill_pct, (unsigned long long)o.max_bytes, o.seconds);
	soak_print_header();
	/* ivtd_run_start returned once ivtd closed its probe: idle now */
	soak_sample(&ser, 0, "idle", tally.started, tally.killed);

	static struct pair pairs[SLOTS];
	double t0 = now_s(), next_sample = t0 + o.interval;
	uint64_t n = 0;
	int alive = 1;
	while (now_s() - t0 < o.seconds && (alive = soak_alive(&ser))) {
		top_up(pairs, &o, &n);
		service(pairs, SLOTS);
		if (now_s() >= next_sample) {
			soak_sample(&ser, now_s() - t0, "busy", tally.started, tally.killed);
			next_sample += o.interval;
		}
		usleep(1000);
	}
	/* Drain: no new pairs; every end finishes, is killed, or is stuck. */
	for (int busy = 1; busy;) {
		service(pairs, SLOTS);
		busy = 0;
		for (int i = 0; i < SLOTS; i++)
			busy |= pair_active(&pairs[i]);
		usleep(1000);
	}
	alive = alive && soak_alive(&ser);
	/* ivtd hears of the last closes asynchronously: let it settle. */
	int settled = alive && soak_settle(&ser, 10.0);
	soak_sample(&ser, now_s() - t0, "idle", tally.started, tally.killed);
	ivtd_run_stop(&d);

	printf("\nchannels: %llu opened, %llu clean, %llu with a killed end (%llu survivors saw "
	       "the death, the rest had finished), %llu failed, %llu stuck\n",
	       (unsigned long long)tally.started, (unsigned long long)tally.clean,
	       (unsigned long long)tally.killed, (unsigned long long)tally.peer_saw_kill,
	       (unsigned long long)tally.failed, (unsigned long long)tally.stuck);
	int flat = soak_report(&ser, settled, !o.quick);
	if (!alive)
		printf("verdict: ivtd DIED during the run\n");
	return alive && flat && !tally.failed && !tally.stuck ? 0 : 1;
}
