/* watcher: start-up and the main loop (tail → model → store → notices). */
#include "watcher/watcher.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "sql/store_watcher.h"
#include "watcher/sessions.h"
#include "watcher/watcher_int.h"

/* ---- periodic tasks ---- */

static void
watcher_task_poll(struct watcher *w, int64_t now)
{
	(void)now;
	tail_rescan(w->tail);
}

static void
watcher_task_safety(struct watcher *w, int64_t now)
{
	(void)now;
	if (!tail_polling(w->tail))
		tail_rescan(w->tail);
}

/* ---- descriptors ---- */

static void
watcher_fd_tail(struct watcher *w)
{
	/* The index first: lines of a session it just named get the right key. */
	watcher_check_sessions_json(w);
	tail_handle(w->tail);
}

static int watcher_add_fd(struct watcher *w, int fd, void (*fn)(struct watcher *));

/* SESSIONS_JSON's folder changed: reload the index when it is the file. */
static void
watcher_fd_sessions_json(struct watcher *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(w->sj_fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		;
	watcher_check_sessions_json(w);
}

/*
 * SESSIONS_JSON lives outside TRANSCRIPT_DIR, or under another name: watch
 * its folder so that a change is seen at once, not at the next wake-up.
 */
static void
watcher_watch_sessions_json(struct watcher *w)
{
	const char *path = w->cfg->sessions_json, *slash;
	char dir[4096];

	w->sj_fd = -1;
	if (path == NULL)
		return;
	if (w->sj_dir == NULL) {
		log_warn("SESSIONS_JSON is only used with TRANSCRIPT_DIR set to one sessions "
		         "folder; ignoring it",
		    "path", path, "root", w->cfg->transcript_dir);
		return;
	}
	if (w->cfg->force_poll)
		return;
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if ((w->sj_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return;
	if (inotify_add_watch(w->sj_fd, dir,
	        IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MODIFY |
	            IN_ONLYDIR) < 0 ||
	    watcher_add_fd(w, w->sj_fd, watcher_fd_sessions_json) != 0) {
		log_warn("cannot watch the folder of SESSIONS_JSON, checking it on each wake-up",
		    "path", dir, "err", strerror(errno));
		close(w->sj_fd);
		w->sj_fd = -1;
	}
}

static void
watcher_fd_ocdb(struct watcher *w)
{
	ocdb_run(w->ocdb, util_now_ms());
}

static void
watcher_fd_signal(struct watcher *w)
{
	struct signalfd_siginfo si;

	while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_info("stopping", "signal", si.ssi_signo == SIGTERM ? "TERM" : "INT");
			w->stop = 1;
		} else {
			w->rescan_now = 1;
		}
	}
}

static int
watcher_add_fd(struct watcher *w, int fd, void (*fn)(struct watcher *))
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (fd < 0 || w->nfds == WATCHER_MAX_FDS)
		return -1;
	ev.data.u32 = (uint32_t)w->nfds;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -1;
	w->fds[w->nfds].fd = fd;
	w->fds[w->nfds].fn = fn;
	w->nfds++;
	return 0;
}

/* ---- start-up ---- */

static void
watcher_free(struct watcher *w)
{
	ocdb_free(w->ocdb);
	tail_free(w->tail);
	box_model_free(w->model);
	labels_free(w->labels);
	notify_free(w->notify);
	store_ckpt_stop(w->ckpt);
	store_close(w->st);
	store_revdir_free(w->revdir);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->sigfd >= 0)
		close(w->sigfd);
	if (w->sj_fd >= 0)
		close(w->sj_fd);
	while (w->nagent_lines > 0)
		free(w->agent_lines[--w->nagent_lines].agent);
	free(w->agent_lines);
	free(w->lat_pending);
}

/* Forwarding (PLUGIN_URL) and the health port (HEALTH_PORT); -1 on failure. */
static int
watcher_start_forward(struct watcher *w)
{
	const struct wcfg *cfg = w->cfg;
	struct forward_config fc = { 0 };
	char err[512];

	if (cfg->plugin_url != NULL && cfg->plugin_secret == NULL)
		log_warn(
		    "PLUGIN_URL is set without PLUGIN_SECRET: not forwarding (set PLUGIN_SECRET "
		    "to this gateway's key on the central API)",
		    "url", cfg->plugin_url);
	if (cfg->plugin_url != NULL && cfg->plugin_secret != NULL) {
		fc.url = cfg->plugin_url;
		fc.key = cfg->plugin_secret;
		fc.gateway = cfg->gateway_name;
		fc.ca_file = cfg->ca_file;
		fc.db = cfg->db;
		fc.connect_timeout_ms = cfg->forward_connect_timeout_ms;
		fc.timeout_ms = cfg->forward_timeout_ms;
		fc.max_backoff_ms = cfg->forward_max_backoff_s * 1000;
		if ((w->fwd = forward_start(&fc, err, sizeof(err))) == NULL) {
			log_error("cannot start forwarding (PLUGIN_URL)", "err", err);
			return -1;
		}
	}
	if (cfg->health_port > 0)
		w->health =
		    health_http_start(cfg->health_bind, (int)cfg->health_port, cfg->db, w->fwd);
	return 0;
}

/*
 * Opens the store and the stages (labels, model, notices, tail, agent
 * databases), restores the state, and starts the Mattermost poster and
 * forwarding.  0, or -1 (logged).
 */
static int
watcher_open(struct watcher *w, struct mm_config *mmc)
{
	const struct wcfg *cfg = w->cfg;
	struct tail_ops ops = watcher_tail_ops;
	struct ocdb_config oc = { 0 };
	struct ocdb_sink sink;
	struct box_config bc;
	char err[512];

	if (store_open_ms(cfg->db, WATCHER_BUSY_TIMEOUT_MS, &w->st, err, sizeof(err)) != STORE_OK) {
		log_error("cannot open the store (LIVESTATUS_DB)", "path", cfg->db, "err", err);
		return -1;
	}
	/* WAL checkpoints on their own thread, not in the commits of the loop */
	if ((w->ckpt = store_ckpt_start(cfg->db, err, sizeof(err))) == NULL)
		log_warn("checkpoints stay in the commits", "err", err);
	store_ckpt_watch(w->ckpt, w->st);
	if (cfg->revision_dir != NULL) {
		/* Without it, the responder moves the link within a second of a write. */
		w->revdir = store_revdir_open(cfg->revision_dir, w->st, err, sizeof(err));
		if (w->revdir == NULL)
			log_warn("cannot use the revision link: cached reads may lag a second",
			    "err", err);
		store_revdir_attach(w->revdir, w->st);
	}
	if ((w->labels = labels_load(cfg->tool_labels_file, err, sizeof(err))) == NULL) {
		log_error("cannot load tool labels", "err", err);
		return -1;
	}
	bc.max_lines = (int)cfg->max_status_lines;
	bc.idle_timeout_ms = cfg->idle_timeout_s * 1000;
	bc.max_duration_ms = cfg->max_session_duration_s * 1000;
	bc.max_active = (int)cfg->max_active_sessions;
	bc.labels = w->labels;
	w->model = box_model_new(&bc);
	w->notify = notify_new(cfg->publish_url);
	ops.arg = w;
	if ((w->tail = tail_new(cfg->transcript_dir, &ops, !cfg->force_poll, err, sizeof(err))) ==
	    NULL) {
		log_error("cannot follow transcripts", "err", err);
		return -1;
	}
	tail_follow_outside_links(w->tail, cfg->follow_outside_links);
	ocdb_box_sink(w->model, &sink);
	oc.root = cfg->transcript_dir;
	oc.poll_interval_ms = cfg->poll_interval_ms;
	oc.no_inotify = cfg->force_poll;
	oc.default_channel = cfg->default_channel;
	oc.outside_links = cfg->follow_outside_links;
	if (ocdb_new(&oc, w->st, &sink, &w->ocdb, err, sizeof(err)) != 0) {
		log_error("cannot follow openclaw databases", "err", err);
		return -1;
	}
	if (watcher_restore(w) != 0)
		return -1;
	if (mm_config_from_env(mmc, err, sizeof(err)) != 0) {
		log_error("bad configuration", "err", err);
		return -1;
	}
	if (mmc->url != NULL) {
		/* its own handle of the store and its own thread (mm/mm_poster.h) */
		if ((w->poster = mm_poster_new(mmc, cfg->db, NULL)) == NULL)
			return -1;
		mm_poster_set_revdir(w->poster, w->revdir);
		if (mm_poster_run(w->poster) != 0)
			return -1;
	}
	return watcher_start_forward(w);
}

/*
 * Sets up the event loop (signals, epoll, the descriptors), runs the first
 * scan and commits it, and writes the first heartbeat.  0, or -1 (logged).
 */
static int
watcher_start(struct watcher *w)
{
	struct tail_stats ts;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((w->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_error("cannot set up the event loop", "err", strerror(errno));
		return -1;
	}
	watcher_add_fd(w, w->sigfd, watcher_fd_signal);
	/* MATTERMOST: one more descriptor (e.g. the poster's result eventfd) is
	 * one more watcher_add_fd() call here. */

	tail_start(w->tail);
	watcher_check_sessions_json(w);
	if (tail_fd(w->tail) >= 0)
		watcher_add_fd(w, tail_fd(w->tail), watcher_fd_tail);
	watcher_watch_sessions_json(w);
	ocdb_run(w->ocdb, util_now_ms());
	if (ocdb_fd(w->ocdb) >= 0)
		watcher_add_fd(w, ocdb_fd(w->ocdb), watcher_fd_ocdb);
	box_tick(w->model, util_now_ms());
	watcher_commit(w);
	watcher_task_heartbeat(w, util_mono_ms());
	w->tasks[0].next_ms = util_mono_ms() + w->tasks[0].interval_ms;
	tail_stats(w->tail, &ts);
	log_info("watching", "root", w->cfg->transcript_dir, "folders", LOG_I64(ts.dirs), "files",
	    LOG_I64(ts.files), "mode", ts.inotify ? "inotify" : "polling", "db", w->cfg->db,
	    "version", LS_VERSION);
	return 0;
}

/* Tells `start` the first scan is committed; stderr goes where it says. */
static void
watcher_ready(const struct wcfg *cfg, int *ready_fd)
{
	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, "1", 1) != 1)
		log_warn("cannot signal readiness", "err", strerror(errno));
	close(*ready_fd);
	*ready_fd = -1;
	if (cfg->stderr_after_ready >= 0)
		dup2(cfg->stderr_after_ready, STDERR_FILENO);
}

/* How long the loop may sleep (ms): the nearest task, box deadline, retry
 * or database check; 0 with work left, at most a minute. */
static int64_t
watcher_timeout(struct watcher *w, int64_t mono)
{
	struct watcher_task *tasks = w->tasks;
	int64_t timeout = -1, d;
	int i;

	tasks[1].enabled = tail_polling(w->tail);
	for (i = 0; i < w->ntasks; i++) {
		if (!tasks[i].enabled)
			continue;
		if (tasks[i].next_ms == 0)
			tasks[i].next_ms = mono + tasks[i].interval_ms;
		d = tasks[i].next_ms - mono;
		if (timeout < 0 || d < timeout)
			timeout = d;
	}
	if ((d = box_next_deadline(w->model, util_now_ms())) >= 0 &&
	    (timeout < 0 || d + 1 < timeout))
		timeout = d + 1;
	if (w->retry_at > 0 && (timeout < 0 || w->retry_at - mono < timeout))
		timeout = w->retry_at - mono;
	if ((d = ocdb_timeout(w->ocdb)) >= 0 && (timeout < 0 || d < timeout))
		timeout = d;
	if (tail_backlog(w->tail) || w->rescan_now)
		timeout = 0;
	if (timeout < 0)
		timeout = 0;
	if (timeout > 60000)
		timeout = 60000;
	return timeout;
}

/* Waits and works until a signal says stop (or epoll fails). */
static void
watcher_loop(struct watcher *w)
{
	struct watcher_task *tasks = w->tasks;
	struct epoll_event evs[WATCHER_MAX_FDS];
	int64_t mono;
	int i, n;

	while (!w->stop) {
		mono = util_mono_ms();
		n = epoll_wait(w->epfd, evs, WATCHER_MAX_FDS, (int)watcher_timeout(w, mono));
		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait failed", "err", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++)
			w->fds[evs[i].data.u32].fn(w);
		if (w->stop)
			break;
		if (w->rescan_now) {
			w->rescan_now = 0;
			log_info("rescanning on request");
			tail_rescan(w->tail);
		}
		if (tail_backlog(w->tail))
			tail_continue(w->tail);
		watcher_check_sessions_json(w);
		mono = util_mono_ms();
		for (i = 0; i < w->ntasks; i++) {
			if (!tasks[i].enabled || tasks[i].next_ms > mono ||
			    tasks[i].fn == watcher_task_heartbeat)
				continue;
			tasks[i].next_ms = mono + tasks[i].interval_ms;
			tasks[i].fn(w, mono);
		}
		if (ocdb_timeout(w->ocdb) == 0)
			ocdb_run(w->ocdb, util_now_ms());
		box_tick(w->model, util_now_ms());
		watcher_commit(w);
		/* The heartbeat goes last so that its figures include this wake-up. */
		if (tasks[0].next_ms <= util_mono_ms()) {
			tasks[0].next_ms = util_mono_ms() + tasks[0].interval_ms;
			watcher_task_heartbeat(w, mono);
		}
	}
}

/* SIGTERM: what is still active was cut short; posts and forwards it, and
 * says in the store that the watcher is gone. */
static void
watcher_shutdown(struct watcher *w)
{
	struct ocdb_stats os;
	int i;

	box_interrupt_all(w->model, util_now_ms());
	for (i = 0; i < 20 && watcher_commit(w) == STORE_BUSY; i++)
		;
	/* after the interrupted boxes are committed: posts them, then stops */
	mm_poster_free(w->poster);
	w->poster = NULL;
	health_http_stop(w->health);
	w->health = NULL;
	forward_stop(w->fwd, w->cfg->forward_flush_ms); /* the same for the central */
	w->fwd = NULL;
	if (store_begin(w->st) == STORE_OK && store_heartbeat_delete(w->st) == STORE_OK &&
	    store_watcher_clock_put(w->st, util_now_ms()) == STORE_OK)
		store_commit(w->st);
	store_rollback(w->st);
	/* Transcript lines from files and events from agent databases alike. */
	ocdb_stats(w->ocdb, &os);
	log_info("stopped", "lines_read", LOG_I64(w->lines_read + os.events_read), "file_lines",
	    LOG_I64(w->lines_read), "db_events", LOG_I64(os.events_read));
}

int
watcher_run(const struct wcfg *cfg, int ready_fd)
{
	struct watcher w = { .cfg = cfg, .epfd = -1, .sigfd = -1, .sj_fd = -1 };
	struct watcher_task tasks[] = {
		{ "heartbeat", cfg->heartbeat_s * 1000, 0, watcher_task_heartbeat, 1 },
		{ "poll", cfg->poll_interval_ms, 0, watcher_task_poll, 0 },
		{ "safety-rescan", WATCHER_SAFETY_RESCAN_MS, 0, watcher_task_safety, 1 },
		/* MATTERMOST: the poster's own periodic work (plugin check every 60 s)
		 * goes here as one more row. */
	};
	struct mm_config mmc = { 0 };
	int rc = 1;

	w.tasks = tasks;
	w.ntasks = (int)(sizeof(tasks) / sizeof(tasks[0]));
	w.started_ms = util_now_ms();
	if (watcher_open(&w, &mmc) != 0 || watcher_start(&w) != 0)
		goto out;
	watcher_ready(cfg, &ready_fd);
	watcher_loop(&w);
	watcher_shutdown(&w);
	rc = 0;
out:
	if (ready_fd >= 0 && rc != 0)
		close(ready_fd);
	mm_poster_free(w.poster);
	health_http_stop(w.health);
	forward_stop(w.fwd, 0);
	mm_config_free(&mmc);
	watcher_free(&w);
	return rc;
}
