/*
 * livestatus-fcgi: the FastCGI responder of the status API.
 *
 * Reads its settings from the environment (api_config.h), opens one store
 * handle per worker thread, and serves the routes of docs/api.md
 * on a unix socket, a loopback TCP port, or the socket it was handed on
 * fd 0 / by systemd (api_server.h).
 */
#include <malloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/lcurl.h"
#include "common/log.h"
#include "fcgi/api_config.h"
#include "fcgi/api_server.h"

#ifndef LS_VERSION
#define LS_VERSION "0.0.0"
#endif

#define API_THREADS_DEFAULT 16
#define API_THREADS_MAX 1024
#define API_MALLOC_ARENAS 2

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: livestatus-fcgi [--listen unix:/path | --listen HOST:PORT "
	    "[--allow-remote-listen]]\n"
	    "                       [--threads N]\n"
	    "       livestatus-fcgi --help | --version\n"
	    "\n"
	    "Serves the livestatus status API over FastCGI, behind nginx.\n"
	    "\n"
	    "  --listen unix:/path  create the socket /path (mode 0660), replacing a stale one\n"
	    "  --listen HOST:PORT   listen on TCP, e.g. 127.0.0.1:9000; any address but loopback\n"
	    "                       is refused unless --allow-remote-listen is given too\n"
	    "  --allow-remote-listen  accept a non-loopback HOST: anyone who reaches the port\n"
	    "                       speaks FastCGI to the responder and sets REMOTE_ADDR\n"
	    "                       without --listen: the socket from systemd (LISTEN_FDS) or fd "
	    "0\n"
	    "  --threads N          worker threads, one SQLite connection each (default %d)\n"
	    "\n"
	    "environment:\n"
	    "  LIVESTATUS_DB        database file (%s)\n"
	    "  PLUGIN_SECRET        writers' shared secret (Authorization: Bearer ...)\n"
	    "  READ_AUTH            secret | none | mattermost (secret; mattermost with MM_URL)\n"
	    "  MM_URL               Mattermost's base URL, for logins and posts (none;\n"
	    "                       alias MM_BASE_URL)\n"
	    "  MM_TOKEN             the bot's token, for posts of API boxes (none;\n"
	    "                       alias MM_BOT_TOKEN)\n"
	    "  MM_TIMEOUT_MS        longest wait for one Mattermost answer (10000)\n"
	    "  MAX_MESSAGE_CHARS    longest final post text, in characters (15000)\n"
	    "  AUTH_CACHE_S         seconds a Mattermost login is trusted, at most 15 (15)\n"
	    "  AUTH_CLIENT_LOOKUPS  new Mattermost logins checked per client per 10 s (20)\n"
	    "  MM_MAX_CONNECTIONS   connections open to Mattermost at once, at most (8)\n"
	    "  AUTH_TIMEOUT_MS      time allowed for one login or membership check (2000)\n"
	    "  MAX_ACTIVE_SESSIONS  active boxes before POST answers 429 (20)\n"
	    "  MAX_STATUS_LINES     lines kept per box (15)\n"
	    "  STALE_AFTER_S        idle active boxes become interrupted after (1800)\n"
	    "  DELETE_AFTER_S       finished boxes are deleted after (3600)\n"
	    "  CLEANUP_INTERVAL_S   cleanup period (60)\n"
	    "  STOP_GRACE_MS        time requests in flight get at a stop (1500)\n"
	    "  PUBLISH_URL          nchan publisher URL for change notices (none)\n"
	    "  REVISION_DIR         folder of the revision link nginx keys its cache of\n"
	    "                       reads by, e.g. /run/livestatus/revision (none: no\n"
	    "                       answer is cacheable)\n"
	    "  GATEWAY_KEYS_FILE    gateways' keys for POST /api/v1/gateway/boxes, one\n"
	    "                       \"NAME KEY\" a line, re-read when it changes (%s;\n"
	    "                       a missing default file means PLUGIN_SECRET only)\n"
	    "  GATEWAY_SILENT_S     a gateway silent this long makes health degraded (300)\n"
	    "  LOG_LEVEL            debug | info | warn | error (info); v4.1's trace and\n"
	    "                       fatal are debug and error, silent logs nothing\n"
	    "  MALLOC_ARENA_MAX     glibc's malloc arenas, shared by all threads (2)\n",
	    API_THREADS_DEFAULT, API_DEFAULT_DB, API_DEFAULT_GATEWAY_KEYS);
}

int
main(int argc, char **argv)
{
	struct api_config cfg;
	const char *listen = NULL, *unix_path = NULL;
	char err[512];
	long threads = API_THREADS_DEFAULT;
	int i, fd, allow_remote = 0;

	log_init("livestatus-fcgi", LOG_LVL_INFO);
	lcurl_prepare();
	/*
	 * glibc gives each thread that allocates its own arena (up to 8 per
	 * core), and each keeps what it freed: about 150 KiB a worker thread at
	 * rest.  Workers allocate little and briefly (the shared snapshot holds
	 * the big answers), so two arenas serve them: 2 MiB less with 16 threads.
	 * glibc's own MALLOC_ARENA_MAX in the environment wins (to compare).
	 */
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, API_MALLOC_ARENAS);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("livestatus-fcgi %s\n", LS_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen = argv[++i];
		} else if (strcmp(argv[i], "--allow-remote-listen") == 0) {
			allow_remote = 1;
		} else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
			if (cfg_parse_long(argv[++i], 1, API_THREADS_MAX, &threads) < 0) {
				fprintf(stderr,
				    "livestatus-fcgi: --threads: expected 1 to %d, got \"%s\"\n",
				    API_THREADS_MAX, argv[i]);
				return 2;
			}
		} else {
			fprintf(
			    stderr, "livestatus-fcgi: unknown or incomplete option: %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (listen != NULL && strncmp(listen, "unix:", 5) != 0 && !allow_remote &&
	    api_listen_loopback(listen) == 0) {
		fprintf(stderr,
		    "livestatus-fcgi: --listen %s: not a loopback address; anyone who reaches it "
		    "could speak FastCGI to the responder (forge REMOTE_ADDR, skip nginx); use "
		    "unix:/path or 127.0.0.1:PORT, or add --allow-remote-listen if this is "
		    "really meant\n",
		    listen);
		return 2;
	}
	if (api_config_load(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "livestatus-fcgi: %s\n", err);
		return 2;
	}
	log_init("livestatus-fcgi", cfg.log_level);
	if (cfg.secret == NULL)
		log_warn(cfg.read_auth == API_READ_AUTH_SECRET
		        ? "PLUGIN_SECRET is unset: no one can write or read"
		        : "PLUGIN_SECRET is unset: no one can write");
	if (listen == NULL) {
		fd = api_listen_inherited(err, sizeof(err));
	} else if (strncmp(listen, "unix:", 5) == 0) {
		unix_path = listen + 5;
		fd = api_listen_unix(unix_path, err, sizeof(err));
	} else {
		fd = api_listen_tcp(listen, err, sizeof(err));
	}
	if (fd < 0) {
		fprintf(stderr, "livestatus-fcgi: %s\n", err);
		return 1;
	}
	return api_server_run(&cfg, fd, (int)threads, unix_path);
}
