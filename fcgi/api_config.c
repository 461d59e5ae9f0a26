/* api_config: the responder's environment. */
#include "fcgi/api_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"

/*
 * GATEWAY_KEYS_FILE: when set, the file must be there (a typo would
 * otherwise lock every gateway out without a word); the default may be
 * missing.
 */
static int
api_config_gateway_keys(struct api_config *cfg, char *err, size_t errlen)
{
	const char *set = cfg_env("GATEWAY_KEYS_FILE", NULL);
	struct stat sb;
	FILE *f;

	cfg->gateway_keys_file = set != NULL ? set : API_DEFAULT_GATEWAY_KEYS;
	if (set == NULL)
		return 0;
	if ((f = fopen(set, "re")) == NULL) {
		snprintf(
		    err, errlen, "GATEWAY_KEYS_FILE: cannot read %s: %s", set, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "GATEWAY_KEYS_FILE: %s is not a regular file", set);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

int
api_config_load(struct api_config *cfg, char *err, size_t errlen)
{
	struct mm_auth_config mm;
	const char *level;
	int mode;

	memset(cfg, 0, sizeof(*cfg));
	cfg->db_path = cfg_str("LIVESTATUS_DB", NULL, API_DEFAULT_DB);
	cfg->secret = cfg_env("PLUGIN_SECRET", NULL);
	cfg->publish_url = cfg_env("PUBLISH_URL", NULL);
	cfg->revision_dir = cfg_env("REVISION_DIR", NULL);
	if (mm_auth_config_from_env(&mm, err, errlen) < 0)
		return -1;
	/* A Mattermost host's readers log in with Mattermost by default. */
	if (cfg_choice("READ_AUTH", NULL, api_read_auth_names,
	        mm.url != NULL ? API_READ_AUTH_MATTERMOST : API_READ_AUTH_SECRET, &mode, err,
	        errlen) < 0)
		return -1;
	cfg->read_auth = (enum api_read_auth)mode;
	if (cfg->read_auth == API_READ_AUTH_MATTERMOST && mm.url == NULL) {
		snprintf(err, errlen, "READ_AUTH: mattermost needs MM_URL");
		return -1;
	}
	if (cfg_long("MAX_ACTIVE_SESSIONS", NULL, 20, 1, 100000, &cfg->max_active, err, errlen) <
	        0 ||
	    cfg_long("MAX_STATUS_LINES", NULL, 15, 1, 1000, &cfg->max_lines, err, errlen) < 0 ||
	    cfg_long("STALE_AFTER_S", NULL, 1800, 1, 365L * 86400, &cfg->stale_after_s, err,
	        errlen) < 0 ||
	    cfg_long("DELETE_AFTER_S", NULL, 3600, 1, 365L * 86400, &cfg->delete_after_s, err,
	        errlen) < 0 ||
	    cfg_long("CLEANUP_INTERVAL_S", NULL, 60, 1, 86400, &cfg->cleanup_interval_s, err,
	        errlen) < 0 ||
	    cfg_long("STOP_GRACE_MS", NULL, 1500, 0, 60000, &cfg->stop_grace_ms, err, errlen) < 0)
		return -1;
	if (cfg->publish_url != NULL && strncmp(cfg->publish_url, "http://", 7) != 0 &&
	    strncmp(cfg->publish_url, "https://", 8) != 0) {
		snprintf(err, errlen,
		    "PUBLISH_URL: expected an http:// or https:// URL, got \"%s\"",
		    cfg->publish_url);
		return -1;
	}
	if (cfg_long("GATEWAY_SILENT_S", NULL, 300, 10, 86400, &cfg->gateway_silent_s, err,
	        errlen) < 0 ||
	    api_config_gateway_keys(cfg, err, errlen) < 0)
		return -1;
	cfg->log_level = LOG_LVL_INFO;
	level = cfg_env("LOG_LEVEL", NULL);
	if (level != NULL && log_parse_level(level, &cfg->log_level) < 0) {
		snprintf(err, errlen,
		    "LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, silent, "
		    "got \"%s\"",
		    level);
		return -1;
	}
	return 0;
}
