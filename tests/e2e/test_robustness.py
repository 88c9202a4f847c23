"""Inputs a proxy must survive or handle exactly: hostile framing,
plaintext on the TLS port, compact header forms, comma-joined Via
values, backend requests over TCP, an unreachable backend or one with
the wrong certificate, and many phones at once."""

import re
import socket
import subprocess

import pytest

from conftest import free_port

from sipphone import (ConnectionClosed, Message, build_message,
                      build_response, random_token, response_address, uri_of)


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def first_reaction(phone, timeout=5.0):
    """Return "closed" or the status of the first response, whichever
    comes first."""
    try:
        response = phone.wait_response(timeout=timeout)
    except ConnectionClosed:
        return "closed"
    return response.status


def send_ignoring_close(phone, data):
    try:
        phone.send(data)
    except ConnectionClosed:
        pass


HOSTILE = [
    ("header_without_end", lambda p: b"REGISTER sip:example.com SIP/2.0\r\n"
     + b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 200)
                for i in range(400))),
    ("huge_content_length", lambda p: p.build_register().replace(
        b"Content-Length: 0", b"Content-Length: 99999999")),
    ("negative_content_length", lambda p: p.build_register().replace(
        b"Content-Length: 0", b"Content-Length: -5")),
    ("two_content_lengths", lambda p: p.build_register().replace(
        b"Content-Length: 0", b"Content-Length: 0\r\nl: 10")),
    ("binary_garbage", lambda p: bytes(range(1, 256)) * 4 + b"\r\n\r\n"),
]


@pytest.mark.parametrize("case,make", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_stream(sipsgate_factory, udp_backend, phone_factory, case,
                        make):
    gate = sipsgate_factory(udp_uri(udp_backend))
    bob = phone_factory(gate, "bob")
    mallet = phone_factory(gate, "alice")

    send_ignoring_close(mallet, make(mallet))
    reaction = first_reaction(mallet)

    assert reaction == "closed" or 400 <= reaction < 600, reaction
    assert gate.alive()
    # Nothing of it reached the backend, and another phone still works.
    request = bob.build_register()
    bob.send_message(request)
    forwarded, source = udp_backend.recv_request()
    assert forwarded.call_id == Message(request).call_id
    udp_backend.reply(forwarded, source, 200, "OK")
    assert bob.wait_response(final=True).status == 200


def test_plaintext_on_tls_port(gateway, phone_factory):
    registrar, gate = gateway("udp")
    mark = gate.mark()
    with socket.create_connection(("127.0.0.1", gate.port), timeout=5) as s:
        address = "%s:%d" % s.getsockname()[:2]
        s.sendall(b"OPTIONS sip:example.com SIP/2.0\r\n"
                  b"Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKplain\r\n"
                  b"Content-Length: 0\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            # Closing with unread input makes the kernel send a reset.
            pass

    assert not data.startswith(b"SIP/2.0 200")
    line = gate.wait_log(r"(?i)^(?=.*%s(?!\d))(?=.*(plain|wrong version|"
                         r"not tls|http))" % re.escape(address),
                         timeout=5.0, since=mark)
    assert line is not None
    alice = phone_factory(gate, "alice")
    assert alice.register().status == 200


def test_compact_headers_forwarded(sipsgate_factory, udp_backend,
                                   phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    call_id = random_token(10)
    branch = "z9hG4bK" + random_token(8)
    request = build_message("REGISTER sip:example.com SIP/2.0", [
        ("v", "SIP/2.0/TLS %s;branch=%s;rport" % (alice.contact_host,
                                                  branch)),
        ("Max-Forwards", "70"),
        ("f", "<%s>;tag=%s" % (alice.aor, random_token(4))),
        ("t", "<%s>" % alice.aor),
        ("i", call_id),
        ("CSeq", "1 REGISTER"),
        ("m", "<%s>" % alice.contact_uri),
        ("l", "0"),
    ])

    alice.send_message(request)
    forwarded, source = udp_backend.recv_request("REGISTER")

    vias = forwarded.vias
    assert len(vias) == 2
    assert vias[0].port == gate.backend_port
    assert vias[1].branch == branch
    assert vias[1].params.get("received") == "127.0.0.1"
    assert forwarded.call_id == call_id
    assert uri_of(forwarded.get("contact")) == alice.contact_uri
    udp_backend.reply(forwarded, source, 200, "OK")
    response = alice.wait_response(call_id, final=True)
    assert response.status == 200
    assert len(response.vias) == 1


def test_response_joined_via(sipsgate_factory, udp_backend, phone_factory):
    """A backend may put all Via values of a response on one line."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    request = alice.build_register()
    alice.send_message(request)
    forwarded, source = udp_backend.recv_request("REGISTER")

    joined = ", ".join(forwarded.values("via"))
    headers = [("Via", joined), ("From", forwarded.get("from")),
               ("To", forwarded.get("to") + ";tag=joined"),
               ("Call-ID", forwarded.call_id),
               ("CSeq", forwarded.get("cseq"))]
    udp_backend.send(build_message("SIP/2.0 200 OK", headers),
                     response_address(forwarded, source))

    response = alice.wait_response(final=True)
    assert response.status == 200
    vias = response.vias
    assert len(vias) == 1
    assert vias[0].branch == Message(request).branch


def test_missing_max_forwards(sipsgate_factory, udp_backend, phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")

    alice.send_message(alice.build_register(omit=["Max-Forwards"]))
    forwarded, source = udp_backend.recv_request("REGISTER")

    assert forwarded.get_all("max-forwards") == ["70"]
    udp_backend.reply(forwarded, source, 200, "OK")
    assert alice.wait_response(final=True).status == 200


def test_backend_request_over_tcp(gateway, phone_factory):
    registrar, gate = gateway("udp")
    alice = phone_factory(gate, "alice")
    registration = alice.register()
    assert registration.status == 200
    path = registration.values("path")[0]

    with socket.create_connection(("127.0.0.1", gate.backend_port),
                                  timeout=5) as s:
        local = "%s:%d" % s.getsockname()[:2]
        call_id = random_token(10)
        s.sendall(build_message("OPTIONS sip:alice@example.com SIP/2.0", [
            ("Via", "SIP/2.0/TCP %s;branch=z9hG4bK%s" % (local,
                                                         random_token(8))),
            ("Max-Forwards", "70"),
            ("Route", path),
            ("From", "<sip:tester@example.com>;tag=%s" % random_token(4)),
            ("To", "<sip:alice@example.com>"),
            ("Call-ID", call_id),
            ("CSeq", "1 OPTIONS"),
        ]))
        received = alice.wait_request("OPTIONS")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk

    assert received.call_id == call_id
    response = Message(data)
    assert response.status == 200
    assert response.call_id == call_id


def make_ca_and_leaf(folder, name, san):
    """Write NAME-ca.pem and a leaf NAME.pem / NAME.key with subjectAltName
    san, signed by that CA, using the openssl command."""
    def openssl(*args):
        subprocess.run(["openssl"] + list(args), cwd=folder, check=True,
                       capture_output=True, timeout=30)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + "-ca.key",
            "-out", name + "-ca.pem", "-days", "2", "-subj",
            "/CN=%s test CA" % name)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/CN=%s" % name)
    (folder / (name + ".ext")).write_text("subjectAltName=%s\n" % san)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", name + "-ca.pem",
            "-CAkey", name + "-ca.key", "-CAcreateserial", "-days", "2",
            "-out", name + ".pem", "-extfile", name + ".ext")
    return folder / (name + ".pem"), folder / (name + ".key")


BACKEND_CERTS = [
    # The backend's certificate is fine, but ca_file names another CA.
    ("untrusted_ca", "IP:127.0.0.1", "other-ca.pem"),
    # Trusted CA, but the certificate is for another host.
    ("wrong_host", "DNS:other.example", "wrong-ca.pem"),
]


@pytest.mark.parametrize("case,san,ca_file", BACKEND_CERTS,
                         ids=[c[0] for c in BACKEND_CERTS])
def test_backend_certificate_checked(workdir, gateway, phone_factory, case,
                                     san, ca_file):
    if case == "untrusted_ca":
        make_ca_and_leaf(workdir, "other", "IP:127.0.0.1")
        kamailio_tls = (workdir / "backend-chain.pem",
                        workdir / "backend.key")
    else:
        kamailio_tls = make_ca_and_leaf(workdir, "wrong", san)
    registrar, gate = gateway("tls", kamailio_tls=kamailio_tls,
                              backend_ca_file=ca_file)
    alice = phone_factory(gate, "alice")

    # A transport error counts as a 503 from that hop (RFC 3261 section
    # 16.9), and that is what the phone gets back.
    response = alice.register(timeout=10)

    assert response.status == 503
    assert len(response.vias) == 1


def test_backend_tcp_refused(sipsgate_factory, phone_factory):
    closed_port = free_port()
    gate = sipsgate_factory("sip:127.0.0.1:%d;transport=tcp" % closed_port)
    alice = phone_factory(gate, "alice")

    response = alice.register(timeout=10)

    assert response.status == 503
    assert len(response.vias) == 1


def test_backend_refused_odd_to_uri(sipsgate_factory, phone_factory):
    """The 503 copies the request's To and adds a tag. libosip2 5.3 rejects
    "si::u;tag=..." although it accepts "si::u", so delivering the 503 must
    not depend on parsing it again."""
    closed_port = free_port()
    gate = sipsgate_factory("sip:127.0.0.1:%d;transport=tcp" % closed_port)
    alice = phone_factory(gate, "alice")
    register = alice.build_register()
    odd = register.replace(b"To: <sip:alice@example.com>", b"To: si::u", 1)
    assert odd != register

    alice.send(odd)
    response = alice.wait_response(final=True, timeout=10)

    assert response.status == 503
    assert response.get("to").startswith("si::u;tag=")


def test_sips_to_tls_backend(gateway, phone_factory):
    """A sips: Request-URI is fine when the backend leg is TLS."""
    registrar, gate = gateway("tls", sips_plain_backend="reject")
    alice = phone_factory(gate, "alice")

    response = alice.register(request_uri="sips:example.com")

    assert response.status == 200


def test_many_phones(gateway, phone_factory, udp_client):
    registrar, gate = gateway("udp")
    phones = [phone_factory(gate, "user%02d" % i, cert="alice-chain.pem",
                            key="alice.key") for i in range(20)]

    for phone in phones:
        phone.send_message(phone.build_register())
    statuses = [p.wait_response(final=True).status for p in phones]

    assert statuses == [200] * len(phones)
    for phone in phones[::5]:
        options = udp_client.build_options(phone.aor)
        answer = udp_client.request(options, ("127.0.0.1", registrar.port))
        assert answer.status == 200
        assert phone.wait_request("OPTIONS").call_id == \
            Message(options).call_id
