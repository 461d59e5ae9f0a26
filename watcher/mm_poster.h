/*
 * mm_poster (watcher): the watcher's one Mattermost poster.  The poster
 * itself is a handle of the Mattermost layer (mm/mm_poster.h: what it
 * posts, where, at what pace, and how it survives a crash); this module
 * is the watcher's wiring of it: the handle it runs, made from the
 * Mattermost settings (mm/mm_config.h), reached by the watcher's loop and
 * heartbeat without being passed around.
 *
 * Wiring (watcher/main.c, watcher/watcher.c):
 *   struct mm_config mc;
 *   if (mm_config_from_env(&mc, err, sizeof(err)) != 0) -> exit with err
 *   if (mc.url != NULL) mm_poster_start(&mc, db_path);  (copies what it needs)
 *   after every store commit that changed boxes:   mm_poster_kick();
 *   heartbeat row:   hb.breaker = mm_poster_breaker_state();  (NULL when off)
 *                    mm_poster_stats_json(stats_object);
 *   on SIGTERM, after the interrupted boxes are committed:  mm_poster_stop();
 *   mm_config_free(&mc);
 * mm_poster_kick() and mm_poster_breaker_state() may be called from any
 * thread, and do nothing (return NULL) when the poster is not running.
 */
#ifndef LS_WATCHER_MM_POSTER_H
#define LS_WATCHER_MM_POSTER_H

#include "mm/mm_config.h"
#include "mm/mm_poster.h"

/*
 * Starts the watcher's poster thread on its own handle of the store at
 * db_path.  0, or -1 when it cannot (logged); starting twice is an error.
 */
int mm_poster_start(const struct mm_config *cfg, const char *db_path);

/* Something was committed: look at the store again soon. */
void mm_poster_kick(void);

/*
 * Stops the thread after posting what is still unposted (throttle
 * ignored), for at most MM_STOP_FLUSH_MS or until Mattermost fails.
 */
void mm_poster_stop(void);

/* "closed", "open" or "half_open"; NULL when the poster is not running. */
const char *mm_poster_breaker_state(void);

/* Counters since start (zeros when not running). */
void mm_poster_stats(struct mm_poster_stats *out);

/* mm_poster_counts_json() of the running poster (nothing when not running). */
void mm_poster_stats_json(struct json_object *stats);

#endif
