/* Per-uid tallies of the local registry's control connections, so the
 * per-user limits cost O(1) per request instead of a walk over every
 * connection (quadratic across 10,000 of them). */
#ifndef IVTD_UID_COUNTS_H
#define IVTD_UID_COUNTS_H

#include <stddef.h>
#include <sys/types.h>

struct uid_count {
	uid_t uid;
	size_t conns;  /* live control connections */
	size_t opened; /* of them, those that sent an OPEN or ATTACH */
};

/* Open addressing, linear probing, never shrinks: entries are per uid
 * that ever connected, and uids are the kernel's to hand out, not a
 * client's to invent. */
struct uid_counts {
	struct uid_count *slot; /* cap entries; used ones have in_use set */
	unsigned char *in_use;
	size_t cap, used;
};

/* The tally of uid; NULL if it has none yet. */
struct uid_count *uid_counts_find(const struct uid_counts *t, uid_t uid);
/* The tally of uid, made (zeroed) if needed; NULL only when out of memory.
 * Pointers from earlier calls are invalid after this one. */
struct uid_count *uid_counts_get(struct uid_counts *t, uid_t uid);
void uid_counts_free(struct uid_counts *t);

#endif
