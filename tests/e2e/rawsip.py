"""Byte-level helpers for the hostile-input tests.

sipphone.Message parses what it receives, which is right for ordinary
traffic but hides the exact bytes of a torture message. These helpers
read datagrams without parsing them, locate header lines and values in
raw SIP bytes (folded lines included), and take sipsgate's own edits back
out of a forwarded request. A test can then compare the rest byte for byte
with what the phone sent.
"""

import re
import socket
import ssl
import time

from sipphone import SERVER_NAME, Message, build_response, random_token

LWS = b" \t\r\n"

# The lines sipsgate inserts after the start line of a request from a
# phone, in the order it inserts them, for the [backend] listen port and
# the [tls] listen port that the tests use. Flow tokens are base64url.
OUR_VIA = (rb"Via: SIP/2\.0/UDP 127\.0\.0\.1:%d;branch=z9hG4bK[A-Za-z0-9_-]+"
           rb"\.[0-9a-f]{16};rport\r\n")
OUR_PATH = rb"Path: <sip:[A-Za-z0-9_-]+@127\.0\.0\.1:%d;transport=udp;lr>\r\n"
OUR_RECORD_ROUTE = (rb"Record-Route: <sip:[A-Za-z0-9_-]+@127\.0\.0\.1:%d;"
                    rb"transport=udp;lr>\r\n"
                    rb"Record-Route: <sips:[A-Za-z0-9_-]+@sips\.example\.com:%d;"
                    rb"lr>\r\n")
# [tls] trusted_headers, by default: the phone certificate's first sip:
# URI, then every identity of it as uri="...", dns="...", subject="...".
OUR_IDENTITY = (rb"P-Asserted-Identity: <%s>\r\n"
                rb"X-Sipsgate-Client-Identity: [^\r\n]*uri=\"%s\"[^\r\n]*\r\n")
DEFAULT_MAX_FORWARDS = b"Max-Forwards: 70\r\n"

DIALOG_CREATING = (b"INVITE", b"SUBSCRIBE", b"REFER", b"NOTIFY")


def recv_datagram(endpoint, timeout=5.0):
    """Return (bytes, source) of the next datagram on a UdpEndpoint, or
    raise TimeoutError."""
    endpoint.sock.settimeout(timeout)
    try:
        return endpoint.sock.recvfrom(65535)
    except socket.timeout:
        raise TimeoutError("no datagram on %s within %.1f s"
                           % (endpoint.address, timeout)) from None


def recv_new_datagram(endpoint, seen, timeout=5.0):
    """Return the next datagram whose bytes are not in seen, skipping
    retransmissions of requests already received."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no new datagram on %s within %.1f s"
                               % (endpoint.address, timeout))
        data, source = recv_datagram(endpoint, remaining)
        if data not in seen:
            return data, source


def answer(endpoint, data, source, status=200, reason="OK"):
    """Send a final response to the forwarded request data as the backend,
    so that sipsgate's client transaction completes, because the daemon
    waits for open ones when it stops. sipsgate's Via has rport, so the
    response goes to source."""
    response = build_response(Message(data), status, reason, random_token(4))
    endpoint.send(response, source)


def header_length(data):
    """Return the length of the header section including its empty line."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError("no empty line after the header section")
    return end + 4


def header_lines(data):
    """Return (start, end) of every header line of data, end just past its
    CRLF; a folded line includes its continuation lines."""
    first = data.index(b"\r\n") + 2
    last = header_length(data) - 2
    lines = []
    pos = first
    while pos < last:
        end = data.index(b"\r\n", pos)
        while data[end + 2:end + 3] in (b" ", b"\t"):
            end = data.index(b"\r\n", end + 2)
        lines.append((pos, end + 2))
        pos = end + 2
    return lines


def header_name(data, line):
    start, end = line
    colon = data.find(b":", start, end)
    if colon < 0:
        return None
    return data[start:colon].strip(b" \t").lower()


def value_span(data, line):
    """Return (start, end) of a header line's value, without the LWS
    around it."""
    start, end = line
    colon = data.index(b":", start, end)
    value_start = colon + 1
    value_end = end - 2
    while value_start < value_end and data[value_start] in LWS:
        value_start += 1
    while value_end > value_start and data[value_end - 1] in LWS:
        value_end -= 1
    return value_start, value_end


def find_header(data, names):
    """Return the first header line whose name is in names (lowercase,
    long and compact forms), or None."""
    for line in header_lines(data):
        if header_name(data, line) in names:
            return line
    return None


def first_value_span(data, line):
    """Return (start, end) of the first comma-separated value of a header
    line, honouring quoted strings and <>."""
    start, end = value_span(data, line)
    quoted = angle = escaped = False
    pos = start
    while pos < end:
        ch = data[pos:pos + 1]
        if escaped:
            escaped = False
        elif quoted and ch == b"\\":
            escaped = True
        elif ch == b'"':
            quoted = not quoted
        elif not quoted and ch == b"<":
            angle = True
        elif not quoted and ch == b">":
            angle = False
        elif ch == b"," and not quoted and not angle:
            break
        pos += 1
    while pos > start and data[pos - 1] in LWS:
        pos -= 1
    return start, pos


def request_method(data):
    return data.split(b" ", 1)[0]


def has_to_tag(data):
    line = find_header(data, (b"to", b"t"))
    if line is None:
        return False
    start, end = value_span(data, line)
    value = data[start:end]
    if b">" in value:
        value = value[value.rindex(b">"):]
    return re.search(rb";\s*tag\s*=", value, re.I) is not None


def expected_insertions(original, backend_port, public_port, identity):
    """Return the patterns of the lines sipsgate inserts after the start
    line when it forwards original: its Via, Path for REGISTER, two
    Record-Route entries for a dialog-creating request, the identity
    headers of the phone's certificate (sip: URI identity), and
    Max-Forwards when the request has none."""
    method = request_method(original)
    patterns = [OUR_VIA % backend_port]
    if method == b"REGISTER":
        patterns.append(OUR_PATH % backend_port)
    if method in DIALOG_CREATING and not has_to_tag(original):
        patterns.append(OUR_RECORD_ROUTE % (backend_port, public_port))
    uri = re.escape(identity.encode())
    patterns.append(OUR_IDENTITY % (uri, uri))
    if find_header(original, (b"max-forwards",)) is None:
        patterns.append(re.escape(DEFAULT_MAX_FORWARDS))
    return patterns


def via_sent_by_host(value):
    match = re.match(rb"SIP\s*/\s*2\.0\s*/\s*\S+\s+(\[[^\]]*\]|[^\s;:,]+)",
                     value, re.I)
    return match.group(1) if match else None


def proxied_top_via(value, source_ip, source_port):
    """Return the phone's top Via value as sipsgate forwards it: an empty
    rport filled with the source port (RFC 3581), received set to the
    source address when the sent-by host differs or rport is present
    (RFC 3261 section 18.2.1)."""
    source = source_ip.encode()
    rport = re.search(rb";rport(?=;|$)", value, re.I)
    if rport:
        value = (value[:rport.start()] + b";rport=%d" % source_port
                 + value[rport.end():])
    received = re.search(rb";received=([^;]*)", value, re.I)
    if received:
        return value[:received.start(1)] + source + value[received.end(1):]
    if rport or via_sent_by_host(value) != source:
        return value + b";received=" + source
    return value


def undo_proxy_edits(forwarded, original, backend_port, public_port,
                     source_port, source_ip="127.0.0.1",
                     identity="sip:alice@example.com"):
    """Take sipsgate's edits out of a forwarded request and return the
    result, which must equal original byte for byte.

    The edits are those of a request from a phone toward the backend:
    the inserted lines of expected_insertions, received and rport on the
    top Via, and Max-Forwards decremented. original must not hold any of
    the trusted headers, which sipsgate would remove. Raises
    AssertionError naming the first edit that is not where or what it
    should be."""
    line_end = original.index(b"\r\n") + 2
    assert forwarded[:line_end] == original[:line_end], (
        "start line changed: %r" % forwarded[:line_end])
    rest = forwarded[line_end:]
    for pattern in expected_insertions(original, backend_port, public_port,
                                       identity):
        match = re.match(pattern, rest)
        assert match, "expected %r after the start line, got %r" % (
            pattern, rest[:120])
        rest = rest[match.end():]
    restored = original[:line_end] + rest

    via_names = (b"via", b"v")
    sent = find_header(original, via_names)
    got = find_header(restored, via_names)
    if sent is not None:
        sent_start, sent_end = first_value_span(original, sent)
        got_start, got_end = first_value_span(restored, got)
        want = proxied_top_via(original[sent_start:sent_end], source_ip,
                               source_port)
        assert restored[got_start:got_end] == want, (
            "top Via %r, expected %r" % (restored[got_start:got_end], want))
        restored = (restored[:got_start] + original[sent_start:sent_end]
                    + restored[got_end:])

    mf_names = (b"max-forwards",)
    sent = find_header(original, mf_names)
    if sent is not None:
        got = find_header(restored, mf_names)
        sent_start, sent_end = value_span(original, sent)
        got_start, got_end = value_span(restored, got)
        want = b"%d" % (int(original[sent_start:sent_end]) - 1)
        assert restored[got_start:got_end] == want, (
            "Max-Forwards %r, expected %r" % (restored[got_start:got_end],
                                              want))
        restored = (restored[:got_start] + original[sent_start:sent_end]
                    + restored[got_end:])
    return restored


# ---- raw connections ----

def tls_context(workdir, name="alice"):
    """A client context like sipphone.Phone's: trusts root.pem and
    presents NAME-chain.pem."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(workdir / "root.pem"))
    ctx.load_cert_chain(str(workdir / (name + "-chain.pem")),
                        str(workdir / (name + ".key")))
    return ctx


def tls_connect(workdir, port, name="alice", source_ip=None, timeout=5.0,
                buffer_size=None):
    """Return a blocking TLS socket to 127.0.0.1:port whose handshake is
    done, optionally from source_ip (another loopback address) and with
    small kernel buffers of buffer_size bytes each way, set before the
    connect so that they bound the TCP window."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        raw.settimeout(timeout)
        if buffer_size:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_size)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer_size)
        if source_ip:
            raw.bind((source_ip, 0))
        raw.connect(("127.0.0.1", port))
        return tls_context(workdir, name).wrap_socket(
            raw, server_hostname=SERVER_NAME)
    except BaseException:
        raw.close()
        raise


def local_address(sock):
    return "%s:%d" % sock.getsockname()[:2]


def wait_peer_close(sock, timeout=5.0):
    """Read and discard until the peer closes the connection. Returns True
    when it did within timeout, False otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sock.settimeout(remaining)
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            return True
        except ssl.SSLError as e:
            # A TLS alert from the server ends the connection too.
            return "alert" in str(e).lower() or "eof" in str(e).lower()


def client_hello(server_name=SERVER_NAME):
    """Return the bytes of a real TLS ClientHello, as Python's ssl module
    (OpenSSL) sends it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def recv_message(sock, timeout=5.0):
    """Read one SIP message (framed by Content-Length) from a blocking
    socket. Returns its bytes, or b"" when the connection closes first."""
    data = b""
    sock.settimeout(timeout)
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            length = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*"
                               rb"(\d+)", data[:end + 2])
            total = end + 4 + (int(length.group(1)) if length else 0)
            if len(data) >= total:
                return data[:total]
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
