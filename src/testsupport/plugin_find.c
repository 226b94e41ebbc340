/* SPDX-License-Identifier: MIT */
#include "testsupport/plugin_find.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/plugin_loader.h"

const struct ivt_plugin_ops *ts_plugin_load(const char *name, char *why, size_t why_len)
{
	const char *env = getenv("IVT_PLUGIN_DIR");
	if (env && *env)
		return ivt_plugin_load(env, name, why, why_len);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char dir[PATH_MAX + 16];
		snprintf(dir, sizeof(dir), "%s/../plugins", dirname(exe));
		const struct ivt_plugin_ops *ops = ivt_plugin_load(dir, name, why, why_len);
		if (ops)
			return ops;
	}
	return ivt_plugin_load(NULL, name, why, why_len); /* installed */
}
