// SPDX-License-Identifier: MIT
/*
 * The worker threads and their queue.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rcu.h"
#include "wire.h"
#include "worker.h"

struct wq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct wq_item *head, **tail; /* under lock */
	bool stop;		      /* under lock: exit once the queue is empty */
	wq_run_fn run;
	void *ctx;
	unsigned nthreads; /* started */
	pthread_t *threads;
};

static void *worker_main(void *arg)
{
	struct wq *wq = arg;
	void *buf = aligned_alloc(8, WIRE_MSG_MAX);

	if (!buf) {
		log_err("worker: out of memory for its reply buffer");
		abort();
	}
	rcu_thread_online();
	pthread_mutex_lock(&wq->lock);
	for (;;) {
		struct wq_item *it = wq->head;

		if (!it) {
			if (wq->stop)
				break;
			pthread_cond_wait(&wq->cond, &wq->lock);
			continue;
		}
		wq->head = it->next;
		if (!wq->head)
			wq->tail = &wq->head;
		pthread_mutex_unlock(&wq->lock);
		it->next = NULL;
		wq->run(wq->ctx, it, buf);
		pthread_mutex_lock(&wq->lock);
	}
	pthread_mutex_unlock(&wq->lock);
	rcu_thread_offline();
	free(buf);
	return NULL;
}

int wq_new(struct wq **out, unsigned nthreads, wq_run_fn run, void *ctx)
{
	sigset_t all, old;
	struct wq *wq;
	int rc = 0;

	*out = NULL;
	wq = calloc(1, sizeof(*wq));
	if (!wq)
		return -ENOMEM;
	wq->threads = calloc(nthreads, sizeof(*wq->threads));
	if (!wq->threads) {
		free(wq);
		return -ENOMEM;
	}
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->cond, NULL);
	wq->tail = &wq->head;
	wq->run = run;
	wq->ctx = ctx;
	/*
	 * The threads inherit the mask: signals stay with the event loop's thread. Not SIGBUS:
	 * a worker touching region memory must take it itself (engine/sigbus.h); blocked, it
	 * would kill the process.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < nthreads; i++) {
		int err = pthread_create(&wq->threads[i], NULL, worker_main, wq);

		if (err) {
			log_err("cannot start worker thread %u: %s", i, strerror(err));
			rc = -err;
			break;
		}
		wq->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		wq_delete(&wq);
		return rc;
	}
	*out = wq;
	return 0;
}

void wq_push(struct wq *wq, struct wq_item *item)
{
	item->next = NULL;
	pthread_mutex_lock(&wq->lock);
	*wq->tail = item;
	wq->tail = &item->next;
	pthread_cond_signal(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
}

void wq_delete(struct wq **wqp)
{
	struct wq *wq = *wqp;

	if (!wq)
		return;
	pthread_mutex_lock(&wq->lock);
	wq->stop = true;
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
	for (unsigned i = 0; i < wq->nthreads; i++)
		pthread_join(wq->threads[i], NULL);
	pthread_cond_destroy(&wq->cond);
	pthread_mutex_destroy(&wq->lock);
	free(wq->threads);
	free(wq);
	*wqp = NULL;
}
