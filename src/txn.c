/*
 * Client transactions toward a UDP backend, after RFC 3261 section 17.1
 * with the proxy's Timer C (sections 16.6 and 16.8).
 *
 * Each transaction is one allocation (struct, key and request bytes) plus
 * one libevent timer. The timer is armed for the earlier of two deadlines:
 * the next retransmission (Timer A or E) and the end of the current state
 * (Timer B, C, D, F or K). Deadlines are absolute times on CLOCK_MONOTONIC
 * in milliseconds, so a retransmission schedule stays on the RFC's grid
 * (T1, 3*T1, 7*T1, ...) even when the loop runs a callback late.
 *
 * The send and timeout callbacks must not call back into the table: the
 * transaction being handled may still be in use when they return.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "txn.h"

#define TXN_BUCKETS_INITIAL	64
/* Timer D is at least 32 s on unreliable transports (RFC 3261 17.1.1.2),
 * and at least 64*T1 so that it outlives the server's retransmissions of
 * its final response. */
#define TIMER_D_MIN_MS		32000

enum txn_state {
	TXN_CALLING,		/* INVITE sent, nothing heard yet */
	TXN_TRYING,		/* non-INVITE sent, nothing heard yet */
	TXN_PROCEEDING,		/* a provisional response arrived */
	TXN_COMPLETED,		/* a final response was forwarded */
};

static const char *const txn_state_names[] = {
	[TXN_CALLING] = "calling",
	[TXN_TRYING] = "trying",
	[TXN_PROCEEDING] = "proceeding",
	[TXN_COMPLETED] = "completed",
};

struct txn {
	struct txn		*next;		/* hash chain */
	struct txn_table	*table;
	struct event		*timer;
	uint32_t		 hash;
	enum txn_state		 state;
	int			 is_invite;
	unsigned		 retransmits;
	uint64_t		 interval_ms;	/* gap before retransmit_at */
	uint64_t		 retransmit_at;	/* 0 when not retransmitting */
	uint64_t		 expire_at;	/* end of the current state */
	uint64_t		 armed_at;	/* deadline the timer waits for */
	char			*ack;		/* owned copy, INVITE only */
	size_t			 ack_len;
	size_t			 branch_len;
	size_t			 method_len;
	size_t			 req_len;
	char			 data[];	/* branch, method, request */
};

struct txn_table {
	struct event_base	*base;
	struct txn_timers	 timers;
	txn_send_fn		 send;
	txn_timeout_fn		 timeout;
	void			*arg;
	struct txn		**buckets;
	size_t			 nbuckets;	/* a power of two */
	size_t			 count;
};

static void txn_on_timer(evutil_socket_t, short, void *);

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * FNV-1a over branch and method. The branches of our transactions carry
 * random bytes, so no outside party can aim many of them at one bucket.
 * A response with a foreign branch costs one lookup and finds nothing.
 */
static uint32_t
key_hash(const char *branch, size_t branch_len, const char *method,
    size_t method_len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < branch_len; i++)
		h = (h ^ (unsigned char)branch[i]) * 16777619u;
	h = (h ^ ' ') * 16777619u;
	for (i = 0; i < method_len; i++)
		h = (h ^ (unsigned char)method[i]) * 16777619u;
	return h;
}

static const char *
txn_branch(const struct txn *x)
{
	return x->data;
}

static const char *
txn_method(const struct txn *x)
{
	return x->data + x->branch_len;
}

static const char *
txn_req(const struct txn *x)
{
	return x->data + x->branch_len + x->method_len;
}

static int
txn_matches(const struct txn *x, uint32_t hash, const char *branch,
    size_t branch_len, const char *method, size_t method_len)
{
	return x->hash == hash &&
	    x->branch_len == branch_len && x->method_len == method_len &&
	    memcmp(txn_branch(x), branch, branch_len) == 0 &&
	    memcmp(txn_method(x), method, method_len) == 0;
}

static struct txn *
txn_find(const struct txn_table *t, const char *branch, size_t branch_len,
    const char *method, size_t method_len)
{
	uint32_t hash = key_hash(branch, branch_len, method, method_len);
	struct txn *x;

	x = t->buckets[hash & (t->nbuckets - 1)];
	for (; x != NULL; x = x->next) {
		if (txn_matches(x, hash, branch, branch_len, method,
		    method_len))
			return x;
	}
	return NULL;
}

/* Doubles the bucket array. On allocation failure the table keeps its
 * size and chains grow longer, which is slower but still correct. */
static void
table_grow(struct txn_table *t)
{
	size_t n = t->nbuckets * 2, i;
	struct txn **buckets, *x, *next;

	buckets = calloc(n, sizeof(*buckets));
	if (buckets == NULL) {
		log_warning("txn table: cannot grow to %zu buckets", n);
		return;
	}
	for (i = 0; i < t->nbuckets; i++) {
		for (x = t->buckets[i]; x != NULL; x = next) {
			next = x->next;
			x->next = buckets[x->hash & (n - 1)];
			buckets[x->hash & (n - 1)] = x;
		}
	}
	free(t->buckets);
	t->buckets = buckets;
	t->nbuckets = n;
}

static void
table_link(struct txn_table *t, struct txn *x)
{
	struct txn **head;

	if (t->count + 1 > t->nbuckets / 4 * 3)
		table_grow(t);
	head = &t->buckets[x->hash & (t->nbuckets - 1)];
	x->next = *head;
	*head = x;
	t->count++;
}

static void
table_unlink(struct txn_table *t, struct txn *x)
{
	struct txn **p = &t->buckets[x->hash & (t->nbuckets - 1)];

	while (*p != x)
		p = &(*p)->next;
	*p = x->next;
	x->next = NULL;
	t->count--;
}

/* Frees an unlinked transaction and cancels its timer. */
static void
txn_free(struct txn *x)
{
	event_free(x->timer);
	free(x->ack);
	free(x);
}

static void
txn_destroy(struct txn *x)
{
	table_unlink(x->table, x);
	txn_free(x);
}

static void
txn_set_state(struct txn *x, enum txn_state state)
{
	log_debug("txn branch=%.*s method=%.*s state %s -> %s",
	    (int)x->branch_len, txn_branch(x),
	    (int)x->method_len, txn_method(x),
	    txn_state_names[x->state], txn_state_names[state]);
	x->state = state;
}

/* Arms the timer for the earlier of the two deadlines. */
static void
txn_arm(struct txn *x, uint64_t now)
{
	uint64_t deadline = x->expire_at, delay;
	struct timeval tv;

	if (x->retransmit_at != 0 && x->retransmit_at < deadline)
		deadline = x->retransmit_at;
	delay = deadline > now ? deadline - now : 0;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	x->armed_at = deadline;
	if (evtimer_add(x->timer, &tv) == -1)
		log_error("txn branch=%.*s method=%.*s: evtimer_add failed",
		    (int)x->branch_len, txn_branch(x),
		    (int)x->method_len, txn_method(x));
}

static uint64_t
next_interval(const struct txn *x)
{
	const struct txn_timers *tm = &x->table->timers;

	if (x->is_invite)
		return x->interval_ms * 2;
	if (x->state == TXN_PROCEEDING)
		return tm->t2_ms;
	return x->interval_ms * 2 < tm->t2_ms ? x->interval_ms * 2 : tm->t2_ms;
}

static void
txn_retransmit(struct txn *x)
{
	struct txn_table *t = x->table;

	x->retransmits++;
	log_debug("txn branch=%.*s method=%.*s retransmit=%u interval_ms=%llu",
	    (int)x->branch_len, txn_branch(x),
	    (int)x->method_len, txn_method(x),
	    x->retransmits, (unsigned long long)x->interval_ms);
	t->send(t->arg, txn_req(x), x->req_len);

	/* The next deadline follows from the previous one, not from now, so
	 * a late callback does not shift the rest of the schedule. */
	x->interval_ms = next_interval(x);
	x->retransmit_at += x->interval_ms;
}

/* Timer B or F: the backend never sent a final response. */
static void
txn_timed_out(struct txn *x)
{
	struct txn_table *t = x->table;

	log_info("txn branch=%.*s method=%.*s timed out after %u "
	    "retransmissions", (int)x->branch_len, txn_branch(x),
	    (int)x->method_len, txn_method(x), x->retransmits);
	/* Unlinked first, so a lookup from the callback finds nothing. */
	table_unlink(t, x);
	t->timeout(t->arg, txn_req(x), x->req_len);
	txn_free(x);
}

static void
txn_expire(struct txn *x)
{
	if (x->state == TXN_COMPLETED) {
		/* Timer D or K: no more retransmitted finals to absorb. */
		log_debug("txn branch=%.*s method=%.*s terminated",
		    (int)x->branch_len, txn_branch(x),
		    (int)x->method_len, txn_method(x));
		txn_destroy(x);
		return;
	}
	if (x->is_invite && x->state == TXN_PROCEEDING) {
		/* TODO: RFC 3261 16.8 requires a proxy to send CANCEL
		 * here. Without it the backend may still ring the callee,
		 * and its eventual final response is relayed as a stray. */
		log_info("txn branch=%.*s method=%.*s timer C expired "
		    "without a final response",
		    (int)x->branch_len, txn_branch(x),
		    (int)x->method_len, txn_method(x));
		txn_destroy(x);
		return;
	}
	txn_timed_out(x);
}

/*
 * Runs every deadline that has passed, earliest first: a retransmission
 * due before Timer B or F is still sent when both are late.
 */
static void
txn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct txn *x = arg;
	uint64_t now = now_ms();

	/* Without EVENT_BASE_FLAG_PRECISE_TIMER, libevent 2.1 times events
	 * with CLOCK_MONOTONIC_COARSE, which lags by up to a kernel tick,
	 * so the timer can fire a few ms before the deadline. Wait out the
	 * rest rather than run an RFC timer early. */
	if (now < x->armed_at) {
		txn_arm(x, now);
		return;
	}
	while (x->retransmit_at != 0 && x->retransmit_at <= now &&
	    x->retransmit_at < x->expire_at)
		txn_retransmit(x);
	if (x->expire_at <= now) {
		txn_expire(x);
		return;
	}
	txn_arm(x, now);
}

struct txn_table *
txn_table_new(struct event_base *base, const struct txn_timers *timers,
    txn_send_fn send, txn_timeout_fn timeout, void *arg)
{
	struct txn_table *t;

	/* A zero T1 would retransmit in a busy loop. */
	if (timers->t1_ms == 0 || timers->t2_ms == 0) {
		log_error("txn table: T1 and T2 must be positive");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->buckets = calloc(TXN_BUCKETS_INITIAL, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	t->nbuckets = TXN_BUCKETS_INITIAL;
	t->base = base;
	t->timers = *timers;
	t->send = send;
	t->timeout = timeout;
	t->arg = arg;
	return t;
}

void
txn_table_free(struct txn_table *t)
{
	struct txn *x, *next;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		for (x = t->buckets[i]; x != NULL; x = next) {
			next = x->next;
			txn_free(x);
		}
	}
	free(t->buckets);
	free(t);
}

static struct txn *
txn_new(struct txn_table *t, uint32_t hash, const char *branch,
    size_t branch_len, const char *method, size_t method_len,
    const char *buf, size_t len)
{
	struct txn *x;

	x = calloc(1, sizeof(*x) + branch_len + method_len + len);
	if (x == NULL)
		return NULL;
	x->timer = evtimer_new(t->base, txn_on_timer, x);
	if (x->timer == NULL) {
		free(x);
		return NULL;
	}
	x->table = t;
	x->hash = hash;
	x->branch_len = branch_len;
	x->method_len = method_len;
	x->req_len = len;
	memcpy(x->data, branch, branch_len);
	memcpy(x->data + branch_len, method, method_len);
	memcpy(x->data + branch_len + method_len, buf, len);
	x->is_invite = method_len == 6 && memcmp(method, "INVITE", 6) == 0;
	x->state = x->is_invite ? TXN_CALLING : TXN_TRYING;
	return x;
}

int
txn_request(struct txn_table *t, const char *branch, size_t branch_len,
    const char *method, size_t method_len, const char *buf, size_t len)
{
	uint32_t hash;
	uint64_t now;
	struct txn *x;

	if (method_len == 3 && memcmp(method, "ACK", 3) == 0) {
		t->send(t->arg, buf, len);
		return 0;
	}
	if (txn_find(t, branch, branch_len, method, method_len) != NULL) {
		/* The stored copy stays the one retransmitted. */
		log_debug("txn branch=%.*s method=%.*s sent again by request",
		    (int)branch_len, branch, (int)method_len, method);
		t->send(t->arg, buf, len);
		return 0;
	}

	hash = key_hash(branch, branch_len, method, method_len);
	x = txn_new(t, hash, branch, branch_len, method, method_len, buf, len);
	t->send(t->arg, buf, len);
	if (x == NULL) {
		log_warning("txn branch=%.*s method=%.*s: out of memory, "
		    "sent without retransmission", (int)branch_len, branch,
		    (int)method_len, method);
		return -1;
	}

	now = now_ms();
	x->interval_ms = t->timers.t1_ms;
	x->retransmit_at = now + t->timers.t1_ms;
	x->expire_at = now + 64 * (uint64_t)t->timers.t1_ms;
	table_link(t, x);
	txn_arm(x, now);
	return 0;
}

static uint64_t
timer_d_ms(const struct txn_timers *tm)
{
	uint64_t d = 64 * (uint64_t)tm->t1_ms;

	return d > TIMER_D_MIN_MS ? d : TIMER_D_MIN_MS;
}

/* Leaves Calling or Trying, or restarts Timer C in Proceeding. */
static void
txn_provisional(struct txn *x, int status)
{
	uint64_t now;

	if (x->state == TXN_TRYING) {
		/* Timer E keeps its deadline and Timer F keeps running. */
		txn_set_state(x, TXN_PROCEEDING);
		return;
	}
	if (!x->is_invite)
		return;
	if (x->state == TXN_CALLING) {
		/* Timer A and B end here: Timer C takes over. */
		txn_set_state(x, TXN_PROCEEDING);
		x->retransmit_at = 0;
	} else if (status == 100) {
		/* Only 101-199 restart Timer C (RFC 3261 16.7). */
		return;
	}
	now = now_ms();
	x->expire_at = now + x->table->timers.timer_c_ms;
	txn_arm(x, now);
}

static void
txn_complete(struct txn *x, uint64_t linger_ms)
{
	uint64_t now = now_ms();

	txn_set_state(x, TXN_COMPLETED);
	x->retransmit_at = 0;
	x->expire_at = now + linger_ms;
	txn_arm(x, now);
}

static enum txn_verdict
invite_response(struct txn *x, int status)
{
	struct txn_table *t = x->table;

	if (x->state == TXN_COMPLETED) {
		if (status >= 200 && status < 300) {
			/* A proxy relays every 2xx to an INVITE (RFC 3261
			 * 16.7), even one after a failure. */
			txn_destroy(x);
			return TXN_FORWARD;
		}
		if (status >= 300 && x->ack != NULL)
			t->send(t->arg, x->ack, x->ack_len);
		return TXN_ABSORB;
	}
	if (status < 200) {
		txn_provisional(x, status);
		return TXN_FORWARD;
	}
	if (status < 300) {
		/* The 2xx ends the transaction. Its retransmissions and the
		 * ACK are end to end, so they pass through as strays. */
		log_debug("txn branch=%.*s method=INVITE terminated by %d",
		    (int)x->branch_len, txn_branch(x), status);
		txn_destroy(x);
		return TXN_FORWARD;
	}
	txn_complete(x, timer_d_ms(&t->timers));
	return TXN_FORWARD;
}

static enum txn_verdict
non_invite_response(struct txn *x, int status)
{
	if (x->state == TXN_COMPLETED)
		return TXN_ABSORB;
	if (status < 200) {
		txn_provisional(x, status);
		return TXN_FORWARD;
	}
	txn_complete(x, x->table->timers.t4_ms);
	return TXN_FORWARD;
}

enum txn_verdict
txn_response(struct txn_table *t, const char *branch, size_t branch_len,
    const char *cseq_method, size_t method_len, int status)
{
	struct txn *x;

	x = txn_find(t, branch, branch_len, cseq_method, method_len);
	if (x == NULL)
		return TXN_FORWARD;
	if (x->is_invite)
		return invite_response(x, status);
	return non_invite_response(x, status);
}

void
txn_ack(struct txn_table *t, const char *branch, size_t branch_len,
    const char *buf, size_t len)
{
	struct txn *x;
	char *copy;

	t->send(t->arg, buf, len);
	x = txn_find(t, branch, branch_len, "INVITE", 6);
	if (x == NULL || x->state != TXN_COMPLETED)
		return;
	copy = malloc(len);
	if (copy == NULL) {
		log_warning("txn branch=%.*s method=INVITE: out of memory, "
		    "ACK not stored", (int)branch_len, branch);
		return;
	}
	memcpy(copy, buf, len);
	free(x->ack);
	x->ack = copy;
	x->ack_len = len;
}

size_t
txn_count(const struct txn_table *t)
{
	return t->count;
}

size_t
txn_pending(const struct txn_table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nbuckets; i++)
		for (const struct txn *x = t->buckets[i]; x != NULL; x = x->next)
			if (x->state != TXN_COMPLETED)
				n++;
	return n;
}
