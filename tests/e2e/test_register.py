"""REGISTER through sipsgate: to Kamailio over each backend transport, and
to a scripted UDP backend that shows the forwarded bytes."""

import pytest

from sipphone import Message, uri_hostport, uri_of, uri_params


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_register_backend_transport(gateway, phone_factory, udp_client,
                                    transport):
    registrar, gate = gateway(transport)
    alice = phone_factory(gate, "alice")

    response = alice.register()

    assert response.status == 200
    contacts = [uri_of(c) for c in response.values("contact")]
    assert alice.contact_uri in contacts
    # Kamailio returns the stored Path because the REGISTER carried
    # "Supported: path".
    paths = response.values("path")
    assert len(paths) == 1
    path_uri = uri_of(paths[0])
    user, host, port = uri_hostport(path_uri)
    assert user
    assert (host, port) == ("127.0.0.1", gate.backend_port)
    assert "lr" in uri_params(path_uri)

    # The stored Path brings a request for the AOR back to this phone.
    options = udp_client.build_options("sip:alice@example.com")
    answer = udp_client.request(options, ("127.0.0.1", registrar.port))
    assert answer.status == 200
    received = alice.wait_request("OPTIONS")
    assert received.call_id == Message(options).call_id


def test_register_forwarded_bytes(sipsgate_factory, udp_backend,
                                  phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    request = alice.build_register(max_forwards=70)
    sent = Message(request)

    alice.send_message(request)
    forwarded, source = udp_backend.recv_request("REGISTER")

    assert forwarded.uri == sent.uri
    vias = forwarded.vias
    assert len(vias) == 2
    top = vias[0]
    assert top.transport == "UDP"
    assert (top.host, top.port) == ("127.0.0.1", gate.backend_port)
    assert top.branch.startswith("z9hG4bK")
    assert top.branch != sent.branch
    phone_via = vias[1]
    assert phone_via.branch == sent.branch
    assert phone_via.params.get("received") == "127.0.0.1"
    assert phone_via.params.get("rport") == alice.local_addr.rsplit(":", 1)[1]
    assert forwarded.get("max-forwards") == "69"

    paths = forwarded.values("path")
    assert len(paths) == 1
    path_uri = uri_of(paths[0])
    user, host, port = uri_hostport(path_uri)
    assert user
    assert (host, port) == ("127.0.0.1", gate.backend_port)
    assert "lr" in uri_params(path_uri)
    assert uri_params(path_uri).get("transport") == "udp"

    for name in ("From", "To", "Call-ID", "CSeq", "Contact", "Expires",
                 "Supported", "User-Agent"):
        assert forwarded.get_all(name) == sent.get_all(name), name
    assert forwarded.body == b""

    contact = ("Contact", "<%s>;expires=600" % alice.contact_uri)
    udp_backend.reply(forwarded, source, 200, "OK", extra=[contact])
    response = alice.wait_response(sent.call_id, "REGISTER", final=True)

    assert response.status == 200
    response_vias = response.vias
    assert len(response_vias) == 1
    assert response_vias[0].branch == sent.branch
    assert response.get("contact") == contact[1]


def test_register_path_token_differs(sipsgate_factory, udp_backend,
                                     phone_factory):
    """Two phones get different flow tokens, and one phone keeps its
    token across re-registrations on the same connection."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    bob = phone_factory(gate, "bob")

    tokens = []
    for phone in (alice, alice, bob):
        phone.send_message(phone.build_register())
        forwarded, source = udp_backend.recv_request("REGISTER")
        tokens.append(uri_hostport(uri_of(forwarded.values("path")[0]))[0])
        udp_backend.reply(forwarded, source, 200, "OK")
        assert phone.wait_response(final=True).status == 200

    assert tokens[0] == tokens[1]
    assert tokens[0] != tokens[2]


PRELOADED_ROUTES = [
    ("public_host", "<sip:sips.example.com:{port};transport=tls;lr>"),
    ("public_host_port", "<sips:sips.example.com:{port};lr>"),
    ("listen_address", "<sip:127.0.0.1:{port};transport=tls;lr>"),
]


@pytest.mark.parametrize("case,route", PRELOADED_ROUTES,
                         ids=[c[0] for c in PRELOADED_ROUTES])
def test_register_preloaded_route(sipsgate_factory, udp_backend,
                                  phone_factory, case, route):
    """A phone configured with sipsgate as outbound proxy may name it in a
    Route header. sipsgate removes that entry (RFC 3261 section 16.4), so
    the backend does not route the request back to sipsgate."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    route = route.format(port=gate.port)

    alice.send_message(alice.build_register(extra=[("Route", route)]))
    forwarded, source = udp_backend.recv_request("REGISTER")

    assert forwarded.get_all("route") == []
    udp_backend.reply(forwarded, source, 200, "OK")
    assert alice.wait_response(final=True).status == 200
