/* SPDX-License-Identifier: MIT */
/*
 * ivt-cat: pipe bytes over an ivt channel, like nc/socat over a socket.
 *
 *   ivt-cat connect NAME              stdin -> channel, channel -> stdout
 *   ivt-cat listen NAME               the same for one accepted connection
 *   ivt-cat listen NAME --exec CMD    CMD per connection, on the channel
 *
 * One relay loop (relay()) serves every mode: poll() over the input fd and
 * ivt_fd() of a non-blocking channel, so neither direction can stall the
 * other. --exec runs each connection's relay in a thread of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "ivt/ivt.h"

extern char **environ;

enum exit_code { EXIT_CLEAN = 0, EXIT_SETUP = 1, EXIT_RESET = 2 };

struct options {
	const char *socket_path, *backend, *exec_cmd;
	size_t ring_size;
	int timeout_ms;
	int timeout_given; /* -t on the command line: listen waits that long too */
	long connections; /* listen: stop after this many; 0 = --exec: forever, else 1 */
	int close_on_empty; /* -N */
	int verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
"NAME\n"
"    ivt-cat - pipe standard input and output over an ivt channel\n"
"\n"
"SYNOPSIS\n"
"    ivt-cat [OPTIONS] connect NAME\n"
"    ivt-cat [OPTIONS] listen NAME [--exec CMD] [-n COUNT]\n"
"\n"
"DESCRIPTION\n"
"    connect opens channel NAME as a connector; listen offers it (ivt_listen)\n"
"    and accepts one connection. Then bytes read from standard input are sent\n"
"    over the channel and bytes received are written to standard output, both\n"
"    directions at once, like nc(1) or socat(1) STDIO. ivtd's policy decides\n"
"    who may listen on and connect to NAME (conf/README.md).\n"
"\n"
"    End of standard input after at least one byte half-closes the channel,\n"
"    like nc -N or shutdown(SHUT_WR): the peer receives every byte, then end\n"
"    of stream, and ivt-cat goes on copying the peer's output until the peer\n"
"    closes (a request, then its answer). Where half-close is not to be had\n"
"    (an ivtd or peer older than it) the end of input closes the channel\n"
"    instead. Input that ends before giving any byte (e.g. /dev/null) makes\n"
"    ivt-cat a pure receiver (unless -N); and the peer closing ends ivt-cat.\n"
"    So `ivt-cat connect NAME < file` and `ivt-cat listen NAME > copy` copy\n"
"    a file whatever the listener's standard input is.\n"
"\n"
"    On a message-mode channel (the policy's \"message\": true) each read of\n"
"    standard input (up to 256 KiB) is sent as one message, and each message\n"
"    received is written whole, whatever its size (up to 1 GiB).\n"
"\n"
"    listen without --exec or -n serves one connection and stops listening\n"
"    when it is accepted, like nc -l: a later connector is not queued behind\n"
"    it. Like any connector to a name nobody listens on, it waits up to its\n"
"    timeout (-t) for a new listener, then fails with \"no listener for\n"
"    channel NAME\".\n"
"\n"
"    With --exec CMD, listen serves connections until killed (or COUNT of\n"
"    them with -n): each accepted connection runs `/bin/sh -c CMD` with the\n"
"    channel on its standard input and output (like qrexec services and\n"
"    socat EXEC:). The peer's end of stream (its close or half-close) closes\n"
"    CMD's standard input; CMD closing\n"
"    its standard output (or exiting) closes the channel. CMD sees the peer's\n"
"    identity in IVT_PEER (\"uid:1000\", \"dom:5\"). With half-close CMD\n"
"    answers after the end of a request: `echo q | ivt-cat connect svc`\n"
"    prints what CMD wrote after reading q and its end of input.\n"
"\n"
"OPTIONS\n"
"    -e, --exec CMD        listen: run CMD per connection (see above)\n"
"    -n, --connections N   listen: exit after N connections (default: 1, or\n"
"                          unlimited with --exec)\n"
"    -t, --timeout MS      connect: wait this long for a listener to exist and\n"
"                          accept (default 10000; -1 forever); listen: give\n"
"                          up (exit 1) when no connection came within MS\n"
"                          (default: wait forever)\n"
"    -b, --backend NAME    ask for a backend (default: the policy decides)\n"
"    -r, --ring-size BYTES ring bytes per direction (default: the policy's)\n"
"    -s, --socket PATH     ivtd's control socket (default $IVT_SOCKET, else\n"
"                          " IVT_DEFAULT_SOCKET ")\n"
"    -N, --close-on-eof    end the stream (half-close, else close) at end of\n"
"                          input even when the input gave no byte at all\n"
"    -v, --verbose         say on standard error who connected and how it ended\n"
"    -h, --help            this text\n"
"\n"
"EXIT STATUS\n"
"    0   the channel ended cleanly: standard input ended and everything was\n"
"        delivered, or the peer closed the channel gracefully\n"
"    1   usage error, or the channel could not be opened (the reason is\n"
"        printed: policy refusal, nobody listening, ivtd not running, ...)\n"
"    2   the peer went away without closing (it crashed or was killed), or\n"
"        closed before taking all of standard input, or a local read/write\n"
"        failed; with --exec: any connection ended so or any CMD exited\n"
"        non-zero\n"
"\n"
"EXAMPLES\n"
"    guest A:  ivt-cat listen backup > backup.tar\n"
"    guest B:  tar c /data | ivt-cat connect backup\n"
"    dom0:     ivt-cat listen logs --exec 'cat >> /var/log/guests.log'\n"
"    a query:  ivt-cat listen sum --exec sha256sum    (serves it)\n"
"              ivt-cat connect sum < file             (prints file's sum)\n"
"\n"
"SEE ALSO\n"
"    ivtd(8), ivtctl(8), docs/ivt-cat.1.md\n");
}

/* ---- the relay -------------------------------------------------------- */

#define BUF_SIZE (256u << 10)

/* A usage error: what was wrong and the synopsis, not the whole manual. */
static int bad_usage(const char *what)
{
	if (what)
		fprintf(stderr, "ivt-cat: %s\n", what);
	fprintf(stderr, "usage: ivt-cat [OPTIONS] connect NAME\n"
			"       ivt-cat [OPTIONS] listen NAME [--exec CMD] [-n COUNT]\n"
			"Try 'ivt-cat --help' for more.\n");
	return EXIT_SETUP;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* End of our input (every byte of it taken by ivt_send): shut the
 * channel's write side down, as nc -N does, so the peer reads its end of
 * stream and may still answer. 1 done, 0 where the channel cannot
 * (an older peer or ivtd: then the
 * end of input closes it, as before half-close). */
static int half_close(ivt_channel *ch, const char *who)
{
	int rc = ivt_shutdown(ch, IVT_SHUT_WR);
	if (who)
		fprintf(stderr, "ivt-cat: end of input: %s\n",
			rc == 0 ? "half-closed, reading the peer's output until it ends"
				: "no half-close on this channel, closing it");
	return rc == 0;
}

/* Message mode: the next message is larger than *buf; make room for it
 * (up to IVT_MSG_MAX, as the sender may send). 0, or -1 after saying why
 * (ivt_recv's -EMSGSIZE then ends the relay as an error). */
static int grow_for_message(ivt_channel *ch, char **buf, size_t *cap)
{
	ssize_t want = ivt_next_msg_size(ch);
	if (want <= (ssize_t)*cap)
		return -1; /* not a size we can use: ivt_recv's error stands */
	char *nb = realloc(*buf, (size_t)want);
	if (!nb) {
		fprintf(stderr, "ivt-cat: no memory for a message of %zd bytes\n", want);
		return -1;
	}
	*buf = nb;
	*cap = (size_t)want;
	return 0;
}

/* Relay between in_fd/out_fd and ch (non-blocking) until the end:
 * in_fd's end half-closes ch (closes it where half-close is not to be
 * had; if in_fd gave no byte at all, unless close_on_empty, only the
 * peer's end does anything); the peer's end stops it, except with
 * keep_input (--exec), which then closes out_fd and keeps sending what
 * in_fd has until it ends. Closes ch. Returns an enum exit_code. */
static int relay(ivt_channel *ch, int in_fd, int out_fd, int keep_input, int close_on_empty,
		 const char *who)
{
	int got_input = 0;
	char *in_buf = malloc(BUF_SIZE), *out_buf = malloc(BUF_SIZE);
	size_t out_cap = BUF_SIZE;
	size_t pend_off = 0, pend_len = 0;
	int in_open = 1, peer_open = 1, status = EXIT_CLEAN;
	if (!in_buf || !out_buf) {
		fprintf(stderr, "ivt-cat: out of memory\n");
		status = EXIT_RESET;
		goto out;
	}
	ivt_set_nonblock(ch, 1);
	while (in_open && (peer_open || (keep_input && in_fd >= 0))) {
		/* drain the channel */
		while (peer_open) {
			ssize_t n = ivt_recv(ch, out_buf, out_cap);
			if (n == -EAGAIN)
				break;
			if (n == -EMSGSIZE && grow_for_message(ch, &out_buf, &out_cap) == 0)
				continue; /* message mode: a message larger than the buffer */
			if (n <= 0) {
				if (n < 0) {
					status = EXIT_RESET;
					in_open = 0;
					if (who)
						fprintf(stderr, "ivt-cat: %s: %s\n", who, ivt_strerror((int)n));
				}
				peer_open = 0;
				if (keep_input && out_fd >= 0) {
					close(out_fd); /* CMD reads end of input */
					out_fd = -1;
				}
				break;
			}
			if (out_fd >= 0 && write_all(out_fd, out_buf, (size_t)n) < 0) {
				if (!keep_input) {
					perror("ivt-cat: write");
					status = EXIT_RESET;
					in_open = 0;
					break;
				}
				close(out_fd); /* CMD stopped reading: discard the rest */
				out_fd = -1;
			}
		}
		/* send what we hold; read more only when it all went. Last
		 * before poll: the op that last said -EAGAIN is the one whose
		 * wake-up is armed (libivt, issue 9 item 6) */
		while (in_open && pend_len) {
			ssize_t n = ivt_send(ch, in_buf + pend_off, pend_len);
			if (n == -EAGAIN)
				break;
			if (n < 0) {
				/* the peer closed (EPIPE) or died with input of ours
				 * still to go: not every byte was delivered */
				status = EXIT_RESET;
				if (n == -EPIPE)
					fprintf(stderr, "ivt-cat: %s closed the channel before taking "
						"all input\n", who ? who : "the peer");
				else if (who)
					fprintf(stderr, "ivt-cat: %s: %s\n", who, ivt_strerror((int)n));
				in_open = 0; /* nothing more to send */
				pend_len = 0;
				break;
			}
			pend_off += (size_t)n;
			pend_len -= (size_t)n;
		}
		if (!in_open)
			break;
		if (!in_open || (!peer_open && (!keep_input || in_fd < 0)))
			break;
		struct pollfd p[2] = {
			/* after the peer's end, ivt_fd stays readable: input only */
			{.fd = peer_open || pend_len ? ivt_fd(ch) : -1, .events = POLLIN},
			{.fd = pend_len || in_fd < 0 ? -1 : in_fd, .events = POLLIN},
		};
		/* no timeout: the -EAGAIN above armed ivt_fd (ivt.h), so an
		 * idle relay sleeps until the peer or the input acts */
		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			perror("ivt-cat: poll");
			status = EXIT_RESET;
			break;
		}
		if (p[1].revents) {
			ssize_t n = read(in_fd, in_buf, BUF_SIZE);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0) {
				perror("ivt-cat: read");
				status = EXIT_RESET;
			}
			if (n == 0 && !got_input && !close_on_empty) {
				in_fd = -1; /* nothing to send: just receive */
				continue;
			}
			if (n == 0 && !keep_input && half_close(ch, who)) {
				in_fd = -1; /* the peer reads our end; its answer goes on */
				continue;
			}
			if (n <= 0) {
				in_open = 0; /* end of input: close, the peer reads it all */
				break;
			}
			got_input = 1;
			pend_off = 0;
			pend_len = (size_t)n;
		}
	}
	/* graceful: every byte ivt_send took reaches the peer first */
	ivt_set_nonblock(ch, 0);
	int rc = ivt_close(ch);
	if (rc < 0 && rc != -EPIPE && status == EXIT_CLEAN) {
		fprintf(stderr, "ivt-cat: closing: %s\n", ivt_strerror(rc));
		status = EXIT_RESET;
	}
out:
	if (keep_input && out_fd >= 0)
		close(out_fd);
	free(in_buf);
	free(out_buf);
	return status;
}

/* ---- modes ------------------------------------------------------------ */

static struct ivt_open_opts open_opts(const struct options *o)
{
	return (struct ivt_open_opts){
		.struct_size = sizeof(struct ivt_open_opts), .backend = o->backend,
		.ring_size = o->ring_size, .timeout_ms = o->timeout_ms,
		.socket_path = o->socket_path,
	};
}

static int do_connect(const char *name, const struct options *o)
{
	struct ivt_open_opts oo = open_opts(o);
	ivt_channel *ch;
	int rc = ivt_open(name, 0, &oo, &ch);
	if (rc < 0) {
		fprintf(stderr, "ivt-cat: connect %s: %s\n", name, ivt_strerror(rc));
		return EXIT_SETUP;
	}
	if (o->verbose)
		fprintf(stderr, "ivt-cat: connected to %s (%s, backend %s)\n", name,
			ivt_peer_identity(ch), ivt_backend_name(ch));
	int st = relay(ch, STDIN_FILENO, STDOUT_FILENO, 0, o->close_on_empty,
		       o->verbose ? name : NULL);
	if (o->verbose)
		fprintf(stderr, "ivt-cat: %s ended %s\n", name, st ? "badly" : "cleanly");
	return st;
}

struct exec_job {
	ivt_channel *ch;
	const struct options *o;
	char peer[64];
	pthread_mutex_t *lock;
	int *worst;
};

/* One connection of --exec: CMD on pipes, relayed to the channel. */
static void *exec_thread(void *arg)
{
	struct exec_job *j = arg;
	int to_cmd[2], from_cmd[2], st = EXIT_RESET;
	if (pipe2(to_cmd, O_CLOEXEC) != 0 || pipe2(from_cmd, O_CLOEXEC) != 0) {
		perror("ivt-cat: pipe");
		ivt_close(j->ch);
		goto done;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to_cmd[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, from_cmd[1], STDOUT_FILENO);
	char env_peer[80];
	snprintf(env_peer, sizeof(env_peer), "IVT_PEER=%s", j->peer);
	size_t n_env = 0;
	while (environ[n_env])
		n_env++;
	char **env = calloc(n_env + 2, sizeof(*env));
	pid_t pid = -1;
	if (env) {
		memcpy(env, environ, n_env * sizeof(*env));
		env[n_env] = env_peer;
		char *argv[] = {"sh", "-c", (char *)j->o->exec_cmd, NULL};
		if (posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, env) != 0)
			pid = -1;
	}
	free(env);
	posix_spawn_file_actions_destroy(&fa);
	close(to_cmd[0]);
	close(from_cmd[1]);
	if (pid < 0) {
		fprintf(stderr, "ivt-cat: cannot run %s\n", j->o->exec_cmd);
		close(to_cmd[1]);
		close(from_cmd[0]);
		ivt_close(j->ch);
		goto done;
	}
	st = relay(j->ch, from_cmd[0], to_cmd[1], 1, 0, j->o->verbose ? j->peer : NULL);
	close(from_cmd[0]);
	int ws = 0;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	/* the command's failure is named here; the channel's, relay said */
	char how[64] = "";
	if (WIFSIGNALED(ws))
		snprintf(how, sizeof(how), " (the command was killed by signal %d)", WTERMSIG(ws));
	else if (WEXITSTATUS(ws) != 0)
		snprintf(how, sizeof(how), " (the command exited with status %d)", WEXITSTATUS(ws));
	if (how[0])
		st = EXIT_RESET;
	if (j->o->verbose)
		fprintf(stderr, "ivt-cat: connection from %s ended %s%s\n", j->peer,
			st ? "badly" : "cleanly", how);
done:
	pthread_mutex_lock(j->lock);
	if (st > *j->worst)
		*j->worst = st;
	pthread_mutex_unlock(j->lock);
	free(j);
	return NULL;
}

/* ivt_accept, giving up after ms (-1: blocking; then l is blocking too). */
static int accept_within(ivt_listener *l, int ms, ivt_channel **ch)
{
	long long deadline = ivt_deadline_ms(ms);
	for (;;) {
		int rc = ivt_accept(l, ch);
		if (rc != -EAGAIN || ms < 0)
			return rc;
		int left = ivt_left_ms(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = ivt_listener_fd(l), .events = POLLIN};
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return -errno;
	}
}

static int do_listen(const char *name, const struct options *o)
{
	struct ivt_open_opts oo = open_opts(o);
	ivt_listener *l;
	int rc = ivt_listen(name, &oo, &l);
	if (rc < 0) {
		fprintf(stderr, "ivt-cat: listen %s: %s\n", name, ivt_strerror(rc));
		return EXIT_SETUP;
	}
	long want = o->connections ? o->connections : (o->exec_cmd ? 0 : 1);
	int worst = EXIT_CLEAN;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_t *threads = NULL;
	long served = 0;
	if (o->timeout_given && o->timeout_ms >= 0)
		ivt_listener_set_nonblock(l, 1);
	while (!want || served < want) {
		ivt_channel *ch;
		rc = accept_within(l, o->timeout_given ? o->timeout_ms : -1, &ch);
		if (rc == -ETIMEDOUT) {
			fprintf(stderr, "ivt-cat: listen %s: no connection within %d ms\n", name,
				o->timeout_ms);
			worst = EXIT_SETUP;
			break;
		}
		if (rc < 0) {
			fprintf(stderr, "ivt-cat: accept on %s: %s\n", name, ivt_strerror(rc));
			worst = EXIT_SETUP;
			break;
		}
		served++;
		const char *peer = ivt_peer_identity(ch);
		if (o->verbose)
			fprintf(stderr, "ivt-cat: connection from %s\n", peer);
		if (!o->exec_cmd) {
			/* the last connection wanted: free the name now, as nc -l
			 * does, so a later connector waits for the next listener
			 * instead of queueing behind this one */
			if (served == want) {
				ivt_listener_close(l);
				l = NULL;
			}
			int st = relay(ch, STDIN_FILENO, STDOUT_FILENO, 0, o->close_on_empty,
				       o->verbose ? peer : NULL);
			if (st > worst)
				worst = st;
			continue;
		}
		struct exec_job *j = calloc(1, sizeof(*j));
		pthread_t *nt = want ? realloc(threads, (size_t)served * sizeof(*threads)) : threads;
		if (!j || (want && !nt)) {
			fprintf(stderr, "ivt-cat: out of memory\n");
			free(j);
			ivt_close(ch);
			worst = EXIT_RESET;
			break;
		}
		threads = nt;
		*j = (struct exec_job){.ch = ch, .o = o, .lock = &lock, .worst = &worst};
		snprintf(j->peer, sizeof(j->peer), "%s", peer);
		pthread_t t;
		if (pthread_create(&t, NULL, exec_thread, j) != 0) {
			fprintf(stderr, "ivt-cat: cannot start a thread\n");
			free(j);
			ivt_close(ch);
			worst = EXIT_RESET;
			break;
		}
		if (want)
			threads[served - 1] = t; /* joined below */
		else
			pthread_detach(t);
	}
	if (l)
		ivt_listener_close(l);
	for (long i = 0; want && o->exec_cmd && i < served && threads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	return worst;
}

int main(int argc, char **argv)
{
	struct options o = {.timeout_ms = 10000};
	static const struct option longopts[] = {
		{"exec", required_argument, NULL, 'e'},
		{"connections", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},
		{"backend", required_argument, NULL, 'b'},
		{"ring-size", required_argument, NULL, 'r'},
		{"socket", required_argument, NULL, 's'},
		{"close-on-eof", no_argument, NULL, 'N'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	char *end;
	/* options may also follow the mode and NAME; CMD is one argument */
	while ((c = getopt_long(argc, argv, "e:n:t:b:r:s:Nvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': o.exec_cmd = optarg; break;
		case 'n':
			o.connections = strtol(optarg, &end, 10);
			if (*end || o.connections < 1) {
				fprintf(stderr, "ivt-cat: -n wants a count >= 1\n");
				return EXIT_SETUP;
			}
			break;
		case 't':
			o.timeout_ms = (int)strtol(optarg, &end, 10);
			o.timeout_given = 1;
			if (*end || o.timeout_ms < -1) {
				fprintf(stderr, "ivt-cat: -t wants milliseconds or -1\n");
				return EXIT_SETUP;
			}
			break;
		case 'b': o.backend = optarg; break;
		case 'r':
			errno = 0;
			o.ring_size = (size_t)strtoull(optarg, &end, 0);
			if (*end || end == optarg || errno || optarg[strspn(optarg, " \t")] == '-') {
				fprintf(stderr, "ivt-cat: -r wants a positive byte count (a power of "
						"two, e.g. 65536 or 0x100000)\n");
				return EXIT_SETUP;
			}
			break;
		case 's': o.socket_path = optarg; break;
		case 'N': o.close_on_empty = 1; break;
		case 'v': o.verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage(NULL); /* getopt said what */
		}
	}
	if (argc - optind != 2)
		return bad_usage(argc - optind < 2 ? "a mode and a channel NAME are needed"
						   : "too many arguments (quote CMD for --exec)");
	const char *mode = argv[optind], *name = argv[optind + 1];
	/* a reader that went away must be an error we report, not a signal */
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(mode, "connect")) {
		if (o.exec_cmd || o.connections) {
			fprintf(stderr, "ivt-cat: --exec and -n are for listen\n");
			return EXIT_SETUP;
		}
		return do_connect(name, &o);
	}
	if (!strcmp(mode, "listen"))
		return do_listen(name, &o);
	fprintf(stderr, "ivt-cat: unknown mode '%s'\n", mode);
	return bad_usage(NULL);
}
