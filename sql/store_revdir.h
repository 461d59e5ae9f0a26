/*
 * store_revdir: tells nginx through the file system that the store
 * changed, so that nginx can answer reads from its own cache.
 *
 * nginx keys its cache of GET /api/v1/sessions (and of one box) by the
 * store's revision, which it learns without asking anyone: the location's
 * root is <dir>/current, a symbolic link to a folder <dir>/r<revision>.<unique>
 * that holds nothing, and $realpath_root is where the link leads
 * (nginx/livestatus.conf).  After each commit that bumped the revision,
 * the writer (watcher or responder) makes a new folder and moves the link
 * to it (symlink, then rename over "current": atomic), before the commit
 * is reported anywhere, so that a read that starts after a write has
 * returned has a new key and misses the entries of older states.
 *
 * Writers of several processes commit and move in any order, so a move
 * takes an flock of <dir>/.lock and happens only when the new revision is
 * above the link's: the link never goes back.  Every folder name carries a
 * part of its own (the time, the pid, a counter), so a key nginx once used
 * never comes back, not even when the store is made anew and counts from
 * 0 again; store_revdir_open() installs a fresh link with the store's
 * revision, whatever the link said before.  Folders that the link left
 * more than STORE_REVDIR_KEEP_S ago are removed (the move stamps the
 * folder it leaves with the time): nginx resolves the link in
 * microseconds, and a folder that vanished between the two steps would
 * leave that request uncached, with a failed realpath() in nginx's log.
 *
 * The responder marks an answer cacheable only when the folder nginx
 * resolved names the revision the answer shows (store_revdir_parse()), so
 * an entry always holds exactly the state its key names; a writer that
 * could not move the link (its failures are logged and counted) leaves the
 * link behind the store, which the responder's cleanup thread corrects
 * within a second (store_revdir_advance() with the store's revision).
 *
 * One store_revdir is shared by the threads of a process (a mutex orders
 * them); store_revdir_attach() hands it to each store handle that writes.
 */
#ifndef LS_STORE_REVDIR_H
#define LS_STORE_REVDIR_H

#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"

/* How long a folder the link left is kept. */
#define STORE_REVDIR_KEEP_S 10

struct store_revdir;

/*
 * Opens dir (made, mode 2775, when missing; its parent must exist) and
 * installs a new link with st's revision.  NULL with err set when the
 * folder or its lock file cannot be used.
 */
struct store_revdir *store_revdir_open(const char *dir, store *st, char *err, size_t errlen);

/* Moves the link to revision when it is above the link's (after a commit). */
void store_revdir_advance(struct store_revdir *r, int64_t revision);

/*
 * Moves r's link after each commit of st that bumped the revision
 * (store_on_revision()); r NULL: nothing.  r must outlive st's writes.
 */
void store_revdir_attach(struct store_revdir *r, store *st);

/* Stops using r; the link and its folder stay for the next writer. */
void store_revdir_free(struct store_revdir *r);

/*
 * The revision a link's folder names, from its path as nginx resolved it
 * (".../r42.1a2b.3c.0" gives 42), or -1 when path is not such a folder.
 */
int64_t store_revdir_parse(const char *path);

/* Moves made and moves that failed in this process, for metrics. */
int64_t store_revdir_moves_total(void);
int64_t store_revdir_failed_total(void);

#endif
