/* Unit tests for identity.c: the identity list, URI matching under each
 * identity_check policy, the request check and the trusted headers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* memmem */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "identity.h"
#include "sipmsg.h"

#define L_VIA \
	"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKabc;rport\r\n"
#define L_MF		"Max-Forwards: 70\r\n"
#define L_CALLID	"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
#define L_CL0		"Content-Length: 0\r\n"

/* A REGISTER with the given From and To URIs. */
#define REGISTER(from, to)						\
	"REGISTER sip:example.com SIP/2.0\r\n" L_VIA L_MF		\
	"From: <" from ">;tag=1\r\n" "To: <" to ">\r\n" L_CALLID	\
	"CSeq: 1 REGISTER\r\n" L_CL0 "\r\n"

#define INVITE(from, to)						\
	"INVITE " to " SIP/2.0\r\n" L_VIA L_MF				\
	"From: \"Someone\" <" from ">;tag=1\r\n" "To: " to "\r\n"	\
	L_CALLID "CSeq: 1 INVITE\r\n" L_CL0 "\r\n"

static struct sipmsg msg;

/* alice's certificate: one SIP URI, one DNS name, and the subject. */
static char *
alice_list(void)
{
	struct identity_builder b;
	static const char uri[] = "sip:alice@example.com";
	static const char dns[] = "pbx.example.net";
	static const char subject[] = "CN=alice,O=Example \"Phones\"";

	identity_builder_init(&b);
	identity_builder_add(&b, ID_URI, uri, strlen(uri));
	identity_builder_add(&b, ID_DNS, dns, strlen(dns));
	identity_builder_add(&b, ID_SUBJECT, subject, strlen(subject));
	return identity_builder_finish(&b);
}

static char *
list_of(enum identity_kind kind, const char *text)
{
	struct identity_builder b;

	identity_builder_init(&b);
	identity_builder_add(&b, kind, text, strlen(text));
	return identity_builder_finish(&b);
}

static int
parse(const char *s)
{
	struct sip_error err;
	const char *end = memmem(s, strlen(s), "\r\n\r\n", 4);

	assert_non_null(end);
	return sipmsg_parse(&msg, s, strlen(s), (size_t)(end - s) + 4, &err);
}

static int
match(const char *list, enum identity_check policy, const char *user,
    const char *host)
{
	return identity_match(list, policy, user, strlen(user), host,
	    strlen(host));
}

static void
identity_builder_entries(void **state)
{
	char *list = alice_list();
	const char *e;

	assert_non_null(list);
	e = identity_next(list, NULL);
	assert_string_equal(e, "usip:alice@example.com");
	e = identity_next(list, e);
	assert_string_equal(e, "dpbx.example.net");
	e = identity_next(list, e);
	assert_string_equal(e, "sCN=alice,O=Example \"Phones\"");
	assert_null(identity_next(list, e));
	assert_string_equal(identity_first(list, ID_DNS), "pbx.example.net");
	assert_null(identity_first(list, ID_CN));
	free(list);
}

static void
identity_builder_refuses(void **state)
{
	struct identity_builder b;
	char *list;

	/* A subject alone is no identity. */
	assert_null(list_of(ID_SUBJECT, "CN=x"));

	/* Control characters would end a header line: left out. */
	identity_builder_init(&b);
	identity_builder_add(&b, ID_URI, "sip:a@b\r\nX: y", 14);
	identity_builder_add(&b, ID_URI, "sip:a@b", 7);
	list = identity_builder_finish(&b);
	assert_non_null(list);
	assert_string_equal(identity_first(list, ID_URI), "sip:a@b");
	assert_null(identity_next(list, identity_next(list, NULL)));
	free(list);
}

static void
identity_format_list(void **state)
{
	char *list = alice_list();
	char out[128];

	identity_format(list, out, sizeof(out));
	assert_string_equal(out, "sip:alice@example.com, DNS:pbx.example.net");
	identity_format(NULL, out, sizeof(out));
	assert_string_equal(out, "none");
	free(list);
}

static void
identity_match_user(void **state)
{
	char *list = alice_list();

	assert_true(match(list, IDENTITY_USER, "alice", "example.com"));
	assert_true(match(list, IDENTITY_USER, "alice", "EXAMPLE.com"));
	/* User parts compare case-sensitively. */
	assert_false(match(list, IDENTITY_USER, "Alice", "example.com"));
	assert_false(match(list, IDENTITY_USER, "bob", "example.com"));
	assert_false(match(list, IDENTITY_USER, "alice", "example.org"));
	/* An escaped unreserved character equals the character. */
	assert_true(match(list, IDENTITY_USER, "%61lice", "example.com"));
	/* A DNS name covers only the domain itself, not its users. */
	assert_false(match(list, IDENTITY_USER, "alice", "pbx.example.net"));
	assert_true(match(list, IDENTITY_USER, "", "pbx.example.net"));
	assert_false(match(list, IDENTITY_USER, "", "example.com"));
	free(list);
}

static void
identity_match_escapes(void **state)
{
	char *list = list_of(ID_URI, "sip:a%3bb@example.com");

	/* An escaped reserved character is not the literal one. */
	assert_true(match(list, IDENTITY_USER, "a%3Bb", "example.com"));
	assert_false(match(list, IDENTITY_USER, "a;b", "example.com"));
	free(list);

	/* ';' may appear unescaped in a user part. */
	list = list_of(ID_URI, "sip:a;b@example.com;transport=tls");
	assert_true(match(list, IDENTITY_USER, "a;b", "example.com"));
	assert_false(match(list, IDENTITY_USER, "a", "example.com"));
	free(list);
}

static void
identity_match_domain(void **state)
{
	char *list = alice_list();

	assert_true(match(list, IDENTITY_DOMAIN, "bob", "example.com"));
	assert_true(match(list, IDENTITY_DOMAIN, "carol", "pbx.example.net"));
	assert_true(match(list, IDENTITY_DOMAIN, "", "example.com"));
	assert_false(match(list, IDENTITY_DOMAIN, "bob", "example.org"));
	assert_false(match(list, IDENTITY_DOMAIN, "bob", "sub.example.com"));
	free(list);
}

static void
identity_match_uri_forms(void **state)
{
	char *list = list_of(ID_URI, "SIPS:alice:secret@[2001:db8::1]:5061;"
	    "transport=tls");

	/* Scheme, password, port and parameters are not compared. */
	assert_true(match(list, IDENTITY_USER, "alice", "2001:db8::1"));
	free(list);

	/* Only sip: and sips: URIs name a SIP identity. */
	list = list_of(ID_URI, "http://example.com/");
	assert_non_null(list);
	assert_false(match(list, IDENTITY_DOMAIN, "", "example.com"));
	free(list);
}

static void
identity_match_wildcard(void **state)
{
	char *list = list_of(ID_DNS, "*.example.com");

	assert_false(match(list, IDENTITY_DOMAIN, "a", "x.example.com"));
	assert_false(match(list, IDENTITY_DOMAIN, "a", "*.example.com"));
	free(list);
}

static void
identity_match_cn(void **state)
{
	char *list = list_of(ID_CN, "example.com");

	assert_true(match(list, IDENTITY_DOMAIN, "alice", "example.com"));
	assert_false(match(list, IDENTITY_USER, "alice", "example.com"));
	free(list);
}

static void
identity_request_register(void **state)
{
	char *list = alice_list();
	char why[512];

	assert_int_equal(parse(REGISTER("sip:alice@example.com",
	    "sip:alice@example.com")), 0);
	assert_int_equal(identity_check_request(&msg, list, IDENTITY_USER, why,
	    sizeof(why)), 0);
	sipmsg_free(&msg);

	/* Registering someone else's address-of-record. */
	assert_int_equal(parse(REGISTER("sip:alice@example.com",
	    "sip:bob@example.com")), 0);
	assert_int_equal(identity_check_request(&msg, list, IDENTITY_USER, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "To sip:bob@example.com does not match the "
	    "client certificate identities (sip:alice@example.com, "
	    "DNS:pbx.example.net) with identity_check = user");
	assert_int_equal(identity_check_request(&msg, list, IDENTITY_DOMAIN,
	    why, sizeof(why)), 0);
	assert_int_equal(identity_check_request(&msg, list, IDENTITY_OFF, why,
	    sizeof(why)), 0);
	sipmsg_free(&msg);
	free(list);
}

static void
identity_request_from(void **state)
{
	char *list = alice_list();
	char why[512];

	/* Only From counts outside REGISTER: To is the callee. */
	assert_int_equal(parse(INVITE("sip:alice@example.com",
	    "sip:bob@example.com")), 0);
	assert_int_equal(identity_check_request(&msg, list, IDENTITY_USER, why,
	    sizeof(why)), 0);
	sipmsg_free(&msg);

	assert_int_equal(parse(INVITE("sip:bob@example.com",
	    "sip:alice@example.com")), 0);
	assert_int_equal(identity_check_request(&msg, list, IDENTITY_USER, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "From sip:bob@example.com does not match"));
	sipmsg_free(&msg);

	assert_int_equal(parse(INVITE("tel:+15551234", "sip:bob@example.com")),
	    0);
	assert_int_equal(identity_check_request(&msg, list, IDENTITY_DOMAIN,
	    why, sizeof(why)), -1);
	assert_string_equal(why, "From tel:+15551234 is not a sip: or sips: "
	    "URI");
	sipmsg_free(&msg);

	assert_int_equal(parse(INVITE("sip:alice@example.com",
	    "sip:bob@example.com")), 0);
	assert_int_equal(identity_check_request(&msg, NULL, IDENTITY_DOMAIN,
	    why, sizeof(why)), -1);
	assert_non_null(strstr(why, "no verified client certificate"));
	sipmsg_free(&msg);
	free(list);
}

/* Applies the header edits to the current message. */
static char *
edited(char *const *names, int n, const char *list)
{
	struct sip_edits ed;
	size_t len;
	char *out;

	sip_edits_init(&ed);
	assert_int_equal(identity_edit_headers(&msg, &ed, names, n, list), 0);
	len = sip_edits_size(&ed, msg.len);
	out = malloc(len + 1);
	assert_non_null(out);
	assert_int_equal(sip_edits_apply(&ed, msg.buf, msg.len, out, len + 1),
	    len);
	out[len] = '\0';
	return out;
}

#define FORGED								\
	"INVITE sip:bob@example.com SIP/2.0\r\n"			\
	"P-Asserted-Identity: <sip:boss@example.com>\r\n" L_VIA L_MF	\
	"From: <sip:alice@example.com>;tag=1\r\n"			\
	"To: <sip:bob@example.com>\r\n" L_CALLID			\
	"p-asserted-identity: \"CEO\" <sip:ceo@example.com>\r\n"	\
	"X-Sipsgate-Client-Identity: uri=\"sip:boss@example.com\"\r\n"	\
	"CSeq: 1 INVITE\r\n" L_CL0 "\r\n"

static char *trusted[] = {
	"P-Asserted-Identity", "X-Sipsgate-Client-Identity",
};

static void
identity_headers_replaced(void **state)
{
	char *list = alice_list();
	char *out;

	assert_int_equal(parse(FORGED), 0);
	out = edited(trusted, 2, list);
	assert_null(strstr(out, "boss"));
	assert_null(strstr(out, "ceo"));
	assert_non_null(strstr(out, "INVITE sip:bob@example.com SIP/2.0\r\n"
	    "P-Asserted-Identity: <sip:alice@example.com>\r\n"
	    "X-Sipsgate-Client-Identity: uri=\"sip:alice@example.com\", "
	    "dns=\"pbx.example.net\", subject=\"CN=alice,O=Example "
	    "\\\"Phones\\\"\"\r\n" L_VIA));
	assert_non_null(strstr(out, L_CALLID "CSeq: 1 INVITE\r\n"));
	sipmsg_free(&msg);
	free(out);
	free(list);
}

static void
identity_headers_without_certificate(void **state)
{
	char *out;

	assert_int_equal(parse(FORGED), 0);
	out = edited(trusted, 2, NULL);
	assert_null(strstr(out, "P-Asserted-Identity"));
	assert_null(strstr(out, "p-asserted-identity"));
	assert_null(strstr(out, "X-Sipsgate-Client-Identity"));
	sipmsg_free(&msg);
	free(out);
}

static void
identity_headers_dns_only(void **state)
{
	char *list = list_of(ID_DNS, "pbx.example.net");
	char *out;

	/* P-Asserted-Identity needs a URI, so there is none to assert. */
	assert_int_equal(parse(FORGED), 0);
	out = edited(trusted, 2, list);
	assert_null(strstr(out, "P-Asserted-Identity"));
	assert_non_null(strstr(out, "X-Sipsgate-Client-Identity: "
	    "dns=\"pbx.example.net\"\r\n"));
	sipmsg_free(&msg);
	free(out);
	free(list);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identity_builder_entries),
		cmocka_unit_test(identity_builder_refuses),
		cmocka_unit_test(identity_format_list),
		cmocka_unit_test(identity_match_user),
		cmocka_unit_test(identity_match_escapes),
		cmocka_unit_test(identity_match_domain),
		cmocka_unit_test(identity_match_uri_forms),
		cmocka_unit_test(identity_match_wildcard),
		cmocka_unit_test(identity_match_cn),
		cmocka_unit_test(identity_request_register),
		cmocka_unit_test(identity_request_from),
		cmocka_unit_test(identity_headers_replaced),
		cmocka_unit_test(identity_headers_without_certificate),
		cmocka_unit_test(identity_headers_dns_only),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
