/*
 * livestatus-watcher: follows OpenClaw transcripts and keeps status boxes
 * in the livestatus store.  Commands: run, start, stop, status, --help,
 * --version.  See watcher.h for the loop and wconfig.h for the settings.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/config.h"
#include "common/lcurl.h"
#include "common/log.h"
#include "common/util.h"
#include "sql/store.h"
#include "mm/mm_config.h"
#include "watcher/labels.h"
#include "watcher/watcher.h"
#include "watcher/wconfig.h"

#define PROG "livestatus-watcher"
#define STOP_WAIT_MS 30000

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: " PROG " run | start | stop | status | --help | --version\n"
	    "\n"
	    "  run      follow transcripts in the foreground (for systemd)\n"
	    "  start    the same as a daemon; refuses a second copy (PID_FILE)\n"
	    "  stop     ask the running watcher to stop (SIGTERM) and wait\n"
	    "  status   exit 0 when running; print pid, uptime, active boxes,\n"
	    "           lines read and parse errors (exit 3 when not running)\n"
	    "\n"
	    "  start detaches from the terminal: its log goes to LOG_FILE (appended),\n"
	    "  or nowhere when LOG_FILE is unset; run logs to stderr.\n"
	    "\n");
	wcfg_usage(out);
}

/*
 * Whether a watcher holds the pid file's lock; its pid in *pid.  Returns 1
 * running, 0 not.
 */
static int
pidfile_probe(const char *path, long *pid)
{
	char buf[32] = "";
	ssize_t n;
	int fd, running = 0;

	*pid = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
		running = 1;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			if (cfg_parse_long(buf, 1, INT32_MAX, pid) != 0)
				*pid = 0;
		}
	}
	close(fd);
	return running;
}

/*
 * Takes the pid file's lock and writes our pid; the fd stays open.  The
 * file is opened without following a link, must be a regular file of this
 * user, and is made 0640 whatever the umask.
 */
static int
pidfile_take(const char *path)
{
	struct stat st;
	char buf[32];
	long pid;
	int fd, n;

	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0640)) < 0) {
		fprintf(stderr, PROG ": PID_FILE: cannot open %s: %s%s\n", path, strerror(errno),
		    errno == ELOOP ? " (a symbolic link: refused)" : "");
		return -2;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		fprintf(stderr, PROG ": PID_FILE: %s is not a regular file of this user\n", path);
		close(fd);
		return -2;
	}
	(void)fchmod(fd, 0640);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		pidfile_probe(path, &pid);
		fprintf(stderr, PROG ": already running (pid %ld, %s)\n", pid, path);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		fprintf(stderr, PROG ": PID_FILE: cannot write %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* 0 when the folder that holds path exists; else a message naming var. */
static int
check_parent_folder(const char *var, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	struct stat st;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) != 0) {
		fprintf(stderr, PROG ": %s: cannot use %s: folder %s: %s\n", var, path, dir,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": %s: cannot use %s: %s is not a folder\n", var, path, dir);
		return -1;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": %s: %s is a folder, not a file\n", var, path);
		return -1;
	}
	return 0;
}

/* Full validation for run and start: exit code 2 on a bad setting. */
static int
load_config(struct wcfg *cfg)
{
	struct labels *l;
	struct stat st;
	char err[512];

	if (wcfg_load(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 2;
	}
	if (stat(cfg->transcript_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": TRANSCRIPT_DIR: %s is not a folder\n", cfg->transcript_dir);
		return 2;
	}
	if (check_parent_folder("LIVESTATUS_DB", cfg->db) != 0 ||
	    check_parent_folder("PID_FILE", cfg->pid_file) != 0)
		return 2;
	{
		/* The Mattermost settings too (MM_URL without a token, ...). */
		struct mm_config mc;

		memset(&mc, 0, sizeof(mc));
		if (mm_config_from_env(&mc, err, sizeof(err)) != 0) {
			fprintf(stderr, PROG ": %s\n", err);
			mm_config_free(&mc);
			return 2;
		}
		mm_config_free(&mc);
	}
	if (cfg->tool_labels_file != NULL) {
		if ((l = labels_load(cfg->tool_labels_file, err, sizeof(err))) == NULL) {
			fprintf(stderr, PROG ": TOOL_LABELS_FILE: %s\n", err);
			return 2;
		}
		labels_free(l);
	}
	log_init(PROG, cfg->log_level);
	return 0;
}

static int
cmd_run(void)
{
	struct wcfg cfg;
	int rc, fd;

	if ((rc = load_config(&cfg)) != 0)
		return rc;
	if ((fd = pidfile_take(cfg.pid_file)) < 0)
		return fd == -2 ? 2 : 1;
	rc = watcher_run(&cfg, -1);
	unlink(cfg.pid_file);
	close(fd);
	return rc;
}

/*
 * The daemon runs in "/": paths given relative to the caller's folder are
 * made absolute first.
 */
static void
absolute_paths(void)
{
	static const char *const vars[] = { "TRANSCRIPT_DIR", "OPENCLAW_STATE_DIR", "SESSIONS_JSON",
		"LIVESTATUS_DB", "PID_FILE", "TOOL_LABELS_FILE", "LOG_FILE" };
	char cwd[4096], *abs;
	const char *v;
	size_t i;

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if ((v = cfg_env(vars[i], NULL)) == NULL || *v == '/')
			continue;
		if (asprintf(&abs, "%s/%s", cwd, v) < 0)
			continue;
		setenv(vars[i], abs, 1);
		free(abs);
	}
}

/* `start`, in the caller: waits for the daemon's one byte saying it is ready. */
static int
start_wait(int ready_fd, const char *log_file, const char *pid_file)
{
	long pid;
	char c;
	int rc;

	while ((rc = (int)read(ready_fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (rc != 1) {
		if (log_file != NULL)
			fprintf(stderr, PROG ": failed to start (see LOG_FILE %s)\n", log_file);
		else
			fprintf(stderr, PROG ": failed to start\n");
		return 1;
	}
	pidfile_probe(pid_file, &pid);
	printf(PROG " started (pid %ld)\n", pid);
	return 0;
}

/* `start`, in the child: becomes the daemon and runs the watcher; never returns. */
static _Noreturn void
start_daemon(struct wcfg *cfg, const char *log_file, int ready_fd)
{
	pid_t child;
	int rc, fd;

	if (setsid() < 0 || (child = fork()) < 0)
		_exit(1);
	if (child > 0)
		_exit(0);
	if (chdir("/") != 0)
		_exit(1);
	/*
	 * Detach from the caller's terminal or pipes; the log goes to LOG_FILE.
	 * Without LOG_FILE, stderr stays the caller's until the watcher is ready
	 * (watcher_run() then points it at /dev/null), so that `start` shows why
	 * it failed.
	 */
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (log_file != NULL) {
		fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			fprintf(stderr, PROG ": LOG_FILE: cannot open %s: %s\n", log_file,
			    strerror(errno));
			_exit(2);
		}
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	/* Without LOG_FILE only problems reach the caller, and only until ready. */
	if (log_file == NULL && cfg->log_level < LOG_LVL_WARN)
		log_init(PROG, LOG_LVL_WARN);
	if ((fd = pidfile_take(cfg->pid_file)) < 0)
		_exit(fd == -2 ? 2 : 1);
	rc = watcher_run(cfg, ready_fd);
	unlink(cfg->pid_file);
	close(fd);
	_exit(rc);
}

static int
cmd_start(void)
{
	const char *log_file;
	struct wcfg cfg;
	long pid;
	int rc, p[2], fd;
	pid_t child;

	absolute_paths();
	if ((rc = load_config(&cfg)) != 0)
		return rc;
	if (pidfile_probe(cfg.pid_file, &pid)) {
		fprintf(stderr, PROG ": already running (pid %ld, %s)\n", pid, cfg.pid_file);
		return 1;
	}
	log_file = cfg_env("LOG_FILE", NULL);
	if (log_file != NULL) {
		if ((fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
			fprintf(stderr, PROG ": LOG_FILE: cannot open %s: %s\n", log_file,
			    strerror(errno));
			return 2;
		}
		close(fd);
	}
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, PROG ": cannot open /dev/null: %s\n", strerror(errno));
		return 1;
	}
	/* Until it is ready the daemon reports start-up errors on our stderr. */
	if (log_file == NULL)
		cfg.stderr_after_ready = fd;
	else
		close(fd);
	if (pipe2(p, O_CLOEXEC) != 0 || (child = fork()) < 0) {
		fprintf(stderr, PROG ": cannot start: %s\n", strerror(errno));
		return 1;
	}
	if (child > 0) {
		close(p[1]);
		return start_wait(p[0], log_file, cfg.pid_file);
	}
	close(p[0]);
	start_daemon(&cfg, log_file, p[1]);
}

static const char *
pid_file_path(void)
{
	static char buf[4096];
	char err[512];
	const char *v = cfg_env("PID_FILE", NULL);

	if (v != NULL)
		return v;
	if (wcfg_default_pid_file(buf, sizeof(buf), err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		exit(2);
	}
	return buf;
}

/*
 * 1 when pid holds the flock of path (per /proc/locks) and runs this
 * program (its /proc/<pid>/comm): stop signals nothing else, whatever
 * number the file holds.
 */
static int
pidfile_holder_is_watcher(const char *path, long pid)
{
	char line[256], comm[64] = "";
	struct stat st;
	unsigned long long ino;
	long holder;
	int found = 0;
	FILE *f;

	if (stat(path, &st) != 0 || (f = fopen("/proc/locks", "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" */
		if (strstr(line, "FLOCK") == NULL ||
		    sscanf(line, "%*s %*s %*s %*s %ld %*x:%*x:%llu", &holder, &ino) != 2)
			continue;
		found = holder == pid && ino == (unsigned long long)st.st_ino;
	}
	fclose(f);
	if (!found)
		return 0;
	snprintf(line, sizeof(line), "/proc/%ld/comm", pid);
	if ((f = fopen(line, "re")) == NULL)
		return 0;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	/* comm holds at most 15 bytes of the program's name */
	return comm[0] != '\0' && strncmp(comm, PROG, strlen(comm)) == 0;
}

static int
cmd_stop(void)
{
	const char *path = pid_file_path();
	int64_t deadline;
	long pid;

	if (!pidfile_probe(path, &pid) || pid <= 0) {
		printf(PROG " is not running\n");
		return 0;
	}
	if (!pidfile_holder_is_watcher(path, pid)) {
		fprintf(stderr,
		    PROG ": pid %ld in %s does not hold its lock or is not " PROG
		         ": not signalled\n",
		    pid, path);
		return 1;
	}
	if (kill((pid_t)pid, SIGTERM) != 0) {
		fprintf(stderr, PROG ": cannot signal pid %ld: %s\n", pid, strerror(errno));
		return 1;
	}
	deadline = util_mono_ms() + STOP_WAIT_MS;
	while (pidfile_probe(path, &pid)) {
		if (util_mono_ms() > deadline) {
			fprintf(stderr, PROG ": pid %ld did not stop within %d s\n", pid,
			    STOP_WAIT_MS / 1000);
			return 1;
		}
		usleep(50000);
	}
	printf(PROG " stopped\n");
	return 0;
}

static int64_t
stat_of(json_object *stats, const char *key)
{
	json_object *v = NULL;

	return stats != NULL && json_object_object_get_ex(stats, key, &v) ? json_object_get_int64(v)
	                                                                  : 0;
}

/* One line per agent: its layout, and for a database its schema and state. */
static void
print_agents(json_object *stats)
{
	json_object *agents = NULL, *a, *v;
	size_t i, n;

	if (stats == NULL || !json_object_object_get_ex(stats, "agents", &agents) ||
	    !json_object_is_type(agents, json_type_array))
		return;
	n = json_object_array_length(agents);
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(agents, i);
		printf("agent %s: %s",
		    json_object_object_get_ex(a, "agent", &v) ? json_object_get_string(v) : "?",
		    json_object_object_get_ex(a, "layout", &v) ? json_object_get_string(v) : "?");
		if (json_object_object_get_ex(a, "schema_version", &v) && v != NULL)
			printf(", schema %s", json_object_get_string(v));
		if (json_object_object_get_ex(a, "state", &v))
			printf(", %s", json_object_get_string(v));
		if (json_object_object_get_ex(a, "error", &v))
			printf(" (%s)", json_object_get_string(v));
		if (json_object_object_get_ex(a, "path", &v))
			printf(", %s", json_object_get_string(v));
		printf("\n");
	}
}

static int
cmd_status(void)
{
	const char *db = cfg_str("LIVESTATUS_DB", NULL, WCFG_DEFAULT_DB);
	struct store_heartbeat hb = { 0 };
	json_object *stats = NULL;
	store *st = NULL;
	char err[512];
	long pid;
	int64_t now = util_now_ms();

	if (!pidfile_probe(pid_file_path(), &pid)) {
		printf(PROG " is not running\n");
		return 3;
	}
	printf(PROG " is running\npid: %ld\n", pid);
	if (store_open(db, &st, err, sizeof(err)) != STORE_OK) {
		printf("store: %s\n", err);
		return 0;
	}
	if (store_heartbeat_get(st, &hb) == STORE_OK) {
		stats = json_tokener_parse(hb.stats != NULL ? hb.stats : "{}");
		printf("uptime: %" PRId64 " s\n", (now - hb.started_ms) / 1000);
		printf("last heartbeat: %" PRId64 " s ago\n", (now - hb.last_heartbeat_ms) / 1000);
		printf("active boxes: %" PRId64 "\n", stat_of(stats, "active_boxes"));
		printf("lines read: %" PRId64 "\n", stat_of(stats, "lines_read"));
		printf("parse errors: %" PRId64 "\n", stat_of(stats, "parse_errors"));
		printf("files: %" PRId64 "\n", stat_of(stats, "files"));
		printf("mattermost breaker: %s\n", hb.breaker != NULL ? hb.breaker : "off");
		print_agents(stats);
		json_object_put(stats);
	} else {
		printf("no heartbeat yet in %s\n", db);
	}
	store_heartbeat_free(&hb);
	store_close(st);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	log_init(PROG, LOG_LVL_INFO);
	lcurl_prepare();
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf(PROG " %s\n", LS_VERSION);
		return 0;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run();
	if (strcmp(cmd, "start") == 0)
		return cmd_start();
	if (strcmp(cmd, "stop") == 0)
		return cmd_stop();
	if (strcmp(cmd, "status") == 0)
		return cmd_status();
	fprintf(stderr, PROG ": unknown command \"%s\"\n", cmd);
	usage(stderr);
	return 2;
}
