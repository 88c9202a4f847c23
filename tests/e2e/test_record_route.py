"""Record-Route on dialog-creating requests, seen byte by byte from a
scripted UDP backend that plays the callee."""

from sipphone import (Message, build_message, random_token, sdp_offer,
                      uri_hostport, uri_of, uri_params)


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def test_record_route_dialog(sipsgate_factory, udp_backend, phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    call_id = random_token(10)
    invite = Message(alice.build_invite("bob", call_id, random_token(4)))

    alice.send_message(invite.raw)
    forwarded, source = udp_backend.recv_request("INVITE")

    record_routes = forwarded.values("record-route")
    assert len(record_routes) == 2
    # The top entry is the one the backend side routes to.
    _, host, port = uri_hostport(uri_of(record_routes[0]))
    assert (host, port) == ("127.0.0.1", gate.backend_port)
    for value in record_routes:
        assert "lr" in uri_params(uri_of(value))
    assert forwarded.get("max-forwards") == "69"
    assert forwarded.body == invite.body
    assert forwarded.get("content-length") == str(len(invite.body))

    # The backend plays bob: 180, then 200 with Record-Route copied.
    bob_contact = "sip:bob@%s" % udp_backend.address
    contact = ("Contact", "<%s>" % bob_contact)
    tag = random_token(4)
    udp_backend.reply(forwarded, source, 180, "Ringing", tag, [contact])
    udp_backend.reply(forwarded, source, 200, "OK", tag,
                      [contact, ("Content-Type", "application/sdp")],
                      sdp_offer("bob", "192.0.2.2"))
    ringing = alice.wait_response(call_id, "INVITE")
    final = alice.wait_response(call_id, "INVITE", final=True)

    assert ringing.status == 180
    assert final.status == 200
    assert final.values("record-route") == record_routes
    assert len(final.vias) == 1

    # ACK along the route set: sipsgate removes both of its own Route
    # entries and sends the ACK on to bob's Contact.
    dialog = alice.uac_dialog(invite, final)
    alice.send_message(alice.build_in_dialog(dialog, "ACK", cseq=1))
    ack, _ = udp_backend.recv_request("ACK")
    assert ack.uri == bob_contact
    assert ack.get_all("route") == []
    assert ack.call_id == call_id

    # bob hangs up: his BYE follows the Record-Route list in order and
    # reaches alice over her TLS connection.
    bye = [
        ("Via", "SIP/2.0/UDP %s;branch=z9hG4bK%s;rport"
         % (udp_backend.address, random_token(8))),
        ("Max-Forwards", "70"),
    ]
    bye += [("Route", value) for value in record_routes]
    bye += [
        ("From", "%s;tag=%s" % (forwarded.get("to"), tag)),
        ("To", forwarded.get("from")),
        ("Call-ID", call_id),
        ("CSeq", "1 BYE"),
    ]
    request = build_message("BYE %s SIP/2.0" % uri_of(invite.get("contact")),
                            bye)
    response = udp_backend.request(request, ("127.0.0.1", gate.backend_port))

    assert response.status == 200
    received = alice.wait_request("BYE", call_id=call_id)
    assert received.uri == alice.contact_uri
    assert received.get_all("route") == []
