/* SPDX-License-Identifier: MIT */
#include "fake_xenstored.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#define MAX_NODES 512
#define MAX_WATCHES 64

struct node {
	char *path, *value, *perms;
	unsigned len;
};
struct watch {
	char *path, *token;
};

static struct node nodes[MAX_NODES];
static struct watch watches[MAX_WATCHES];
static int introduced[0x8000];
static int fail_next_commit, failed_commits;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static int listen_fd = -1, conn_fd = -1;
static char sock_path[108];

/* ---- store (called with lock held) --------------------------------------- */

static struct node *find(const char *path)
{
	for (int i = 0; i < MAX_NODES; i++)
		if (nodes[i].path && !strcmp(nodes[i].path, path))
			return &nodes[i];
	return NULL;
}

static int under(const char *path, const char *parent)
{
	size_t n = strlen(parent);
	return !strncmp(path, parent, n) && (path[n] == '/' || path[n] == '\0');
}

static void send_msg(uint32_t type, uint32_t req_id, uint32_t tx, const void *body, uint32_t len)
{
	struct xsd_sockmsg h = {.type = type, .req_id = req_id, .tx_id = tx, .len = len};
	if (conn_fd < 0)
		return;
	/* a client that went away (ivtd "killed" by a test) is no signal */
	if (send(conn_fd, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h) ||
	    (len && send(conn_fd, body, len, MSG_NOSIGNAL) != (ssize_t)len))
		perror("fake xenstored: write");
}

static void send_event(const char *path, const char *token)
{
	char b[1024];
	int n = snprintf(b, sizeof(b), "%s%c%s", path, 0, token);
	send_msg(XS_WATCH_EVENT, 0, 0, b, (uint32_t)n + 1);
}

static void fire(const char *changed, int removed)
{
	for (int i = 0; i < MAX_WATCHES; i++) {
		if (!watches[i].path || watches[i].path[0] == '@')
			continue;
		if (under(changed, watches[i].path))
			send_event(changed, watches[i].token);
		else if (removed && under(watches[i].path, changed))
			send_event(watches[i].path, watches[i].token);
	}
}

static void fire_special(const char *special)
{
	for (int i = 0; i < MAX_WATCHES; i++)
		if (watches[i].path && !strcmp(watches[i].path, special))
			send_event(special, watches[i].token);
}

static struct node *create(const char *path, const char *owner_perms)
{
	struct node *n = find(path);
	if (n)
		return n;
	/* Parents first, like xenstored: they inherit nothing fancy here. */
	char *parent = strdup(path);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		create(parent, owner_perms);
	}
	free(parent);
	for (int i = 0; i < MAX_NODES; i++)
		if (!nodes[i].path) {
			nodes[i].path = strdup(path);
			nodes[i].value = strdup("");
			nodes[i].len = 0;
			nodes[i].perms = strdup(owner_perms);
			return &nodes[i];
		}
	fprintf(stderr, "fake xenstored: out of nodes\n");
	abort();
}

static void set_value(const char *path, const void *v, unsigned len, const char *perms)
{
	struct node *n = create(path, perms);
	free(n->value);
	n->value = malloc(len + 1);
	memcpy(n->value, v, len);
	n->value[len] = '\0';
	n->len = len;
	fire(path, 0);
}

static int remove_quietly(const char *path)
{
	int found = 0;
	for (int i = 0; i < MAX_NODES; i++)
		if (nodes[i].path && under(nodes[i].path, path)) {
			free(nodes[i].path);
			free(nodes[i].value);
			free(nodes[i].perms);
			memset(&nodes[i], 0, sizeof(nodes[i]));
			found = 1;
		}
	return found;
}

static int remove_tree(const char *path)
{
	int found = remove_quietly(path);
	if (found)
		fire(path, 1);
	return found;
}

/* The owner of a node: the domain id of its first permission entry. */
static unsigned owner_of(const struct node *n)
{
	return (unsigned)strtoul(n->perms + 1, NULL, 10);
}

/* Drop domid's entries from a node's ACL (not the owner, the first). */
static void strip_acl(struct node *n, unsigned domid)
{
	char out[256], *save = NULL, *copy = strdup(n->perms);
	size_t o = 0;
	int first = 1;
	for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save), first = 0)
		if (first || (unsigned)strtoul(e + 1, NULL, 10) != domid)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", o ? "," : "", e);
	free(copy);
	free(n->perms);
	n->perms = strdup(out);
}

/* "/local/domain/5/x" -> "n5" owner perms; dom0 elsewhere. */
static const char *default_perms(const char *path, char *buf, size_t len)
{
	unsigned d;
	if (sscanf(path, "/local/domain/%u", &d) == 1)
		snprintf(buf, len, "n%u", d);
	else
		snprintf(buf, len, "n0");
	return buf;
}

/* ---- protocol ------------------------------------------------------------ */

static void reply_err(const struct xsd_sockmsg *h, const char *err)
{
	send_msg(XS_ERROR, h->req_id, h->tx_id, err, (uint32_t)strlen(err) + 1);
}

static void reply_str(const struct xsd_sockmsg *h, const char *s)
{
	send_msg(h->type, h->req_id, h->tx_id, s, (uint32_t)strlen(s) + 1);
}

static void handle(const struct xsd_sockmsg *h, char *body)
{
	char pbuf[32], out[4096];
	const char *arg1 = body;
	size_t l1 = strnlen(body, h->len);
	const char *arg2 = l1 < h->len ? body + l1 + 1 : "";
	unsigned len2 = l1 < h->len ? h->len - (unsigned)l1 - 1 : 0;
	struct node *n;

	/* xenstored's path check: [A-Za-z0-9-/_@] only ('.' is refused) */
	if (h->type != XS_TRANSACTION_START && h->type != XS_TRANSACTION_END &&
	    h->type != XS_IS_DOMAIN_INTRODUCED && arg1[0] != '@' &&
	    arg1[strspn(arg1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@")])
		return reply_err(h, "EINVAL");

	switch (h->type) {
	case XS_READ:
		if (!(n = find(arg1)))
			return reply_err(h, "ENOENT");
		return send_msg(XS_READ, h->req_id, h->tx_id, n->value, n->len);
	case XS_WRITE:
		set_value(arg1, arg2, len2, default_perms(arg1, pbuf, sizeof(pbuf)));
		return reply_str(h, "OK");
	case XS_MKDIR:
		if (!find(arg1))
			set_value(arg1, "", 0, default_perms(arg1, pbuf, sizeof(pbuf)));
		return reply_str(h, "OK");
	case XS_RM:
		if (!remove_tree(arg1))
			return reply_err(h, "ENOENT");
		return reply_str(h, "OK");
	case XS_DIRECTORY: {
		size_t o = 0, pl = strlen(arg1);
		if (!find(arg1))
			return reply_err(h, "ENOENT");
		for (int i = 0; i < MAX_NODES; i++) {
			const char *p = nodes[i].path;
			if (!p || strncmp(p, arg1, pl) || p[pl] != '/' || strchr(p + pl + 1, '/'))
				continue;
			size_t cl = strlen(p + pl + 1) + 1;
			if (o + cl > sizeof(out))
				break;
			memcpy(out + o, p + pl + 1, cl);
			o += cl;
		}
		return send_msg(XS_DIRECTORY, h->req_id, h->tx_id, out, (uint32_t)o);
	}
	case XS_GET_PERMS: {
		if (!(n = find(arg1)))
			return reply_err(h, "ENOENT");
		size_t o = strlen(n->perms) + 1;
		memcpy(out, n->perms, o);
		for (size_t i = 0; i < o; i++)
			out[i] = out[i] == ',' ? '\0' : out[i];
		return send_msg(XS_GET_PERMS, h->req_id, h->tx_id, out, (uint32_t)o);
	}
	case XS_SET_PERMS: {
		if (!(n = find(arg1)))
			return reply_err(h, "ENOENT");
		/* arg2.. is NUL-separated perms; store them comma-joined */
		size_t o = 0;
		for (unsigned i = 0; i < len2 && o + 1 < sizeof(out); i++)
			out[o++] = arg2[i] ? arg2[i] : ',';
		while (o && out[o - 1] == ',')
			o--;
		out[o] = '\0';
		free(n->perms);
		n->perms = strdup(out);
		fire(arg1, 0);
		return reply_str(h, "OK");
	}
	case XS_WATCH:
		for (int i = 0; i < MAX_WATCHES; i++)
			if (!watches[i].path) {
				watches[i].path = strdup(arg1);
				watches[i].token = strdup(arg2);
				reply_str(h, "OK");
				return send_event(arg1, arg2); /* fires once on registration */
			}
		return reply_err(h, "ENOSPC");
	case XS_UNWATCH:
		for (int i = 0; i < MAX_WATCHES; i++)
			if (watches[i].path && !strcmp(watches[i].path, arg1) &&
			    !strcmp(watches[i].token, arg2)) {
				free(watches[i].path);
				free(watches[i].token);
				watches[i].path = watches[i].token = NULL;
				return reply_str(h, "OK");
			}
		return reply_err(h, "ENOENT");
	case XS_TRANSACTION_START:
		return reply_str(h, "7");
	case XS_TRANSACTION_END:
		if (arg1[0] == 'T' && fail_next_commit) {
			fail_next_commit = 0;
			failed_commits++;
			return reply_err(h, "EAGAIN");
		}
		return reply_str(h, "OK");
	case XS_IS_DOMAIN_INTRODUCED: {
		unsigned d = (unsigned)atoi(arg1);
		return reply_str(h, d < 0x8000 && introduced[d] ? "T" : "F");
	}
	default:
		return reply_err(h, "ENOSYS");
	}
}

static int read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static void *serve(void *arg)
{
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd < 0)
			return NULL;
		pthread_mutex_lock(&lock);
		conn_fd = fd;
		pthread_mutex_unlock(&lock);
		for (;;) {
			struct xsd_sockmsg h;
			char body[XENSTORE_PAYLOAD_MAX + 1];
			if (read_full(fd, &h, sizeof(h)) || h.len > XENSTORE_PAYLOAD_MAX ||
			    read_full(fd, body, h.len))
				break;
			body[h.len] = '\0';
			pthread_mutex_lock(&lock);
			handle(&h, body);
			pthread_mutex_unlock(&lock);
		}
		pthread_mutex_lock(&lock);
		close(fd);
		conn_fd = -1;
		for (int i = 0; i < MAX_WATCHES; i++) {
			free(watches[i].path);
			free(watches[i].token);
			watches[i].path = watches[i].token = NULL;
		}
		pthread_mutex_unlock(&lock);
	}
}

int fx_start(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(sock_path, sizeof(sock_path), "/tmp/fake-xenstored-%d.sock", (int)getpid());
	unlink(sock_path);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(listen_fd, 4))
		return -errno;
	setenv("XENSTORED_PATH", sock_path, 1);
	introduced[0] = 1;
	return pthread_create(&thread, NULL, serve, NULL) ? -EAGAIN : 0;
}

void fx_stop(void)
{
	shutdown(listen_fd, SHUT_RDWR);
	close(listen_fd);
	pthread_join(thread, NULL);
	unlink(sock_path);
	for (int i = 0; i < MAX_NODES; i++) {
		free(nodes[i].path);
		free(nodes[i].value);
		free(nodes[i].perms);
	}
	memset(nodes, 0, sizeof(nodes));
}

void fx_write(const char *path, const char *value)
{
	char pbuf[32];
	pthread_mutex_lock(&lock);
	set_value(path, value, (unsigned)strlen(value), default_perms(path, pbuf, sizeof(pbuf)));
	pthread_mutex_unlock(&lock);
}

void fx_rm(const char *path)
{
	pthread_mutex_lock(&lock);
	remove_tree(path);
	pthread_mutex_unlock(&lock);
}

char *fx_read(const char *path)
{
	pthread_mutex_lock(&lock);
	struct node *n = find(path);
	char *v = n ? strdup(n->value) : NULL;
	pthread_mutex_unlock(&lock);
	return v;
}

int fx_watch_count(void)
{
	int n = 0;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_WATCHES; i++)
		n += watches[i].path != NULL;
	pthread_mutex_unlock(&lock);
	return n;
}

char *fx_child(const char *dir, const char *skip)
{
	char *v = NULL;
	size_t pl = strlen(dir);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_NODES && !v; i++) {
		const char *p = nodes[i].path;
		if (!p || strncmp(p, dir, pl) || p[pl] != '/' || strchr(p + pl + 1, '/') ||
		    (skip && !strcmp(p + pl + 1, skip)))
			continue;
		v = strdup(p + pl + 1);
	}
	pthread_mutex_unlock(&lock);
	return v;
}

char *fx_perms(const char *path)
{
	pthread_mutex_lock(&lock);
	struct node *n = find(path);
	char *v = n ? strdup(n->perms) : NULL;
	pthread_mutex_unlock(&lock);
	return v;
}

void fx_set_introduced(uint32_t domid, int on)
{
	pthread_mutex_lock(&lock);
	if (domid < 0x8000)
		introduced[domid] = on;
	pthread_mutex_unlock(&lock);
}

void fx_fire(const char *special)
{
	pthread_mutex_lock(&lock);
	fire_special(special);
	pthread_mutex_unlock(&lock);
}

void fx_fail_next_commit(void)
{
	pthread_mutex_lock(&lock);
	fail_next_commit = 1;
	pthread_mutex_unlock(&lock);
}

int fx_failed_commits(void)
{
	pthread_mutex_lock(&lock);
	int n = failed_commits;
	pthread_mutex_unlock(&lock);
	return n;
}

void fx_set_perms(const char *path, const char *perms)
{
	pthread_mutex_lock(&lock);
	struct node *n = find(path);
	if (n) {
		free(n->perms);
		n->perms = strdup(perms);
	}
	pthread_mutex_unlock(&lock);
}

void fx_release_domain(uint32_t domid)
{
	pthread_mutex_lock(&lock);
	char home[32];
	snprintf(home, sizeof(home), "/local/domain/%u", domid);
	if (domid < 0x8000)
		introduced[domid] = 0;
	remove_tree(home); /* the toolstack's rm: watches fire */
	/* xenstored's own cleanup: no watch fires for it */
	for (int i = 0; i < MAX_NODES; i++) {
		if (!nodes[i].path || owner_of(&nodes[i]) != domid)
			continue;
		char *p = strdup(nodes[i].path);
		remove_quietly(p);
		free(p);
		i = -1; /* the table changed under us: look again */
	}
	for (int i = 0; i < MAX_NODES; i++)
		if (nodes[i].path)
			strip_acl(&nodes[i], domid);
	fire_special("@releaseDomain");
	pthread_mutex_unlock(&lock);
}
