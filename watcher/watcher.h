/*
 * watcher: the daemon's main loop, tying the stages together.
 *
 *   tail (bytes, files, locks) ──▶ box model ──▶ store (one transaction
 *   sessions (sessions.json)  ──▶              per wake-up) ──▶ notices
 *
 * watcher_run() opens the store, restores the model and the file offsets
 * an earlier run stored, scans the folders, and then loops: it waits (epoll)
 * on the inotify descriptor, a signalfd and a timeout that is the nearest
 * periodic task; on each wake-up it reads what changed, feeds the model,
 * lets time pass (box_tick), and writes every change in one BEGIN IMMEDIATE
 * transaction: boxes, session states and file offsets together.  When the
 * store is busy the changes stay in memory and the commit is retried on the
 * next wake-up.  After each commit it publishes an nchan notice per changed
 * box and calls the post-commit hook (where the Mattermost poster is woken).
 *
 * Signals: SIGTERM/SIGINT end active boxes as interrupted and stop; SIGUSR1
 * and SIGHUP force a full rescan.  ready_fd, when >= 0, gets one byte once
 * the first scan is committed (for `start`), then is closed.
 *
 * Returns the process exit code: 0 after a clean stop, 1 on a failure at
 * start-up (logged).
 */
#ifndef LS_WATCHER_WATCHER_H
#define LS_WATCHER_WATCHER_H

#include "watcher/wconfig.h"

int watcher_run(const struct wcfg *cfg, int ready_fd);

#endif
