/* api_server: listening, libfcgi worker threads and a clean stop. */
#include "fcgi/api_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

#include "common/config.h"
#include "common/lcurl.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store_ckpt.h"
#include "sql/store_revdir.h"
#include "fcgi/api_cache.h"
#include "fcgi/api_cleanup.h"
#include "fcgi/api_handlers.h"
#include "fcgi/api_record.h"
#include "fcgi/api_stores.h"
#include "fcgi/metrics.h"
#include "fcgi/auth.h"

#ifndef LS_VERSION
#define LS_VERSION "0.0.0"
#endif

#define API_BACKLOG 1024

/* How often sleeping workers look at the acceptors, and an idle acceptor at the stop flag. */
#define API_ACCEPT_WAKE_MS 250

/*
 * Another acceptor is added when every one has gone this long without
 * waiting for a connection: saturated, or stuck on one connection.
 */
#define API_BUSY_MS 20

struct api_worker;

/*
 * The accept role (api_server.h): who may call accept() now.  acceptors
 * and each worker's role change under lock; a worker's waited is written
 * by that worker alone and read by the others without it.
 */
struct api_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* a role is free, or stopping */
	atomic_int acceptors; /* workers holding the role */
	struct api_worker *workers;
	int nworkers;
	int tcp; /* the listening socket is TCP: no Nagle on connections */
};

struct api_worker {
	pthread_t thread;
	int started;
	int joined;
	int listen_fd;
	atomic_int *stopping;
	struct api_gate *gate;
	int role;            /* holds the accept role */
	atomic_llong waited; /* monotonic ms: accept() last found nothing; 0 waiting now */
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
api_listen_loopback(const char *hostport)
{
	const char *colon = strrchr(hostport, ':');
	struct in6_addr a6;
	struct in_addr a4;
	char host[INET6_ADDRSTRLEN + 1];
	size_t len;

	if (colon == NULL || colon == hostport)
		return -1;
	if (hostport[0] == '[' && colon[-1] == ']') {
		hostport++;
		colon--;
	}
	len = (size_t)(colon - hostport);
	if (len >= sizeof(host))
		return -1;
	memcpy(host, hostport, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
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

/* Appends s (NUL-terminated) to the header at *used, within cap. */
static void
api_hdr_put(char *hdr, size_t cap, size_t *used, const char *s)
{
	size_t n = strlen(s);

	if (n > cap - *used)
		n = cap - *used;
	memcpy(hdr + *used, s, n);
	*used += n;
}

/* Appends v in decimal. */
static void
api_hdr_num(char *hdr, size_t cap, size_t *used, size_t v)
{
	char digits[24];
	size_t i = sizeof(digits) - 1;

	digits[i] = '\0';
	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	api_hdr_put(hdr, cap, used, digits + i);
}

/*
 * Writes the response in one go (api_record.h) and tells libfcgi that the
 * output stream is finished, so FCGX_Finish_r() adds nothing to it.  The
 * header is put together by hand: no printf machinery on the way.
 */
static void
api_fcgi_respond(FCGX_Request *fr, const struct api_resp *r, int head)
{
	const char *body = r->blob_data != NULL ? r->blob_data : r->body.data;
	size_t len = r->blob_data != NULL ? r->blob_len : r->body.len, used = 0;
	char hdr[512];

	api_hdr_put(hdr, sizeof(hdr), &used, "Status: ");
	api_hdr_num(hdr, sizeof(hdr), &used, r->status > 0 ? (size_t)r->status : 0);
	api_hdr_put(hdr, sizeof(hdr), &used, " ");
	api_hdr_put(hdr, sizeof(hdr), &used, api_http_reason(r->status));
	api_hdr_put(hdr, sizeof(hdr), &used, "\r\nContent-Type: ");
	api_hdr_put(hdr, sizeof(hdr), &used,
	    r->content_type != NULL ? r->content_type : "application/json");
	api_hdr_put(hdr, sizeof(hdr), &used, "\r\n");
	if (r->cache_s > 0) {
		/* Before Cache-Control: nginx then heeds this one only. */
		api_hdr_put(hdr, sizeof(hdr), &used, "X-Accel-Expires: ");
		api_hdr_num(hdr, sizeof(hdr), &used, (size_t)r->cache_s);
		api_hdr_put(hdr, sizeof(hdr), &used, "\r\n");
	}
	api_hdr_put(hdr, sizeof(hdr), &used,
	    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
	if (r->allow != NULL) {
		api_hdr_put(hdr, sizeof(hdr), &used, "Allow: ");
		api_hdr_put(hdr, sizeof(hdr), &used, r->allow);
		api_hdr_put(hdr, sizeof(hdr), &used, "\r\n");
	}
	if (r->etag[0] != '\0') {
		api_hdr_put(hdr, sizeof(hdr), &used, "ETag: ");
		api_hdr_put(hdr, sizeof(hdr), &used, r->etag);
		api_hdr_put(hdr, sizeof(hdr), &used, "\r\n");
	}
	if (r->retry_after > 0) {
		api_hdr_put(hdr, sizeof(hdr), &used, "Retry-After: ");
		api_hdr_num(hdr, sizeof(hdr), &used, (size_t)r->retry_after);
		api_hdr_put(hdr, sizeof(hdr), &used, "\r\n");
	}
	if (r->status != 204 && r->status != 304) {
		api_hdr_put(hdr, sizeof(hdr), &used, "Content-Length: ");
		api_hdr_num(hdr, sizeof(hdr), &used, len);
		api_hdr_put(hdr, sizeof(hdr), &used, "\r\n");
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
	int n;

	if (FCGX_HasSeenEOF(fr->in) == EOF)
		return FCGX_GetError(fr->in) == 0;
	/* A socket accept4() made has no other status flag to keep. */
	if (fcntl(fr->ipcFd, F_SETFL, O_RDWR | O_NONBLOCK) < 0)
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
	req.revision_path = FCGX_GetParam("LIVESTATUS_REVISION", fr->envp);
	req.read_body = api_fcgi_read;
	req.read_arg = fr->in;
	api_handle(&w->ctx, &req, &resp);
	api_ctx_store_give(&w->ctx);
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
	if (!fr->keepConnection && api_fcgi_drain(fr))
		fr->detached = 1;
}

static int64_t
api_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Gives up w's accept role, if it has it, and wakes a waiting worker. */
static void
api_gate_leave(struct api_worker *w)
{
	struct api_gate *g = w->gate;

	pthread_mutex_lock(&g->lock);
	if (w->role) {
		w->role = 0;
		atomic_fetch_sub(&g->acceptors, 1);
		pthread_cond_signal(&g->cond);
	}
	pthread_mutex_unlock(&g->lock);
}

/* An extra acceptor (not the only one) steps back. */
static void
api_gate_step_back(struct api_worker *w)
{
	struct api_gate *g = w->gate;

	pthread_mutex_lock(&g->lock);
	if (w->role && atomic_load(&g->acceptors) > 1) {
		w->role = 0;
		atomic_fetch_sub(&g->acceptors, 1);
	}
	pthread_mutex_unlock(&g->lock);
}

/* api_ctx.may_block: the request is about to wait; others accept meanwhile. */
static void
api_may_block(void *arg)
{
	api_gate_leave(arg);
}

/*
 * 1 when every worker holding the role has gone API_BUSY_MS without
 * waiting for a connection (saturated, or stuck on one).  Under lock.
 */
static int
api_gate_needs_help(struct api_gate *g, int64_t now)
{
	int i, holders = 0;

	for (i = 0; i < g->nworkers; i++) {
		struct api_worker *o = &g->workers[i];
		int64_t waited;

		if (!o->role)
			continue;
		holders++;
		waited = atomic_load(&o->waited);
		if (waited == 0 || now - waited < API_BUSY_MS)
			return 0;
	}
	return holders > 0;
}

/*
 * Waits until w may accept: when no one else does, or every acceptor is
 * busy (api_gate_needs_help).  0 when the server stops first.
 */
static int
api_gate_enter(struct api_worker *w)
{
	struct api_gate *g = w->gate;
	struct timespec ts;

	pthread_mutex_lock(&g->lock);
	while (!atomic_load(w->stopping)) {
		if (atomic_load(&g->acceptors) == 0 || api_gate_needs_help(g, api_mono_ms())) {
			w->role = 1;
			atomic_fetch_add(&g->acceptors, 1);
			atomic_store(&w->waited, api_mono_ms());
			pthread_mutex_unlock(&g->lock);
			return 1;
		}
		util_deadline(&ts, CLOCK_REALTIME, API_ACCEPT_WAKE_MS);
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/*
 * One connection from the (non-blocking) listening socket, waiting for
 * one at most API_ACCEPT_WAKE_MS; -1 without.
 */
static int
api_accept(struct api_worker *w)
{
	struct pollfd p = { .fd = w->listen_fd, .events = POLLIN };
	int fd, n, one = 1;

	fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED) {
			/* EMFILE and the like: do not spin on a waiting connection. */
			log_warn("accept failed", "err", strerror(errno));
			poll(NULL, 0, API_ACCEPT_WAKE_MS);
			return -1;
		}
		atomic_store(&w->waited, 0);
		n = poll(&p, 1, API_ACCEPT_WAKE_MS);
		atomic_store(&w->waited, api_mono_ms());
		if (n <= 0 || (fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			return -1;
	}
	if (w->gate->tcp)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void *
api_worker_run(void *arg)
{
	struct api_worker *w = arg;
	FCGX_Request fr;
	int fd;

	if (FCGX_InitRequest(&fr, w->listen_fd, 0) != 0) {
		log_error("cannot set up a FastCGI request");
		return NULL;
	}
	w->ctx.may_block = api_may_block;
	w->ctx.may_block_arg = w;
	while (api_gate_enter(w)) {
		while (w->role && !atomic_load(w->stopping)) {
			if ((fd = api_accept(w)) < 0)
				continue;
			/*
			 * libfcgi reads the connection accepted here: with
			 * ipcFd set, FCGX_Accept_r() skips its own accept()
			 * (and the up to 2 s wait for data that follows it),
			 * and keepConnection keeps the FCGX_Finish_r() it
			 * starts with from closing fd.  The request's
			 * FCGI_BEGIN_REQUEST then sets keepConnection anew.
			 */
			fr.ipcFd = fd;
			fr.keepConnection = 1;
			while (FCGX_Accept_r(&fr) >= 0) {
				api_serve(w, &fr);
				FCGX_Finish_r(&fr);
				if (fr.ipcFd < 0 || atomic_load(w->stopping))
					break;
				/*
				 * nginx keeps the connection (fastcgi_keep_conn
				 * on): this worker stays with it, so someone
				 * else accepts from now on.
				 */
				api_gate_leave(w);
			}
			FCGX_Finish_r(&fr);
			if (fr.ipcFd >= 0) {
				/* Stopping with a kept connection open. */
				close(fr.ipcFd);
				fr.ipcFd = -1;
			}
			/* Extra acceptors step back once they find nothing waiting. */
			if (w->role && atomic_load(&w->gate->acceptors) > 1 &&
			    api_mono_ms() - atomic_load(&w->waited) < API_BUSY_MS)
				api_gate_step_back(w);
		}
		if (w->role)
			api_gate_leave(w);
	}
	api_snapshot_unref(w->ctx.snap);
	w->ctx.snap = NULL;
	return NULL;
}

/* What one api_server_run() holds, from start to stop. */
struct api_run {
	const struct api_config *cfg;
	int listen_fd, threads;
	const char *unix_path;
	struct api_worker *workers;
	struct api_cleanup cleanup;
	struct api_cache *cache;
	struct api_auth *auth;
	struct api_gwkeys *gwkeys;
	struct api_stores *stores;   /* lent to the workers a request at a time */
	struct store_ckpt *ckpt;     /* WAL checkpoints of the workers' and the cleanup's writes */
	struct store_revdir *revdir; /* REVISION_DIR's link, or NULL */
	struct api_gate gate;
	sigset_t set; /* the stop signals, blocked in every thread */
	atomic_int stopping;
	_Atomic int64_t full_ms; /* api_ctx.full_ms */
	int stop_fd;
	int cleanup_started;
};

/*
 * Blocks the stop signals (and SIGUSR1, which libfcgi would take as a stop
 * flag) before any thread exists, so every thread inherits it; sets up
 * libfcgi, the listening socket and the stop event.  libcurl is loaded
 * later, and only when a feature needs it (lcurl.h).
 */
static int
api_run_prepare(struct api_run *r)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int flags;

	sigemptyset(&r->set);
	sigaddset(&r->set, SIGTERM);
	sigaddset(&r->set, SIGINT);
	sigaddset(&r->set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &r->set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0) {
		log_error("cannot initialise libfcgi");
		return -1;
	}
	/*
	 * Acceptors try accept() first and poll() only when nothing waits, for
	 * API_ACCEPT_WAKE_MS at most, so they see a stop in time.
	 */
	flags = fcntl(r->listen_fd, F_GETFL);
	if (flags < 0 || fcntl(r->listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		log_error("cannot set up the listening socket", "err", strerror(errno));
		return -1;
	}
	if (getsockname(r->listen_fd, (struct sockaddr *)&ss, &sslen) == 0)
		r->gate.tcp = ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
	if ((r->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0) {
		log_error("cannot create an eventfd", "err", strerror(errno));
		return -1;
	}
	return 0;
}

/* The workers' store handles and contexts, then the cleanup thread's. */
static int
api_run_open(struct api_run *r)
{
	const struct api_config *cfg = r->cfg;
	int64_t started = util_now_ms();
	char err[512];
	int i, nstores;

	r->stores = api_stores_open(cfg->db_path, api_stores_per_use(r->threads), err, sizeof(err));
	if (r->stores == NULL) {
		log_error("cannot open the store", "err", err);
		return -1;
	}
	nstores = api_stores_count(r->stores);
	for (i = 0; i < r->threads; i++) {
		struct api_worker *w = &r->workers[i];

		w->listen_fd = r->listen_fd;
		w->stopping = &r->stopping;
		w->gate = &r->gate;
		w->ctx.cfg = cfg;
		w->ctx.cache = r->cache;
		w->ctx.auth = r->auth;
		w->ctx.gwkeys = r->gwkeys;
		w->ctx.started_ms = started;
		w->ctx.full_ms = &r->full_ms;
		w->ctx.stores = r->stores;
		w->ctx.notify = notify_new(cfg->publish_url);
	}
	r->cleanup.cfg = cfg;
	r->cleanup.stop_fd = r->stop_fd;
	if (store_open(cfg->db_path, &r->cleanup.st, err, sizeof(err)) != STORE_OK) {
		log_error("cannot open the store", "err", err);
		return -1;
	}
	r->cleanup.notify = notify_new(cfg->publish_url);
	/* The cache of reads is worth no outage: without the link, nginx keeps nothing. */
	if (cfg->revision_dir != NULL &&
	    (r->revdir = store_revdir_open(cfg->revision_dir, r->cleanup.st, err, sizeof(err))) ==
	        NULL)
		log_error("cannot use the revision link: nginx keeps no reads", "err", err);
	if (r->revdir != NULL) {
		for (i = 0; i < r->threads; i++)
			r->workers[i].ctx.revdir_on = 1;
		for (i = 0; i < nstores; i++)
			store_revdir_attach(r->revdir, api_stores_at(r->stores, i));
		store_revdir_attach(r->revdir, r->cleanup.st);
		r->cleanup.revdir = r->revdir;
	}
	/* checkpoints on their own thread, not in the commits of requests */
	if ((r->ckpt = store_ckpt_start(cfg->db_path, err, sizeof(err))) == NULL)
		log_warn("checkpoints stay in the commits", "err", err);
	for (i = 0; i < nstores; i++)
		store_ckpt_watch(r->ckpt, api_stores_at(r->stores, i));
	store_ckpt_watch(r->ckpt, r->cleanup.st);
	if (api_cleanup_start(&r->cleanup) < 0)
		return -1;
	r->cleanup_started = 1;
	return 0;
}

/* Starts the workers and waits for SIGTERM or SIGINT.  0, or -1 when a
 * worker did not start (the ones that did are stopped by api_run_stop). */
static int
api_run_serve(struct api_run *r)
{
	const struct api_config *cfg = r->cfg;
	int i, rc, sig;

	for (i = 0; i < r->threads; i++) {
		rc = pthread_create(&r->workers[i].thread, NULL, api_worker_run, &r->workers[i]);
		if (rc != 0) {
			log_error("cannot start a worker thread", "err", strerror(rc));
			return -1;
		}
		r->workers[i].started = 1;
	}
	log_info("livestatus-fcgi started", "version", LS_VERSION, "threads", LOG_I64(r->threads),
	    "db", cfg->db_path, "read_auth", api_read_auth_names[cfg->read_auth], "publish",
	    cfg->publish_url != NULL ? cfg->publish_url : "", "gateway_keys",
	    cfg->gateway_keys_file);
	do {
		if (sigwait(&r->set, &sig) != 0)
			sig = SIGTERM;
	} while (sig == SIGUSR1);
	log_info("stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
	return 0;
}

/*
 * Tells every thread to stop and joins them; requests in flight get until
 * STOP_GRACE_MS.  Threads still busy then are abandoned: the process ends
 * here with status (its socket removed), since their memory cannot be freed.
 */
static void
api_run_stop(struct api_run *r, int status)
{
	struct timespec deadline;
	uint64_t one = 1;
	int i, stuck = 0;

	atomic_store(&r->stopping, 1);
	pthread_mutex_lock(&r->gate.lock);
	pthread_cond_broadcast(&r->gate.cond);
	pthread_mutex_unlock(&r->gate.lock);
	if (write(r->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		log_error("cannot signal the stop event", "err", strerror(errno));
	util_deadline(&deadline, CLOCK_REALTIME, r->cfg->stop_grace_ms);
	for (i = 0; i < r->threads; i++) {
		if (!r->workers[i].started)
			continue;
		if (pthread_timedjoin_np(r->workers[i].thread, NULL, &deadline) == 0)
			r->workers[i].joined = 1;
		else
			stuck++;
	}
	if (r->cleanup_started && pthread_timedjoin_np(r->cleanup.thread, NULL, &deadline) != 0)
		stuck++;
	r->cleanup_started = 0;
	if (stuck > 0) {
		log_warn("stopping with requests still running", "threads", LOG_I64(stuck));
		if (r->unix_path != NULL)
			unlink(r->unix_path);
		_exit(status);
	}
}

/* Frees what api_run_prepare and api_run_open made (after the threads). */
static void
api_run_free(struct api_run *r)
{
	uint64_t one = 1;
	int i;

	if (r->cleanup_started) {
		if (r->stop_fd >= 0 && write(r->stop_fd, &one, sizeof(one)) < 0)
			log_error("cannot signal the stop event", "err", strerror(errno));
		api_cleanup_join(&r->cleanup);
	}
	store_ckpt_stop(r->ckpt);
	for (i = 0; i < r->threads; i++)
		notify_free(r->workers[i].ctx.notify);
	api_stores_close(r->stores);
	store_close(r->cleanup.st);
	notify_free(r->cleanup.notify);
	store_revdir_free(r->revdir);
	free(r->workers);
	pthread_cond_destroy(&r->gate.cond);
	pthread_mutex_destroy(&r->gate.lock);
	api_cache_free(r->cache);
	api_auth_free(r->auth);
	api_gwkeys_free(r->gwkeys);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	close(r->listen_fd);
	if (r->unix_path != NULL)
		unlink(r->unix_path);
	lcurl_cleanup();
}

int
api_server_run(const struct api_config *cfg, int listen_fd, int threads, const char *unix_path)
{
	struct api_run r;
	int status = 1;

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	r.listen_fd = listen_fd;
	r.threads = threads;
	r.unix_path = unix_path;
	r.stop_fd = -1;
	r.workers = xcalloc((size_t)threads, sizeof(*r.workers));
	r.cache = api_cache_new();
	r.auth = api_auth_new(cfg->secret, cfg->read_auth);
	r.gwkeys = api_gwkeys_new(cfg->gateway_keys_file);
	atomic_init(&r.stopping, 0);
	atomic_init(&r.full_ms, 0);
	/* Half the workers at most wait on Mattermost for readers (mm_auth.h). */
	api_auth_limit_waiting(r.auth, threads > 1 ? threads / 2 : 1);
	pthread_mutex_init(&r.gate.lock, NULL);
	pthread_cond_init(&r.gate.cond, NULL);
	atomic_init(&r.gate.acceptors, 0);
	r.gate.workers = r.workers;
	r.gate.nworkers = threads;
	if (api_run_prepare(&r) == 0 && api_run_open(&r) == 0) {
		/*
		 * Only now: its own store_open must not race the workers' on a new
		 * file (the one that applies the migrations holds the others up
		 * to their busy timeout, which a loaded machine passed once).
		 */
		(void)api_cache_start_compactor(r.cache, cfg->db_path);
		if (api_run_serve(&r) == 0)
			status = 0;
		api_run_stop(&r, status);
	}
	api_run_free(&r);
	return status;
}
