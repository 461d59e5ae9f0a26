/* api_server: listening, libfcgi worker threads and a clean stop. */
#include "api_server.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/log.h"
#include "../common/notify.h"
#include "../common/util.h"
#include "../common/xmalloc.h"
#include "api_cache.h"
#include "api_cleanup.h"
#include "api_handlers.h"
#include "api_record.h"
#include "metrics.h"
#include "auth.h"

#ifndef LS_VERSION
#define LS_VERSION "0.0.0"
#endif

#define API_BACKLOG 1024

/* How often an idle worker looks at the stop flag. */
#define API_ACCEPT_WAKE_MS 250

struct api_worker {
	pthread_t thread;
	int started;
	int joined;
	int listen_fd;
	atomic_int *stopping;
	struct api_ctx ctx;
};

int
api_listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat sb;
	mode_t old;
	int fd = -1, probe = -1, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		goto fail;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "refusing to replace %s: not a socket", path);
			goto fail;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			snprintf(err, errlen, "%s: another process is listening on it", path);
			goto fail;
		}
		if (unlink(path) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove stale socket %s: %s", path,
			    strerror(errno));
			goto fail;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "cannot create a unix socket: %s", strerror(errno));
		goto fail;
	}
	/* 0660 from the start, so there is no moment with a wider mode. */
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		goto fail;
	}
	if (chmod(path, 0660) < 0 || listen(fd, API_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	if (probe >= 0)
		close(probe);
	return fd;
fail:
	if (probe >= 0)
		close(probe);
	if (fd >= 0)
		close(fd);
	return -1;
}

int
api_listen_tcp(const char *hostport, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	const char *colon = strrchr(hostport, ':');
	char *host = NULL;
	int fd = -1, one = 1, rc;

	if (colon == NULL || colon == hostport || colon[1] == '\0') {
		snprintf(err, errlen, "--listen: expected unix:/path or host:port, got \"%s\"",
		    hostport);
		goto fail;
	}
	if (hostport[0] == '[' && colon[-1] == ']')
		host = xstrndup(hostport + 1, (size_t)(colon - hostport) - 2);
	else
		host = xstrndup(hostport, (size_t)(colon - hostport));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "--listen %s: %s", hostport, gai_strerror(rc));
		goto fail;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, API_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", hostport, strerror(errno));
		goto fail;
	}
	freeaddrinfo(res);
	free(host);
	return fd;
fail:
	if (res != NULL)
		freeaddrinfo(res);
	if (fd >= 0)
		close(fd);
	free(host);
	return -1;
}

int
api_listen_inherited(char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long p = 0, n = 0;
	int fd = 0, accepting = 0;
	socklen_t len = sizeof(accepting);

	if (pid != NULL && fds != NULL && cfg_parse_long(pid, 1, LONG_MAX, &p) == 0 &&
	    cfg_parse_long(fds, 1, INT_MAX, &n) == 0 && p == (long)getpid())
		fd = 3; /* SD_LISTEN_FDS_START */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 || !accepting) {
		snprintf(err, errlen,
		    "fd %d is not a listening socket: pass --listen, or start me from "
		    "systemd socket activation or spawn-fcgi",
		    fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* Body reader for api_req over libfcgi's input stream. */
static long
api_fcgi_read(void *arg, char *buf, size_t len)
{
	int n = len > INT_MAX ? INT_MAX : (int)len;

	return FCGX_GetStr(buf, n, (FCGX_Stream *)arg);
}

/*
 * Writes the response in one go (api_record.h) and tells libfcgi that the
 * output stream is finished, so FCGX_Finish_r() adds nothing to it.
 * (FCGX_FPrintF would not know %zu anyway: headers are made with snprintf.)
 */
static void
api_fcgi_respond(FCGX_Request *fr, const struct api_resp *r, int head)
{
	const char *body = r->blob_data != NULL ? r->blob_data : r->body.data;
	size_t len = r->blob_data != NULL ? r->blob_len : r->body.len, used;
	char hdr[512];
	int n;

	n = snprintf(hdr, sizeof(hdr),
	    "Status: %d %s\r\nContent-Type: %s\r\n"
	    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
	    r->status, api_http_reason(r->status),
	    r->content_type != NULL ? r->content_type : "application/json");
	used = n > 0 ? (size_t)n : 0;
	if (r->allow != NULL && used < sizeof(hdr)) {
		n = snprintf(hdr + used, sizeof(hdr) - used, "Allow: %s\r\n", r->allow);
		used += n > 0 ? (size_t)n : 0;
	}
	if (r->etag[0] != '\0' && used < sizeof(hdr)) {
		n = snprintf(hdr + used, sizeof(hdr) - used, "ETag: %s\r\n", r->etag);
		used += n > 0 ? (size_t)n : 0;
	}
	if (r->status != 204 && r->status != 304 && used < sizeof(hdr)) {
		n = snprintf(hdr + used, sizeof(hdr) - used, "Content-Length: %zu\r\n", len);
		used += n > 0 ? (size_t)n : 0;
	}
	if (used + 2 >= sizeof(hdr)) {
		/* Cannot happen with the fixed header set above. */
		abort();
	}
	memcpy(hdr + used, "\r\n", 2);
	used += 2;
	if (head || r->status == 204 || r->status == 304 || body == NULL)
		len = 0;
	if (api_record_respond(fr->ipcFd, fr->requestId, hdr, used, body, len) < 0)
		log_debug("cannot write the response", "err", strerror(errno));
	fr->out->wasFCloseCalled = 1;
	fr->out->isClosed = 1;
}

/*
 * Reads what is left of the request body, without waiting.  With nothing
 * unread, closing the connection cannot reset it, so libfcgi's lingering
 * close (shutdown, then wait for nginx to hang up) can be skipped: returns
 * 1 when the body's end was seen.  nginx sends the whole body and its end
 * before it reads an answer, so this normally finds everything there; if
 * not (a stalled client), the socket's EAGAIN ends it and libfcgi closes
 * as it would have.  With keep_conn off nginx ends the response when the
 * connection closes, so the close must never wait for the client.
 */
static int
api_fcgi_drain(FCGX_Request *fr)
{
	char buf[16384];
	size_t total = 0;
	int n, flags;

	if (FCGX_HasSeenEOF(fr->in) == EOF)
		return FCGX_GetError(fr->in) == 0;
	flags = fcntl(fr->ipcFd, F_GETFL);
	if (flags < 0 || fcntl(fr->ipcFd, F_SETFL, flags | O_NONBLOCK) < 0)
		return 0;
	while (FCGX_HasSeenEOF(fr->in) != EOF && FCGX_GetError(fr->in) == 0 &&
	    total <= 2 * API_BODY_MAX) {
		n = FCGX_GetStr(buf, (int)sizeof(buf), fr->in);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	return FCGX_HasSeenEOF(fr->in) == EOF && FCGX_GetError(fr->in) == 0;
}

static void
api_serve(struct api_worker *w, FCGX_Request *fr)
{
	struct api_req req;
	struct api_resp resp;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	req.path = FCGX_GetParam("PATH_INFO", fr->envp);
	req.query = FCGX_GetParam("QUERY_STRING", fr->envp);
	req.authorization = FCGX_GetParam("HTTP_AUTHORIZATION", fr->envp);
	req.cookie = FCGX_GetParam("HTTP_COOKIE", fr->envp);
	req.if_none_match = FCGX_GetParam("HTTP_IF_NONE_MATCH", fr->envp);
	req.content_type = FCGX_GetParam("CONTENT_TYPE", fr->envp);
	req.content_length = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	req.remote_addr = FCGX_GetParam("REMOTE_ADDR", fr->envp);
	req.read_body = api_fcgi_read;
	req.read_arg = fr->in;
	api_handle(&w->ctx, &req, &resp);
	metrics_count_request(metrics_route(req.path), resp.status);
	api_fcgi_respond(fr, &resp, req.method != NULL && strcmp(req.method, "HEAD") == 0);
	if (resp.status >= 500)
		log_warn("request failed", "method", req.method, "path", req.path, "status",
		    LOG_I64(resp.status));
	else
		log_debug("request", "method", req.method, "path", req.path, "status",
		    LOG_I64(resp.status));
	api_resp_free(&resp);
	/* detached makes FCGX_Finish_r() close without libfcgi's lingering wait. */
	if (api_fcgi_drain(fr))
		fr->detached = 1;
}

static void *
api_worker_run(void *arg)
{
	struct api_worker *w = arg;
	FCGX_Request fr;

	if (FCGX_InitRequest(&fr, w->listen_fd, 0) != 0) {
		log_error("cannot set up a FastCGI request");
		return NULL;
	}
	while (!atomic_load(w->stopping)) {
		/* Fails every API_ACCEPT_WAKE_MS without a connection: EAGAIN. */
		if (FCGX_Accept_r(&fr) < 0)
			continue;
		api_serve(w, &fr);
		FCGX_Finish_r(&fr);
	}
	api_snapshot_unref(w->ctx.snap);
	w->ctx.snap = NULL;
	return NULL;
}

static void
api_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
api_server_run(const struct api_config *cfg, int listen_fd, int threads, const char *unix_path)
{
	struct api_worker *workers = xcalloc((size_t)threads, sizeof(*workers));
	struct api_cleanup cleanup;
	struct api_cache *cache = api_cache_new();
	struct api_auth *auth = api_auth_new(cfg->secret, cfg->read_auth);
	struct timespec deadline;
	sigset_t set;
	char err[512];
	struct timeval wake = { 0, API_ACCEPT_WAKE_MS * 1000 };
	atomic_int stopping;
	uint64_t one = 1;
	int i, sig, stop_fd = -1, status = 1, cleanup_started = 0, stuck = 0, flags;
	int64_t started = util_now_ms();

	memset(&cleanup, 0, sizeof(cleanup));
	atomic_init(&stopping, 0);
	/*
	 * Block the stop signals (and SIGUSR1, which libfcgi would take as a
	 * stop flag) before any thread exists, so every thread inherits it.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (FCGX_Init() != 0) {
		log_error("cannot initialise libfcgi");
		goto out;
	}
	/*
	 * Workers block in accept() (one is woken per connection), but never
	 * for longer than API_ACCEPT_WAKE_MS, so they see a stop in time.
	 */
	flags = fcntl(listen_fd, F_GETFL);
	if (flags < 0 || fcntl(listen_fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
	    setsockopt(listen_fd, SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof(wake)) < 0) {
		log_error("cannot set up the listening socket", "err", strerror(errno));
		goto out;
	}
	if ((stop_fd = eventfd(0, EFD_CLOEXEC)) < 0) {
		log_error("cannot create an eventfd", "err", strerror(errno));
		goto out;
	}
	for (i = 0; i < threads; i++) {
		struct api_worker *w = &workers[i];

		w->listen_fd = listen_fd;
		w->stopping = &stopping;
		w->ctx.cfg = cfg;
		w->ctx.cache = cache;
		w->ctx.auth = auth;
		w->ctx.started_ms = started;
		if (store_open(cfg->db_path, &w->ctx.st, err, sizeof(err)) != STORE_OK) {
			log_error("cannot open the store", "err", err);
			goto out;
		}
		w->ctx.notify = notify_new(cfg->publish_url);
	}
	cleanup.cfg = cfg;
	cleanup.stop_fd = stop_fd;
	if (store_open(cfg->db_path, &cleanup.st, err, sizeof(err)) != STORE_OK) {
		log_error("cannot open the store", "err", err);
		goto out;
	}
	cleanup.notify = notify_new(cfg->publish_url);
	if (api_cleanup_start(&cleanup) < 0)
		goto out;
	cleanup_started = 1;
	for (i = 0; i < threads; i++) {
		int rc = pthread_create(&workers[i].thread, NULL, api_worker_run, &workers[i]);

		if (rc != 0) {
			log_error("cannot start a worker thread", "err", strerror(rc));
			goto stop;
		}
		workers[i].started = 1;
	}
	log_info("livestatus-fcgi started", "version", LS_VERSION, "threads", LOG_I64(threads),
	    "db", cfg->db_path, "read_auth", api_read_auth_names[cfg->read_auth], "publish",
	    cfg->publish_url != NULL ? cfg->publish_url : "");
	do {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
	} while (sig == SIGUSR1);
	log_info("stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
	status = 0;
stop:
	atomic_store(&stopping, 1);
	if (write(stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		log_error("cannot signal the stop event", "err", strerror(errno));
	/* In-flight requests get until the deadline, then are abandoned. */
	api_deadline(&deadline, API_STOP_GRACE_MS);
	for (i = 0; i < threads; i++) {
		if (!workers[i].started)
			continue;
		if (pthread_timedjoin_np(workers[i].thread, NULL, &deadline) == 0)
			workers[i].joined = 1;
		else
			stuck++;
	}
	if (cleanup_started && pthread_timedjoin_np(cleanup.thread, NULL, &deadline) != 0)
		stuck++;
	cleanup_started = 0;
	if (stuck > 0) {
		log_warn("stopping with requests still running", "threads", LOG_I64(stuck));
		if (unix_path != NULL)
			unlink(unix_path);
		_exit(status);
	}
out:
	if (cleanup_started) {
		if (stop_fd >= 0 && write(stop_fd, &one, sizeof(one)) < 0)
			log_error("cannot signal the stop event", "err", strerror(errno));
		api_cleanup_join(&cleanup);
	}
	for (i = 0; i < threads; i++) {
		store_close(workers[i].ctx.st);
		notify_free(workers[i].ctx.notify);
	}
	store_close(cleanup.st);
	notify_free(cleanup.notify);
	free(workers);
	api_cache_free(cache);
	api_auth_free(auth);
	if (stop_fd >= 0)
		close(stop_fd);
	close(listen_fd);
	if (unix_path != NULL)
		unlink(unix_path);
	curl_global_cleanup();
	return status;
}
