/* SPDX-License-Identifier: MIT */
/*
 * An in-process libxenvchan for the plugin's data-path tests: a server
 * and a client end share one struct vchan_interface and two rings in this
 * process's memory (the layout of the real one, <xen/io/libxenvchan.h>),
 * each end's event channel is a pipe. Single-threaded use only: the
 * plugin's barriers are the real ones, these functions need none.
 */
#include "fake_libxenvchan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "vchan.h"

struct fake_end {
	int pipe[2]; /* [0]: our poll fd; the peer's notify writes [1] */
	struct fake_end *peer;
};

static struct {
	struct vchan_interface ring;
	uint8_t left[FAKE_RING], right[FAKE_RING];
	struct fake_end srv, cli;
	int users;
} sh;

int fake_steal_before_wait; /* wait(): drain the fd first, as another thread would */

static struct fake_end *end_of(struct libxenvchan *c) { return (struct fake_end *)c->event; }

static struct libxenvchan *new_end(int server)
{
	struct libxenvchan *c = calloc(1, sizeof(*c));
	struct fake_end *e = server ? &sh.srv : &sh.cli;
	if (!c || pipe(e->pipe) != 0) {
		free(c);
		return NULL;
	}
	e->peer = server ? &sh.cli : &sh.srv;
	c->is_server = server;
	c->ring = &sh.ring;
	c->event = (xenevtchn_handle *)e;
	/* left is client write, server read */
	c->read.shr = server ? &sh.ring.left : &sh.ring.right;
	c->read.buffer = server ? sh.left : sh.right;
	c->write.shr = server ? &sh.ring.right : &sh.ring.left;
	c->write.buffer = server ? sh.right : sh.left;
	c->read.order = c->write.order = FAKE_RING_ORDER;
	sh.users++;
	return c;
}

struct libxenvchan *libxenvchan_server_init(struct xentoollog_logger *l, int dom,
					    const char *path, size_t rmin, size_t wmin)
{
	(void)l, (void)dom, (void)path, (void)rmin, (void)wmin;
	memset(&sh, 0, sizeof(sh));
	sh.ring.cli_live = 2;
	sh.ring.srv_live = 1;
	return new_end(1);
}

struct libxenvchan *libxenvchan_client_init(struct xentoollog_logger *l, int dom,
					    const char *path)
{
	(void)l, (void)dom, (void)path;
	sh.ring.cli_live = 1;
	return new_end(0);
}

int xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t port)
{
	(void)port;
	uint32_t p = 1;
	return write(((struct fake_end *)h)->peer->pipe[1], &p, sizeof(p)) == sizeof(p) ? 0 : -1;
}

/* The peer wants `bit` from us: it set it in our flag byte. */
static void notify_if_asked(struct libxenvchan *c, uint8_t bit)
{
	uint8_t *f = c->is_server ? &c->ring->srv_notify : &c->ring->cli_notify;
	if (*f & bit) {
		*f &= (uint8_t)~bit;
		xenevtchn_notify(c->event, 0);
	}
}

static void request(struct libxenvchan *c, uint8_t bit)
{
	*(c->is_server ? &c->ring->cli_notify : &c->ring->srv_notify) |= bit;
}

int libxenvchan_is_open(struct libxenvchan *c)
{
	return c->is_server ? c->ring->cli_live : c->ring->srv_live;
}

int libxenvchan_data_ready(struct libxenvchan *c)
{
	request(c, VCHAN_NOTIFY_WRITE);
	return (int)(c->read.shr->prod - c->read.shr->cons);
}

int libxenvchan_buffer_space(struct libxenvchan *c)
{
	request(c, VCHAN_NOTIFY_READ);
	return (int)(FAKE_RING - (c->write.shr->prod - c->write.shr->cons));
}

int libxenvchan_write(struct libxenvchan *c, const void *data, size_t size)
{
	if (!libxenvchan_is_open(c))
		return -1;
	size_t space = FAKE_RING - (c->write.shr->prod - c->write.shr->cons);
	if (size > space)
		size = space;
	for (size_t i = 0; i < size; i++)
		((uint8_t *)c->write.buffer)[(c->write.shr->prod + i) % FAKE_RING] =
			((const uint8_t *)data)[i];
	c->write.shr->prod += (uint32_t)size;
	if (size)
		notify_if_asked(c, VCHAN_NOTIFY_WRITE);
	else
		request(c, VCHAN_NOTIFY_READ);
	return (int)size;
}

int libxenvchan_read(struct libxenvchan *c, void *data, size_t size)
{
	size_t ready = c->read.shr->prod - c->read.shr->cons;
	if (ready == 0) {
		request(c, VCHAN_NOTIFY_WRITE);
		return libxenvchan_is_open(c) ? 0 : -1;
	}
	if (size > ready)
		size = ready;
	for (size_t i = 0; i < size; i++)
		((uint8_t *)data)[i] =
			((const uint8_t *)c->read.buffer)[(c->read.shr->cons + i) % FAKE_RING];
	c->read.shr->cons += (uint32_t)size;
	notify_if_asked(c, VCHAN_NOTIFY_READ);
	return (int)size;
}

int libxenvchan_fd_for_select(struct libxenvchan *c) { return end_of(c)->pipe[0]; }

int libxenvchan_wait(struct libxenvchan *c)
{
	uint32_t port;
	if (fake_steal_before_wait) {
		fake_steal_before_wait = 0;
		if (read(end_of(c)->pipe[0], &port, sizeof(port)) != sizeof(port))
			return -1;
	}
	/* xenevtchn_pending: one read of the port number */
	return read(end_of(c)->pipe[0], &port, sizeof(port)) == sizeof(port) ? 0 : -1;
}

void libxenvchan_close(struct libxenvchan *c)
{
	if (!c)
		return;
	struct fake_end *e = end_of(c);
	*(c->is_server ? &c->ring->srv_live : &c->ring->cli_live) = 0;
	xenevtchn_notify(c->event, 0);
	close(e->pipe[0]);
	close(e->pipe[1]);
	free(c);
}

/* What vchan_wait.c and vchan_xtl.c give the plugin, without XenStore. */
int vchan_wait_server(const char *xs_path, int timeout_ms)
{
	(void)xs_path, (void)timeout_ms;
	return 0;
}

struct xentoollog_logger *vchan_xtl(void) { return NULL; }
