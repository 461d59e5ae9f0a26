/*
 * api_config: the responder's settings, read once from the environment.
 *
 *   LIVESTATUS_DB        SQLite file (/var/lib/livestatus/livestatus.db)
 *   PLUGIN_SECRET        the writers' shared secret; unset: no one writes
 *   READ_AUTH            secret | none | mattermost (mattermost with MM_URL, else
 *                        secret); MM_URL/MM_TOKEN, AUTH_CACHE_S: see mm_auth.h
 *   MAX_ACTIVE_SESSIONS  active boxes before POST answers 429 (20)
 *   MAX_STATUS_LINES     lines kept per box (15)
 *   STALE_AFTER_S        active boxes idle this long become interrupted (1800)
 *   DELETE_AFTER_S       finished boxes are deleted this long after (3600)
 *   CLEANUP_INTERVAL_S   how often the cleanup runs (60)
 *   STOP_GRACE_MS        what requests in flight get at a stop (1500)
 *   PUBLISH_URL          nchan publisher for change notices (none)
 *   REVISION_DIR         the revision link nginx keys its cache of reads by
 *                        (none: no answer is cacheable; sql/store_revdir.h)
 *   GATEWAY_KEYS_FILE    per-gateway keys of POST /api/v1/gateway/boxes
 *                        (/etc/livestatus/gateway-keys; see api_gwkeys.h)
 *   GATEWAY_SILENT_S     a gateway silent this long degrades health (300)
 *   LOG_LEVEL            debug | info | warn | error (info)
 *
 * api_config_load() fails on the first bad value with a message naming the
 * variable.  Strings point into the environment and are not copied.  A
 * keys file named by GATEWAY_KEYS_FILE must exist at start; the default
 * one may be missing (no per-gateway keys).
 */
#ifndef LS_API_CONFIG_H
#define LS_API_CONFIG_H

#include <stddef.h>

#include "common/log.h"
#include "fcgi/auth.h"

#define API_DEFAULT_DB "/var/lib/livestatus/livestatus.db"
#define API_DEFAULT_GATEWAY_KEYS "/etc/livestatus/gateway-keys"

struct api_config {
	const char *db_path;
	const char *secret; /* NULL when unset */
	enum api_read_auth read_auth;
	long max_active;
	long max_lines;
	long stale_after_s;
	long delete_after_s;
	long cleanup_interval_s;
	long stop_grace_ms;            /* STOP_GRACE_MS: time requests in flight get at a stop */
	const char *publish_url;       /* NULL when unset */
	const char *revision_dir;      /* NULL when unset */
	const char *gateway_keys_file; /* never NULL */
	long gateway_silent_s;
	enum log_level log_level;
};

int api_config_load(struct api_config *cfg, char *err, size_t errlen);

#endif
