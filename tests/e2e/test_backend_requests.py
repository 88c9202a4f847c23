"""Requests from the backend toward a phone: along the Path stored by the
registrar, over the phone's own TLS connection, and 430 when that
connection is gone."""

import re

from sipphone import Message, build_message, random_token, uri_of


def registered_phone(gateway, phone_factory, name="alice"):
    registrar, gate = gateway("udp")
    phone = phone_factory(gate, name)
    response = phone.register()
    assert response.status == 200
    return registrar, gate, phone, response


def test_backend_options_reach_phone(gateway, phone_factory, udp_client):
    registrar, gate, alice, _ = registered_phone(gateway, phone_factory)
    options = udp_client.build_options("sip:alice@example.com")

    answer = udp_client.request(options, ("127.0.0.1", registrar.port))

    assert answer.status == 200
    received = alice.wait_request("OPTIONS")
    assert received.call_id == Message(options).call_id
    assert received.uri == alice.contact_uri
    # sipsgate consumed the Path entry that Kamailio turned into a Route.
    assert received.get_all("route") == []


def test_backend_phone_gone_430(gateway, phone_factory, udp_client):
    registrar, gate, alice, _ = registered_phone(gateway, phone_factory)
    mark = gate.mark()
    alice.close()
    # Give sipsgate the chance to see the close before the request comes;
    # the line's wording is not checked, so a miss only costs the wait.
    gate.wait_log(re.escape(alice.local_addr) + r".*(?i:clos|eof|end)",
                  timeout=2.0, since=mark)

    options = udp_client.build_options("sip:alice@example.com")
    answer = udp_client.request(options, ("127.0.0.1", registrar.port))

    assert answer.status == 430


def direct_options(udp_client, gate, route, call_id=None):
    """An OPTIONS sent straight to sipsgate's backend port with route as
    its only Route, as the registrar would send it."""
    headers = [
        ("Via", "SIP/2.0/UDP %s;branch=z9hG4bK%s;rport"
         % (udp_client.address, random_token(8))),
        ("Max-Forwards", "70"),
        ("Route", route),
        ("From", "<sip:tester@example.com>;tag=%s" % random_token(4)),
        ("To", "<sip:alice@example.com>"),
        ("Call-ID", call_id or random_token(10)),
        ("CSeq", "1 OPTIONS"),
    ]
    return build_message("OPTIONS sip:alice@example.com SIP/2.0", headers)


def test_backend_direct_route(gateway, phone_factory, udp_client):
    registrar, gate, alice, response = registered_phone(gateway,
                                                        phone_factory)
    path = response.values("path")[0]
    request = direct_options(udp_client, gate, path)

    answer = udp_client.request(request, ("127.0.0.1", gate.backend_port))

    assert answer.status == 200
    assert len(answer.vias) == 1
    assert answer.branch == Message(request).branch
    received = alice.wait_request("OPTIONS")
    assert received.call_id == Message(request).call_id
    top = received.vias[0]
    assert top.transport == "TLS"
    assert top.branch.startswith("z9hG4bK")


def test_backend_forged_token(gateway, phone_factory, udp_client):
    registrar, gate, alice, response = registered_phone(gateway,
                                                        phone_factory)
    path_uri = uri_of(response.values("path")[0])
    scheme, rest = path_uri.split(":", 1)
    token, at, host = rest.partition("@")
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    forged = "<%s:%s@%s>" % (scheme, flipped, host)
    request = direct_options(udp_client, gate, forged)

    answer = udp_client.request(request, ("127.0.0.1", gate.backend_port))

    assert answer.status >= 400
    # A genuine request afterwards is the first one alice sees.
    genuine = direct_options(udp_client, gate, "<%s>" % path_uri)
    assert udp_client.request(genuine, ("127.0.0.1",
                                        gate.backend_port)).status == 200
    first = alice.wait_request("OPTIONS")
    assert first.call_id == Message(genuine).call_id
