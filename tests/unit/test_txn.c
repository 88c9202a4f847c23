/*
 * Client transactions driven by a real libevent loop with short timers
 * (T1 10 ms, T2 40 ms, T4 50 ms, Timer C 200 ms). Timing checks give
 * EARLY_MS of slack before a deadline and LATE_MS after it. Transmission
 * counts are exact, because the transactions keep their retransmission
 * deadlines on the RFC grid even when callbacks run late.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <event2/event.h>

#include "log.h"
#include "txn.h"

#define T1_MS		10
#define T2_MS		40
#define T4_MS		50
#define TIMER_C_MS	200
#define EARLY_MS	2	/* deadlines and checks round to whole ms */
#define LATE_MS		250	/* scheduling delay tolerated on a loaded host */
#define RUN_LIMIT_MS	3000	/* bound on every loop run */
#define MAX_SENT	64

#define INVITE_REQ	"INVITE sip:bob@127.0.0.1 SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n"
#define CANCEL_REQ	"CANCEL sip:bob@127.0.0.1 SIP/2.0\r\nCSeq: 1 CANCEL\r\n\r\n"
#define OPTIONS_REQ	"OPTIONS sip:127.0.0.1 SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n"
#define ACK_REQ		"ACK sip:bob@127.0.0.1 SIP/2.0\r\nCSeq: 1 ACK\r\n\r\n"
#define BRANCH		"z9hG4bK-sg-test-1"

#define S(str)		(str), strlen(str)

struct sent {
	int64_t		 at_us;		/* since fixture.start_us */
	size_t		 len;
	char		 head[16];	/* first bytes, to tell requests apart */
};

struct fixture {
	struct event_base	*base;
	struct txn_table	*table;
	struct event		*guard;
	int			 guard_fired;
	int64_t			 start_us;
	size_t			 want_sent;
	size_t			 nsent;
	struct sent		 sent[MAX_SENT];
	size_t			 ntimeouts;
	int64_t			 timeout_at_us;
	char			 timeout_req[256];
	size_t			 timeout_len;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
elapsed_ms(const struct fixture *f, int64_t at_us)
{
	return (at_us - f->start_us) / 1000;
}

static void
record_send(void *arg, const char *buf, size_t len)
{
	struct fixture *f = arg;
	struct sent *s;

	if (f->nsent < MAX_SENT) {
		s = &f->sent[f->nsent];
		s->at_us = now_us();
		s->len = len;
		memcpy(s->head, buf, len < sizeof(s->head) ? len : sizeof(s->head));
	}
	f->nsent++;
}

static void
record_timeout(void *arg, const char *req, size_t len)
{
	struct fixture *f = arg;

	f->ntimeouts++;
	f->timeout_at_us = now_us();
	f->timeout_len = len;
	if (len <= sizeof(f->timeout_req))
		memcpy(f->timeout_req, req, len);
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *f = arg;

	f->guard_fired = 1;
}

static int
setup(void **state)
{
	struct txn_timers timers = {
		.t1_ms = T1_MS,
		.t2_ms = T2_MS,
		.t4_ms = T4_MS,
		.timer_c_ms = TIMER_C_MS,
	};
	struct fixture *f;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	f->base = event_base_new();
	if (f->base == NULL)
		return -1;
	f->guard = evtimer_new(f->base, on_guard, f);
	if (f->guard == NULL)
		return -1;
	f->table = txn_table_new(f->base, &timers, record_send,
	    record_timeout, f);
	if (f->table == NULL)
		return -1;
	f->start_us = now_us();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	txn_table_free(f->table);
	event_free(f->guard);
	event_base_free(f->base);
	free(f);
	return 0;
}

static int
table_empty(const struct fixture *f)
{
	return txn_count(f->table) == 0;
}

static int
enough_sent(const struct fixture *f)
{
	return f->nsent >= f->want_sent;
}

/* Runs the loop until done(f) is true or RUN_LIMIT_MS pass. Returns done(f). */
static int
run_until(struct fixture *f, int (*done)(const struct fixture *))
{
	struct timeval limit = { RUN_LIMIT_MS / 1000, RUN_LIMIT_MS % 1000 * 1000 };

	f->guard_fired = 0;
	evtimer_add(f->guard, &limit);
	while (!done(f) && !f->guard_fired) {
		if (event_base_loop(f->base, EVLOOP_ONCE) != 0)
			break;
	}
	evtimer_del(f->guard);
	return done(f);
}

/* Runs the loop for ms, or less if no event is left. */
static void
run_for(struct fixture *f, int ms)
{
	struct timeval tv = { ms / 1000, ms % 1000 * 1000 };

	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

/*
 * Fills at[] with the RFC 3261 transmission times of a request sent at 0
 * that hears nothing (Timer A or E), up to Timer B or F at 64*T1. A cap
 * of 0 means the interval doubles without limit. Returns the count.
 */
static size_t
expected_schedule(int64_t *at, size_t max, int64_t cap)
{
	int64_t t = 0, interval = T1_MS;
	size_t n = 0;

	while (t < 64 * T1_MS && n < max) {
		at[n++] = t;
		t += interval;
		interval *= 2;
		if (cap != 0 && interval > cap)
			interval = cap;
	}
	return n;
}

static void
assert_sent_near(const struct fixture *f, size_t i, int64_t nominal_ms)
{
	int64_t at = elapsed_ms(f, f->sent[i].at_us);

	assert_true(at >= nominal_ms - EARLY_MS);
	assert_true(at <= nominal_ms + LATE_MS);
}

static void
txn_invite_timer_b(void **state)
{
	struct fixture *f = *state;
	int64_t at[MAX_SENT];
	size_t n, i;

	n = expected_schedule(at, MAX_SENT, 0);
	assert_int_equal(n, 7);

	assert_int_equal(txn_request(f->table, S(BRANCH), S("INVITE"),
	    S(INVITE_REQ)), 0);
	assert_int_equal(txn_count(f->table), 1);
	assert_true(run_until(f, table_empty));

	assert_int_equal(f->nsent, 7);
	for (i = 0; i < n; i++) {
		assert_int_equal(f->sent[i].len, strlen(INVITE_REQ));
		assert_sent_near(f, i, at[i]);
	}
	assert_int_equal(f->ntimeouts, 1);
	assert_true(elapsed_ms(f, f->timeout_at_us) >= 64 * T1_MS - EARLY_MS);
	assert_true(f->timeout_at_us >= f->sent[6].at_us);
	assert_int_equal(f->timeout_len, strlen(INVITE_REQ));
	assert_memory_equal(f->timeout_req, INVITE_REQ, strlen(INVITE_REQ));
}

static void
txn_invite_provisional_stops(void **state)
{
	struct fixture *f = *state;

	txn_request(f->table, S(BRANCH), S("INVITE"), S(INVITE_REQ));
	f->want_sent = 2;
	assert_true(run_until(f, enough_sent));
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 180),
	    TXN_FORWARD);

	/* Past where the third and fourth transmissions would fall. */
	run_for(f, 100);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(f->ntimeouts, 0);
	assert_int_equal(txn_count(f->table), 1);
}

static void
txn_invite_timer_c(void **state)
{
	struct fixture *f = *state;
	int64_t provisional_us;

	txn_request(f->table, S(BRANCH), S("INVITE"), S(INVITE_REQ));
	provisional_us = now_us();
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 100),
	    TXN_FORWARD);

	/* Timer B (640 ms) no longer applies, and Timer C ends it quietly. */
	assert_true(run_until(f, table_empty));
	assert_true((now_us() - provisional_us) / 1000 >= TIMER_C_MS - EARLY_MS);
	assert_true((now_us() - provisional_us) / 1000 < 64 * T1_MS);
	assert_int_equal(f->ntimeouts, 0);
	assert_int_equal(f->nsent, 1);
}

static void
txn_invite_timer_c_restart(void **state)
{
	struct fixture *f = *state;
	int64_t restart_us;

	txn_request(f->table, S(BRANCH), S("INVITE"), S(INVITE_REQ));
	txn_response(f->table, S(BRANCH), S("INVITE"), 180);
	run_for(f, TIMER_C_MS / 2);
	assert_int_equal(txn_count(f->table), 1);

	restart_us = now_us();
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 183),
	    TXN_FORWARD);
	run_for(f, TIMER_C_MS * 3 / 4);
	/* Without the restart Timer C would have fired by now. */
	assert_int_equal(txn_count(f->table), 1);

	assert_true(run_until(f, table_empty));
	assert_true((now_us() - restart_us) / 1000 >= TIMER_C_MS - EARLY_MS);
	assert_int_equal(f->ntimeouts, 0);
}

static void
txn_invite_2xx_destroys(void **state)
{
	struct fixture *f = *state;

	txn_request(f->table, S(BRANCH), S("INVITE"), S(INVITE_REQ));
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 200),
	    TXN_FORWARD);
	assert_int_equal(txn_count(f->table), 0);
	/* A retransmitted 2xx is a stray and still reaches the phone. */
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 200),
	    TXN_FORWARD);

	run_for(f, 4 * T1_MS);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(f->ntimeouts, 0);
}

static void
txn_invite_final_absorbed(void **state)
{
	struct fixture *f = *state;

	txn_request(f->table, S(BRANCH), S("INVITE"), S(INVITE_REQ));
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 180),
	    TXN_FORWARD);
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 486),
	    TXN_FORWARD);
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 486),
	    TXN_ABSORB);
	/* A late provisional after the final stays here too. */
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 180),
	    TXN_ABSORB);
	/* No ACK is stored yet, so nothing is resent. */
	assert_int_equal(f->nsent, 1);
	/* Timer D is at least 32 s, so the transaction is still there. */
	assert_int_equal(txn_count(f->table), 1);
}

static void
txn_invite_ack_resent(void **state)
{
	struct fixture *f = *state;

	txn_request(f->table, S(BRANCH), S("INVITE"), S(INVITE_REQ));
	txn_response(f->table, S(BRANCH), S("INVITE"), 486);
	txn_ack(f->table, S(BRANCH), S(ACK_REQ));
	assert_int_equal(f->nsent, 2);
	assert_memory_equal(f->sent[1].head, "ACK ", 4);

	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 486),
	    TXN_ABSORB);
	assert_int_equal(f->nsent, 3);
	assert_int_equal(f->sent[2].len, strlen(ACK_REQ));
	assert_memory_equal(f->sent[2].head, "ACK ", 4);

	/* Completed sends no more INVITEs, and Timer D (at least 32 s)
	 * outlasts 64*T1. */
	run_for(f, 64 * T1_MS + 6 * T1_MS);
	assert_int_equal(f->nsent, 3);
	assert_int_equal(txn_count(f->table), 1);
}

static void
txn_ack_before_final(void **state)
{
	struct fixture *f = *state;

	txn_request(f->table, S(BRANCH), S("INVITE"), S(INVITE_REQ));
	/* An ACK while the INVITE is not completed is sent, not stored. */
	txn_ack(f->table, S(BRANCH), S(ACK_REQ));
	assert_int_equal(f->nsent, 2);

	txn_response(f->table, S(BRANCH), S("INVITE"), 486);
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 486),
	    TXN_ABSORB);
	assert_int_equal(f->nsent, 2);
}

static void
txn_ack_unknown_branch(void **state)
{
	struct fixture *f = *state;

	txn_ack(f->table, S("z9hG4bK-unknown"), S(ACK_REQ));
	assert_int_equal(f->nsent, 1);
	assert_int_equal(f->sent[0].len, strlen(ACK_REQ));
	assert_int_equal(txn_count(f->table), 0);
}

static void
txn_non_invite_capped(void **state)
{
	struct fixture *f = *state;
	int64_t at[MAX_SENT];
	size_t n, i;

	n = expected_schedule(at, MAX_SENT, T2_MS);
	assert_int_equal(n, 18);

	txn_request(f->table, S(BRANCH), S("OPTIONS"), S(OPTIONS_REQ));
	assert_true(run_until(f, table_empty));

	assert_int_equal(f->nsent, n);
	for (i = 0; i < n; i++)
		assert_sent_near(f, i, at[i]);
	assert_int_equal(f->ntimeouts, 1);
	assert_true(elapsed_ms(f, f->timeout_at_us) >= 64 * T1_MS - EARLY_MS);
	assert_int_equal(f->timeout_len, strlen(OPTIONS_REQ));
	assert_memory_equal(f->timeout_req, OPTIONS_REQ, strlen(OPTIONS_REQ));
}

static void
txn_non_invite_proceeding(void **state)
{
	struct fixture *f = *state;
	size_t i;

	txn_request(f->table, S(BRANCH), S("OPTIONS"), S(OPTIONS_REQ));
	assert_int_equal(txn_response(f->table, S(BRANCH), S("OPTIONS"), 100),
	    TXN_FORWARD);
	assert_true(run_until(f, table_empty));

	/* Timer E keeps its first deadline (T1), then runs every T2 until
	 * Timer F, which still ends the transaction with a timeout. */
	assert_int_equal(f->nsent, 17);
	assert_sent_near(f, 1, T1_MS);
	for (i = 2; i < f->nsent; i++)
		assert_sent_near(f, i, T1_MS + (int64_t)(i - 1) * T2_MS);
	assert_int_equal(f->ntimeouts, 1);
	assert_true(elapsed_ms(f, f->timeout_at_us) >= 64 * T1_MS - EARLY_MS);
}

static void
txn_non_invite_timer_k(void **state)
{
	struct fixture *f = *state;
	int64_t final_us;

	txn_request(f->table, S(BRANCH), S("REGISTER"), S(OPTIONS_REQ));
	final_us = now_us();
	assert_int_equal(txn_response(f->table, S(BRANCH), S("REGISTER"), 200),
	    TXN_FORWARD);
	assert_int_equal(txn_response(f->table, S(BRANCH), S("REGISTER"), 200),
	    TXN_ABSORB);
	assert_int_equal(txn_response(f->table, S(BRANCH), S("REGISTER"), 100),
	    TXN_ABSORB);
	assert_int_equal(txn_count(f->table), 1);

	assert_true(run_until(f, table_empty));
	assert_true((now_us() - final_us) / 1000 >= T4_MS - EARLY_MS);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(f->ntimeouts, 0);
	/* Gone: a further copy is a stray. */
	assert_int_equal(txn_response(f->table, S(BRANCH), S("REGISTER"), 200),
	    TXN_FORWARD);
}

static void
txn_unknown_branch(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 486),
	    TXN_FORWARD);
	txn_request(f->table, S(BRANCH), S("INVITE"), S(INVITE_REQ));
	assert_int_equal(txn_response(f->table, S("z9hG4bK-other"), S("INVITE"),
	    486), TXN_FORWARD);
	/* A prefix of the branch is another key. */
	assert_int_equal(txn_response(f->table, BRANCH, strlen(BRANCH) - 1,
	    S("INVITE"), 486), TXN_FORWARD);
	/* Methods compare case-sensitively. */
	assert_int_equal(txn_response(f->table, S(BRANCH), S("invite"), 486),
	    TXN_FORWARD);
	/* The real transaction was not touched: its first final forwards. */
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 486),
	    TXN_FORWARD);
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 486),
	    TXN_ABSORB);
}

static void
txn_invite_cancel_separate(void **state)
{
	struct fixture *f = *state;

	txn_request(f->table, S(BRANCH), S("INVITE"), S(INVITE_REQ));
	txn_request(f->table, S(BRANCH), S("CANCEL"), S(CANCEL_REQ));
	assert_int_equal(f->nsent, 2);
	assert_int_equal(txn_count(f->table), 2);

	assert_int_equal(txn_response(f->table, S(BRANCH), S("CANCEL"), 200),
	    TXN_FORWARD);
	assert_int_equal(txn_count(f->table), 2);
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 487),
	    TXN_FORWARD);
	assert_int_equal(txn_response(f->table, S(BRANCH), S("INVITE"), 487),
	    TXN_ABSORB);
	assert_int_equal(txn_response(f->table, S(BRANCH), S("CANCEL"), 200),
	    TXN_ABSORB);
	assert_int_equal(txn_count(f->table), 2);
}

static void
txn_request_duplicate(void **state)
{
	struct fixture *f = *state;

	txn_request(f->table, S(BRANCH), S("INVITE"), S(INVITE_REQ));
	f->want_sent = 2;
	assert_true(run_until(f, enough_sent));

	/* Sent again at about T1, and Timer A keeps its deadline at 3*T1. */
	assert_int_equal(txn_request(f->table, S(BRANCH), S("INVITE"),
	    S(INVITE_REQ)), 0);
	assert_int_equal(f->nsent, 3);
	assert_int_equal(txn_count(f->table), 1);

	f->want_sent = 4;
	assert_true(run_until(f, enough_sent));
	assert_sent_near(f, 3, 3 * T1_MS);
}

static void
txn_request_ack(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(txn_request(f->table, S(BRANCH), S("ACK"),
	    S(ACK_REQ)), 0);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(txn_count(f->table), 0);
}

static void
txn_table_growth(void **state)
{
	struct fixture *f = *state;
	char branch[32];
	int i, len;

	for (i = 0; i < 10000; i++) {
		len = snprintf(branch, sizeof(branch), "z9hG4bK-%d", i);
		assert_int_equal(txn_request(f->table, branch, len, S("INVITE"),
		    S(INVITE_REQ)), 0);
	}
	assert_int_equal(txn_count(f->table), 10000);

	/* Each transaction is found again: only a found one absorbs. */
	for (i = 0; i < 10000; i++) {
		len = snprintf(branch, sizeof(branch), "z9hG4bK-%d", i);
		assert_int_equal(txn_response(f->table, branch, len,
		    S("INVITE"), 486), TXN_FORWARD);
		assert_int_equal(txn_response(f->table, branch, len,
		    S("INVITE"), 486), TXN_ABSORB);
	}
	for (i = 0; i < 10000; i += 2) {
		len = snprintf(branch, sizeof(branch), "z9hG4bK-%d", i);
		txn_response(f->table, branch, len, S("INVITE"), 200);
	}
	assert_int_equal(txn_count(f->table), 5000);
	/* The teardown frees the other 5000 with their timers pending. */
}

static void
txn_pending_excludes_completed(void **state)
{
	struct fixture *f = *state;

	txn_request(f->table, S("z9hG4bK-a"), S("INVITE"), S(INVITE_REQ));
	txn_request(f->table, S("z9hG4bK-b"), S("REGISTER"), S(OPTIONS_REQ));
	txn_request(f->table, S("z9hG4bK-c"), S("INVITE"), S(INVITE_REQ));
	assert_int_equal(txn_pending(f->table), 3);

	/* Proceeding still waits for a final response. */
	txn_response(f->table, S("z9hG4bK-a"), S("INVITE"), 180);
	assert_int_equal(txn_pending(f->table), 3);

	/* Completed lingers for retransmissions but waits for nothing. */
	txn_response(f->table, S("z9hG4bK-b"), S("REGISTER"), 200);
	txn_response(f->table, S("z9hG4bK-c"), S("INVITE"), 486);
	assert_int_equal(txn_pending(f->table), 1);
	assert_int_equal(txn_count(f->table), 3);

	txn_response(f->table, S("z9hG4bK-a"), S("INVITE"), 200);
	assert_int_equal(txn_pending(f->table), 0);
}

static void
txn_table_free_null(void **state)
{
	txn_table_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(txn_invite_timer_b, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_invite_provisional_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_invite_timer_c, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_invite_timer_c_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_invite_2xx_destroys, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_invite_final_absorbed, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_invite_ack_resent, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_ack_before_final, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_ack_unknown_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_non_invite_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_non_invite_proceeding, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_non_invite_timer_k, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_unknown_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_invite_cancel_separate, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_request_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_request_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_table_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(txn_pending_excludes_completed, setup, teardown),
		cmocka_unit_test(txn_table_free_null),
	};

	log_init(LOGL_WARNING, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
