/* mm_config: the Mattermost settings, one reader for every program. */
#include "mm/mm_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "mm/mm_http.h"

/* An http:// or https:// URL, or unset; the message names the variable set. */
static int
mm_config_url(const char *name, const char *alias, const char **out, char *err, size_t errlen)
{
	const char *v = cfg_env(name, alias);
	const char *set = getenv(name);

	*out = v;
	if (v == NULL || strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0)
		return 0;
	snprintf(err, errlen, "%s: expected an http:// or https:// URL, got \"%s\"",
	    set != NULL && *set != '\0' ? name : alias, v);
	return -1;
}

int
mm_config_server(struct mm_config *cfg, int need_token, char *err, size_t errlen)
{
	if (mm_config_url("MM_URL", "MM_BASE_URL", &cfg->url, err, errlen) != 0)
		return -1;
	cfg->token = cfg_env("MM_TOKEN", "MM_BOT_TOKEN");
	if (need_token && cfg->url != NULL && cfg->token == NULL) {
		snprintf(err, errlen, "MM_TOKEN: required when MM_URL is set");
		return -1;
	}
	if (cfg_long("MM_TIMEOUT_MS", NULL, 10000, 100, 600000, &cfg->timeout_ms, err, errlen) !=
	        0 ||
	    cfg_long("MAX_MESSAGE_CHARS", NULL, 15000, 100, 1000000, &cfg->max_message_chars, err,
	        errlen) != 0)
		return -1;
	return 0;
}

int
mm_config_poster(struct mm_config *cfg, char *err, size_t errlen)
{
	long v;

	cfg->default_channel = cfg_env("DEFAULT_CHANNEL", NULL);
	cfg->publish_url = cfg_env("PUBLISH_URL", NULL);
	if (cfg_bool("PLUGIN_ENABLED", NULL, 1, &cfg->plugin_enabled, err, errlen) != 0 ||
	    cfg_long("THROTTLE_MS", NULL, 500, 0, 600000, &cfg->throttle_ms, err, errlen) != 0 ||
	    cfg_long("CIRCUIT_BREAKER_THRESHOLD", NULL, 5, 1, 1000, &cfg->breaker_threshold, err,
	        errlen) != 0 ||
	    cfg_long("CIRCUIT_BREAKER_COOLDOWN_S", NULL, 30, 1, 86400, &v, err, errlen) != 0)
		return -1;
	cfg->breaker_cooldown_ms = v * 1000;
	if (cfg_long("MM_RATE_LIMIT", NULL, 10, 0, 100000, &v, err, errlen) != 0)
		return -1;
	cfg->rate_limit = (double)v;
	if (cfg_long("MM_PLUGIN_CHECK_S", NULL, 60, 1, 86400, &v, err, errlen) != 0)
		return -1;
	cfg->plugin_check_ms = v * 1000;
	return cfg_long(
	    "MM_STOP_FLUSH_MS", NULL, 5000, 0, 600000, &cfg->stop_flush_ms, err, errlen);
}

int
mm_config_login(struct mm_config *cfg, char *err, size_t errlen)
{
	long v;

	if (cfg_long("AUTH_CACHE_S", NULL, MM_CONFIG_AUTH_CACHE_S_MAX, 0,
	        MM_CONFIG_AUTH_CACHE_S_MAX, &v, err, errlen) != 0)
		return -1;
	cfg->auth_cache_ms = v * 1000;
	if (cfg_long("AUTH_TIMEOUT_MS", NULL, 2000, 100, 10000, &cfg->auth_timeout_ms, err,
	        errlen) != 0 ||
	    cfg_long("AUTH_CLIENT_LOOKUPS", NULL, 20, 1, 100000, &cfg->auth_client_lookups, err,
	        errlen) != 0)
		return -1;
	return cfg_long("MM_MAX_CONNECTIONS", NULL, MM_HTTP_DEFAULT_MAX_CONNECTIONS, 1,
	    MM_HTTP_MAX_CONNECTIONS_LIMIT, &cfg->max_connections, err, errlen);
}

int
mm_config_from_env(struct mm_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (mm_config_server(cfg, 1, err, errlen) != 0)
		return -1;
	return mm_config_poster(cfg, err, errlen);
}

void
mm_config_free(struct mm_config *cfg)
{
	if (cfg != NULL)
		memset(cfg, 0, sizeof(*cfg));
}
