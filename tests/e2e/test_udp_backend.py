"""Transactions toward a UDP backend: sipsgate retransmits requests (RFC
3261 section 17.1.2, T1 = 500 ms), absorbs retransmitted responses, and
answers 408 when the backend never answers."""

import time

import pytest

from sipphone import Message, random_token, response_address


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def test_udp_retransmit_after_loss(sipsgate_factory, udp_backend,
                                   phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    request = alice.build_register()
    sent = Message(request)

    alice.send_message(request)
    # The first copy is "lost": the backend does not answer it.
    first, _ = udp_backend.recv_request("REGISTER")
    second, source = udp_backend.recv_request("REGISTER")

    assert second.branch == first.branch
    assert second.raw == first.raw
    gap = second.received_at - first.received_at
    assert 0.2 < gap < 3.0, "retransmission after %.3f s" % gap

    # Send the 200 twice, as a server transaction does when a request
    # is retransmitted; sipsgate must pass on only the first.
    reply = udp_backend.reply(second, source, 200, "OK")
    udp_backend.send(reply.raw, response_address(second, source))
    response = alice.wait_response(sent.call_id, "REGISTER", final=True)
    assert response.status == 200

    # sipsgate reads the backend's datagrams in order, so it handles the
    # duplicate 200 before the 200 to this follow-up REGISTER. A forwarded
    # duplicate would therefore reach the phone first.
    follow_up = alice.build_register()
    alice.send_message(follow_up)
    while True:
        forwarded, source = udp_backend.recv_request("REGISTER")
        if forwarded.cseq == Message(follow_up).cseq:
            break
        # A late copy of the first REGISTER: answer it like a server
        # transaction in the Completed state.
        udp_backend.send(reply.raw, response_address(forwarded, source))
    udp_backend.reply(forwarded, source, 200, "OK")
    assert alice.wait_response(sent.call_id, "REGISTER",
                               final=True).cseq[0] == 2

    answers_to_first = [m for m in alice.messages
                        if not m.is_request and m.cseq == sent.cseq]
    assert len(answers_to_first) == 1


@pytest.mark.slow
def test_udp_timeout_408(sipsgate_factory, udp_backend, phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    request = alice.build_register()
    sent = Message(request)
    started = time.monotonic()

    alice.send_message(request)
    response = alice.wait_response(sent.call_id, "REGISTER", final=True,
                                   timeout=45)
    elapsed = time.monotonic() - started

    assert response.status == 408
    assert len(response.vias) == 1
    assert response.branch == sent.branch
    # Timer F is 64 * T1 = 32 s.
    assert 28 < elapsed < 40, "408 after %.1f s" % elapsed

    copies = []
    while True:
        try:
            copies.append(udp_backend.recv(timeout=0.2)[0])
        except TimeoutError:
            break
    # Timer E doubles from T1 up to T2 = 4 s: 11 sends within 32 s.
    assert 8 <= len(copies) <= 12
    assert len({c.branch for c in copies}) == 1


def test_udp_invite_failure_acked(sipsgate_factory, udp_backend,
                                  phone_factory):
    """A non-2xx final answer to an INVITE is acknowledged hop by hop with
    the INVITE's branch (RFC 3261 section 17.1.1.3), and its
    retransmission does not reach the phone again."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    call_id = random_token(10)
    invite = Message(alice.build_invite("bob", call_id, random_token(4)))

    alice.send_message(invite.raw)
    forwarded, source = udp_backend.recv_request("INVITE")
    busy = udp_backend.reply(forwarded, source, 486, "Busy Here")
    final = alice.wait_response(call_id, "INVITE", final=True)
    assert final.status == 486
    alice.send_message(alice.ack_for_failure(invite, final))

    ack, _ = udp_backend.recv_request("ACK")
    assert ack.branch == forwarded.branch
    assert ack.cseq == (forwarded.cseq[0], "ACK")
    assert ack.to_tag == busy.to_tag

    # The 486 again, as if the ACK had been lost: sipsgate sends the ACK
    # again and keeps the duplicate from the phone.
    udp_backend.send(busy.raw, response_address(forwarded, source))
    again, _ = udp_backend.recv_request("ACK")
    assert again.branch == forwarded.branch
    alice.send(b"\r\n\r\n")
    alice.wait_pong()
    finals = [m for m in alice.messages
              if not m.is_request and m.status == 486]
    assert len(finals) == 1


def test_udp_invite_2xx_retransmitted(sipsgate_factory, udp_backend,
                                      phone_factory):
    """A retransmitted 2xx to an INVITE is relayed to the phone, whose ACK
    is what stops the callee's retransmissions (RFC 6026)."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    call_id = random_token(10)
    invite = Message(alice.build_invite("bob", call_id, random_token(4)))

    alice.send_message(invite.raw)
    forwarded, source = udp_backend.recv_request("INVITE")
    contact = ("Contact", "<sip:bob@%s>" % udp_backend.address)
    ok = udp_backend.reply(forwarded, source, 200, "OK", extra=[contact])
    udp_backend.send(ok.raw, response_address(forwarded, source))

    first = alice.wait_response(call_id, "INVITE", final=True)
    second = alice.wait_response(call_id, "INVITE", final=True)
    assert first.status == 200
    assert second.status == 200
    assert second.to_tag == first.to_tag
