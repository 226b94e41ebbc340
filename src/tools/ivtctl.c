/* SPDX-License-Identifier: MIT */
/* ivtctl: ask ivtd for its status; validate policy files. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ctrl_msg.h"
#include "ivt/ivt.h"
#include "common/plugin_loader.h"
#include "ivtd/policy/policy.h"
#include "status_json.h"

#define STATUS_TIMEOUT_MS 5000

static void usage(FILE *f)
{
	fprintf(f,
"Usage: ivtctl [-s PATH] status [--json]\n"
"       ivtctl check-policy FILE\n"
"       ivtctl --help\n"
"\n"
"Commands:\n"
"  status             print the running ivtd's status: policy, backends,\n"
"                     counters and one line per open channel; with\n"
"                     --json, the same as one JSON object (for scripts)\n"
"  check-policy FILE  validate an ivtd policy file (at most 1 MiB); prints\n"
"                     \"ok\" or the first error as FILE:LINE: PATH: problem,\n"
"                     and warns of backends it names that are not\n"
"                     installed in the plugin directory ($IVT_PLUGIN_DIR\n"
"                     or the default), of rules an earlier rule shadows\n"
"                     (the first matching rule decides) and of a\n"
"                     limits.root_reserve above what ivtd can keep\n"
"\n"
"Options:\n"
"  -s, --socket PATH  ivtd's control socket (default $IVT_SOCKET, else\n"
"                     " IVT_DEFAULT_SOCKET ")\n"
"      --json         after status: print it as one JSON object\n"
"  -h, --help         show this text\n"
"\n"
"Exit status: 0 success; 1 the daemon is unreachable or the policy is\n"
"invalid; 2 invalid command line.\n");
}

struct installed {
	char names[IVT_PLUGINS_MAX][IVT_BACKEND_NAME_MAX + 1];
	int n;
	const char *dir, *path;
};

/* A typo in a backend name is valid JSON and a valid name: say it here,
 * not at the first open (ENOTSUP). */
static void check_installed(void *arg, const char *name, const char *where, int line)
{
	struct installed *in = arg;
	for (int i = 0; i < in->n; i++)
		if (!strcmp(in->names[i], name))
			return;
	fprintf(stderr, "warning: %s%s%.0d: %s names backend '%s', which is not installed in %s\n",
		in->path, line > 0 ? ":" : "", line, where, name, in->dir);
}

/* A rule after one that takes all its names reads like a lock-down or an
 * exception, and does nothing: say so. */
static void warn_shadowed(void *arg, const struct ivt_policy_channel *shadowed,
			  const struct ivt_policy_channel *by)
{
	char what[2 * IVT_NAME_MAX + 160];
	ivt_policy_shadow_text(shadowed, by, what, sizeof(what));
	fprintf(stderr,
		"warning: %s:%d: %s (the first matching rule decides; put the narrower rule "
		"first)\n",
		(const char *)arg, shadowed->line, what);
}

static int cmd_check_policy(const char *path)
{
	char err[IVT_POLICY_ERR_MAX];
	struct ivt_policy *p = ivt_policy_load_file(path, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct installed in = {.dir = ivt_plugin_dir(), .path = path};
	in.n = ivt_plugin_list(NULL, in.names, IVT_PLUGINS_MAX);
	if (in.n >= 0)
		ivt_policy_each_backend(p, check_installed, &in);
	else
		fprintf(stderr, "warning: cannot read the plugin directory %s (%s): the backends "
				"the policy names were not checked (set IVT_PLUGIN_DIR)\n",
			in.dir, strerror(-in.n));
	ivt_policy_each_shadowed(p, warn_shadowed, (void *)path);
	char note[IVT_POLICY_ERR_MAX];
	if (ivt_policy_root_reserve_text(p, IVT_POLICY_TABLE_MAX,
					 "the largest connection table ivtd has", note, sizeof(note)))
		fprintf(stderr, "warning: %s, or less with an open file limit below %d (ivtd logs "
			"what it uses)\n", note, IVT_POLICY_TABLE_MAX + 256);
	printf("ok: %s: %zu channel rules, %zu hosts\n", path, p->n_channels, p->n_hosts);
	ivt_policy_free(p);
	return 0;
}

static int cmd_status(const char *sock_path, int json)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ivtctl: socket path too long: %s\n", sock_path);
		return 1;
	}
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "ivtctl: cannot reach ivtd at %s: %s\n", sock_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	int rc = ivt_ctrl_send(fd, IVT_CTRL_STATUS, 1, NULL, 0, NULL, 0);
	struct ivt_ctrl_msg *m = malloc(sizeof(*m));
	if (m) {
		/* ivtd's ERROR for a refused connection is there even if our send failed */
		int r = ivt_ctrl_recv(fd, m, rc == 0 ? STATUS_TIMEOUT_MS : 0);
		if (rc == 0 || r == 0)
			rc = r;
	}
	close(fd);
	int status = 1;
	if (!m)
		fprintf(stderr, "ivtctl: out of memory\n");
	else if (rc < 0)
		fprintf(stderr, "ivtctl: no status from ivtd: %s\n", strerror(-rc));
	else if (m->hdr.type == IVT_CTRL_ERROR)
		fprintf(stderr, "ivtctl: ivtd refused: %s\n", m->u.error.msg);
	else if (m->hdr.type != IVT_CTRL_STATUS_OK)
		fprintf(stderr, "ivtctl: unexpected answer (type %u) from ivtd\n", m->hdr.type);
	else {
		char *j = json ? ivt_status_to_json(m->u.status) : NULL;
		if (json && !j) {
			fprintf(stderr, "ivtctl: out of memory\n");
		} else {
			fputs(j ? j : m->u.status, stdout);
			status = 0;
		}
		free(j);
	}
	if (m)
		ivt_ctrl_msg_close_fds(m);
	free(m);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *env = getenv("IVT_SOCKET");
	const char *sock = env && *env ? env : IVT_DEFAULT_SOCKET;
	int c;
	while ((c = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	if (!strcmp(cmd, "status") && nargs == 0)
		return cmd_status(sock, 0);
	if (!strcmp(cmd, "status") && nargs == 1 && !strcmp(argv[optind + 1], "--json"))
		return cmd_status(sock, 1);
	if (!strcmp(cmd, "check-policy") && nargs == 1)
		return cmd_check_policy(argv[optind + 1]);
	if (!strcmp(cmd, "status")) {
		const char *bad = argv[optind + 1]; /* the first that is not --json */
		for (int i = optind + 1; i < argc && !strcmp(bad, "--json"); i++)
			bad = argv[i];
		fprintf(stderr, "ivtctl: status: unexpected argument '%s' (it takes only --json, "
				"once)\n", bad);
	} else if (!strcmp(cmd, "check-policy"))
		fprintf(stderr, "ivtctl: check-policy takes one FILE, not %d arguments\n", nargs);
	else
		fprintf(stderr, "ivtctl: unknown command: %s\n", cmd);
	usage(stderr);
	return 2;
}
