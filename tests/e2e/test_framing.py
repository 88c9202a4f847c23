"""Stream framing on the phone side: pipelining, tiny TLS records,
keep-alives, and requests sipsgate must answer itself."""

from sipphone import Message


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def test_framing_pipelined(gateway, phone_factory):
    registrar, gate = gateway("udp")
    alice = phone_factory(gate, "alice")
    first = alice.build_register()
    second = alice.build_register()

    alice.send(first + second)

    responses = [alice.wait_response(alice.register_call_id, "REGISTER",
                                     final=True) for _ in range(2)]
    assert sorted(r.cseq[0] for r in responses) == [1, 2]
    assert [r.status for r in responses] == [200, 200]


def test_framing_one_byte_records(gateway, phone_factory):
    registrar, gate = gateway("udp")
    alice = phone_factory(gate, "alice")
    request = alice.build_register()

    for i in range(len(request)):
        alice.send(request[i:i + 1])

    response = alice.wait_response(alice.register_call_id, "REGISTER",
                                   final=True)
    assert response.status == 200


def test_framing_keepalive_pong(gateway, phone_factory):
    registrar, gate = gateway("udp")
    alice = phone_factory(gate, "alice")

    alice.send(b"\r\n\r\n")
    alice.wait_pong()

    # A REGISTER round trip afterwards proves the pong was one CRLF and
    # nothing else came with it.
    assert alice.register().status == 200
    assert alice.pongs == 1
    assert len(alice.messages) == 1


def test_framing_max_forwards_zero(sipsgate_factory, udp_backend,
                                   phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")

    response = alice.register(max_forwards=0)

    assert response.status == 483
    assert len(response.vias) == 1
    assert response.vias[0].branch is not None
    assert_backend_sees_next_register(alice, udp_backend)


def test_framing_missing_call_id(sipsgate_factory, udp_backend,
                                 phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    request = alice.build_register(omit=["Call-ID"])
    sent = Message(request)

    alice.send_message(request)
    response = alice.wait_response(cseq_method="REGISTER", final=True)

    assert response.status == 400
    assert response.branch == sent.branch
    assert_backend_sees_next_register(alice, udp_backend)


def assert_backend_sees_next_register(phone, backend):
    """Send a valid REGISTER and check it is the first request the
    backend receives, so the rejected one was not forwarded."""
    request = phone.build_register()
    sent = Message(request)
    phone.send_message(request)

    forwarded, source = backend.recv_request()

    assert forwarded.call_id == sent.call_id
    assert forwarded.cseq == sent.cseq
    backend.reply(forwarded, source, 200, "OK")
    response = phone.wait_response(sent.call_id, "REGISTER", final=True)
    assert response.status == 200
