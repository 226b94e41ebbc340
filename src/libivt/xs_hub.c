/* SPDX-License-Identifier: MIT */
/* The process-wide XenStore watch of libivt (see xs_hub.h). */
#include "common/fd_stdio.h"
#include "xs_hub.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/types.h>
#include <unistd.h>

#include <xenstore.h>

#include "common/xs_paths.h"
#include "errors.h"

#define TOKEN "ivt:hub"
/* Firings handled per pump: the rest wait for the next one (the watch fd
 * stays readable). */
#define MAX_EVENTS_PER_PUMP 256

struct xs_hub {
	struct xs_handle *xs;
	uint32_t domid;
	char dir[64]; /* /local/domain/<self>/data/ivt, the one watch */
	int refs;     /* under hub_lock */
	pid_t pid;    /* a forked child has no reader thread: it opens its own */
	pthread_mutex_t lock; /* subs and pumping */
	struct xs_hub_sub *subs;
};

static pthread_mutex_t hub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xs_hub *the_hub;

static void hub_free(struct xs_hub *h)
{
	if (h->xs) {
		if (h->dir[0])
			xs_unwatch(h->xs, h->dir, TOKEN);
		xs_close(h->xs);
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static int hub_new(struct xs_hub **out)
{
	unsigned len = 0;
	struct xs_hub *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->xs = xs_open(0);
	if (!h->xs) {
		int e = errno;
		hub_free(h);
		ivt_reason_set(-ECONNREFUSED, "cannot reach XenStore: %s", strerror(e));
		return -ECONNREFUSED;
	}
	/* Relative path: xenstored resolves it in our own /local/domain/<d>. */
	char *v = xs_read(h->xs, XBT_NULL, "domid", &len);
	if (!v || ivt_xs_parse_domid(v, len, &h->domid)) {
		free(v);
		hub_free(h);
		ivt_reason_set(-ECONNREFUSED, "XenStore does not say our domain id (not a Xen domain?)");
		return -ECONNREFUSED;
	}
	free(v);
	/* the watch pipe exists from here, so firings make it readable */
	if (xs_fileno(h->xs) < 0 || ivt_xs_ivt_dir(h->dir, sizeof(h->dir), h->domid)) {
		hub_free(h);
		ivt_reason_set(-ENOMEM, "cannot create the XenStore watch pipe");
		return -ENOMEM;
	}
	if (!xs_watch(h->xs, h->dir, TOKEN)) {
		int e = errno ? errno : EIO;
		h->dir[0] = '\0';
		hub_free(h);
		ivt_reason_set(-e, "cannot watch our XenStore subtree: %s", strerror(e));
		return -e;
	}
	h->pid = getpid();
	*out = h;
	return 0;
}

int xs_hub_get(struct xs_hub **out)
{
	int rc = 0;
	pthread_mutex_lock(&hub_lock);
	if (the_hub && the_hub->pid != getpid())
		the_hub = NULL; /* the parent's: left alone, its ends are the parent's */
	if (!the_hub)
		rc = hub_new(&the_hub);
	if (rc == 0) {
		the_hub->refs++;
		*out = the_hub;
	}
	pthread_mutex_unlock(&hub_lock);
	return rc;
}

void xs_hub_put(struct xs_hub *h)
{
	/* a forked child must not unwatch (the connection is the parent's
	 * too) nor join a reader thread it does not have: left as it is */
	if (!h || h->pid != getpid())
		return;
	pthread_mutex_lock(&hub_lock);
	int last = --h->refs == 0;
	if (last && the_hub == h)
		the_hub = NULL;
	pthread_mutex_unlock(&hub_lock);
	if (last)
		hub_free(h);
}

struct xs_handle *xs_hub_handle(struct xs_hub *h) { return h->xs; }
uint32_t xs_hub_domid(const struct xs_hub *h) { return h->domid; }

int xs_hub_sub_add(struct xs_hub *h, struct xs_hub_sub *s, const char *node)
{
	memset(s, 0, sizeof(*s));
	s->efd = s->epfd = -1;
	if (snprintf(s->node, sizeof(s->node), "%s", node) >= (int)sizeof(s->node))
		return -ENAMETOOLONG;
	s->node_len = strlen(s->node);
	s->efd = ivt_fd_off_stdio(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	s->epfd = ivt_fd_off_stdio(epoll_create1(EPOLL_CLOEXEC));
	struct epoll_event ev = {.events = EPOLLIN};
	if (s->efd < 0 || s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &ev) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, xs_fileno(h->xs), &ev) < 0) {
		int e = errno;
		if (s->efd >= 0)
			close(s->efd);
		if (s->epfd >= 0)
			close(s->epfd);
		s->efd = s->epfd = -1;
		return -e;
	}
	pthread_mutex_lock(&h->lock);
	s->next = h->subs;
	h->subs = s;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

void xs_hub_sub_del(struct xs_hub *h, struct xs_hub_sub *s)
{
	pthread_mutex_lock(&h->lock);
	for (struct xs_hub_sub **p = &h->subs; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	pthread_mutex_unlock(&h->lock);
	if (s->efd >= 0)
		close(s->efd);
	if (s->epfd >= 0)
		close(s->epfd);
	s->efd = s->epfd = -1;
}

void xs_hub_poke(struct xs_hub_sub *s)
{
	uint64_t one = 1;
	if (write(s->efd, &one, sizeof(one)) < 0) {
		/* the counter is full: it is readable, which is all we want */
	}
}

/* Which news path is for s: 0 if none. */
static unsigned news_for(const struct xs_hub_sub *s, const char *path)
{
	size_t n = strlen(path);
	if (n <= s->node_len) /* the node or an ancestor (a removed subtree) */
		return !strncmp(s->node, path, n) && (n == s->node_len || s->node[n] == '/')
			       ? XS_HUB_ALL : 0;
	if (strncmp(path, s->node, s->node_len) || path[s->node_len] != '/')
		return 0;
	const char *rest = path + s->node_len + 1;
	if (!strcmp(rest, "response"))
		return XS_HUB_RESPONSE;
	if (!strcmp(rest, "event"))
		return XS_HUB_EVENT;
	if (!strncmp(rest, "in", 2) && (rest[2] == '\0' || rest[2] == '/'))
		return XS_HUB_INCOMING;
	return 0; /* request, vchan nodes, other slots */
}

static void pump(struct xs_hub *h)
{
	char **w;
	for (int i = 0; i < MAX_EVENTS_PER_PUMP && (w = xs_check_watch(h->xs)); i++) {
		for (struct xs_hub_sub *s = h->subs; s; s = s->next) {
			unsigned bits = news_for(s, w[XS_WATCH_PATH]);
			if (bits) {
				atomic_fetch_or(&s->fired, bits);
				xs_hub_poke(s);
			}
		}
		free(w);
	}
}

unsigned xs_hub_take(struct xs_hub *h, struct xs_hub_sub *s)
{
	uint64_t n;
	pthread_mutex_lock(&h->lock);
	pump(h);
	/* under the lock: a concurrent pump cannot poke between these two */
	if (read(s->efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing was poked */
	}
	unsigned bits = atomic_exchange(&s->fired, 0);
	pthread_mutex_unlock(&h->lock);
	return bits;
}
