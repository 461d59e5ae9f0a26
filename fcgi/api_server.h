/*
 * api_server: the FastCGI side: the listening socket, worker threads,
 * libfcgi glue and a clean stop.
 *
 * Listening: api_listen_unix() binds a unix socket with mode 0660 (nginx's
 * group), replacing a stale socket file but refusing to replace a live one
 * or a file that is not a socket; api_listen_tcp() binds host:port;
 * api_listen_inherited() takes the socket systemd passes (LISTEN_FDS, fd
 * 3) or else fd 0 (spawn-fcgi, inetd style).  Each returns the fd or -1
 * with a message in err.
 *
 * Accepting (leader/followers): one worker at a time holds the accept
 * role.  It takes connections from the (non-blocking) listening socket
 * itself, poll()ing only when none is waiting, hands each to libfcgi
 * (FCGX_Request.ipcFd) and answers it; the other workers sleep on a
 * condition variable.  An answer from the snapshot cache (api_cache.h)
 * never waits, so under load the acceptor finds the next connection
 * already queued and goes on without sleeping: no thread is woken per
 * request.  That halves the CPU time per cached request against one
 * blocked accept() per thread (16 sleeping threads, one woken per
 * connection), and nginx's too, since fewer switches interrupt it.
 * Whatever may wait gives the role away first (api_ctx.may_block: bodies,
 * writes, snapshot rebuilds, Mattermost, health, metrics), so a slow
 * request never holds up the others.  Sleeping workers look every
 * API_ACCEPT_WAKE_MS: when every acceptor has gone API_BUSY_MS without
 * waiting for a connection (saturated, or stuck on a peer that stopped
 * sending), one more takes the role; extra acceptors step back once they
 * find nothing waiting.  A connection nginx keeps (fastcgi_keep_conn on)
 * stays with its worker, which gives the role away while it waits for
 * the next request on it.
 *
 * api_server_run() serves until SIGTERM or SIGINT.  libfcgi has no usable
 * stop of its own (FCGX_Init() installs a SIGTERM/SIGUSR1 handler that only
 * sets a flag, which a thread blocked in accept() never sees, so the
 * process ignores SIGTERM).  Here SIGTERM and SIGINT are blocked in every
 * thread and taken by sigwait() in the calling thread, which sets a stop
 * flag and wakes the sleeping workers; the acceptor's poll() returns
 * within API_ACCEPT_WAKE_MS and sees it.  A worker that is answering a
 * request finishes it first.  Whatever still runs STOP_GRACE_MS (1500 ms) after the
 * signal is abandoned and the process exits, so a stop never takes more
 * than 2 s.  No signal is ever delivered to a worker, so no read or write
 * of a request is ever interrupted, and the listening socket itself is
 * never shut down (systemd keeps using it for the next start).
 *
 * After answering, a worker reads whatever is left of the request body;
 * with nothing unread the connection can be closed at once instead of
 * libfcgi's lingering close (shutdown, then wait for nginx to hang up).
 * A connection nginx keeps open is left as it is.
 *
 * Each worker owns one notifier; store handles, a quarter as many as the
 * workers (half for reads, half for writes), are lent to them a request
 * at a time (api_stores.h); the snapshot cache and the auth state are
 * shared.  Returns the process exit status.
 */
#ifndef LS_API_SERVER_H
#define LS_API_SERVER_H

#include <stddef.h>

#include "fcgi/api_config.h"

int api_listen_unix(const char *path, char *err, size_t errlen);
int api_listen_tcp(const char *hostport, char *err, size_t errlen);

/*
 * 1 when the host of hostport is a loopback address (127.0.0.0/8, ::1,
 * ::ffff:127.x.y.z), 0 when it is another address, -1 when it is not a
 * numeric address at all (api_listen_tcp() then says why).  main() refuses
 * any other TCP address without --allow-remote-listen: the API's readers
 * trust nginx's REMOTE_ADDR and the metrics trust loopback peers.
 */
int api_listen_loopback(const char *hostport);
int api_listen_inherited(char *err, size_t errlen);

/* unix_path: the socket file to remove at exit, or NULL. */
int api_server_run(const struct api_config *cfg, int listen_fd, int threads, const char *unix_path);

#endif
