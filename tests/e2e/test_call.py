"""Calls between two phones, each on its own TLS connection to sipsgate,
with Kamailio as registrar and record-routing proxy."""

import pytest

from sipphone import Message, build_response, random_token


@pytest.fixture(params=["udp", "tcp", "tls"])
def registered(request, gateway, phone_factory):
    """alice and bob registered through sipsgate, with the backend leg on
    each transport in turn."""
    registrar, gate = gateway(request.param)
    alice = phone_factory(gate, "alice")
    bob = phone_factory(gate, "bob", auto_answer=True)
    assert alice.register().status == 200
    assert bob.register().status == 200
    return alice, bob


def test_call_alice_to_bob(registered):
    alice, bob = registered

    call = alice.call("bob", hangup=False)
    call_id = call.invite.call_id

    invite = bob.wait_request("INVITE", call_id=call_id)
    assert invite.body == call.invite.body
    assert invite.get("from") == call.invite.get("from")
    assert 180 in call.statuses()
    assert call.final.status == 200
    # Every proxy removed its own Via on the way back.
    assert len(call.final.vias) == 1
    assert call.final.vias[0].branch == call.invite.branch
    assert call.final.body.startswith(b"v=0")
    assert call.final.get("contact") == "<%s>" % bob.contact_uri

    ack = bob.wait_request("ACK", call_id=call_id)
    assert ack.cseq == (1, "ACK")
    assert ack.uri == bob.contact_uri

    bye, bye_response = alice.hangup(call.dialog)
    assert bye_response.status == 200
    received_bye = bob.wait_request("BYE", call_id=call_id)
    assert received_bye.cseq == bye.cseq
    assert received_bye.uri == bob.contact_uri


def test_call_callee_hangs_up(registered):
    alice, bob = registered
    call = alice.call("bob", hangup=False)
    call_id = call.invite.call_id
    assert call.final.status == 200
    bob.wait_request("ACK", call_id=call_id)
    bob_dialog = bob.dialogs[call_id]

    bye, bye_response = bob.hangup(bob_dialog)

    received_bye = alice.wait_request("BYE", call_id=call_id)
    assert received_bye.uri == alice.contact_uri
    assert received_bye.cseq == bye.cseq
    assert bye_response.status == 200
    assert len(bye_response.vias) == 1


def test_call_unknown_user(registered):
    alice, bob = registered

    call = alice.call("carol", hangup=False)

    assert call.final.status == 404
    assert len(call.final.vias) == 1
    assert not [m for m in bob.messages if m.is_request]


def test_call_cancel(gateway, phone_factory):
    registrar, gate = gateway("udp")
    alice = phone_factory(gate, "alice")
    bob = phone_factory(gate, "bob", auto_answer=False)
    assert alice.register().status == 200
    assert bob.register().status == 200
    call_id = random_token(10)
    invite = Message(alice.build_invite("bob", call_id, random_token(4)))
    alice.send_message(invite.raw)

    received = bob.wait_request("INVITE", call_id=call_id)
    tag = random_token(4)
    bob.send_message(build_response(received, 180, "Ringing", tag))
    ringing = alice.wait_response(call_id, "INVITE")
    while ringing.status == 100:
        ringing = alice.wait_response(call_id, "INVITE")
    assert ringing.status == 180

    # The CANCEL has the INVITE's branch, so every hop must match it to
    # the INVITE's transaction for it to reach bob.
    alice.send_message(alice.build_cancel(invite))
    cancel = bob.wait_request("CANCEL", call_id=call_id)
    bob.send_message(build_response(cancel, 200, "OK", tag))
    bob.send_message(build_response(received, 487, "Request Terminated", tag))

    cancel_response = alice.wait_response(call_id, "CANCEL", final=True)
    assert cancel_response.status == 200
    final = alice.wait_response(call_id, "INVITE", final=True)
    assert final.status == 487
    alice.send_message(alice.ack_for_failure(invite, final))
    # The registrar acknowledges the 487 hop by hop.
    ack = bob.wait_request("ACK", call_id=call_id)
    assert ack.cseq == (invite.cseq[0], "ACK")
