"""Hostile input that libosip2 5.3 accepts and sipsgate must not: each
malformed request gets the 4xx (or 505, 513) whose reason phrase names
the fault, or the connection ends where no response can be formed.
Extensions a proxy must relay untouched are relayed. Garbage on the TLS
port ends the connection with one log line, and a flood of half-open
connections does not stop a working phone.

A fault the framer finds ends the connection after the response, because
the stream can no longer be split into messages. A fault found in a
framed message keeps the connection open.
"""

import re
import resource
import socket
import time
from dataclasses import dataclass

import pytest

from rawsip import (answer, client_hello, local_address, recv_datagram,
                    undo_proxy_edits, wait_peer_close)
from sipphone import ConnectionClosed, Message, build_message, random_token

# What a log line about a rejected or ended connection contains besides
# the peer address: a handshake failure, a close reason or a refusal.
BAD_CONNECTION_LINE = r"(?:[Hh]andshake failed|reason=[a-z-]+|refused)"


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def source_port(phone):
    return int(phone.local_addr.rsplit(":", 1)[1])


@dataclass(frozen=True)
class Hostile:
    """A REGISTER from phone.build_register() with old replaced by new,
    and the expected response status and reason, and whether sipsgate
    then closes the connection."""
    old: bytes
    new: bytes
    status: int
    reason: str
    closes: bool = False


CONTENT_LENGTH_0 = b"Content-Length: 0\r\n"
CSEQ = b"CSeq: 1 REGISTER\r\n"
MAX_FORWARDS = b"Max-Forwards: 70\r\n"

HOSTILE = {
    "content_length_negative": Hostile(
        CONTENT_LENGTH_0, b"Content-Length: -5\r\n",
        400, "Invalid Content-Length", closes=True),
    "content_length_hex": Hostile(
        CONTENT_LENGTH_0, b"Content-Length: 0x5\r\n",
        400, "Invalid Content-Length", closes=True),
    "content_length_signed": Hostile(
        CONTENT_LENGTH_0, b"Content-Length: +5\r\n",
        400, "Invalid Content-Length", closes=True),
    # 2^32 + 5: a 32-bit parser reads 5.
    "content_length_2_32_plus_5": Hostile(
        CONTENT_LENGTH_0, b"Content-Length: 4294967301\r\n",
        513, "Message Too Large", closes=True),
    # 2^64 + 1: a 64-bit parser reads 1.
    "content_length_2_64_plus_1": Hostile(
        CONTENT_LENGTH_0, b"Content-Length: 18446744073709551617\r\n",
        513, "Message Too Large", closes=True),
    "content_length_twice": Hostile(
        CONTENT_LENGTH_0, b"Content-Length: 0\r\nl: 0\r\n",
        400, "Multiple Content-Length", closes=True),
    "version_7": Hostile(
        b"SIP/2.0\r\n", b"SIP/7.0\r\n", 505, "Version Not Supported"),
    "version_garbled": Hostile(
        b"SIP/2.0\r\n", b"SIP/2.x\r\n", 400, "Bad SIP Version"),
    "missing_to": Hostile(b"\r\nTo: ", b"\r\nX-Was-To: ",
                          400, "Missing To"),
    "missing_from": Hostile(b"\r\nFrom: ", b"\r\nX-Was-From: ",
                            400, "Missing From"),
    "missing_call_id": Hostile(b"\r\nCall-ID: ", b"\r\nX-Was-Call-ID: ",
                               400, "Missing Call-ID"),
    "missing_cseq": Hostile(CSEQ, b"X-Was-CSeq: 1 REGISTER\r\n",
                            400, "Missing CSeq"),
    "cseq_method_mismatch": Hostile(CSEQ, b"CSeq: 1 INVITE\r\n",
                                    400, "CSeq Method Mismatch"),
    # 2^32 + 1 does not fit the 31 bits RFC 3261 section 8.1.1.5 allows.
    "cseq_huge": Hostile(CSEQ, b"CSeq: 4294967297 REGISTER\r\n",
                         400, "Invalid CSeq"),
    "max_forwards_300": Hostile(MAX_FORWARDS, b"Max-Forwards: 300\r\n",
                                400, "Invalid Max-Forwards"),
    # One header line ending in a bare CR or LF: the empty line is still
    # there, so a response can be formed before the connection ends.
    "bare_cr_line": Hostile(MAX_FORWARDS, b"Max-Forwards: 70\r",
                            400, "Bare CR in Header", closes=True),
    "bare_lf_line": Hostile(MAX_FORWARDS, b"Max-Forwards: 70\n",
                            400, "Bare LF in Header", closes=True),
    "nul_outside_quotes": Hostile(
        b"User-Agent: sipsgate-e2e-phone", b"User-Agent: sipsgate\0e2e",
        400, "NUL in Header", closes=True),
    "via_ipv6_unbracketed": Hostile(
        b"SIP/2.0/TLS ", b"SIP/2.0/TLS 2001:db8::1:5061;x=", 400,
        "Malformed Via"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_request(sipsgate_factory, udp_backend, phone_factory,
                         case):
    hostile = HOSTILE[case]
    gate = sipsgate_factory(udp_uri(udp_backend))
    mallet = phone_factory(gate, "alice")
    request = mallet.build_register()
    assert request.count(hostile.old) == 1
    data = request.replace(hostile.old, hostile.new)

    mallet.send(data)
    response = mallet.wait_response(final=True)

    assert response.status == hostile.status
    assert response.reason == hostile.reason
    assert response.branch == Message(request).branch
    if hostile.closes:
        assert mallet.wait_closed(5.0)
    else:
        assert_next_register_forwarded(mallet, udp_backend)
    assert_register_works(gate, udp_backend, phone_factory)


def test_hostile_all_bare_cr(sipsgate_factory, udp_backend, phone_factory):
    """With only bare CRs there is no header section to build a response from."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    mallet = phone_factory(gate, "alice")

    mallet.send(mallet.build_register().replace(b"\r\n", b"\r"))

    assert mallet.wait_closed(5.0)
    assert mallet.messages == []
    assert_register_works(gate, udp_backend, phone_factory)


def test_hostile_all_bare_lf(sipsgate_factory, udp_backend, phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    mallet = phone_factory(gate, "alice")

    mallet.send(mallet.build_register().replace(b"\r\n", b"\n"))

    assert mallet.wait_closed(5.0)
    assert mallet.messages == []
    assert_register_works(gate, udp_backend, phone_factory)


def test_hostile_missing_via(sipsgate_factory, udp_backend, phone_factory):
    """Without a Via no response can be sent: the request is dropped, and
    the connection stays usable because the stream is still framed."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    mallet = phone_factory(gate, "alice")
    mark = gate.mark()

    mallet.send(mallet.build_register(omit=["Via"]))
    mallet.send(b"\r\n\r\n")
    mallet.wait_pong()

    assert mallet.messages == []
    assert gate.wait_log(r"cannot answer 400 Missing Via", since=mark)
    assert_next_register_forwarded(mallet, udp_backend)
    assert_register_works(gate, udp_backend, phone_factory)


@pytest.mark.parametrize("status_line", [
    b"SIP/2.0 2000 OK",
    # 2^32 + 200: a 32-bit parser reads 200.
    b"SIP/2.0 4294967496 OK",
], ids=["four_digits", "wraps_to_200"])
def test_hostile_status_code(sipsgate_factory, udp_backend, phone_factory,
                             status_line):
    """A response from the backend whose status code is not three digits
    is dropped, not passed to the phone."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    alice.send_message(alice.build_register())
    forwarded, source = udp_backend.recv_request("REGISTER")
    bad = build_message(status_line.decode(), response_headers(forwarded))

    udp_backend.send(bad, source)
    # sipsgate handles the backend's datagrams in order, so the phone
    # would see the bad response before this one.
    udp_backend.reply(forwarded, source, 200, "OK")

    response = alice.wait_response(final=True)
    assert response.status == 200
    assert len(alice.messages) == 1
    assert gate.alive()


def response_headers(request):
    return [("Via", v) for v in request.get_all("via")] + [
        ("From", request.get("from")),
        ("To", request.get("to") + ";tag=" + random_token(4)),
        ("Call-ID", request.call_id),
        ("CSeq", request.get("cseq")),
    ]


RELAYED = {
    "unknown_method": lambda p: p.build_register().replace(
        b"REGISTER", b"FROBNICATE"),
    "unknown_header": lambda p: p.build_register().replace(
        b"Supported: path\r\n",
        b"Supported: path\r\nX-Unknown-Thing :  ;;,, odd  value\r\n"),
    "unknown_scheme_request_uri": lambda p: p.build_register().replace(
        b"REGISTER sip:example.com", b"REGISTER urn:service:sos"),
    "unknown_scheme_to": lambda p: p.build_register().replace(
        b"\r\nTo: <sip:alice@example.com>",
        b"\r\nTo: <isbn:2983792873>"),
    "unknown_scheme_from": lambda p: p.build_register().replace(
        b"\r\nFrom: <sip:alice@example.com>",
        b"\r\nFrom: <http://www.example.com/alice>"),
}


@pytest.mark.parametrize("case", sorted(RELAYED))
def test_hostile_relayed(sipsgate_factory, udp_backend, phone_factory,
                         case):
    """A proxy relays what it does not understand: the backend receives
    the bytes unchanged apart from sipsgate's own edits."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    data = RELAYED[case](alice)
    assert data != alice.build_register()

    alice.send(data)
    forwarded, source = recv_datagram(udp_backend)

    restored = undo_proxy_edits(forwarded, data, gate.backend_port,
                                gate.port, source_port(alice))
    assert restored == data
    answer(udp_backend, forwarded, source)
    assert alice.wait_response(final=True).status == 200


def test_hostile_proxy_require(sipsgate_factory, udp_backend, phone_factory):
    """An option tag in Proxy-Require gets 420 listing it in Unsupported
    (RFC 3261 section 16.3 step 5), and the request goes no further."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    register = alice.build_register()
    data = register.replace(b"\r\nContent-Length:",
                            b"\r\nProxy-Require: foo, bar\r\nContent-Length:",
                            1)
    assert data != register

    alice.send(data)
    response = alice.wait_response(final=True)

    assert response.status == 420
    assert response.reason == "Bad Extension"
    assert response.get("unsupported") == "foo, bar"
    with pytest.raises(TimeoutError):
        recv_datagram(udp_backend, timeout=0.5)


# ---- garbage on the TLS port ----

def truncated_hello():
    return client_hello()[:40]


GARBAGE = {
    "binary": bytes(range(256)) * 4,
    "plaintext_sip": (b"OPTIONS sip:example.com SIP/2.0\r\n"
                      b"Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKplain\r\n"
                      b"Content-Length: 0\r\n\r\n"),
    "truncated_client_hello_then_close": truncated_hello,
    "connect_and_close": b"",
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_hostile_tls_port(sipsgate_factory, udp_backend, phone_factory,
                          case):
    """The daemon ends the connection itself, or notices that the client
    did, with one log line naming the peer."""
    payload = GARBAGE[case]
    if callable(payload):
        payload = payload()
    gate = sipsgate_factory(udp_uri(udp_backend))
    mark = gate.mark()

    with socket.create_connection(("127.0.0.1", gate.port), 5) as s:
        peer = local_address(s)
        if payload:
            s.sendall(payload)
        if case in ("binary", "plaintext_sip"):
            assert wait_peer_close(s, 5.0)

    assert_one_bad_connection_line(gate, peer, mark)
    assert_register_works(gate, udp_backend, phone_factory)


def test_hostile_truncated_hello_held(sipsgate_factory, udp_backend,
                                      phone_factory):
    """A ClientHello cut after 40 bytes and never finished: the handshake
    deadline ends the connection."""
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra="[limits]\nhandshake_timeout = 2\n")
    mark = gate.mark()

    with socket.create_connection(("127.0.0.1", gate.port), 5) as s:
        peer = local_address(s)
        s.sendall(truncated_hello())
        assert wait_peer_close(s, 10.0)

    line = assert_one_bad_connection_line(gate, peer, mark)
    assert "handshake-timeout" in line
    assert_register_works(gate, udp_backend, phone_factory)


HALF_OPEN = 1000


def raise_fd_limit(needed):
    """Raise this process's open-file limit (inherited by the daemon it
    starts next) to at least needed, or skip the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip("RLIMIT_NOFILE hard limit %d is below %d" % (hard,
                                                                 needed))
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@pytest.mark.slow
def test_hostile_half_open_flood(sipsgate_factory, udp_backend,
                                 phone_factory):
    """1,000 TCP connections that never start TLS, held at once, while one
    phone keeps registering and sending OPTIONS. Every half-open
    connection is closed at the handshake deadline with one log line.

    This process and the daemon each hold one descriptor per connection,
    so the limit is raised to twice the count plus some room."""
    raise_fd_limit(2 * HALF_OPEN + 256)
    handshake_timeout = 8
    gate = sipsgate_factory(
        udp_uri(udp_backend),
        extra="[limits]\nmax_connections = %d\nmax_connections_per_ip = %d\n"
              "handshake_timeout = %d\n"
              % (HALF_OPEN + 16, HALF_OPEN + 16, handshake_timeout))
    alice = phone_factory(gate, "alice")
    mark = gate.mark()

    sockets = []
    try:
        for _ in range(HALF_OPEN):
            sockets.append(socket.create_connection(("127.0.0.1", gate.port),
                                                    5))
        peers = {local_address(s) for s in sockets}
        assert gate.wait_count(r": accepted$", HALF_OPEN, 20.0, since=mark)
        flood_started = time.monotonic()

        for i in range(20):
            register_and_options(alice, udp_backend, i)
        assert time.monotonic() - flood_started < handshake_timeout, (
            "the phone loop outlasted the half-open connections")

        closed = [wait_peer_close(s, handshake_timeout + 20.0)
                  for s in sockets]
        assert all(closed)
    finally:
        for s in sockets:
            s.close()

    lines = gate.lines[mark:]
    closed_peers = {}
    for line in lines:
        match = re.search(r"conn \d+ (\S+): closed .*reason=handshake-timeout",
                          line)
        if match:
            closed_peers[match.group(1)] = closed_peers.get(
                match.group(1), 0) + 1
    assert set(closed_peers) == peers
    assert set(closed_peers.values()) == {1}
    assert gate.alive()


def register_and_options(phone, backend, iteration):
    """One REGISTER and one OPTIONS from phone, each with a 200 from the
    scripted backend."""
    request = phone.build_register()
    phone.send_message(request)
    forwarded, source = backend.recv_request("REGISTER")
    assert forwarded.call_id == Message(request).call_id, iteration
    backend.reply(forwarded, source, 200, "OK")
    assert phone.wait_response(final=True).status == 200, iteration

    call_id = random_token(10)
    phone.send_message(build_message("OPTIONS sip:example.com SIP/2.0", [
        ("Via", phone.new_via()),
        ("Max-Forwards", "70"),
        ("From", "<%s>;tag=%s" % (phone.aor, random_token(4))),
        ("To", "<sip:example.com>"),
        ("Call-ID", call_id),
        ("CSeq", "1 OPTIONS"),
    ]))
    forwarded, source = backend.recv_request("OPTIONS")
    assert forwarded.call_id == call_id, iteration
    backend.reply(forwarded, source, 200, "OK")
    assert phone.wait_response(call_id, final=True).status == 200, iteration


# ---- shared checks ----

def assert_one_bad_connection_line(gate, peer, mark):
    """Exactly one log line names peer with a reason; returns it."""
    pattern = r"%s(?!\d)" % re.escape(peer)
    first = gate.wait_log(r"(?=.*%s)(?=.*%s)" % (pattern,
                                                 BAD_CONNECTION_LINE),
                          timeout=10.0, since=mark)
    assert first is not None, "no log line for %s" % peer
    matching = [line for line in gate.lines[mark:]
                if re.search(pattern, line)
                and re.search(BAD_CONNECTION_LINE, line)]
    assert matching == [first]
    return first


def assert_next_register_forwarded(phone, backend):
    """A valid REGISTER on the same connection is the first request the
    backend receives, so nothing of the rejected one was forwarded."""
    request = phone.build_register()
    phone.send_message(request)
    forwarded, source = backend.recv_request()
    assert forwarded.call_id == Message(request).call_id
    assert forwarded.cseq == Message(request).cseq
    backend.reply(forwarded, source, 200, "OK")
    assert phone.wait_response(forwarded.call_id, "REGISTER",
                               final=True).status == 200


def assert_register_works(gate, backend, phone_factory):
    """The daemon runs, and a REGISTER on a new connection gets its 200."""
    assert gate.alive()
    bob = phone_factory(gate, "bob")
    request = bob.build_register()
    bob.send_message(request)
    forwarded, source = backend.recv_request()
    assert forwarded.call_id == Message(request).call_id
    backend.reply(forwarded, source, 200, "OK")
    assert bob.wait_response(final=True).status == 200


def test_hostile_nothing_left_behind(sipsgate_factory, udp_backend,
                                     phone_factory):
    """After every kind of hostile request on one connection in turn (a
    new connection after each one that closes), the daemon serves a
    phone as before."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    for case in sorted(HOSTILE):
        hostile = HOSTILE[case]
        mallet = phone_factory(gate, "alice")
        data = mallet.build_register().replace(hostile.old, hostile.new)
        mallet.send(data)
        try:
            mallet.wait_response(final=True)
        except ConnectionClosed:
            pytest.fail("%s: closed without a response" % case)
        mallet.close()
    assert_register_works(gate, udp_backend, phone_factory)
