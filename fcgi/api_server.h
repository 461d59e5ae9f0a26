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
 * process ignores SIGTERM), so the server does not let libfcgi block: the listening
 * socket is non-blocking, each worker waits in epoll (EPOLLEXCLUSIVE, so a
 * connection wakes one worker) on it and on a stop eventfd, and only calls
 * FCGX_Accept_r() when a connection is there.  SIGTERM and SIGINT are
 * blocked in every thread and taken by sigwait() in the calling thread,
 * which raises the eventfd; idle workers return at once, busy ones after
 * their request is answered.  Whatever is still running after
 * API_STOP_GRACE_MS is abandoned and the process exits, so a stop never
 * takes more than about 2 s.  No signal is ever delivered to a worker, so
 * no read or write of a request is ever interrupted.
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
int api_server_run(const struct api_config *cfg, int listen_fd, int threads,
    const char *unix_path);

#endif
