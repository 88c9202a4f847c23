/*
 * Dropping root after start-up. main.c calls privdrop_prepare before the
 * certificates are loaded, so that an unknown account fails "sipsgate -t"
 * too, and privdrop_apply after every socket is bound. Keys are read
 * while still root, so they can stay readable by root only.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "privdrop.h"

/* Formats the reason a lookup failed: getpwnam and getgrnam return NULL
 * with errno 0 (or ENOENT, depending on the NSS module) for a missing
 * entry, and another errno for a failed lookup. */
static const char *
lookup_error(int err)
{
	if (err == 0 || err == ENOENT || err == ESRCH || err == EBADF ||
	    err == EPERM)
		return "not found";
	return strerror(err);
}

static int
lookup_user(const struct config *cfg, struct privdrop *pd, char *err,
    size_t errlen)
{
	const char *name = cfg->general.user;
	struct passwd *pw;
	struct group *gr;

	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL) {
		snprintf(err, errlen, "%s: [general] user: user \"%s\" %s",
		    cfg->path, name, lookup_error(errno));
		return -1;
	}
	pd->uid = pw->pw_uid;
	pd->gid = pw->pw_gid;
	snprintf(pd->user, sizeof(pd->user), "%s", name);

	gr = getgrgid(pw->pw_gid);
	if (gr != NULL)
		snprintf(pd->group, sizeof(pd->group), "%s", gr->gr_name);
	else
		snprintf(pd->group, sizeof(pd->group), "%u",
		    (unsigned)pw->pw_gid);
	return 0;
}

static int
lookup_group(const struct config *cfg, struct privdrop *pd, char *err,
    size_t errlen)
{
	const char *name = cfg->general.group;
	struct group *gr;

	errno = 0;
	gr = getgrnam(name);
	if (gr == NULL) {
		snprintf(err, errlen, "%s: [general] group: group \"%s\" %s",
		    cfg->path, name, lookup_error(errno));
		return -1;
	}
	pd->gid = gr->gr_gid;
	snprintf(pd->group, sizeof(pd->group), "%s", name);
	return 0;
}

int
privdrop_prepare(const struct config *cfg, struct privdrop *pd, char *err,
    size_t errlen)
{
	memset(pd, 0, sizeof(*pd));

	if (cfg->general.user == NULL) {
		if (cfg->general.group != NULL) {
			snprintf(err, errlen, "%s: [general] group: set "
			    "without user (set user too, or neither)",
			    cfg->path);
			return -1;
		}
		if (geteuid() == 0)
			log_warning("running as root: set [general] user to "
			    "drop privileges after start-up");
		return 0;
	}

	/* The lookups run even when not root, so that -t catches a typo
	 * before the config reaches a machine where it matters. */
	if (lookup_user(cfg, pd, err, errlen) == -1)
		return -1;
	if (cfg->general.group != NULL &&
	    lookup_group(cfg, pd, err, errlen) == -1)
		return -1;

	if (geteuid() != 0) {
		log_warning("[general] user = %s ignored: not started as root "
		    "(running as uid %u)", cfg->general.user,
		    (unsigned)geteuid());
		return 0;
	}
	pd->enabled = 1;
	return 0;
}

int
privdrop_apply(const struct privdrop *pd, char *err, size_t errlen)
{
	if (!pd->enabled)
		return 0;

	/* The order matters: setgroups and setgid need root, which setuid
	 * gives up. Supplementary groups are cleared, not taken from
	 * /etc/group, because every file is opened before this point. */
	if (setgroups(1, &pd->gid) == -1) {
		snprintf(err, errlen, "setgroups %s: %s", pd->group,
		    strerror(errno));
		return -1;
	}
	if (setgid(pd->gid) == -1) {
		snprintf(err, errlen, "setgid %s: %s", pd->group,
		    strerror(errno));
		return -1;
	}
	if (setuid(pd->uid) == -1) {
		snprintf(err, errlen, "setuid %s: %s", pd->user,
		    strerror(errno));
		return -1;
	}

	if (getuid() != pd->uid || geteuid() != pd->uid ||
	    getgid() != pd->gid || getegid() != pd->gid) {
		snprintf(err, errlen, "switching to user %s group %s left "
		    "uid %u/%u gid %u/%u", pd->user, pd->group,
		    (unsigned)getuid(), (unsigned)geteuid(),
		    (unsigned)getgid(), (unsigned)getegid());
		return -1;
	}
	if (pd->uid != 0 && setuid(0) != -1) {
		snprintf(err, errlen, "setuid 0 still succeeds after switching "
		    "to user %s", pd->user);
		return -1;
	}
	log_notice("dropped privileges: user %s (uid %u), group %s (gid %u)",
	    pd->user, (unsigned)pd->uid, pd->group, (unsigned)pd->gid);
	return 0;
}
