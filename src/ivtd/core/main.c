/* SPDX-License-Identifier: MIT */
/* ivtd: the ivt channel broker daemon. See usage() or docs/ivtd.8.md. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/ctrl_msg.h"
#include "common/log.h"
#include "common/plugin_loader.h"
#include "common/textbuf.h"
#include "ivt/ivt.h"
#include "ivtd/core/closer.h"
#include "ivtd/core/broker.h"
#include "ivtd/remote/peers.h"
#include "ivtd/policy/policy.h"
#include "ivtd/registries/registry.h"
#include "ivtd/registries/registry_local.h"
#include "ivtd/core/sd_notify.h"
#include "ivtd/utmem/utmem_service.h"

#ifndef IVT_VERSION_STRING
#define IVT_VERSION_STRING "0.1.0"
#endif

#define WHO "ivtd"
#define DEFAULT_CONFIG "/etc/ivt/policy.json"

/* Used when the policy file does not exist: only the demo channel, and
 * only between local processes. */
static const char embedded_policy[] =
	"{\"version\":1,\"channels\":[{\"name\":\"demo\",\"listeners\":[\"uid:*\"],"
	"\"connectors\":[\"uid:*\"]}]}";

enum registry_mode { REG_AUTO, REG_LOCAL, REG_XENSTORE };

struct options {
	const char *config;
	const char *socket_path;
	const char *plugin_dir;
	enum registry_mode registry;
	int verbosity; /* -1 quiet, 0 normal, 1 verbose */
	const char *host_name; /* NULL: gethostname() */
};

struct daemon_state {
	struct options opt;
	struct event_base *base;
	struct ivt_broker *broker;
	struct ivt_registry *local, *xs;
	struct ivt_peers *peers;
	struct ivt_utmem_service *utmem; /* channel "ivt.utmem"; NULL if it failed */
	time_t started;
};

static void usage(FILE *f)
{
	fprintf(f,
"NAME\n"
"    ivtd - inter-VM transport channel broker\n"
"\n"
"SYNOPSIS\n"
"    ivtd [-c FILE] [-s PATH] [-p DIR] [-r auto|local|xenstore] [-n NAME] [-f] [-v|-q]\n"
"    ivtd --help | --version\n"
"\n"
"DESCRIPTION\n"
"    ivtd brokers named ivt channels between Xen guests and local processes.\n"
"    A program opens a channel end through libivt; ivtd checks the JSON\n"
"    policy, picks a transport backend (shm, vchan, slurpoe, verbs) among\n"
"    the plugins that work on this host, and hands the listener's setup to\n"
"    the connecting end. Data then flows between the ends directly.\n"
"\n"
"    Local processes reach ivtd on a SOCK_SEQPACKET control socket and are\n"
"    identified as \"uid:N\" by their credentials. Xen guests reach it through\n"
"    XenStore (/local/domain/<domid>/data/ivt/<name>/) and are identified as\n"
"    \"dom:N\". ivtd stays in the foreground and logs to stderr (journald\n"
"    under systemd); it is meant to be run by a service manager.\n"
"\n"
"OPTIONS\n"
"    -c, --config FILE\n"
"        Policy file (default " DEFAULT_CONFIG "), at most 1 MiB. If it does\n"
"        not exist, ivtd warns and uses a built-in policy that allows only the\n"
"        \"demo\" channel between local processes. A file that exists but is\n"
"        invalid (or larger) is fatal at startup and ignored (with the error,\n"
"        its line and JSON path logged) on reload.\n"
"    -s, --socket PATH\n"
"        Control socket (default $IVT_SOCKET, else " IVT_DEFAULT_SOCKET ").\n"
"        Missing parent directories are created (0755); a stale socket left\n"
"        by a dead ivtd is replaced, a live one is an error.\n"
"    -p, --plugin-dir DIR\n"
"        Where the transport plugins ivt_<name>.so are (default\n"
"        $IVT_PLUGIN_DIR, else the install directory).\n"
"    -r, --registry auto|local|xenstore\n"
"        Where channel ends come from besides the control socket, which is\n"
"        always served. auto (default): also XenStore if it can be reached;\n"
"        xenstore: XenStore is required (exit if unreachable); local: the\n"
"        control socket only.\n"
"    -n, --host-name NAME\n"
"        This host's name (default: gethostname()). Channel rules with\n"
"        \"host\": NAME are served here; rules naming another host of the\n"
"        policy's \"hosts\" send their connectors to that host's ivtd over\n"
"        SLURPoE (docs/remote.md); where both hosts' entries say \"rdma\":\n"
"        \"auto\", the bytes go over an RDMA plugin (verbs) instead. Remote\n"
"        support needs CAP_NET_RAW; without it ivtd warns and runs with\n"
"        local channels only. One ivtd per interface: a second one on an\n"
"        interface another ivtd serves logs an error with the first one's pid\n"
"        and leaves that interface alone.\n"
"    -f, --foreground\n"
"        Accepted for compatibility; ivtd never daemonizes.\n"
"    -v, --verbose\n"
"        Log debug messages.\n"
"    -q, --quiet\n"
"        Log only warnings and errors.\n"
"    -h, --help\n"
"        Show this text.\n"
"    -V, --version\n"
"        Show the version.\n"
"\n"
"FILES\n"
"    " DEFAULT_CONFIG "   channel policy, at most 1 MiB (format: conf/README.md)\n"
"    " IVT_DEFAULT_SOCKET "     control socket\n"
"\n"
"SIGNALS\n"
"    SIGHUP           reload the policy file; on error keep the current policy;\n"
"                     listeners drop their direct lines (docs/conn-setup.md)\n"
"    SIGTERM, SIGINT  close every channel end, remove the socket, exit 0\n"
"\n"
"ENVIRONMENT\n"
"    IVT_SOCKET       control socket path if -s is not given\n"
"    IVT_PLUGIN_DIR   plugin directory if -p is not given\n"
"    IVT_LOG_LEVEL    err|warn|info|debug (overridden by -v/-q)\n"
"    IVT_LOG_JOURNAL  set: prefix lines with <N> priorities for journald;\n"
"                     unset: lines start with the UTC time (ms)\n"
"    IVT_SLURPOE_IF   interface of the slurpoe backend (channels on that\n"
"                     backend only; bridging to other hosts uses \"hosts\")\n"
"    IVT_SLURPOE_IMPAIR  test aid: impair ivtd's own SLURPoE frames, e.g.\n"
"                     loss=5,dup=1,reorder=25 (where the kernel has no netem)\n"
"    NOTIFY_SOCKET    set by systemd: ivtd reports READY=1, RELOADING=1,\n"
"                     STOPPING=1 (Type=notify)\n"
"\n"
"EXIT STATUS\n"
"    0  stopped by SIGTERM/SIGINT\n"
"    1  startup failed (invalid policy, socket in use, XenStore required but\n"
"       unreachable, ...)\n"
"    2  invalid command line\n"
"\n"
"EXAMPLES\n"
"    ivtd -c /etc/ivt/policy.json\n"
"    ivtd -s /tmp/ivt.sock -c conf/policy.json -r local -v\n"
"    ivtctl check-policy /etc/ivt/policy.json && systemctl reload ivtd\n"
"    ivtctl status\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"socket", required_argument, NULL, 's'},
		{"plugin-dir", required_argument, NULL, 'p'},
		{"registry", required_argument, NULL, 'r'},
		{"host-name", required_argument, NULL, 'n'},
		{"foreground", no_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *env_sock = getenv("IVT_SOCKET");
	*o = (struct options){
		.config = DEFAULT_CONFIG,
		.socket_path = env_sock && *env_sock ? env_sock : IVT_DEFAULT_SOCKET,
		.registry = REG_AUTO,
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:s:p:r:n:fvqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 's': o->socket_path = optarg; break;
		case 'p': o->plugin_dir = optarg; break;
		case 'r':
			if (!strcmp(optarg, "auto"))
				o->registry = REG_AUTO;
			else if (!strcmp(optarg, "local"))
				o->registry = REG_LOCAL;
			else if (!strcmp(optarg, "xenstore"))
				o->registry = REG_XENSTORE;
			else {
				fprintf(stderr, "ivtd: --registry must be auto, local or xenstore\n");
				return 2;
			}
			break;
		case 'n':
			if (!ivt_name_valid(optarg) || strlen(optarg) > IVT_REMOTE_HOST_NAME_MAX) {
				fprintf(stderr, "ivtd: --host-name must be 1..%d of A-Z a-z 0-9 . _ -\n",
					IVT_REMOTE_HOST_NAME_MAX);
				return 2;
			}
			o->host_name = optarg;
			break;
		case 'f': break;
		case 'v': o->verbosity = 1; break;
		case 'q': o->verbosity = -1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("ivtd %s\n", IVT_VERSION_STRING); exit(0);
		default:
			fprintf(stderr, "Try 'ivtd --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ivtd: unexpected argument '%s'\nTry 'ivtd --help'.\n", argv[optind]);
		return 2;
	}
	return 0;
}

static void log_shadowed(void *arg, const struct ivt_policy_channel *shadowed,
			 const struct ivt_policy_channel *by)
{
	char what[2 * IVT_NAME_MAX + 160];
	ivt_policy_shadow_text(shadowed, by, what, sizeof(what));
	IVT_WARN(WHO, "%s:%d: %s", (const char *)arg, shadowed->line, what);
}

static struct ivt_policy *load_initial_policy(const char *path)
{
	char err[IVT_POLICY_ERR_MAX];
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		IVT_WARN(WHO, "%s does not exist; using the built-in policy (only channel 'demo', "
			      "local processes only)", path);
		return ivt_policy_load_string(embedded_policy, "(built-in policy)", err,
					      sizeof(err));
	}
	struct ivt_policy *p = ivt_policy_load_file(path, err, sizeof(err));
	if (!p)
		IVT_ERR(WHO, "%s", err);
	else {
		IVT_INFO(WHO, "policy %s: %zu channel rules, %zu hosts", path, p->n_channels,
			 p->n_hosts);
		ivt_policy_each_shadowed(p, log_shadowed, (void *)path);
	}
	return p;
}

static void reload_policy(struct daemon_state *d)
{
	ivt_sd_notify("RELOADING=1");
	char err[IVT_POLICY_ERR_MAX];
	struct ivt_policy *p = ivt_policy_load_file(d->opt.config, err, sizeof(err));
	if (p) {
		ivt_broker_set_policy(d->broker, p);
		ivt_broker_warn_unknown_backends(d->broker);
		ivt_registry_local_set_limits(d->local, p);
		if (d->peers)
			ivt_peers_policy_changed(d->peers);
		IVT_INFO(WHO, "reloaded policy %s: %zu channel rules, %zu hosts", d->opt.config,
			 p->n_channels, p->n_hosts);
		ivt_policy_each_shadowed(p, log_shadowed, (void *)d->opt.config);
		ivt_sd_notify("READY=1\nSTATUS=policy reloaded");
	} else {
		const struct ivt_policy *cur = ivt_broker_policy(d->broker);
		IVT_ERR(WHO, "reload failed, keeping the current policy (%s): %s",
			cur ? cur->source : "none", err);
		ivt_sd_notify("READY=1\nSTATUS=policy reload failed; kept the previous policy");
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct daemon_state *d = arg;
	if (sig == SIGHUP) {
		reload_policy(d);
		return;
	}
	IVT_INFO(WHO, "%s: shutting down", strsignal((int)sig));
	ivt_sd_notify("STOPPING=1");
	event_base_loopbreak(d->base);
}

static size_t status_text(void *arg, char *buf, size_t len)
{
	struct daemon_state *d = arg;
	int n = snprintf(buf, len, "ivtd %s, pid %d, up %lds, registries: local(%s)%s\n",
			 IVT_VERSION_STRING, (int)getpid(), (long)(time(NULL) - d->started),
			 d->opt.socket_path, d->xs ? " xenstore" : "");
	if (n < 0 || (size_t)n >= len)
		return len ? strlen(buf) : 0;
	size_t at = (size_t)n + ivt_broker_status(d->broker, buf + n, len - (size_t)n);
	if (d->peers && at + 1 < len)
		at += ivt_peers_status(d->peers, buf + at, len - at);
	if (d->utmem && at + 1 < len) {
		/* the store serves only whom a rule lets connect to it */
		if (ivt_utmem_service_reachable(d->broker))
			at += ivt_utmem_service_status(d->utmem, buf + at, len - at);
		else {
			struct ivt_textbuf o;
			ivt_textbuf_init(&o, buf + at, len - at);
			ivt_textbuf_printf(&o, "utmem (%s): off, no policy rule lets anyone connect\n",
					   IVT_UTMEM_CHANNEL);
			at += o.len;
		}
	}
	return at;
}

/* Every channel end costs ivtd a descriptor or more: take all the kernel
 * allows this process (1,000 channel pairs need ~5,000), before the
 * control socket sizes its table from it. */
static void raise_fd_limit(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == r.rlim_max)
		return;
	rlim_t was = r.rlim_cur;
	r.rlim_cur = r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r) != 0)
		IVT_WARN(WHO, "cannot raise the open file limit from %llu: %s",
			 (unsigned long long)was, strerror(errno));
	else
		IVT_DEBUG(WHO, "open file limit raised from %llu to %llu", (unsigned long long)was,
			  (unsigned long long)r.rlim_cur);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ivt_broker_tick(arg);
}

static int start_registries(struct daemon_state *d)
{
	raise_fd_limit();
	char why[256] = "";
	struct ivt_broker_cb cb = ivt_broker_callbacks(d->broker);
	d->local = ivt_registry_local_new(d->base, d->opt.socket_path, &cb, why, sizeof(why));
	if (!d->local) {
		IVT_ERR(WHO, "control socket: %s", why);
		return -1;
	}
	ivt_registry_local_set_status(d->local, status_text, d);
	ivt_registry_local_set_limits(d->local, ivt_broker_policy(d->broker));
	if (d->opt.registry == REG_LOCAL) {
		IVT_INFO(WHO, "registry: local control socket only (--registry local)");
		return 0;
	}
	why[0] = '\0';
	d->xs = ivt_registry_xs_new(d->base, &cb, why, sizeof(why));
	if (d->xs) {
		IVT_INFO(WHO, "registry: XenStore and local control socket");
		return 0;
	}
	if (d->opt.registry == REG_XENSTORE) {
		IVT_ERR(WHO, "XenStore required (--registry xenstore) but unavailable: %s", why);
		return -1;
	}
	IVT_INFO(WHO, "registry: local control socket only; XenStore not used: %s", why);
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon_state d = {.started = time(NULL)};
	int rc = parse_args(argc, argv, &d.opt);
	if (rc)
		return rc;
	int level = ivt_log_level_from_env(IVT_LOG_INFO);
	if (d.opt.verbosity > 0)
		level = IVT_LOG_DEBUG;
	else if (d.opt.verbosity < 0)
		level = IVT_LOG_WARN;
	ivt_log_set_level(level);
	ivt_log_set_timestamps(1); /* not under IVT_LOG_JOURNAL: the journal has its own */
	/* A client vanishing mid-send must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);

	struct ivt_policy *policy = load_initial_policy(d.opt.config);
	if (!policy)
		return 1;
	d.broker = ivt_broker_new(policy);
	d.base = event_base_new();
	if (!d.broker || !d.base) {
		IVT_ERR(WHO, "out of memory");
		return 1;
	}
	const char *plugin_dir = d.opt.plugin_dir ? d.opt.plugin_dir : ivt_plugin_dir();
	int n = ivt_broker_probe_backends(d.broker, plugin_dir);
	if (n == 0)
		IVT_WARN(WHO, "no backend is available from %s; every open will be refused "
			      "(plugins elsewhere, e.g. a build tree's plugins/: -p DIR or "
			      "IVT_PLUGIN_DIR)", plugin_dir);
	ivt_broker_warn_unknown_backends(d.broker);

	/* Connectors waiting for a listener are refused when their time is
	 * up (ivt_broker_tick); a tenth of a second is precision enough. */
	struct event *tick = event_new(d.base, -1, EV_PERSIST, on_tick, d.broker);
	const struct timeval tick_tv = {.tv_sec = 0, .tv_usec = 100000};
	if (!tick || event_add(tick, &tick_tv) != 0) {
		IVT_ERR(WHO, "cannot install the broker's timer");
		return 1;
	}
	struct event *sigs[3];
	const int signums[3] = {SIGHUP, SIGTERM, SIGINT};
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(d.base, signums[i], on_signal, &d);
		if (!sigs[i] || event_add(sigs[i], NULL) != 0) {
			IVT_ERR(WHO, "cannot install signal handlers");
			return 1;
		}
	}
	if (d.opt.host_name)
		ivt_broker_set_host_name(d.broker, d.opt.host_name);
	/* Always there, so a reload that adds "hosts" can open interfaces. */
	struct ivt_peers_cfg pc = {
		.base = d.base, .broker = d.broker, .plugin_dir = plugin_dir,
		.impair = getenv("IVT_SLURPOE_IMPAIR"),
	};
	d.peers = ivt_peers_new(&pc);
	d.utmem = ivt_utmem_service_new(d.base, d.broker, plugin_dir);
	if (d.utmem && d.peers)
		ivt_utmem_service_set_peers(d.utmem, d.peers);
	int status = 0;
	if (start_registries(&d) != 0) {
		status = 1;
	} else {
		IVT_INFO(WHO, "ivtd %s ready", IVT_VERSION_STRING);
		ivt_sd_notify("READY=1\nSTATUS=serving");
		if (event_base_dispatch(d.base) < 0) {
			IVT_ERR(WHO, "event loop failed");
			status = 1;
		}
	}
	ivt_broker_stopping(d.broker); /* what goes from here was let go */
	/* The store's lower tier dials through the peers: it goes first. */
	ivt_utmem_service_free(d.utmem);
	ivt_peers_free(d.peers);
	/* Lingering plugin closes run on their own threads: let them finish
	 * before the plugins and the log go. */
	if (ivt_closer_drain(5000) > 0)
		IVT_WARN(WHO, "exiting with endpoint closes still lingering");
	if (d.xs)
		d.xs->ops->destroy(d.xs);
	if (d.local)
		d.local->ops->destroy(d.local);
	ivt_broker_free(d.broker);
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_free(tick);
	event_base_free(d.base);
	return status;
}
