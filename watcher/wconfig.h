/*
 * wconfig: the watcher's configuration, from the environment.
 *
 * The names and defaults are the original daemon's (architecture.md), with
 * MM_BOT_TOKEN and MM_BASE_URL accepted as aliases of MM_TOKEN and MM_URL.
 * wcfg_load() reads and checks every variable once, at start-up (the
 * Mattermost ones through mm/mm_config.h, the one reader of those); a bad value
 * fails with a message naming the variable (the program exits 2).  Strings
 * point into the environment or into the struct and live as long as it.
 *
 * Variables only the watcher has: LIVESTATUS_DB (the store), PUBLISH_URL
 * (nchan notices, optional), POLL_INTERVAL_MS (polling fallback, 1000),
 * WATCHER_FORCE_POLL (1: never use inotify), HEARTBEAT_S (5); forwarding to a
 * central API (PLUGIN_URL with PLUGIN_SECRET, GATEWAY_NAME, CA_FILE,
 * FORWARD_*) and the health port (HEALTH_PORT, HEALTH_BIND).
 */
#ifndef LS_WATCHER_WCONFIG_H
#define LS_WATCHER_WCONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "common/log.h"

#define WCFG_DEFAULT_DB "/var/lib/livestatus/livestatus.db"
/* How the default PID_FILE is chosen, for --help and the man page. */
#define WCFG_DEFAULT_PID_FILE_TEXT \
	"$RUNTIME_DIRECTORY/watcher.pid, else $XDG_RUNTIME_DIR/livestatus-watcher.pid, " \
	"else /tmp/livestatus-<uid>/watcher.pid"

struct wcfg {
	char transcript_dir[4096];
	const char *sessions_json; /* NULL: <folder>/sessions.json */
	const char *db;
	const char *pid_file;
	char pid_file_buf[4096]; /* the default when PID_FILE is unset */
	const char *mm_token;    /* accepted; used by the Mattermost side */
	const char *mm_url;
	const char *tool_labels_file;
	const char *default_channel;
	const char *plugin_url;
	const char *plugin_secret;
	const char *publish_url;
	const char *revision_dir; /* REVISION_DIR: the link nginx keys its cache by, or NULL */
	/* forwarding to a central status API: on with PLUGIN_URL and PLUGIN_SECRET */
	char gateway_name[65]; /* GATEWAY_NAME [host name] */
	const char *ca_file;   /* CA_FILE [system CAs] */
	long forward_connect_timeout_ms;
	long forward_timeout_ms;
	long forward_max_backoff_s;
	long forward_flush_ms;
	long health_port;        /* HEALTH_PORT [9090], 0: off */
	const char *health_bind; /* HEALTH_BIND [127.0.0.1] */
	int plugin_enabled;
	int force_poll;
	int follow_outside_links; /* FOLLOW_OUTSIDE_LINKS [0] */
	long throttle_ms;
	long idle_timeout_s;
	long max_session_duration_s;
	long max_status_lines;
	long max_active_sessions;
	long max_message_chars;
	long circuit_breaker_threshold;
	long circuit_breaker_cooldown_s;
	long poll_interval_ms;
	long heartbeat_s;
	enum log_level log_level;
	/* Not a setting: for `start`, where stderr goes once ready (-1: stays). */
	int stderr_after_ready;
};

/*
 * The default pid file into buf: a runtime folder of ours, never a name in
 * a shared folder.  Under systemd $RUNTIME_DIRECTORY (RuntimeDirectory=),
 * else $XDG_RUNTIME_DIR, else /tmp/livestatus-<uid>/ made 0700 and checked
 * to be ours.  0, or -1 with a message in err.
 */
int wcfg_default_pid_file(char *buf, size_t len, char *err, size_t errlen);

/* Reads the environment; 0, or -1 with a message naming the variable. */
int wcfg_load(struct wcfg *c, char *err, size_t errlen);

/* For --help: one line per variable with its default. */
void wcfg_usage(FILE *out);

#endif
