"""The [limits] section: one test per key, each with a small value.

Limits on framing (message size, header count, line length) respond with 400
or 513 where a response can be formed, then end the connection, because the
stream can no longer be split into messages. max_via is checked on a
framed message, so the connection stays open. Timeouts and connection
limits end the connection with a log line naming the peer and the
reason. output_high_water bounds what sipsgate queues for a peer that
does not read.
"""

import re
import select
import socket
import time
from pathlib import Path

import pytest

from rawsip import local_address, tls_connect, wait_peer_close
from sipphone import Message, build_message, random_token


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def limits(**keys):
    return "[limits]\n" + "".join("%s = %s\n" % kv for kv in keys.items())


def peer_line(gate, peer, reason, since, timeout=5.0):
    """Return the log line naming peer (not as a prefix of a longer port)
    and matching reason."""
    return gate.wait_log(r"(?=.*%s(?!\d))(?=.*%s)" % (re.escape(peer),
                                                     reason),
                         timeout=timeout, since=since)


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


def register_through(phone, backend):
    """REGISTER phone, with a 200 from the scripted backend; returns the
    request as the backend received it."""
    request = phone.build_register()
    phone.send_message(request)
    forwarded, source = backend.recv_request("REGISTER")
    assert forwarded.call_id == Message(request).call_id
    backend.reply(forwarded, source, 200, "OK")
    assert phone.wait_response(forwarded.call_id, "REGISTER",
                               final=True).status == 200
    return forwarded


# ---- framing limits ----

def padded(phone, lines, length):
    """A REGISTER with extra header lines X-Pad-N of about length bytes."""
    extra = [("X-Pad-%d" % i, "p" * (length - 10)) for i in range(lines)]
    return phone.build_register(extra=extra)


def with_body(phone, size):
    request = phone.build_register(extra=[("Content-Type", "text/plain")])
    return request.replace(b"Content-Length: 0\r\n",
                           b"Content-Length: %d\r\n" % size) + b"b" * size


def five_vias(phone):
    request = phone.build_register()
    top = Message(request).get("via").encode()
    lower = b"".join(b", SIP/2.0/TLS 192.0.2.%d;branch=z9hG4bKlower%d" % (i, i)
                     for i in range(1, 5))
    return request.replace(top, top + lower)


FRAMING = {
    # Content-Length makes it too large: the header section is whole, so
    # the 513 can be formed.
    "max_message_size": (dict(max_message_size=2000),
                         lambda p: with_body(p, 2600),
                         513, "Message Too Large", True),
    # The header section itself passes the limit: the framer stops before
    # the empty line, and the 513 is built from the lines that arrived.
    "max_message_size_headers": (dict(max_message_size=2000),
                                 lambda p: padded(p, 14, 200),
                                 513, "Message Too Large", True),
    # build_register has 11 header lines; 19 more make 30.
    "max_headers": (dict(max_headers=20), lambda p: padded(p, 19, 30),
                    400, "Too Many Headers", True),
    "max_line_length": (dict(max_line_length=300),
                        lambda p: padded(p, 1, 400),
                        400, "Header Line Too Long", True),
    "max_via": (dict(max_via=3), five_vias,
                400, "Too Many Via Headers", False),
}


@pytest.mark.parametrize("case", sorted(FRAMING))
def test_limits_framing(sipsgate_factory, udp_backend, phone_factory, case):
    keys, make, status, reason, closes = FRAMING[case]
    gate = sipsgate_factory(udp_uri(udp_backend), extra=limits(**keys))
    mallet = phone_factory(gate, "alice")
    data = make(mallet)

    mallet.send(data)

    if status is None:
        assert mallet.wait_closed(5.0)
        assert mallet.messages == []
    else:
        response = mallet.wait_response(final=True)
        assert response.status == status
        assert response.reason == reason
    if closes:
        assert mallet.wait_closed(5.0)
    else:
        assert_next_register_forwarded(mallet, udp_backend)
    bob = phone_factory(gate, "bob")
    register_through(bob, udp_backend)


def test_limits_message_size_admits(sipsgate_factory, udp_backend,
                                    phone_factory):
    """A message just under max_message_size is forwarded whole."""
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=limits(max_message_size=2000))
    alice = phone_factory(gate, "alice")
    request = alice.build_register(extra=[("Content-Type", "text/plain")])
    size = 1990 - len(request)
    data = with_body(alice, size)
    assert len(data) <= 2000

    alice.send(data)
    forwarded, source = udp_backend.recv_request("REGISTER")

    assert forwarded.body == b"b" * size
    udp_backend.reply(forwarded, source, 200, "OK")
    assert alice.wait_response(final=True).status == 200


# ---- connection limits ----

def test_limits_max_connections(sipsgate_factory, udp_backend, phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=limits(max_connections=3))
    phones = [phone_factory(gate, "alice") for _ in range(3)]
    mark = gate.mark()

    with socket.create_connection(("127.0.0.1", gate.port), 5) as fourth:
        peer = local_address(fourth)
        assert wait_peer_close(fourth, 5.0)
    assert peer_line(gate, peer, "max_connections", mark) is not None
    for phone in phones:
        register_through(phone, udp_backend)

    leaving = phones.pop()
    leaving_addr = leaving.local_addr
    leaving.close()
    assert peer_line(gate, leaving_addr, r"reason=", mark) is not None
    newcomer = phone_factory(gate, "bob")
    register_through(newcomer, udp_backend)


def test_limits_max_connections_per_ip(workdir, sipsgate_factory, udp_backend,
                                       phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=limits(max_connections_per_ip=2))
    phones = [phone_factory(gate, "alice") for _ in range(2)]
    mark = gate.mark()

    with socket.create_connection(("127.0.0.1", gate.port), 5) as third:
        peer = local_address(third)
        assert wait_peer_close(third, 5.0)
    assert peer_line(gate, peer, "max_connections_per_ip", mark) is not None

    # Another source address has its own count.
    other = tls_connect(workdir, gate.port, source_ip="127.0.0.2")
    try:
        other.sendall(b"\r\n\r\n")
        other.settimeout(5.0)
        assert other.recv(16) == b"\r\n"
    finally:
        other.close()
    for phone in phones:
        register_through(phone, udp_backend)


# ---- timeouts ----

def test_limits_handshake_timeout(sipsgate_factory, udp_backend,
                                  phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=limits(handshake_timeout=1))
    mark = gate.mark()

    with socket.create_connection(("127.0.0.1", gate.port), 5) as silent:
        peer = local_address(silent)
        assert wait_peer_close(silent, 5.0)

    assert peer_line(gate, peer, "reason=handshake-timeout", mark)
    register_through(phone_factory(gate, "bob"), udp_backend)


def test_limits_idle_timeout(sipsgate_factory, udp_backend, phone_factory):
    """A registered phone that sends nothing is closed; one that sends a
    CRLFCRLF keepalive every 0.5 s is not."""
    idle_timeout = 2
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=limits(idle_timeout=idle_timeout))
    silent = phone_factory(gate, "alice")
    chatty = phone_factory(gate, "bob")
    register_through(silent, udp_backend)
    register_through(chatty, udp_backend)
    mark = gate.mark()

    started = time.monotonic()
    while time.monotonic() - started < 2 * idle_timeout:
        chatty.send(b"\r\n\r\n")
        chatty.wait_pong()
        # The 0.5 s pace is what is under test, not a synchronisation.
        time.sleep(0.5)

    assert silent.wait_closed(idle_timeout + 3.0)
    assert not chatty.closed
    assert peer_line(gate, silent.local_addr, "reason=idle-timeout", mark)
    register_through(chatty, udp_backend)


def test_limits_header_timeout(workdir, sipsgate_factory, udp_backend,
                               phone_factory):
    """Slowloris: a phone that sends one byte every 0.5 s is never idle,
    but its message must be complete within header_timeout. Another phone
    keeps working meanwhile."""
    header_timeout = 2
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=limits(header_timeout=header_timeout,
                                         idle_timeout=60))
    bob = phone_factory(gate, "bob")
    mark = gate.mark()
    slow = tls_connect(workdir, gate.port)
    peer = local_address(slow)
    message = bob.build_register()

    closed_after = None
    try:
        started = time.monotonic()
        for i in range(len(message)):
            slow.sendall(message[i:i + 1])
            readable, _, _ = select.select([slow], [], [], 0.5)
            if readable and not slow.recv(4096):
                closed_after = time.monotonic() - started
                break
            register_through(bob, udp_backend)
            if time.monotonic() - started > header_timeout + 6.0:
                break
    finally:
        slow.close()

    assert closed_after is not None
    assert closed_after < header_timeout + 4.0
    assert peer_line(gate, peer, "reason=header-timeout", mark)
    register_through(bob, udp_backend)


# ---- back-pressure ----

def vm_rss_kib(pid):
    status = Path("/proc/%d/status" % pid).read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))


def is_sanitizer_build(binary):
    return b"__asan_init" in Path(binary).read_bytes()


def receive_queue(local_port, remote_port):
    """Return the bytes waiting unread in the receive queue of the IPv4
    TCP socket local_port <- remote_port, from /proc/net/tcp, or None."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local = int(fields[1].split(":")[1], 16)
        remote = int(fields[2].split(":")[1], 16)
        if (local, remote) == (local_port, remote_port):
            return int(fields[4].split(":")[1], 16)
    return None


def wait_unread_input(local_port, remote_port, hold=1.0, timeout=10.0):
    """Return True once the socket's receive queue has stayed non-empty
    and not shrunk for hold seconds: its owner has stopped reading."""
    deadline = time.monotonic() + timeout
    since, floor = None, 0
    while time.monotonic() < deadline:
        queued = receive_queue(local_port, remote_port) or 0
        now = time.monotonic()
        if queued == 0 or queued < floor:
            since, floor = None, 0
        elif since is None:
            since, floor = now, queued
        elif now - since >= hold:
            return True
        # Polling a kernel counter: the interval only sets the resolution.
        time.sleep(0.1)
    return False


RSS_GROWTH_KIB = 32 * 1024
PUSH_BYTES = 20 * 1024 * 1024
PUSH_SECONDS = 10.0


def test_limits_backend_not_reading(workdir, sipsgate_factory):
    """A TCP backend that accepts the connection and never reads: once
    output_high_water is queued toward it, sipsgate stops reading from the
    phone, and the daemon's memory stays bounded however much the phone
    sends.

    The phone's sends slow down but need not stop within the bound: the
    kernel keeps accepting data into sipsgate's receive buffer, which
    autotuning grows up to net.ipv4.tcp_rmem (32 MiB on some hosts). So
    the test reads that the bytes wait unread in the kernel instead."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    backend_port = listener.getsockname()[1]
    gate = sipsgate_factory("sip:127.0.0.1:%d;transport=tcp" % backend_port,
                            extra=limits(output_high_water=65536))
    phone = tls_connect(workdir, gate.port, buffer_size=16384)
    phone.settimeout(2.0)
    phone_port = phone.getsockname()[1]
    baseline = vm_rss_kib(gate.proc.pid)
    accepted = []

    sent = 0
    try:
        started = time.monotonic()
        while sent < PUSH_BYTES and time.monotonic() - started < PUSH_SECONDS:
            request = bulky_register(1000)
            try:
                phone.sendall(request)
            except socket.timeout:
                break
            sent += len(request)
            if not accepted:
                listener.settimeout(5.0)
                accepted.append(listener.accept()[0])
        not_reading = wait_unread_input(gate.port, phone_port)
        grown = vm_rss_kib(gate.proc.pid) - baseline
    finally:
        phone.close()
        for conn in accepted:
            conn.close()
        listener.close()

    assert sent > 4 * 65536
    assert not_reading
    assert gate.alive()
    if not is_sanitizer_build(gate.binary):
        # ASan's quarantine keeps freed memory, so its RSS does not
        # measure what sipsgate keeps.
        assert grown < RSS_GROWTH_KIB, "VmRSS grew by %d KiB" % grown


def test_limits_phone_not_reading_responses(workdir, sipsgate_factory,
                                            udp_backend, phone_factory):
    """A phone that sends requests sipsgate rejects itself (Max-Forwards 0,
    483 each) and never reads the responses: once they pass
    output_high_water, sipsgate stops reading from it, its memory stays
    bounded, and another phone is served as before."""
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=limits(output_high_water=65536))
    phone = tls_connect(workdir, gate.port, buffer_size=4096)
    phone.settimeout(2.0)
    phone_port = phone.getsockname()[1]
    baseline = vm_rss_kib(gate.proc.pid)

    sent = 0
    try:
        started = time.monotonic()
        while sent < PUSH_BYTES and time.monotonic() - started < PUSH_SECONDS:
            request = rejected_register(7000)
            try:
                phone.sendall(request)
            except socket.timeout:
                break
            sent += len(request)
        not_reading = wait_unread_input(gate.port, phone_port)
        grown = vm_rss_kib(gate.proc.pid) - baseline
        register_through(phone_factory(gate, "bob"), udp_backend)
    finally:
        phone.close()

    assert sent > 4 * 65536
    assert not_reading
    if not is_sanitizer_build(gate.binary):
        assert grown < RSS_GROWTH_KIB, "VmRSS grew by %d KiB" % grown


def rejected_register(pad):
    """A REGISTER with Max-Forwards 0, which sipsgate rejects with 483. Its
    From line is about pad bytes long, so that the response, which copies
    From, is as large as the request."""
    request = bulky_register(0).replace(b"Max-Forwards: 70",
                                        b"Max-Forwards: 0")
    return request.replace(b"From: <", b"From: \"%s\" <" % (b"f" * pad))


def bulky_register(pad):
    call_id = random_token(10)
    return build_message("REGISTER sip:example.com SIP/2.0", [
        ("Via", "SIP/2.0/TLS pusher.invalid;branch=z9hG4bK%s;rport"
         % random_token(8)),
        ("Max-Forwards", "70"),
        ("From", "<sip:pusher@example.com>;tag=%s" % random_token(4)),
        ("To", "<sip:pusher@example.com>"),
        ("Call-ID", call_id),
        ("CSeq", "1 REGISTER"),
        ("Contact", "<sip:pusher@pusher.invalid;transport=tls>"),
        ("X-Pad", "p" * pad),
    ])


def test_limits_phone_not_reading(workdir, sipsgate_factory, udp_backend,
                                  phone_factory):
    """A phone that stops reading: once its output passes
    output_high_water, requests toward it get a 503 sent to the backend,
    while another phone still gets every request meant for it."""
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=limits(output_high_water=65536))
    bob = phone_factory(gate, "bob")
    bob_path = register_through(bob, udp_backend).get("path")
    stalled = tls_connect(workdir, gate.port, buffer_size=4096)
    try:
        stalled_path = register_raw(stalled, udp_backend)
        # From here on the stalled phone never reads.
        target = ("127.0.0.1", gate.backend_port)
        rejected = None
        started = time.monotonic()
        for i in range(2000):
            if time.monotonic() - started > PUSH_SECONDS:
                break
            udp_backend.send(options_via_path("alice", stalled_path,
                                              30000), target)
            # bob's response comes back after sipsgate has handled the
            # request to the stalled phone, so any 503 to it came first.
            bob_call = options_via_path("bob", bob_path, 0)
            udp_backend.send(bob_call, target)
            responses = responses_until(udp_backend, Message(bob_call).call_id)
            assert responses[-1].status == 200, i
            rejected = next((a for a in responses[:-1] if a.status == 503),
                            None)
            if rejected is not None:
                break
    finally:
        stalled.close()

    assert rejected is not None
    assert rejected.reason == "Phone Not Reading"
    assert gate.alive()


def register_raw(sock, backend):
    """REGISTER over a raw TLS socket; returns the Path value that the
    backend saw."""
    request = build_message("REGISTER sip:example.com SIP/2.0", [
        ("Via", "SIP/2.0/TLS stalled.invalid;branch=z9hG4bK%s;rport"
         % random_token(8)),
        ("Max-Forwards", "70"),
        ("From", "<sip:alice@example.com>;tag=%s" % random_token(4)),
        ("To", "<sip:alice@example.com>"),
        ("Call-ID", random_token(10)),
        ("CSeq", "1 REGISTER"),
        ("Contact", "<sip:alice@stalled.invalid;transport=tls>"),
    ])
    sock.sendall(request)
    forwarded, source = backend.recv_request("REGISTER")
    backend.reply(forwarded, source, 200, "OK")
    sock.settimeout(5.0)
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        assert chunk, "connection closed before the 200"
        response += chunk
    assert response.startswith(b"SIP/2.0 200 ")
    return forwarded.get("path")


def options_via_path(user, path, body_size):
    """An OPTIONS from the backend to user, routed by the Path value the
    registrar stored."""
    body = b"x" * body_size
    headers = [
        ("Via", "SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%s;rport"
         % random_token(8)),
        ("Max-Forwards", "70"),
        ("Route", path),
        ("From", "<sip:registrar@example.com>;tag=%s" % random_token(4)),
        ("To", "<sip:%s@example.com>" % user),
        ("Call-ID", random_token(10)),
        ("CSeq", "1 OPTIONS"),
    ]
    if body:
        headers.append(("Content-Type", "text/plain"))
    return build_message("OPTIONS sip:%s@example.com SIP/2.0" % user,
                         headers, body)


def responses_until(backend, call_id, timeout=5.0):
    """Collect the responses the backend receives up to and including the
    final response for call_id."""
    responses = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no final response for %s; got %s"
                               % (call_id, [a.summary() for a in responses]))
        msg, _ = backend.recv(remaining)
        if msg.is_request:
            continue
        responses.append(msg)
        if msg.call_id == call_id and msg.status >= 200:
            return responses
