"""Phone identities from client certificates: [tls] identity_check binds
From (and the To of REGISTER) to them, and [tls] trusted_headers carry
them to the backend in place of whatever a phone claims."""

import pytest

from sipphone import Message, build_message, build_response, random_token


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def identity_extra(policy):
    return "[tls]\nidentity_check = %s\n" % policy


def forwarded_register(phone, backend):
    """Send a REGISTER, let the backend respond 200, and return the
    REGISTER as the backend received it."""
    request = phone.build_register()
    phone.send_message(request)
    forwarded, source = backend.recv_request("REGISTER")
    assert forwarded.call_id == Message(request).call_id
    backend.reply(forwarded, source, 200, "OK")
    assert phone.wait_response(phone.register_call_id, "REGISTER",
                               final=True).status == 200
    return forwarded


# ---- identity_check ----

def test_identity_user_own_aor(sipsgate_factory, udp_backend, phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=identity_extra("user"))
    alice = phone_factory(gate, "alice")

    forwarded = forwarded_register(alice, udp_backend)

    assert forwarded.get("to") == "<sip:alice@example.com>"


def test_identity_user_other_aor(sipsgate_factory, udp_backend,
                                 phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=identity_extra("user"))
    # A phone with alice's certificate that registers as bob.
    impostor = phone_factory(gate, "bob", cert="alice-chain.pem",
                             key="alice.key")
    mark = gate.mark()

    response = impostor.register()

    assert response.status == 403
    line = gate.wait_log(r"request rejected: From sip:bob@example\.com does "
                         r"not match the client certificate identities "
                         r"\(sip:alice@example\.com\)", since=mark)
    assert line is not None
    # Nothing reached the backend: alice's REGISTER is the first request.
    alice = phone_factory(gate, "alice")
    forwarded_register(alice, udp_backend)


def test_identity_user_invite_from(sipsgate_factory, udp_backend,
                                   phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=identity_extra("user"))
    impostor = phone_factory(gate, "bob", cert="alice-chain.pem",
                             key="alice.key")
    call_id = random_token(10)

    impostor.send_message(impostor.build_invite("carol", call_id,
                                                random_token(4)))
    response = impostor.wait_response(call_id, "INVITE", final=True)

    assert response.status == 403


@pytest.mark.parametrize("domain,status", [("example.com", 200),
                                           ("example.org", 403)],
                         ids=["same_domain", "other_domain"])
def test_identity_domain(sipsgate_factory, udp_backend, phone_factory,
                         domain, status):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=identity_extra("domain"))
    phone = phone_factory(gate, "bob", cert="alice-chain.pem",
                          key="alice.key", domain=domain)

    if status == 200:
        forwarded = forwarded_register(phone, udp_backend)
        assert forwarded.get("to") == "<sip:bob@example.com>"
    else:
        assert phone.register().status == status


def test_identity_off_by_default(sipsgate_factory, udp_backend,
                                 phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    phone = phone_factory(gate, "bob", cert="alice-chain.pem",
                          key="alice.key")

    forwarded = forwarded_register(phone, udp_backend)

    assert forwarded.get("to") == "<sip:bob@example.com>"


def test_identity_without_certificate(sipsgate_factory, udp_backend,
                                      phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend), verify_client="optional",
                            extra=identity_extra("domain"))
    anonymous = phone_factory(gate, "alice", cert=False)

    assert anonymous.register().status == 403
    assert gate.wait_log(r"no verified client certificate")


# ---- trusted headers ----

FORGED = [("P-Asserted-Identity", "\"Boss\" <sip:boss@example.com>"),
          ("X-Sipsgate-Client-Identity", "uri=\"sip:boss@example.com\"")]


def test_trusted_headers_replaced(sipsgate_factory, udp_backend,
                                  phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    request = alice.build_register(extra=FORGED)
    alice.send_message(request)

    forwarded, source = udp_backend.recv_request("REGISTER")
    udp_backend.reply(forwarded, source, 200, "OK")

    assert forwarded.get_all("P-Asserted-Identity") == [
        "<sip:alice@example.com>"]
    assert forwarded.get_all("X-Sipsgate-Client-Identity") == [
        "uri=\"sip:alice@example.com\", subject=\"CN=alice\""]
    assert b"boss" not in forwarded.raw


def test_trusted_headers_in_responses(sipsgate_factory, udp_backend,
                                      phone_factory):
    """A phone's response to a request from the backend cannot assert
    someone else either."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    bob = phone_factory(gate, "bob", auto_answer=False)
    register = forwarded_register(bob, udp_backend)
    headers = [
        ("Via", "SIP/2.0/UDP %s;branch=z9hG4bK%s;rport"
         % (udp_backend.address, random_token(8))),
        ("Max-Forwards", "70"),
        ("Route", register.values("path")[0]),
        ("From", "<sip:tester@example.com>;tag=%s" % random_token(4)),
        ("To", "<sip:bob@example.com>"),
        ("Call-ID", random_token(10)),
        ("CSeq", "1 OPTIONS"),
    ]
    udp_backend.send(build_message("OPTIONS %s SIP/2.0" % bob.contact_uri,
                                   headers),
                     ("127.0.0.1", gate.backend_port))

    request = bob.wait_request("OPTIONS")
    bob.send_message(build_response(request, 200, "OK", to_tag="t1",
                                    extra=FORGED))
    response, _ = udp_backend.recv()

    assert response.status == 200
    assert response.get_all("P-Asserted-Identity") == [
        "<sip:bob@example.com>"]
    assert b"boss" not in response.raw


def test_trusted_headers_without_certificate(sipsgate_factory, udp_backend,
                                             phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend), verify_client="optional")
    anonymous = phone_factory(gate, "alice", cert=False)
    request = anonymous.build_register(extra=FORGED)
    anonymous.send_message(request)

    forwarded, source = udp_backend.recv_request("REGISTER")
    udp_backend.reply(forwarded, source, 200, "OK")

    assert forwarded.get_all("P-Asserted-Identity") == []
    assert forwarded.get_all("X-Sipsgate-Client-Identity") == []


def test_trusted_headers_empty(sipsgate_factory, udp_backend, phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra="[tls]\ntrusted_headers =\n")
    alice = phone_factory(gate, "alice")
    request = alice.build_register(extra=FORGED[:1])
    alice.send_message(request)

    forwarded, source = udp_backend.recv_request("REGISTER")
    udp_backend.reply(forwarded, source, 200, "OK")

    assert forwarded.get_all("P-Asserted-Identity") == [FORGED[0][1]]
