/*
 * notify: publishes change notices to nginx's nchan publisher location.
 *
 * After each commit that changes a box, the writer (watcher or responder)
 * posts {"revision":N,"id":"<box id>","channel_id":"<channel>"} to the
 * publisher URL (PUBLISH_URL, loopback only, e.g.
 * http://127.0.0.1:8080/_livestatus/publish) followed by "/<channel>": nginx
 * publishes it to that Mattermost channel's nchan channel and to "all", so
 * only readers of the channel (and secret holders) hear of the box.  The
 * channel to pass is the box's own, or for a sub-agent without one the
 * nearest one above it (store_box_route_channel()); with none, the notice
 * goes to PUBLISH_URL itself, "all" alone.  Browsers subscribed at
 * /api/v1/stream then fetch the box.  A notice is a hint, not data: when
 * publishing fails the change is still in the store and pollers see it, so
 * failures are logged (rate-limited) and otherwise ignored.
 *
 * A notifier keeps one curl handle (and its keep-alive connection); use it
 * from one thread at a time.  notify_new(NULL) or "" gives a notifier that
 * does nothing, so callers need no special case.
 */
#ifndef LS_NOTIFY_H
#define LS_NOTIFY_H

#include <stdint.h>

struct notify;

struct notify *notify_new(const char *url);
void notify_box(struct notify *n, int64_t revision, const char *id, const char *channel_id);
void notify_free(struct notify *n);

/* Notices sent and failed since start, for health and metrics. */
int64_t notify_sent_total(void);
int64_t notify_failed_total(void);

#endif
