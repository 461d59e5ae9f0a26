/*
 * mm_config: the Mattermost settings, read from the environment in one
 * place, with one set of names, aliases, defaults, bounds and error texts
 * for every program that reads them (docs/configuration.md lists them).
 *
 * The settings come in three groups, each read by its own function, so a
 * program reads only the ones it uses (and lists in its --help):
 *   mm_config_server()  MM_URL (alias MM_BASE_URL), MM_TOKEN (alias
 *                       MM_BOT_TOKEN), MM_TIMEOUT_MS, MAX_MESSAGE_CHARS:
 *                       the watcher and the responder;
 *   mm_config_poster()  PLUGIN_ENABLED, THROTTLE_MS, CIRCUIT_BREAKER_*,
 *                       MM_RATE_LIMIT, MM_PLUGIN_CHECK_S, MM_STOP_FLUSH_MS,
 *                       DEFAULT_CHANNEL, PUBLISH_URL: the watcher's poster;
 *   mm_config_login()   AUTH_CACHE_S, AUTH_TIMEOUT_MS, AUTH_CLIENT_LOOKUPS,
 *                       MM_MAX_CONNECTIONS: the responder's logins.
 * mm_config_from_env() is the watcher's whole set (server and poster, with
 * a token required when MM_URL is set).
 *
 * Each returns 0, or -1 with a message naming the variable in err (a bad
 * number, a number out of bounds, an MM_URL that is not http(s)); the
 * struct is filled up to the failing setting.  Strings point into the
 * environment (NULL when unset) and live as long as it does.
 */
#ifndef LS_MM_CONFIG_H
#define LS_MM_CONFIG_H

#include <stddef.h>

/* Mattermost answers AUTH_CACHE_S at most this (and by default). */
#define MM_CONFIG_AUTH_CACHE_S_MAX 15

struct mm_config {
	/* mm_config_server() */
	const char *url;        /* MM_URL or MM_BASE_URL; NULL: local only */
	const char *token;      /* MM_TOKEN or MM_BOT_TOKEN */
	long timeout_ms;        /* MM_TIMEOUT_MS (10000) per request */
	long max_message_chars; /* MAX_MESSAGE_CHARS (15000) */
	/* mm_config_poster() */
	const char *default_channel; /* DEFAULT_CHANNEL, NULL when unset */
	const char *publish_url;     /* PUBLISH_URL for change notices, may be NULL */
	int plugin_enabled;          /* PLUGIN_ENABLED (true) */
	long throttle_ms;            /* THROTTLE_MS (500) */
	long breaker_threshold;      /* CIRCUIT_BREAKER_THRESHOLD (5) */
	long breaker_cooldown_ms;    /* CIRCUIT_BREAKER_COOLDOWN_S (30) */
	double rate_limit;           /* MM_RATE_LIMIT requests/s (10), 0 = none */
	long plugin_check_ms;        /* MM_PLUGIN_CHECK_S (60) */
	long stop_flush_ms;          /* MM_STOP_FLUSH_MS (5000): flush time at stop */
	/* mm_config_login() */
	long auth_cache_ms;       /* AUTH_CACHE_S (15, at most 15) */
	long auth_timeout_ms;     /* AUTH_TIMEOUT_MS (2000) */
	long auth_client_lookups; /* AUTH_CLIENT_LOOKUPS (20) */
	long max_connections;     /* MM_MAX_CONNECTIONS (8) */
};

/* need_token: MM_URL without MM_TOKEN is an error (the watcher posts). */
int mm_config_server(struct mm_config *cfg, int need_token, char *err, size_t errlen);
int mm_config_poster(struct mm_config *cfg, char *err, size_t errlen);
int mm_config_login(struct mm_config *cfg, char *err, size_t errlen);

/* Zeroes cfg, then mm_config_server(cfg, 1, ...) and mm_config_poster(). */
int mm_config_from_env(struct mm_config *cfg, char *err, size_t errlen);

/* Zeroes cfg (it owns nothing; kept so callers need not know). */
void mm_config_free(struct mm_config *cfg);

#endif
