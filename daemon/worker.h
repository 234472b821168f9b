/* SPDX-License-Identifier: MIT */
#ifndef DAXFS_DAEMON_WORKER_H
#define DAXFS_DAEMON_WORKER_H

/*
 * worker - the daemon's thread pool: a FIFO work queue and N threads that run its items,
 * so work that waits (an entry lock, a lease break, a large copy) never stalls the event
 * loop or other sessions. Every worker is registered with RCU for its whole life and owns
 * a reply buffer of WIRE_MSG_MAX bytes, 8-aligned, that it passes to each item it runs.
 */

#include <stddef.h>

struct wq;

/* Embed in the caller's work item. */
struct wq_item {
	struct wq_item *next;
};

/* wq_run_fn - run @item (and free it); @buf is the worker's reply buffer. */
typedef void (*wq_run_fn)(void *ctx, struct wq_item *item, void *buf);

/*
 * wq_new - start @nthreads workers that call @run(@ctx, item, buf) for each item pushed.
 * Signals are blocked in the workers (the event loop thread takes them). Workers sleep on
 * a condition variable when the queue is empty: they do not poll (on the 2-CPU machines
 * here a polling worker next to the polling loop and client made round trips slower).
 * Return: 0 and *@out; -ENOMEM; -errno of pthread_create (logged).
 */
int wq_new(struct wq **out, unsigned nthreads, wq_run_fn run, void *ctx);

/*
 * wq_push - queue @item; a worker will run it.
 * Context: any thread. Locking: takes the queue lock.
 */
void wq_push(struct wq *wq, struct wq_item *item);

/*
 * wq_delete - run what is still queued, stop and join the workers, free. Accepts NULL;
 * sets *@wqp = NULL.
 * Context: not from a worker.
 */
void wq_delete(struct wq **wqp);

#endif
