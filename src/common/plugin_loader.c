/* SPDX-License-Identifier: MIT */
#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#ifndef IVT_PLUGIN_INSTALL_DIR
#define IVT_PLUGIN_INSTALL_DIR "/usr/local/lib/ivt/plugins"
#endif

#define MAX_LOADED IVT_PLUGINS_MAX

static struct loaded_plugin {
	char name[IVT_BACKEND_NAME_MAX + 1];
	/* The plugin's table widened to this host's size: fields beyond the
	 * plugin's ops_size are zero, i.e. absent (see plugin.h). */
	struct ivt_plugin_ops ops;
} loaded[MAX_LOADED];
static int n_loaded;
static pthread_mutex_t loaded_lock = PTHREAD_MUTEX_INITIALIZER;

const char *ivt_plugin_dir(void)
{
	const char *d = getenv("IVT_PLUGIN_DIR");
	return d && *d ? d : IVT_PLUGIN_INSTALL_DIR;
}

static void host_log(int level, const char *who, const char *fmt, ...)
{
	char buf[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ivt_log(level, who, "%s", buf);
}

static const struct ivt_plugin_host host = {
	.abi_version = IVT_PLUGIN_ABI_VERSION,
	.log = host_log,
};

const struct ivt_plugin_host *ivt_plugin_host(void) { return &host; }

int ivt_plugin_name_valid(const char *name, size_t n)
{
	if (!name || n == 0 || n > IVT_BACKEND_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return 0;
	return 1;
}

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

int ivt_plugin_list(const char *dir, char (*names)[IVT_BACKEND_NAME_MAX + 1], int max)
{
	if (!dir)
		dir = ivt_plugin_dir();
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	const size_t pre = strlen(IVT_PLUGIN_FILE_PREFIX), suf = strlen(".so");
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < max) {
		size_t len = strlen(e->d_name);
		if (len <= pre + suf || strncmp(e->d_name, IVT_PLUGIN_FILE_PREFIX, pre) != 0 ||
		    strcmp(e->d_name + len - suf, ".so") != 0)
			continue;
		const char *name = e->d_name + pre;
		size_t nlen = len - pre - suf;
		if (!ivt_plugin_name_valid(name, nlen))
			continue; /* not ours to load: say nothing */
		memcpy(names[n], name, nlen);
		names[n++][nlen] = '\0';
	}
	closedir(d);
	/* Directory order is arbitrary; sorted, every start sees the same table. */
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	return n;
}

/* The appended native one-sided ops come as a set, and only with the
 * capability; with it (and a table that has them) the regions too. */
static int native_rdma_check(const struct ivt_plugin_ops *ops, const char *name, char *why,
			     size_t why_len)
{
	if (!IVT_PLUGIN_OPS_HAS(ops, poll_completions))
		return 0;
	int n = !!ops->rdma_write + !!ops->rdma_read + !!ops->poll_completions;
	int regions = ops->register_region && ops->deregister_region;
	if (n == 0 && !(ops->caps & IVT_CAP_RDMA))
		return 0;
	if (n != 3 || !regions || !(ops->caps & IVT_CAP_RDMA)) {
		snprintf(why, why_len,
			 "plugin '%s': native one-sided ops need rdma_write, rdma_read, "
			 "poll_completions, register_region, deregister_region and IVT_CAP_RDMA "
			 "together", name);
		return -EINVAL;
	}
	return 0;
}

int ivt_plugin_ops_check(const struct ivt_plugin_ops *ops, const char *name, char *why,
			 size_t why_len)
{
	if (!ops) {
		snprintf(why, why_len, "plugin '%s': entry point returned no ops table", name);
		return -EINVAL;
	}
	if (ops->abi_version != IVT_PLUGIN_ABI_VERSION) {
		snprintf(why, why_len, "plugin '%s' has ABI version %u, this ivt speaks %u; rebuild it",
			 name, ops->abi_version, IVT_PLUGIN_ABI_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (ops->ops_size < IVT_PLUGIN_OPS_V1_SIZE) {
		snprintf(why, why_len, "plugin '%s': ops table is %u bytes, need at least %zu", name,
			 ops->ops_size, (size_t)IVT_PLUGIN_OPS_V1_SIZE);
		return -EPROTONOSUPPORT;
	}
	if (!ops->name || strcmp(ops->name, name) != 0) {
		snprintf(why, why_len, "plugin file for '%s' calls itself '%s'", name,
			 ops->name ? ops->name : "(null)");
		return -EINVAL;
	}
	/* The byte pipe and its wake-up are mandatory; one-sided ops are not. */
	if (!ops->probe || !ops->listen || !ops->accept || !ops->connect || !ops->send ||
	    !ops->recv || !ops->arm || !ops->poll_fd || !ops->ack || !ops->close) {
		snprintf(why, why_len, "plugin '%s': ops table lacks a mandatory operation", name);
		return -EINVAL;
	}
	return native_rdma_check(ops, name, why, why_len);
}

/* The optional ops a plugin leaves out (plugin.h): the host calls these. */
static int stub_init(const struct ivt_plugin_host *h) { (void)h; return 0; }
static void stub_fini(void) {}
static int stub_register(struct ivt_ep *ep, void *addr, size_t len, unsigned access,
			 uint64_t *key)
{
	(void)ep, (void)addr, (void)len, (void)access, (void)key;
	return -EOPNOTSUPP;
}
static int stub_deregister(struct ivt_ep *ep, uint64_t key) { (void)ep, (void)key; return -EOPNOTSUPP; }
static int stub_stats(struct ivt_ep *ep, struct ivt_ep_stats *st) { (void)ep, (void)st; return -EOPNOTSUPP; }
static int stub_rdma_write(struct ivt_ep *ep, const void *buf, size_t len, uint64_t key,
			   uint64_t offset, uint64_t wr_id)
{
	(void)ep, (void)buf, (void)len, (void)key, (void)offset, (void)wr_id;
	return -EOPNOTSUPP;
}
static int stub_rdma_read(struct ivt_ep *ep, void *buf, size_t len, uint64_t key,
			  uint64_t offset, uint64_t wr_id)
{
	(void)ep, (void)buf, (void)len, (void)key, (void)offset, (void)wr_id;
	return -EOPNOTSUPP;
}
static int stub_poll_completions(struct ivt_ep *ep, struct ivt_ep_completion *out, int max)
{
	(void)ep, (void)out, (void)max;
	return -EOPNOTSUPP;
}

static int stub_ready(struct ivt_ep *ep, unsigned events)
{
	(void)ep, (void)events;
	return -EOPNOTSUPP;
}

void ivt_plugin_ops_complete(struct ivt_plugin_ops *ops)
{
#define FILL(op, stub)                                                                             \
	do {                                                                                       \
		if (!ops->op)                                                                      \
			ops->op = stub;                                                            \
	} while (0)
	FILL(init, stub_init);
	FILL(fini, stub_fini);
	FILL(register_region, stub_register);
	FILL(deregister_region, stub_deregister);
	FILL(stats, stub_stats);
	FILL(rdma_write, stub_rdma_write);
	FILL(rdma_read, stub_rdma_read);
	FILL(poll_completions, stub_poll_completions);
	FILL(ready, stub_ready);
#undef FILL
}

/* Copy a checked table into dst, zeroing what the plugin's ops_size does
 * not cover (an older plugin) and dropping what ours does not know (a
 * newer one), then stubbing every optional op left NULL. */
static void widen(struct ivt_plugin_ops *dst, const struct ivt_plugin_ops *src)
{
	size_t n = src->ops_size < sizeof(*dst) ? src->ops_size : sizeof(*dst);
	memset(dst, 0, sizeof(*dst));
	memcpy(dst, src, n);
	ivt_plugin_ops_complete(dst);
}

const struct ivt_plugin_ops *ivt_plugin_load(const char *dir, const char *name, char *why,
					     size_t why_len)
{
	char dummy[8];
	if (!why) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	if (!name || !ivt_plugin_name_valid(name, strlen(name))) {
		snprintf(why, why_len, "invalid plugin name '%s'", name ? name : "(null)");
		return NULL;
	}
	if (!dir)
		dir = ivt_plugin_dir();

	const struct ivt_plugin_ops *ops = NULL;
	pthread_mutex_lock(&loaded_lock);
	for (int i = 0; i < n_loaded; i++)
		if (!strcmp(loaded[i].name, name)) {
			ops = &loaded[i].ops;
			goto out;
		}
	if (n_loaded == MAX_LOADED) {
		snprintf(why, why_len, "too many plugins loaded");
		goto out;
	}

	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/" IVT_PLUGIN_FILE_PREFIX "%s.so", dir, name);
	/* RTLD_LOCAL: plugins must not see each other's symbols. */
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		int missing = access(path, F_OK) != 0;
		snprintf(why, why_len, "cannot load plugin '%s': %s%s", name, dlerror(),
			 missing ? " (IVT_PLUGIN_DIR names the directory of the ivt_*.so plugins)" : "");
		goto out;
	}
	ivt_plugin_entry_fn entry = (ivt_plugin_entry_fn)dlsym(h, IVT_PLUGIN_ENTRY_SYMBOL);
	if (!entry) {
		snprintf(why, why_len, "%s: no %s symbol; not an ivt plugin", path,
			 IVT_PLUGIN_ENTRY_SYMBOL);
		dlclose(h);
		goto out;
	}
	const struct ivt_plugin_ops *cand = entry(IVT_PLUGIN_ABI_VERSION);
	if (ivt_plugin_ops_check(cand, name, why, why_len) != 0) {
		dlclose(h);
		goto out;
	}
	struct loaded_plugin *lp = &loaded[n_loaded];
	widen(&lp->ops, cand);
	int rc = lp->ops.init(&host);
	if (rc < 0) {
		snprintf(why, why_len, "plugin '%s' failed to initialise: %s", name, strerror(-rc));
		dlclose(h);
		goto out;
	}
	/* Never dlclose a plugin in use: endpoints point into it. */
	snprintf(lp->name, sizeof(lp->name), "%s", name);
	ops = &lp->ops;
	n_loaded++;
out:
	pthread_mutex_unlock(&loaded_lock);
	return ops;
}
