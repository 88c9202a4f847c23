/* Unit tests for flow token encoding and verification. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "flow.h"

/* Two keys that differ in one bit. */
static const char key_a[] = "0123456789abcdef0123456789abcdef";
static const char key_b[] = "0123456789abcdef0123456789abcdeF";
#define KEY_A	(const unsigned char *)key_a, sizeof(key_a) - 1
#define KEY_B	(const unsigned char *)key_b, sizeof(key_b) - 1

static const uint64_t ids[] = {
	0, 1, (UINT64_C(1) << 32) + 7, UINT64_MAX,
};

#define NIDS	(sizeof(ids) / sizeof(ids[0]))

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
signer_setup(void **state)
{
	*state = flow_signer_new(KEY_A);
	return *state == NULL ? -1 : 0;
}

static int
signer_teardown(void **state)
{
	flow_signer_free(*state);
	return 0;
}

static void
flow_round_trip(void **state)
{
	struct flow_signer *s = *state;
	char tok[FLOW_TOKEN_LEN + 1];
	uint64_t id;

	for (size_t i = 0; i < NIDS; i++) {
		assert_int_equal(flow_token_encode(s, ids[i], tok), 0);
		assert_int_equal(strlen(tok), FLOW_TOKEN_LEN);
		id = ids[i] ^ 1;
		assert_int_equal(flow_token_decode(s, tok, FLOW_TOKEN_LEN, &id), 0);
		assert_true(id == ids[i]);
	}
}

static void
flow_random_key_round_trip(void **state)
{
	struct flow_signer *s = flow_signer_new(NULL, 0);
	struct flow_signer *other = flow_signer_new(NULL, 0);
	char tok[FLOW_TOKEN_LEN + 1];
	uint64_t id = 0;

	assert_non_null(s);
	assert_non_null(other);
	assert_int_equal(flow_token_encode(s, 42, tok), 0);
	assert_int_equal(flow_token_decode(s, tok, FLOW_TOKEN_LEN, &id), 0);
	assert_true(id == 42);

	/* A token signed with one random key fails under another. */
	assert_int_equal(flow_token_decode(other, tok, FLOW_TOKEN_LEN, &id), -1);
	flow_signer_free(s);
	flow_signer_free(other);
}

static void
flow_deterministic(void **state)
{
	struct flow_signer *s = *state;
	struct flow_signer *same = flow_signer_new(KEY_A);
	char a[FLOW_TOKEN_LEN + 1], b[FLOW_TOKEN_LEN + 1];

	assert_non_null(same);
	assert_int_equal(flow_token_encode(s, 77, a), 0);
	assert_int_equal(flow_token_encode(same, 77, b), 0);
	assert_string_equal(a, b);
	assert_int_equal(flow_token_encode(s, 78, b), 0);
	assert_string_not_equal(a, b);
	flow_signer_free(same);
}

static void
flow_known_answer(void **state)
{
	struct flow_signer *s = *state;
	char tok[FLOW_TOKEN_LEN + 1];

	/* Computed separately with Python's hmac and base64 modules:
	 * urlsafe_b64encode(id + HMAC-SHA256(key_a, id)[:10]) for the
	 * big-endian id 2^32 + 7. */
	assert_int_equal(flow_token_encode(s, (UINT64_C(1) << 32) + 7, tok), 0);
	assert_string_equal(tok, "AAAAAQAAAAfBwnjlfPAzKL7V");
}

static void
flow_alphabet_only(void **state)
{
	struct flow_signer *s = *state;
	char tok[FLOW_TOKEN_LEN + 1];

	for (size_t i = 0; i < NIDS; i++) {
		assert_int_equal(flow_token_encode(s, ids[i], tok), 0);
		for (size_t j = 0; j < FLOW_TOKEN_LEN; j++)
			assert_non_null(strchr(alphabet, tok[j]));
		assert_int_equal(tok[FLOW_TOKEN_LEN], '\0');
	}
}

static void
flow_id_visible(void **state)
{
	struct flow_signer *s = *state;
	char tok[FLOW_TOKEN_LEN + 1];

	/* The token starts with the 8-byte id, whose first 60 bits fill 10
	 * characters: all zero bits are 'A', all one bits are '_'. */
	assert_int_equal(flow_token_encode(s, 0, tok), 0);
	assert_memory_equal(tok, "AAAAAAAAAA", 10);
	assert_int_equal(flow_token_encode(s, UINT64_MAX, tok), 0);
	assert_memory_equal(tok, "__________", 10);
}

static void
flow_tampered_rejected(void **state)
{
	struct flow_signer *s = *state;
	char tok[FLOW_TOKEN_LEN + 1], bad[FLOW_TOKEN_LEN + 1];
	uint64_t id;

	for (size_t i = 0; i < NIDS; i++) {
		assert_int_equal(flow_token_encode(s, ids[i], tok), 0);
		for (size_t pos = 0; pos < FLOW_TOKEN_LEN; pos++) {
			memcpy(bad, tok, sizeof(bad));
			/* Next character of the alphabet, so still well formed. */
			bad[pos] = alphabet[(strchr(alphabet, tok[pos]) - alphabet
			    + 1) % 64];
			assert_int_equal(flow_token_decode(s, bad,
			    FLOW_TOKEN_LEN, &id), -1);
		}
	}
}

static void
flow_peek_reads_id(void **state)
{
	struct flow_signer *s = *state;
	char tok[FLOW_TOKEN_LEN + 1];
	uint64_t id;

	for (size_t i = 0; i < NIDS; i++) {
		assert_int_equal(flow_token_encode(s, ids[i], tok), 0);
		id = ids[i] ^ 1;
		assert_int_equal(flow_token_peek(tok, FLOW_TOKEN_LEN, &id), 0);
		assert_true(id == ids[i]);
	}
	/* peek does not authenticate: a changed MAC character still reads. */
	tok[FLOW_TOKEN_LEN - 1] = tok[FLOW_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
	assert_int_equal(flow_token_peek(tok, FLOW_TOKEN_LEN, &id), 0);
	assert_int_equal(flow_token_peek(tok, FLOW_TOKEN_LEN - 1, &id), -1);
	tok[3] = '.';
	assert_int_equal(flow_token_peek(tok, FLOW_TOKEN_LEN, &id), -1);
}

static void
flow_other_key_rejected(void **state)
{
	struct flow_signer *s = *state;
	struct flow_signer *other = flow_signer_new(KEY_B);
	char tok[FLOW_TOKEN_LEN + 1];
	uint64_t id;

	assert_non_null(other);
	for (size_t i = 0; i < NIDS; i++) {
		assert_int_equal(flow_token_encode(s, ids[i], tok), 0);
		assert_int_equal(flow_token_decode(other, tok, FLOW_TOKEN_LEN,
		    &id), -1);
	}
	flow_signer_free(other);
}

static void
flow_wrong_length_rejected(void **state)
{
	struct flow_signer *s = *state;
	char tok[FLOW_TOKEN_LEN + 2];
	uint64_t id;

	assert_int_equal(flow_token_encode(s, 5, tok), 0);
	assert_int_equal(flow_token_decode(s, tok, FLOW_TOKEN_LEN - 1, &id), -1);
	assert_int_equal(flow_token_decode(s, tok, 0, &id), -1);

	/* A valid token with one more alphabet character after it. */
	tok[FLOW_TOKEN_LEN] = 'A';
	tok[FLOW_TOKEN_LEN + 1] = '\0';
	assert_int_equal(flow_token_decode(s, tok, FLOW_TOKEN_LEN + 1, &id), -1);
	assert_int_equal(flow_token_decode(s, tok, FLOW_TOKEN_LEN, &id), 0);
}

static void
flow_bad_alphabet_rejected(void **state)
{
	static const char outside[] = "+/=.~ %\r\n\t\x80\xff";
	struct flow_signer *s = *state;
	char tok[FLOW_TOKEN_LEN + 1], bad[FLOW_TOKEN_LEN + 1];
	uint64_t id;

	assert_int_equal(flow_token_encode(s, 9, tok), 0);
	for (size_t c = 0; c < sizeof(outside) - 1; c++) {
		for (size_t pos = 0; pos < FLOW_TOKEN_LEN; pos++) {
			memcpy(bad, tok, sizeof(bad));
			bad[pos] = outside[c];
			assert_int_equal(flow_token_decode(s, bad,
			    FLOW_TOKEN_LEN, &id), -1);
		}
	}

	/* A NUL inside the given length is outside the alphabet too. */
	memcpy(bad, tok, sizeof(bad));
	bad[3] = '\0';
	assert_int_equal(flow_token_decode(s, bad, FLOW_TOKEN_LEN, &id), -1);
}

static void
flow_empty_key_rejected(void **state)
{
	assert_null(flow_signer_new((const unsigned char *)key_a, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(flow_round_trip,
		    signer_setup, signer_teardown),
		cmocka_unit_test(flow_random_key_round_trip),
		cmocka_unit_test_setup_teardown(flow_deterministic,
		    signer_setup, signer_teardown),
		cmocka_unit_test_setup_teardown(flow_known_answer,
		    signer_setup, signer_teardown),
		cmocka_unit_test_setup_teardown(flow_alphabet_only,
		    signer_setup, signer_teardown),
		cmocka_unit_test_setup_teardown(flow_id_visible,
		    signer_setup, signer_teardown),
		cmocka_unit_test_setup_teardown(flow_tampered_rejected,
		    signer_setup, signer_teardown),
		cmocka_unit_test_setup_teardown(flow_peek_reads_id,
		    signer_setup, signer_teardown),
		cmocka_unit_test_setup_teardown(flow_other_key_rejected,
		    signer_setup, signer_teardown),
		cmocka_unit_test_setup_teardown(flow_wrong_length_rejected,
		    signer_setup, signer_teardown),
		cmocka_unit_test_setup_teardown(flow_bad_alphabet_rejected,
		    signer_setup, signer_teardown),
		cmocka_unit_test(flow_empty_key_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
