/* Switching from root to the [general] user and group after the
 * listening sockets are bound. Uses libc and log only. */
#ifndef SIPSGATE_PRIVDROP_H
#define SIPSGATE_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

struct config;

struct privdrop {
	int enabled;		/* 0: keep the starting user */
	uid_t uid;
	gid_t gid;
	char user[64];		/* for log lines */
	char group[64];
};

/*
 * Looks up [general] user and group in the account database. Sets
 * pd->enabled only when the process runs as root and user is set; a user
 * set while not root is logged as a warning and ignored. Returns 0, or
 * -1 with a message in err (an unknown user or group, or a group without
 * a user).
 */
int privdrop_prepare(const struct config *cfg, struct privdrop *pd,
    char *err, size_t errlen);

/*
 * Calls setgroups (the one group only), setgid, then setuid, and checks
 * that root cannot be regained. Does nothing unless pd->enabled. Returns
 * 0, or -1 with a message in err. After -1 the caller must exit, because
 * the process may have some of the new ids and not others.
 */
int privdrop_apply(const struct privdrop *pd, char *err, size_t errlen);

#endif
