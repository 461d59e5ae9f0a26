/*
 * mm_poster_box: the poster's step on one box (mm_poster.h says what the
 * poster does): decide its channel, record the intent, create its post or
 * find it after a lost answer, edit it under the throttle.  Only
 * mm_poster.c calls it; the poster's state is here so both files see it.
 *
 * Every request goes through mm_poster_call(): the breaker, the 429 hold
 * and the transport's budget first, then the transport; what it came to
 * is one of enum mm_call.  A step's result says when the box (or any
 * request) may go next.
 */
#ifndef LS_MM_POSTER_BOX_H
#define LS_MM_POSTER_BOX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/notify.h"
#include "mm/mm_config.h"
#include "mm/mm_http.h"
#include "sql/store_mm.h"

#define MM_PLUGIN_ID "com.openclaw.livestatus"
/* Retry pace of one box after a failure that is its own (4xx). */
#define MM_BOX_BACKOFF_MS 30000

enum mm_breaker { MM_BRK_CLOSED, MM_BRK_OPEN, MM_BRK_HALF_OPEN };

/* What a step on one box ended with. */
enum mm_step {
	MM_STEP_DONE,    /* nothing more to do until the box changes */
	MM_STEP_LATER,   /* this box again at *at (throttle, backoff) */
	MM_STEP_BLOCKED, /* no request may go before *at (breaker, budget, 429) */
};

/* What one request came to. */
enum mm_call {
	MM_CALL_ANSWERED, /* resp.status is the answer */
	MM_CALL_BLOCKED,  /* not sent, or 429: wait until the call's time */
	MM_CALL_FAILED,   /* no answer, 5xx or 401: counted by the breaker */
};

/* In-memory per-box pace. */
struct mm_boxpace {
	char *id;
	int64_t last_send; /* mono ms of the last create or edit, 0 = never */
	int64_t not_before;
};

struct mm_poster {
	/* Shared with other threads, under mu (or atomic). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int kicked;
	int stopping;
	int running; /* the thread was started */
	atomic_int breaker;
	atomic_llong created, edited, dirty, failures_total;

	/* The owner's (the poster thread's once running). */
	pthread_t thread;
	struct mm_config cfg; /* its strings are the copies below */
	char *url, *token, *default_channel, *publish_url;
	store *st;
	struct mm_http *http;    /* NULL with a caller's transport */
	struct mm_client client; /* the transport */
	struct mm_client gate;   /* the transport behind breaker and hold */
	enum mm_call call;       /* what the last request through gate came to */
	int64_t call_at;         /* MM_CALL_BLOCKED: when to try again (mono ms) */
	int64_t hold_until;      /* a 429's Retry-After (mono ms) */
	struct notify *notify;
	int plugin_mode; /* -1 unknown, 0 rest, 1 plugin */
	int64_t next_plugin_check;
	char *bot_user_id;
	int again;    /* this thread changed a box: look once more */
	int failures; /* consecutive */
	int64_t open_until;
	struct mm_boxpace *pace;
	size_t npace;
};

/*
 * One request through the breaker, the 429 hold and the budget.  On
 * MM_CALL_BLOCKED *at is when to try again (mono ms); resp is filled in
 * every case and freed by the caller.
 */
enum mm_call mm_poster_call(struct mm_poster *p, const char *method, const char *path,
    const char *body, struct mm_http_resp *resp, int64_t *at);

/* What the last request through p->gate (mm_post.h's calls) came to. */
enum mm_call mm_poster_called(struct mm_poster *p, int64_t *at);

/*
 * Brings one dirty box's post up to date.  flush: ignore the throttle
 * (stopping).  *at is set for LATER and BLOCKED.
 */
enum mm_step mm_poster_box(struct mm_poster *p, const struct store_mm_dirty *d,
    struct mm_boxpace *pace, int flush, int64_t *at);

#endif
