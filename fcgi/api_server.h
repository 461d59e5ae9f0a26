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
 * api_server_run() serves until SIGTERM or SIGINT.  libfcgi has no usable
 * stop of its own (FCGX_Init() installs a SIGTERM/SIGUSR1 handler that only
 * sets a flag, which a thread blocked in accept() never sees, so the
 * process ignores SIGTERM).  Here SIGTERM and SIGINT are blocked in every
 * thread and taken by sigwait() in the calling thread, which sets a stop
 * flag; the listening socket has a receive timeout, so a worker blocked in
 * accept() inside FCGX_Accept_r() gets EAGAIN within API_ACCEPT_WAKE_MS,
 * sees the flag and returns.  A worker that is answering a request
 * finishes it first.  Whatever still runs API_STOP_GRACE_MS after the
 * signal is abandoned and the process exits, so a stop never takes more
 * than 2 s.  No signal is ever delivered to a worker, so no read or write
 * of a request is ever interrupted, and the listening socket itself is
 * never shut down (systemd keeps using it for the next start).
 *
 * After answering, a worker reads whatever is left of the request body;
 * with nothing unread the connection can be closed at once instead of
 * libfcgi's lingering close (shutdown, then wait for nginx to hang up).
 *
 * Each worker owns one store handle and one notifier; the snapshot cache
 * and the auth state are shared.  Returns the process exit status.
 */
#ifndef LS_API_SERVER_H
#define LS_API_SERVER_H

#include <stddef.h>

#include "api_config.h"

#define API_STOP_GRACE_MS 1500

int api_listen_unix(const char *path, char *err, size_t errlen);
int api_listen_tcp(const char *hostport, char *err, size_t errlen);
int api_listen_inherited(char *err, size_t errlen);

/* unix_path: the socket file to remove at exit, or NULL. */
int api_server_run(const struct api_config *cfg, int listen_fd, int threads, const char *unix_path);

#endif
