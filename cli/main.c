/*
 * live-status: the Live Status v1 command line, kept for old scripts.
 *
 * v1 posted and edited a Mattermost message itself.  This one speaks the
 * status API with the writer secret instead: create makes a box and prints
 * its id, update appends lines or sets fields, complete is update that ends
 * the box (done unless --status says otherwise), delete removes the box (as
 * v1's delete removed the status post).  start-watcher, stop-watcher and
 * watcher-status hand over to livestatus-watcher.  Every call says on
 * stderr that the command is deprecated.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"
#include "common/config.h"
#include "common/util.h"
#include "common/xmalloc.h"

#define PROG "live-status"
#define DEFAULT_URL "http://127.0.0.1:8080/plugins/com.openclaw.livestatus"
#define WATCHER "livestatus-watcher"

/* Exit codes, documented in live-status(1). */
enum {
	EX_DONE = 0,
	EX_FAIL = 1,       /* no answer, or an answer that is an error */
	EX_USE = 2,        /* bad command line or environment */
	EX_NOBOX = 3,      /* no such box */
	EX_DENIED = 4,     /* the API refused the secret */
	EX_CANTEXEC = 126, /* livestatus-watcher found, but exec failed */
	EX_NOEXEC = 127,   /* livestatus-watcher not found */
};

struct opts {
	const char *channel;
	const char *reply_to;
	const char *agent;
	const char *token;
	const char *host;
	const char *id;
	const char *label;
	const char *status;
	const char *model;
	long tokens; /* -1: not given */
	int replace;
	long max_lines;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [options] create [TEXT...]\n"
	    "       " PROG " [options] update ID [TEXT...]\n"
	    "       " PROG " [options] complete ID [TEXT...]\n"
	    "       " PROG " [options] delete ID\n"
	    "       " PROG " start-watcher | stop-watcher | watcher-status\n"
	    "\n"
	    "The Live Status v1 command, kept for old scripts (deprecated).\n"
	    "create prints the new box's id; update appends TEXT as status lines\n"
	    "(one per line of TEXT) and sets the fields given; complete does the same\n"
	    "and ends the box as done (or --status error|interrupted); delete removes\n"
	    "the box.  The *-watcher commands run livestatus-watcher start|stop|status.\n"
	    "\n"
	    "options:\n"
	    "  --channel ID     Mattermost channel of a new box (DEFAULT_CHANNEL)\n"
	    "  --reply-to ROOT  thread root post of a new box\n"
	    "  --agent NAME     agent of a new box (main)\n"
	    "  --id ID          id of a new box (made up when not given)\n"
	    "  --token SECRET   writer secret (PLUGIN_SECRET)\n"
	    "  --host URL       API base URL (PLUGIN_URL, else\n"
	    "                   " DEFAULT_URL ")\n"
	    "  --label TEXT     set the label\n"
	    "  --status S       set the status: active, done, error, interrupted\n"
	    "  --tokens N       set the token count\n"
	    "  --model NAME     set the model\n"
	    "  --replace        TEXT replaces the box's lines instead of adding\n"
	    "  -h, --help       show this help\n"
	    "  -V, --version    show the version\n"
	    "\n"
	    "environment: PLUGIN_SECRET, PLUGIN_URL and DEFAULT_CHANNEL as above;\n"
	    "MAX_STATUS_LINES, the newest lines create, update and complete send\n"
	    "(15, from 1 to 1000).\n"
	    "\n"
	    "exit status: 0 done, 1 request failed, 2 usage, 3 no such box,\n"
	    "4 secret refused, 126 livestatus-watcher cannot run, 127 not found.\n"
	    "See live-status(1).\n");
}

static int
die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return EX_USE;
}

/* Exit code for an answer that is not a success. */
static int
fail_reply(const char *what, const char *id, const struct client_reply *r)
{
	char buf[512];

	client_error_text(r, buf, sizeof(buf));
	if (r->status == 404 && id != NULL) {
		fprintf(stderr, PROG ": %s: no such box: %s\n", what, id);
		return EX_NOBOX;
	}
	fprintf(stderr, PROG ": %s: %s\n", what, buf);
	if (r->status == 401 || r->status == 403)
		return EX_DENIED;
	return EX_FAIL;
}

/* All arguments from argv[i] on, joined by spaces; NULL when none. */
static char *
join_args(int argc, char **argv, int i)
{
	size_t len = 0, at = 0, n;
	char *s;
	int j;

	if (i >= argc)
		return NULL;
	for (j = i; j < argc; j++)
		len += strlen(argv[j]) + 1;
	s = xmalloc(len);
	for (j = i; j < argc; j++) {
		if (j > i)
			s[at++] = ' ';
		n = strlen(argv[j]);
		memcpy(s + at, argv[j], n);
		at += n;
	}
	s[at] = '\0';
	return s;
}

/* Appends each non-blank line of text to the JSON array. */
static void
add_lines(struct json_object *arr, const char *text)
{
	const char *p = text, *nl;

	while (*p != '\0') {
		size_t len;
		const char *start = p;

		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		p += len + (nl != NULL);
		while (len > 0 &&
		    (start[len - 1] == '\r' || start[len - 1] == ' ' || start[len - 1] == '\t'))
			len--;
		while (len > 0 && (*start == ' ' || *start == '\t')) {
			start++;
			len--;
		}
		if (len > 0)
			json_object_array_add(arr, json_object_new_string_len(start, (int)len));
	}
}

/* Keeps the newest max entries of arr, in order; returns a new array. */
static struct json_object *
newest_lines(struct json_object *arr, long max)
{
	struct json_object *out = json_object_new_array();
	size_t n = json_object_array_length(arr), i;
	size_t from = n > (size_t)max ? n - (size_t)max : 0;

	for (i = from; i < n; i++)
		json_object_array_add(out, json_object_get(json_object_array_get_idx(arr, i)));
	return out;
}

static int
valid_status(const char *s)
{
	return strcmp(s, "active") == 0 || strcmp(s, "done") == 0 || strcmp(s, "error") == 0 ||
	    strcmp(s, "interrupted") == 0;
}

/* Sends method path body and checks the answer is one of ok1/ok2. */
static int
call(struct client *c, const char *what, const char *method, const char *path, const char *body,
    long ok1, long ok2, const char *id, struct client_reply *r)
{
	char err[512];

	if (client_request(c, method, path, body, r, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", what, err);
		return EX_FAIL;
	}
	if (r->status != ok1 && r->status != ok2)
		return fail_reply(what, id, r);
	return EX_DONE;
}

static int
cmd_create(struct client *c, const struct opts *o, const char *text)
{
	struct json_object *req = json_object_new_object(), *lines, *ans = NULL, *v;
	struct client_reply r = { 0 };
	char hex[17], *id = NULL, *key = NULL;
	int ret;

	util_random_hex(hex, 8);
	id = o->id != NULL ? xstrdup(o->id) : xasprintf("cli-%s", hex);
	key = xasprintf("agent:%s:cli:%s", o->agent, hex);
	lines = json_object_new_array();
	if (text != NULL)
		add_lines(lines, text);
	json_object_object_add(req, "id", json_object_new_string(id));
	json_object_object_add(req, "session_key", json_object_new_string(key));
	json_object_object_add(req, "agent_id", json_object_new_string(o->agent));
	json_object_object_add(
	    req, "channel_id", json_object_new_string(o->channel != NULL ? o->channel : ""));
	json_object_object_add(
	    req, "root_id", json_object_new_string(o->reply_to != NULL ? o->reply_to : ""));
	if (o->label != NULL)
		json_object_object_add(req, "label", json_object_new_string(o->label));
	json_object_object_add(
	    req, "status", json_object_new_string(o->status != NULL ? o->status : "active"));
	json_object_object_add(req, "lines", newest_lines(lines, o->max_lines));
	json_object_object_add(req, "start_time_ms", json_object_new_int64(util_now_ms()));

	ret = call(c, "create", "POST", "/api/v1/sessions",
	    json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), 201, 200, NULL, &r);
	if (ret != EX_DONE)
		goto out;
	/* Print the id the service answers with; it is the one that counts. */
	ans = json_tokener_parse(r.body);
	if (ans != NULL && json_object_object_get_ex(ans, "id", &v) &&
	    json_object_is_type(v, json_type_string))
		printf("%s\n", json_object_get_string(v));
	else
		printf("%s\n", id);
out:
	json_object_put(ans);
	json_object_put(lines);
	json_object_put(req);
	client_reply_free(&r);
	free(key);
	free(id);
	return ret;
}

/* update and complete (what names which, for messages). */
static int
cmd_update(
    struct client *c, const char *what, const struct opts *o, const char *id, const char *text)
{
	struct json_object *req = json_object_new_object(), *box = NULL, *lines, *old;
	struct client_reply r = { 0 };
	char *path = xasprintf("/api/v1/sessions/%s", id);
	size_t i;
	int ret;

	lines = json_object_new_array();
	if (text != NULL && !o->replace) {
		/* The API sets whole fields, so adding lines means read, add, write. */
		ret = call(c, what, "GET", path, NULL, 200, 200, id, &r);
		if (ret != EX_DONE)
			goto out;
		box = json_tokener_parse(r.body);
		if (box == NULL || !json_object_object_get_ex(box, "lines", &old) ||
		    !json_object_is_type(old, json_type_array)) {
			fprintf(
			    stderr, PROG ": %s: unexpected answer from %s\n", what, client_base(c));
			ret = EX_FAIL;
			goto out;
		}
		for (i = 0; i < json_object_array_length(old); i++)
			json_object_array_add(
			    lines, json_object_get(json_object_array_get_idx(old, i)));
		client_reply_free(&r);
	}
	if (text != NULL) {
		add_lines(lines, text);
		json_object_object_add(req, "lines", newest_lines(lines, o->max_lines));
	}
	if (o->status != NULL) {
		json_object_object_add(req, "status", json_object_new_string(o->status));
		if (strcmp(o->status, "active") != 0)
			json_object_object_add(
			    req, "end_time_ms", json_object_new_int64(util_now_ms()));
	}
	if (o->label != NULL)
		json_object_object_add(req, "label", json_object_new_string(o->label));
	if (o->model != NULL)
		json_object_object_add(req, "model", json_object_new_string(o->model));
	if (o->tokens >= 0)
		json_object_object_add(req, "token_count", json_object_new_int64(o->tokens));

	ret = call(c, what, "PUT", path,
	    json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), 200, 200, id, &r);
out:
	json_object_put(box);
	json_object_put(lines);
	json_object_put(req);
	client_reply_free(&r);
	free(path);
	return ret;
}

static int
cmd_delete(struct client *c, const char *id)
{
	struct client_reply r = { 0 };
	char *path = xasprintf("/api/v1/sessions/%s", id);
	int ret;

	ret = call(c, "delete", "DELETE", path, NULL, 204, 200, id, &r);
	client_reply_free(&r);
	free(path);
	return ret;
}

/*
 * Replaces this process with livestatus-watcher VERB: the copy installed
 * beside this binary first, else the first in PATH.  Returns only on
 * failure.
 */
static int
run_watcher(const char *verb)
{
	char self[PATH_MAX], *slash, *beside = NULL;
	char *argv[] = { WATCHER, (char *)verb, NULL };
	ssize_t n;
	int saved;

	fflush(stdout);
	fflush(stderr);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			beside = xasprintf("%s/" WATCHER, self);
			if (access(beside, X_OK) == 0)
				execv(beside, argv);
		}
	}
	execvp(WATCHER, argv);
	saved = errno;
	fprintf(stderr, PROG ": cannot run " WATCHER ": %s\n", strerror(saved));
	free(beside);
	return saved == ENOENT ? EX_NOEXEC : EX_CANTEXEC;
}

enum {
	O_CHANNEL = 256,
	O_REPLY,
	O_AGENT,
	O_TOKEN,
	O_HOST,
	O_ID,
	O_LABEL,
	O_STATUS,
	O_TOKENS,
	O_MODEL,
	O_REPLACE
};

static const struct option opts_long[] = {
	{ "channel", required_argument, NULL, O_CHANNEL },
	{ "reply-to", required_argument, NULL, O_REPLY },
	{ "agent", required_argument, NULL, O_AGENT },
	{ "token", required_argument, NULL, O_TOKEN },
	{ "host", required_argument, NULL, O_HOST },
	{ "id", required_argument, NULL, O_ID },
	{ "label", required_argument, NULL, O_LABEL },
	{ "status", required_argument, NULL, O_STATUS },
	{ "tokens", required_argument, NULL, O_TOKENS },
	{ "model", required_argument, NULL, O_MODEL },
	{ "replace", no_argument, NULL, O_REPLACE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* One option into o.  -1 to go on, else the exit status. */
static int
opts_set(struct opts *o, int ch, char **argv)
{
	switch (ch) {
	case O_CHANNEL:
		o->channel = optarg;
		break;
	case O_REPLY:
		o->reply_to = optarg;
		break;
	case O_AGENT:
		o->agent = optarg;
		break;
	case O_TOKEN:
		o->token = optarg;
		break;
	case O_HOST:
		o->host = optarg;
		break;
	case O_ID:
		o->id = optarg;
		break;
	case O_LABEL:
		o->label = optarg;
		break;
	case O_STATUS:
		o->status = optarg;
		break;
	case O_MODEL:
		o->model = optarg;
		break;
	case O_REPLACE:
		o->replace = 1;
		break;
	case O_TOKENS:
		if (cfg_parse_long(optarg, 0, LONG_MAX, &o->tokens) != 0)
			return die_usage("--tokens: not a count: \"%s\"", optarg);
		break;
	case 'h':
		usage(stdout);
		return EX_DONE;
	case 'V':
		printf(PROG " (livestatus) %s\n", LS_VERSION);
		return EX_DONE;
	default:
		if (optopt != 0 && optopt < 256)
			return die_usage(
			    "unknown or incomplete option: -%c", (char[]){ (char)optopt, '\0' });
		return die_usage("unknown or incomplete option: %s", argv[optind - 1]);
	}
	return -1;
}

/*
 * Checks a box command's arguments (extra: the first word after a delete's
 * id) and fills in what the environment gives
 * (MAX_STATUS_LINES, DEFAULT_CHANNEL, PLUGIN_SECRET, PLUGIN_URL).  -1 when
 * all is well, else the exit status (the error said).
 */
static int
opts_check(const char *cmd, struct opts *o, const char *id, const char *extra)
{
	char err[256];

	if (strcmp(cmd, "create") != 0) {
		if (id == NULL)
			return die_usage("%s: a box id is required", cmd);
		if (!util_valid_id(id))
			return die_usage("not a box id: \"%s\"", id);
	}
	if (strcmp(cmd, "delete") == 0 && extra != NULL)
		return die_usage("delete takes one box id, not \"%s\"", extra);
	if (o->id != NULL && !util_valid_id(o->id))
		return die_usage("--id: not a box id: \"%s\"", o->id);
	if (!util_valid_id(o->agent) || strchr(o->agent, ':') != NULL)
		return die_usage("--agent: not an agent name: \"%s\"", o->agent);
	if (o->status != NULL && !valid_status(o->status))
		return die_usage("--status: not one of active, done, error, "
		                 "interrupted: \"%s\"",
		    o->status);
	if (strcmp(cmd, "complete") == 0) {
		/* v1's complete ended the box; a status that keeps it going is not that. */
		if (o->status != NULL && strcmp(o->status, "active") == 0)
			return die_usage("%s",
			    "complete: --status active does not end a box; "
			    "use update");
		if (o->status == NULL)
			o->status = "done";
	}
	if (cfg_long("MAX_STATUS_LINES", NULL, 15, 1, 1000, &o->max_lines, err, sizeof(err)) != 0)
		return die_usage("%s", err);
	if (o->channel == NULL)
		o->channel = cfg_env("DEFAULT_CHANNEL", NULL);
	if (o->token == NULL)
		o->token = cfg_env("PLUGIN_SECRET", NULL);
	if (o->token == NULL)
		return die_usage("%s", "no writer secret: pass --token or set PLUGIN_SECRET");
	if (o->host == NULL)
		o->host = cfg_str("PLUGIN_URL", NULL, DEFAULT_URL);
	return -1;
}

/* create, update, complete or delete, with its text from args[first..]. */
static int
run_box_command(const char *cmd, struct opts *o, int argc, char **argv, int first)
{
	struct client *c;
	const char *id = NULL;
	char *text;
	int ret;

	if (strcmp(cmd, "create") != 0 && first < argc)
		id = argv[first++];
	if ((ret = opts_check(cmd, o, id, first < argc ? argv[first] : NULL)) >= 0)
		return ret;
	text = join_args(argc, argv, first);
	if (text != NULL && !util_utf8_valid(text, strlen(text))) {
		free(text);
		return die_usage("%s", "the text is not valid UTF-8");
	}
	if (strcmp(cmd, "update") == 0 && text == NULL && o->status == NULL && o->label == NULL &&
	    o->model == NULL && o->tokens < 0) {
		return die_usage("%s",
		    "update: nothing to change: give TEXT or a "
		    "field option");
	}
	c = client_new(o->host, o->token);
	if (strcmp(cmd, "create") == 0)
		ret = cmd_create(c, o, text);
	else if (strcmp(cmd, "update") == 0 || strcmp(cmd, "complete") == 0)
		ret = cmd_update(c, cmd, o, id, text);
	else
		ret = cmd_delete(c, id);
	client_free(c);
	free(text);
	return ret;
}

int
main(int argc, char **argv)
{
	struct opts o = { .agent = "main", .tokens = -1 };
	const char *cmd;
	int ch, ret;

	fprintf(stderr,
	    PROG ": deprecated: use the status API or " WATCHER " directly; see live-status(1)\n");
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "hV", opts_long, NULL)) != -1)
		if ((ret = opts_set(&o, ch, argv)) >= 0)
			return ret;
	if (optind >= argc) {
		usage(stderr);
		return EX_USE;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "start-watcher") == 0 || strcmp(cmd, "stop-watcher") == 0 ||
	    strcmp(cmd, "watcher-status") == 0) {
		if (optind + 1 < argc)
			return die_usage("%s takes no arguments", cmd);
		return run_watcher(strcmp(cmd, "start-watcher") == 0 ? "start"
		        : strcmp(cmd, "stop-watcher") == 0           ? "stop"
		                                                     : "status");
	}
	if (strcmp(cmd, "create") != 0 && strcmp(cmd, "update") != 0 &&
	    strcmp(cmd, "complete") != 0 && strcmp(cmd, "delete") != 0)
		return die_usage("unknown command: %s", cmd);
	return run_box_command(cmd, &o, argc, argv, optind + 1);
}
