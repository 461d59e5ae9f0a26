/* wconfig: reading and checking the watcher's environment. */
#include "watcher/wconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "mm/mm_config.h"

static int
wcfg_url(const char *name, const char *alias, const char **out, char *err, size_t errlen)
{
	const char *v = cfg_env(name, alias);

	*out = v;
	if (v == NULL || strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0)
		return 0;
	snprintf(err, errlen, "%s: expected an http:// or https:// URL, got \"%s\"",
	    getenv(name) != NULL && *getenv(name) ? name : alias, v);
	return -1;
}

int
wcfg_default_pid_file(char *buf, size_t len, char *err, size_t errlen)
{
	const char *v;
	char dir[4096];
	struct stat st;
	int n;

	if ((v = cfg_env("RUNTIME_DIRECTORY", NULL)) != NULL) {
		/* systemd: the first of RuntimeDirectory='s folders */
		n = snprintf(buf, len, "%.*s/watcher.pid", (int)strcspn(v, ":"), v);
	} else if ((v = cfg_env("XDG_RUNTIME_DIR", NULL)) != NULL) {
		n = snprintf(buf, len, "%s/livestatus-watcher.pid", v);
	} else {
		snprintf(dir, sizeof(dir), "/tmp/livestatus-%ld", (long)geteuid());
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "PID_FILE: cannot make %s: %s", dir, strerror(errno));
			return -1;
		}
		if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
		    (st.st_mode & 0077) != 0) {
			snprintf(err, errlen,
			    "PID_FILE: %s is not a private folder of this user (a link, another "
			    "owner, or open to others): set PID_FILE",
			    dir);
			return -1;
		}
		n = snprintf(buf, len, "%s/watcher.pid", dir);
	}
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "PID_FILE: default path too long");
		return -1;
	}
	return 0;
}

/* 1 when name is a gateway name: [A-Za-z0-9_.-]{1,64}. */
static int
wcfg_gateway_name_ok(const char *name)
{
	size_t n =
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

	return n > 0 && n <= 64 && name[n] == '\0';
}

/* GATEWAY_NAME, CA_FILE, FORWARD_*, HEALTH_*: forwarding and health. */
static int
wcfg_load_forward(struct wcfg *c, char *err, size_t errlen)
{
	const char *v;

	if ((v = cfg_env("GATEWAY_NAME", NULL)) != NULL) {
		if (!wcfg_gateway_name_ok(v)) {
			snprintf(err, errlen,
			    "GATEWAY_NAME: expected 1 to 64 of A-Z a-z 0-9 _ . -, got \"%s\"", v);
			return -1;
		}
		snprintf(c->gateway_name, sizeof(c->gateway_name), "%s", v);
	} else {
		if (gethostname(c->gateway_name, sizeof(c->gateway_name)) != 0)
			c->gateway_name[0] = '\0';
		c->gateway_name[sizeof(c->gateway_name) - 1] = '\0';
		c->gateway_name[strcspn(c->gateway_name, ".")] = '\0';
		if (!wcfg_gateway_name_ok(c->gateway_name))
			snprintf(c->gateway_name, sizeof(c->gateway_name), "gateway");
	}
	c->ca_file = cfg_env("CA_FILE", NULL);
	if (c->ca_file != NULL && access(c->ca_file, R_OK) != 0) {
		snprintf(err, errlen, "CA_FILE: cannot read \"%s\"", c->ca_file);
		return -1;
	}
	c->health_bind = cfg_str("HEALTH_BIND", NULL, "127.0.0.1");
	if (cfg_bool("FOLLOW_OUTSIDE_LINKS", NULL, 0, &c->follow_outside_links, err, errlen) != 0)
		return -1;
	return cfg_long("FORWARD_CONNECT_TIMEOUT_MS", NULL, 5000, 100, 120000,
	           &c->forward_connect_timeout_ms, err, errlen) != 0 ||
	        cfg_long("FORWARD_TIMEOUT_MS", NULL, 15000, 500, 600000, &c->forward_timeout_ms,
	            err, errlen) != 0 ||
	        cfg_long("FORWARD_MAX_BACKOFF_S", NULL, 300, 1, 86400, &c->forward_max_backoff_s,
	            err, errlen) != 0 ||
	        cfg_long("FORWARD_FLUSH_MS", NULL, 5000, 0, 600000, &c->forward_flush_ms, err,
	            errlen) != 0 ||
	        cfg_long("HEALTH_PORT", NULL, 9090, 0, 65535, &c->health_port, err, errlen) != 0
	    ? -1
	    : 0;
}

/*
 * The Mattermost settings, through the one reader (mm/mm_config.h); a
 * missing token is the poster's to refuse (mm_config_from_env()).
 */
static int
wcfg_load_mm(struct wcfg *c, char *err, size_t errlen)
{
	struct mm_config mc;

	memset(&mc, 0, sizeof(mc));
	if (mm_config_server(&mc, 0, err, errlen) != 0 || mm_config_poster(&mc, err, errlen) != 0)
		return -1;
	c->mm_url = mc.url;
	c->mm_token = mc.token;
	c->default_channel = mc.default_channel;
	c->plugin_enabled = mc.plugin_enabled;
	c->throttle_ms = mc.throttle_ms;
	c->max_message_chars = mc.max_message_chars;
	c->circuit_breaker_threshold = mc.breaker_threshold;
	c->circuit_breaker_cooldown_s = mc.breaker_cooldown_ms / 1000;
	return 0;
}

int
wcfg_load(struct wcfg *c, char *err, size_t errlen)
{
	const char *v, *home;
	int n;

	memset(c, 0, sizeof(*c));
	c->stderr_after_ready = -1;
	if ((v = cfg_env("TRANSCRIPT_DIR", NULL)) != NULL) {
		n = snprintf(c->transcript_dir, sizeof(c->transcript_dir), "%s", v);
	} else if ((v = cfg_env("OPENCLAW_STATE_DIR", NULL)) != NULL) {
		n = snprintf(c->transcript_dir, sizeof(c->transcript_dir), "%s/agents", v);
	} else {
		home = cfg_env("HOME", NULL);
		n = snprintf(c->transcript_dir, sizeof(c->transcript_dir), "%s/.openclaw/agents",
		    home != NULL ? home : "");
	}
	if (n < 0 || (size_t)n >= sizeof(c->transcript_dir)) {
		snprintf(err, errlen, "TRANSCRIPT_DIR: path too long");
		return -1;
	}
	c->sessions_json = cfg_env("SESSIONS_JSON", NULL);
	c->db = cfg_str("LIVESTATUS_DB", NULL, WCFG_DEFAULT_DB);
	if ((c->pid_file = cfg_env("PID_FILE", NULL)) == NULL) {
		if (wcfg_default_pid_file(c->pid_file_buf, sizeof(c->pid_file_buf), err, errlen) !=
		    0)
			return -1;
		c->pid_file = c->pid_file_buf;
	}
	c->tool_labels_file = cfg_env("TOOL_LABELS_FILE", NULL);
	c->revision_dir = cfg_env("REVISION_DIR", NULL);
	c->plugin_secret = cfg_env("PLUGIN_SECRET", NULL);
	if (wcfg_url("PLUGIN_URL", NULL, &c->plugin_url, err, errlen) != 0 ||
	    wcfg_url("PUBLISH_URL", NULL, &c->publish_url, err, errlen) != 0 ||
	    wcfg_load_mm(c, err, errlen) != 0)
		return -1;
	if (cfg_bool("WATCHER_FORCE_POLL", NULL, 0, &c->force_poll, err, errlen) != 0 ||
	    cfg_long("IDLE_TIMEOUT_S", NULL, 60, 1, 86400 * 7, &c->idle_timeout_s, err, errlen) !=
	        0 ||
	    cfg_long("MAX_SESSION_DURATION_S", NULL, 1800, 1, 86400 * 30,
	        &c->max_session_duration_s, err, errlen) != 0 ||
	    cfg_long("MAX_STATUS_LINES", NULL, 15, 1, 1000, &c->max_status_lines, err, errlen) !=
	        0 ||
	    cfg_long("MAX_ACTIVE_SESSIONS", NULL, 20, 1, 100000, &c->max_active_sessions, err,
	        errlen) != 0 ||
	    cfg_long("POLL_INTERVAL_MS", NULL, 1000, 10, 600000, &c->poll_interval_ms, err,
	        errlen) != 0 ||
	    cfg_long("HEARTBEAT_S", NULL, 5, 1, 3600, &c->heartbeat_s, err, errlen) != 0)
		return -1;
	if (wcfg_load_forward(c, err, errlen) != 0)
		return -1;
	c->log_level = LOG_LVL_INFO;
	if ((v = cfg_env("LOG_LEVEL", NULL)) != NULL && log_parse_level(v, &c->log_level) != 0) {
		snprintf(err, errlen,
		    "LOG_LEVEL: expected trace, debug, info, warn, error, fatal or silent, got "
		    "\"%s\"",
		    v);
		return -1;
	}
	return 0;
}

void
wcfg_usage(FILE *out)
{
	fputs(
	    "Environment (defaults in brackets):\n"
	    "  TRANSCRIPT_DIR           agents/ folder or one sessions/ folder\n"
	    "                           [$OPENCLAW_STATE_DIR/agents, else $HOME/.openclaw/agents]\n"
	    "  SESSIONS_JSON            sessions.json of a lone sessions folder [beside it]\n"
	    "  LIVESTATUS_DB            the store [" WCFG_DEFAULT_DB "]\n"
	    "  PID_FILE                 [$RUNTIME_DIRECTORY/watcher.pid, else\n"
	    "                           $XDG_RUNTIME_DIR/livestatus-watcher.pid, else\n"
	    "                           /tmp/livestatus-<uid>/watcher.pid]\n"
	    "  FOLLOW_OUTSIDE_LINKS     1: read transcripts and agent databases that are\n"
	    "                           links out of TRANSCRIPT_DIR [0: skipped, warned]\n"
	    "  IDLE_TIMEOUT_S           a box ends after this long without activity [60]\n"
	    "  MAX_SESSION_DURATION_S   a box ends after this long in all [1800]\n"
	    "  MAX_STATUS_LINES         newest lines kept per box [15]\n"
	    "  MAX_ACTIVE_SESSIONS      active top-level boxes at most [20]\n"
	    "  TOOL_LABELS_FILE         JSON with exact/prefixes/patterns tool labels\n"
	    "  DEFAULT_CHANNEL          channel id for sessions without one [none: local]\n"
	    "  LOG_LEVEL                trace, debug, info, warn, error, fatal, silent [info]\n"
	    "  PUBLISH_URL              nchan publisher for change notices [none]\n"
	    "  REVISION_DIR             folder of the revision link nginx keys its cache\n"
	    "                           of reads by, the responder's [none]\n"
	    "  POLL_INTERVAL_MS         polling interval without inotify [1000]\n"
	    "  WATCHER_FORCE_POLL       1: poll even where inotify works [0]\n"
	    "  HEARTBEAT_S              heartbeat row interval [5]\n"
	    "Posting to Mattermost:\n"
	    "  MM_URL (MM_BASE_URL)     Mattermost's base URL [none: nothing is posted]\n"
	    "  MM_TOKEN (MM_BOT_TOKEN)  the bot's access token (needed with MM_URL)\n"
	    "  PLUGIN_ENABLED           false: plain posts even where the plugin is on [true]\n"
	    "  THROTTLE_MS              least time between two posts of one box [500]\n"
	    "  MAX_MESSAGE_CHARS        longest post text, in characters [15000]\n"
	    "  CIRCUIT_BREAKER_THRESHOLD   failures in a row that open the breaker [5]\n"
	    "  CIRCUIT_BREAKER_COOLDOWN_S  seconds the breaker stays open [30]\n"
	    "  MM_RATE_LIMIT            requests per second at most [10; 0: no limit]\n"
	    "  MM_PLUGIN_CHECK_S        seconds between checks for the plugin [60]\n"
	    "  MM_TIMEOUT_MS            longest wait for one Mattermost answer [10000]\n"
	    "  MM_STOP_FLUSH_MS         time at stop to post the last states [5000]\n"
	    "Forwarding to a central status API (gateways on other hosts):\n"
	    "  PLUGIN_URL               the central API's base, e.g.\n"
	    "                           https://chat.example.com/plugins/com.openclaw.livestatus\n"
	    "                           [none: no forwarding]\n"
	    "  PLUGIN_SECRET            this gateway's key on the central (needed with "
	    "PLUGIN_URL)\n"
	    "  GATEWAY_NAME             this gateway's name on the central [host name]\n"
	    "  CA_FILE                  CA certificates for the central's TLS [system CAs]\n"
	    "  FORWARD_CONNECT_TIMEOUT_MS  [5000]   FORWARD_TIMEOUT_MS  whole request [15000]\n"
	    "  FORWARD_MAX_BACKOFF_S    longest wait between retries [300]\n"
	    "  FORWARD_FLUSH_MS         time to send what is pending at stop [5000]\n"
	    "  HEALTH_PORT              GET /health and /metrics of this watcher [9090; 0: off]\n"
	    "  HEALTH_BIND              address of the health port [127.0.0.1]\n",
	    out);
}
