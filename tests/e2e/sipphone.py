"""A small SIP phone over mutual TLS, for the end-to-end tests and the demo.

The phone keeps one TLS connection to sipsgate, which is its outbound
proxy: every request and response goes over that connection, and
requests from the backend arrive on it. One I/O thread owns the
non-blocking SSL socket, because an SSL object must not be read and
written from two threads at once. Callers hand it data to send and wait
on the messages it frames (by Content-Length) into a list.

Messages keep their raw bytes, so tests can check exactly what crossed
the wire. Parsing is deliberately small: start line, header lines in
order (compact names expanded), comma-separated values, body.

Run as a program, it drives the demo (see tests/demo.sh):
    sipphone.py demo --pki DIR [--host 127.0.0.1] [--port 5061]
"""

import argparse
import collections
import ipaddress
import os
import secrets
import select
import socket
import ssl
import sys
import threading
import time

COMPACT_NAMES = {
    "v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
    "l": "content-length", "c": "content-type", "k": "supported",
    "s": "subject", "e": "content-encoding", "o": "event",
    "u": "allow-events", "r": "refer-to", "b": "referred-by",
    "x": "session-expires",
}

SERVER_NAME = "sips.example.com"


class ConnectionClosed(Exception):
    """The TLS connection ended while a caller was waiting on it."""


def random_token(nbytes=6):
    return secrets.token_hex(nbytes)


def canonical_name(name):
    name = name.strip().lower()
    return COMPACT_NAMES.get(name, name)


def split_values(value):
    """Split a header value at commas outside quotes and <>."""
    parts = []
    current = []
    quoted = False
    angle = False
    escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            angle = True
        elif not quoted and ch == ">":
            angle = False
        elif ch == "," and not quoted and not angle:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return parts


def uri_of(value):
    """Return the URI of a name-addr or addr-spec value."""
    value = value.strip()
    if "<" in value:
        return value[value.index("<") + 1:value.index(">")]
    return value.split(";", 1)[0].strip()


def header_params(value):
    """Return the header parameters (after the URI) as a dict keyed by
    lowercase name. A flag parameter maps to ""."""
    value = value.strip()
    if "<" in value:
        rest = value[value.index(">") + 1:]
    else:
        rest = value.split(";", 1)[1] if ";" in value else ""
        rest = ";" + rest if rest else ""
    return parse_params(rest)


def parse_params(text):
    params = {}
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        name, _, val = item.partition("=")
        params[name.strip().lower()] = val.strip()
    return params


def uri_params(uri):
    """Return the parameters of a SIP URI (not its headers) as a dict."""
    uri = uri.split("?", 1)[0]
    if ";" not in uri:
        return {}
    return parse_params(uri.split(";", 1)[1])


def uri_hostport(uri):
    """Return (user, host, port) of a sip: or sips: URI. The port is None
    when the URI has none."""
    rest = uri.split(":", 1)[1]
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    user = None
    if "@" in rest:
        user, rest = rest.rsplit("@", 1)
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = int(tail[1:]) if tail.startswith(":") else None
    elif ":" in rest:
        host, port_text = rest.rsplit(":", 1)
        port = int(port_text)
    else:
        host, port = rest, None
    return user, host, port


class Via:
    """One Via value: "SIP/2.0/TLS host:port;branch=...;rport"."""

    def __init__(self, value):
        self.value = value
        protocol, _, rest = value.strip().partition(" ")
        self.transport = protocol.rsplit("/", 1)[-1].upper()
        sent_by, _, params = rest.strip().partition(";")
        self.params = parse_params(params)
        sent_by = sent_by.strip()
        if sent_by.startswith("["):
            self.host, _, tail = sent_by[1:].partition("]")
            self.port = int(tail[1:]) if tail.startswith(":") else None
        elif ":" in sent_by:
            host, port = sent_by.rsplit(":", 1)
            self.host, self.port = host, int(port)
        else:
            self.host, self.port = sent_by, None

    @property
    def branch(self):
        return self.params.get("branch")


class Message:
    """A parsed SIP message that keeps its raw bytes."""

    def __init__(self, raw):
        self.raw = bytes(raw)
        self.received_at = time.monotonic()
        head, sep, body = self.raw.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("no empty line after the header section")
        self.body = body
        lines = head.decode("utf-8", "replace").split("\r\n")
        self.start_line = lines[0]
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                name, value = self.headers[-1]
                self.headers[-1] = (name, value + " " + line.strip())
                continue
            name, colon, value = line.partition(":")
            if not colon:
                raise ValueError("header line without a colon: %r" % line)
            self.headers.append((name.strip(), value.strip()))

        parts = self.start_line.split(" ", 2)
        if self.start_line.startswith("SIP/"):
            self.is_request = False
            self.method = None
            self.uri = None
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
        else:
            if len(parts) != 3:
                raise ValueError("invalid start line: %r" % self.start_line)
            self.is_request = True
            self.method, self.uri = parts[0], parts[1]
            self.status = None
            self.reason = None

    def get_all(self, name):
        """Return the value of every line of header name, in order."""
        want = canonical_name(name)
        return [v for n, v in self.headers if canonical_name(n) == want]

    def get(self, name, default=None):
        values = self.get_all(name)
        return values[0] if values else default

    def values(self, name):
        """Return every comma-separated value of header name, in order."""
        out = []
        for line in self.get_all(name):
            out.extend(split_values(line))
        return out

    @property
    def call_id(self):
        return self.get("call-id")

    @property
    def cseq(self):
        number, _, method = self.get("cseq", "").partition(" ")
        return int(number), method.strip()

    @property
    def cseq_method(self):
        return self.cseq[1]

    @property
    def vias(self):
        return [Via(v) for v in self.values("via")]

    @property
    def branch(self):
        vias = self.vias
        return vias[0].branch if vias else None

    @property
    def to_tag(self):
        return header_params(self.get("to", "")).get("tag")

    @property
    def from_tag(self):
        return header_params(self.get("from", "")).get("tag")

    def summary(self):
        if self.is_request:
            return "%s %s" % (self.method, self.uri)
        return "%d %s (%s)" % (self.status, self.reason, self.cseq_method)

    def __repr__(self):
        return "<Message %s>" % self.summary()


def build_message(start_line, headers, body=b""):
    """Serialise a start line, (name, value) header pairs and a body. A
    Content-Length header is appended unless headers already has one."""
    if isinstance(body, str):
        body = body.encode()
    lines = [start_line]
    have_length = False
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
        if canonical_name(name) == "content-length":
            have_length = True
    if not have_length:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def build_response(request, status, reason, to_tag=None, extra=(), body=b""):
    """Build a response to request as a UAS does (RFC 3261 section 8.2.6):
    every Via in order, From, To with to_tag added when it has none,
    Call-ID, CSeq, and for 18x/2xx to a dialog-creating request the
    Record-Route lines (section 12.1.1)."""
    headers = [("Via", v) for v in request.get_all("via")]
    headers.append(("From", request.get("from")))
    to = request.get("to")
    if to_tag and status > 100 and "tag" not in header_params(to):
        to = "%s;tag=%s" % (to, to_tag)
    headers.append(("To", to))
    headers.append(("Call-ID", request.call_id))
    headers.append(("CSeq", request.get("cseq")))
    if 100 < status < 300:
        headers.extend(("Record-Route", rr)
                       for rr in request.get_all("record-route"))
    headers.extend(extra)
    return build_message("SIP/2.0 %d %s" % (status, reason), headers, body)


def sdp_offer(user, host):
    session = str(int(time.time()))
    return ("v=0\r\n"
            "o=%s %s %s IN IP4 %s\r\n"
            "s=-\r\n"
            "c=IN IP4 %s\r\n"
            "t=0 0\r\n"
            "m=audio 49170 RTP/AVP 0\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            % (user, session, session, host, host)).encode()


class Dialog:
    """The dialog state one side keeps (RFC 3261 section 12)."""

    def __init__(self, call_id, local_uri, local_tag, remote_uri, remote_tag,
                 remote_target, route_set, local_cseq):
        self.call_id = call_id
        self.local_uri = local_uri
        self.local_tag = local_tag
        self.remote_uri = remote_uri
        self.remote_tag = remote_tag
        self.remote_target = remote_target
        self.route_set = route_set
        self.local_cseq = local_cseq

    def request_target(self):
        """Return (Request-URI, Route values) per RFC 3261 section 12.2.1.1:
        loose routing when the first route has lr, strict otherwise."""
        if not self.route_set:
            return self.remote_target, []
        first = uri_of(self.route_set[0])
        if "lr" in uri_params(first):
            return self.remote_target, list(self.route_set)
        routes = list(self.route_set[1:]) + ["<%s>" % self.remote_target]
        return first, routes


class Call:
    """What happened to one outgoing call: every response to the INVITE,
    the dialog, and the BYE's final response."""

    def __init__(self, invite):
        self.invite = invite
        self.responses = []
        self.final = None
        self.dialog = None
        self.ack = None
        self.bye = None
        self.bye_response = None

    def statuses(self):
        return [r.status for r in self.responses]


class _Outgoing:
    def __init__(self, data):
        self.data = data
        self.sent = 0
        self.done = threading.Event()
        self.error = None


class Phone:
    """A SIP phone with one mutual-TLS connection to host:port.

    certfile may be None to connect without a client certificate.
    auto_answer makes the I/O thread answer OPTIONS and MESSAGE with 200,
    INVITE with 180 then 200 (with SDP and Contact), BYE with 200; ACK is
    only recorded. Every received message is kept in self.messages either
    way. trace, when given, is called as trace(phone, direction, message)
    with direction "->" for sent and "<-" for received messages.
    """

    def __init__(self, name, certfile, keyfile, cafile, host, port,
                 domain="example.com", server_name=SERVER_NAME,
                 auto_answer=True, trace=None, min_version=None,
                 max_version=None, ciphers=None, contact_host=None):
        self.name = name
        self.certfile = certfile
        self.keyfile = keyfile
        self.cafile = cafile
        self.host = host
        self.port = port
        self.domain = domain
        self.server_name = server_name
        self.auto_answer = auto_answer
        self.trace = trace
        self.min_version = min_version
        self.max_version = max_version
        self.ciphers = ciphers
        # The host in Via and Contact: a name that resolves nowhere, so
        # that requests can reach the phone only through sipsgate.
        self.contact_host = contact_host or "%s.invalid" % random_token(5)
        self.aor = "sip:%s@%s" % (name, domain)
        self.contact_uri = "sip:%s@%s;transport=tls" % (name, self.contact_host)
        self.register_call_id = random_token(10)
        self.register_cseq = 0
        self.local_addr = None
        self.tls_version = None
        self.dialogs = {}

        self.messages = []
        self.pongs = 0
        self._pongs_taken = 0
        self._cond = threading.Condition()
        self._out = collections.deque()
        self._out_lock = threading.Lock()
        self._inbuf = bytearray()
        self._sock = None
        self._thread = None
        self._wake_r = None
        self._wake_w = None
        self._stop = False
        self.closed = False
        self.close_reason = None

    # ---- connection ----

    def make_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.cafile)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        if self.certfile:
            ctx.load_cert_chain(self.certfile, self.keyfile)
        if self.ciphers:
            ctx.set_ciphers(self.ciphers)
        if self.min_version is not None:
            ctx.minimum_version = self.min_version
        if self.max_version is not None:
            ctx.maximum_version = self.max_version
        return ctx

    def connect(self, timeout=5.0):
        """Connect and complete the TLS handshake, then start the I/O
        thread. Raises ssl.SSLError or OSError when the handshake fails;
        with TLS 1.3 a rejected client certificate shows up only later,
        as a closed connection (see wait_closed)."""
        ctx = self.make_context()
        raw = socket.create_connection((self.host, self.port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_addr = "%s:%d" % raw.getsockname()[:2]
        try:
            sock = ctx.wrap_socket(raw, server_hostname=self.server_name)
        except BaseException:
            raw.close()
            raise
        self.tls_version = sock.version()
        sock.setblocking(False)
        self._sock = sock
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread = threading.Thread(target=self._io_loop,
                                        name="phone-%s" % self.name,
                                        daemon=True)
        self._thread.start()
        return self

    def close(self):
        """Stop the I/O thread and close the TCP connection without a TLS
        close_notify, like a phone that loses its network."""
        if self._sock is None:
            return
        self._stop = True
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._wake_r.close()
        self._wake_w.close()
        self._sock = None

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except (OSError, AttributeError):
            pass

    def _io_loop(self):
        reason = "closed by the phone"
        try:
            while not self._stop:
                self._flush()
                if not self._read_available():
                    reason = "closed by the peer"
                    break
                want_write = bool(self._out)
                select.select([self._sock, self._wake_r],
                              [self._sock] if want_write else [], [], 1.0)
                try:
                    self._wake_r.recv(4096)
                except BlockingIOError:
                    pass
        except (ssl.SSLError, OSError) as e:
            reason = "%s: %s" % (type(e).__name__, e)
        except Exception as e:  # reported to the test that waits on us
            reason = "phone I/O thread failed: %r" % e
        with self._out_lock:
            pending = list(self._out)
            self._out.clear()
        for item in pending:
            item.error = ConnectionClosed(reason)
            item.done.set()
        with self._cond:
            self.closed = True
            self.close_reason = reason
            self._cond.notify_all()

    def _flush(self):
        while True:
            with self._out_lock:
                if not self._out:
                    return
                item = self._out[0]
            try:
                n = self._sock.send(item.data[item.sent:])
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return
            item.sent += n
            if item.sent == len(item.data):
                with self._out_lock:
                    self._out.popleft()
                item.done.set()

    def _read_available(self):
        """Read until the socket would block. Returns False at EOF."""
        while True:
            try:
                data = self._sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return True
            except ssl.SSLZeroReturnError:
                return False
            if not data:
                return False
            self._feed(data)

    def _feed(self, data):
        self._inbuf += data
        while True:
            if self._inbuf[:2] == b"\r\n":
                # A CRLF at a message boundary is a keep-alive pong
                # (RFC 5626 section 3.5.1).
                del self._inbuf[:2]
                with self._cond:
                    self.pongs += 1
                    self._cond.notify_all()
                continue
            end = self._inbuf.find(b"\r\n\r\n")
            if end < 0:
                return
            length = content_length(bytes(self._inbuf[:end + 2]))
            total = end + 4 + length
            if len(self._inbuf) < total:
                return
            raw = bytes(self._inbuf[:total])
            del self._inbuf[:total]
            self._deliver(Message(raw))

    def _deliver(self, msg):
        msg.consumed = False
        if self.trace:
            self.trace(self, "<-", msg)
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()
        if msg.is_request and self.auto_answer:
            self._answer(msg)

    # ---- sending ----

    def send(self, data, timeout=5.0):
        """Write data with one SSL_write (one TLS record for small data) and
        wait until it has been handed to the kernel."""
        if isinstance(data, str):
            data = data.encode()
        item = self._enqueue(data)
        if not item.done.wait(timeout):
            raise TimeoutError("%s: send of %d bytes did not complete"
                               % (self.name, len(data)))
        if item.error:
            raise item.error

    def send_message(self, data, timeout=5.0):
        if self.trace:
            self.trace(self, "->", Message(data))
        self.send(data, timeout)

    def _enqueue(self, data):
        item = _Outgoing(data)
        if self.closed or self._sock is None:
            item.error = ConnectionClosed("%s: connection is closed (%s)"
                                          % (self.name, self.close_reason))
            item.done.set()
            return item
        with self._out_lock:
            self._out.append(item)
        self._wake()
        return item

    def _send_async(self, data):
        """Queue data from the I/O thread itself, which must not wait."""
        if self.trace:
            self.trace(self, "->", Message(data))
        self._enqueue(data)

    # ---- waiting ----

    def wait_message(self, predicate, timeout=5.0, description="message"):
        """Return the oldest message not yet returned that matches
        predicate, waiting up to timeout seconds for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.messages:
                    if not msg.consumed and predicate(msg):
                        msg.consumed = True
                        return msg
                if self.closed:
                    raise ConnectionClosed("%s: connection closed (%s) while "
                                           "waiting for %s"
                                           % (self.name, self.close_reason,
                                              description))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("%s: no %s within %.1f s; received: %s"
                                       % (self.name, description, timeout,
                                          [m.summary() for m in self.messages]))
                self._cond.wait(remaining)

    def wait_request(self, method, timeout=5.0, call_id=None):
        def match(m):
            return (m.is_request and m.method == method
                    and (call_id is None or m.call_id == call_id))
        return self.wait_message(match, timeout, "%s request" % method)

    def wait_response(self, call_id=None, cseq_method=None, final=False,
                      timeout=5.0):
        def match(m):
            return (not m.is_request
                    and (call_id is None or m.call_id == call_id)
                    and (cseq_method is None or m.cseq_method == cseq_method)
                    and (not final or m.status >= 200))
        description = "%sresponse%s" % ("final " if final else "",
                                        " to " + cseq_method
                                        if cseq_method else "")
        return self.wait_message(match, timeout, description)

    def wait_pong(self, timeout=5.0):
        """Wait for one CRLF keep-alive response not yet consumed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.pongs <= self._pongs_taken:
                if self.closed:
                    raise ConnectionClosed("%s: connection closed (%s) while "
                                           "waiting for a pong"
                                           % (self.name, self.close_reason))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("%s: no CRLF pong within %.1f s"
                                       % (self.name, timeout))
                self._cond.wait(remaining)
            self._pongs_taken += 1

    def wait_closed(self, timeout=5.0):
        """Return True once the connection has closed, False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    # ---- building requests ----

    def new_via(self):
        return "SIP/2.0/TLS %s;branch=z9hG4bK%s;rport" % (self.contact_host,
                                                          random_token(8))

    def build_register(self, expires=600, request_uri=None, contact=None,
                       max_forwards=70, extra=(), omit=()):
        """Build a REGISTER for this phone's AOR. omit lists header names
        to leave out, for malformed-request tests."""
        self.register_cseq += 1
        headers = [
            ("Via", self.new_via()),
            ("Max-Forwards", str(max_forwards)),
            ("From", "<%s>;tag=%s" % (self.aor, random_token(4))),
            ("To", "<%s>" % self.aor),
            ("Call-ID", self.register_call_id),
            ("CSeq", "%d REGISTER" % self.register_cseq),
            ("Contact", "<%s>" % (contact or self.contact_uri)),
            ("Expires", str(expires)),
            ("Supported", "path"),
            ("User-Agent", "sipsgate-e2e-phone"),
        ]
        headers.extend(extra)
        skip = {canonical_name(n) for n in omit}
        headers = [(n, v) for n, v in headers if canonical_name(n) not in skip]
        start = "REGISTER %s SIP/2.0" % (request_uri or "sip:" + self.domain)
        return build_message(start, headers)

    def register(self, expires=600, timeout=5.0, **kwargs):
        """Send a REGISTER and return its final response."""
        request = self.build_register(expires=expires, **kwargs)
        self.send_message(request)
        return self.wait_response(self.register_call_id, "REGISTER",
                                  final=True, timeout=timeout)

    def build_invite(self, target_user, call_id, from_tag, cseq=1):
        body = sdp_offer(self.name, "192.0.2.1")
        headers = [
            ("Via", self.new_via()),
            ("Max-Forwards", "70"),
            ("From", "<%s>;tag=%s" % (self.aor, from_tag)),
            ("To", "<sip:%s@%s>" % (target_user, self.domain)),
            ("Call-ID", call_id),
            ("CSeq", "%d INVITE" % cseq),
            ("Contact", "<%s>" % self.contact_uri),
            ("Content-Type", "application/sdp"),
        ]
        start = "INVITE sip:%s@%s SIP/2.0" % (target_user, self.domain)
        return build_message(start, headers, body)

    def build_in_dialog(self, dialog, method, cseq=None, branch=None):
        """Build a request inside dialog: Request-URI and Route headers
        from the route set and remote target (RFC 3261 section 12.2.1.1)."""
        if cseq is None:
            dialog.local_cseq += 1
            cseq = dialog.local_cseq
        ruri, routes = dialog.request_target()
        via = self.new_via()
        if branch:
            via = "SIP/2.0/TLS %s;branch=%s;rport" % (self.contact_host, branch)
        headers = [("Via", via), ("Max-Forwards", "70")]
        headers.extend(("Route", r) for r in routes)
        headers += [
            ("From", "<%s>;tag=%s" % (dialog.local_uri, dialog.local_tag)),
            ("To", "<%s>;tag=%s" % (dialog.remote_uri, dialog.remote_tag)),
            ("Call-ID", dialog.call_id),
            ("CSeq", "%d %s" % (cseq, method)),
        ]
        return build_message("%s %s SIP/2.0" % (method, ruri), headers)

    # ---- calls ----

    def call(self, target_user, hangup=True, timeout=5.0):
        """Call target_user@domain through the outbound proxy: INVITE,
        wait for the final response, ACK a 2xx along the route set and,
        with hangup, send BYE and wait for its final response."""
        call_id = random_token(10)
        from_tag = random_token(4)
        invite = self.build_invite(target_user, call_id, from_tag)
        call = Call(Message(invite))
        self.send_message(invite)

        while call.final is None:
            response = self.wait_response(call_id, "INVITE", timeout=timeout)
            call.responses.append(response)
            if response.status >= 200:
                call.final = response
        if call.final.status >= 300:
            # The ACK for a non-2xx answer goes to the same hop as the
            # INVITE and reuses its branch (RFC 3261 section 17.1.1.3).
            self.send_message(self.ack_for_failure(call.invite, call.final))
            return call

        dialog = self.uac_dialog(call.invite, call.final)
        call.dialog = dialog
        self.dialogs[call_id] = dialog
        ack = self.build_in_dialog(dialog, "ACK", cseq=1)
        call.ack = Message(ack)
        self.send_message(ack)
        if hangup:
            call.bye, call.bye_response = self.hangup(dialog, timeout)
        return call

    def uac_dialog(self, invite, response):
        """Create the caller's dialog from an INVITE and its 2xx."""
        # The UAC's route set is the Record-Route list in reverse order
        # (RFC 3261 section 12.1.2).
        route_set = list(reversed(response.values("record-route")))
        return Dialog(invite.call_id, uri_of(invite.get("from")),
                      invite.from_tag, uri_of(response.get("to")),
                      response.to_tag, uri_of(response.get("contact")),
                      route_set, local_cseq=invite.cseq[0])

    def build_cancel(self, invite):
        """Build a CANCEL for a pending INVITE (RFC 3261 section 9.1): the
        INVITE's Request-URI, top Via (same branch), From, To, Call-ID,
        Route and CSeq number."""
        headers = [("Via", invite.vias[0].value), ("Max-Forwards", "70")]
        headers.extend(("Route", r) for r in invite.get_all("route"))
        headers += [("From", invite.get("from")), ("To", invite.get("to")),
                    ("Call-ID", invite.call_id),
                    ("CSeq", "%d CANCEL" % invite.cseq[0])]
        return build_message("CANCEL %s SIP/2.0" % invite.uri, headers)

    def hangup(self, dialog, timeout=5.0):
        """Send BYE in dialog; returns (BYE, its final response)."""
        bye = self.build_in_dialog(dialog, "BYE")
        self.send_message(bye)
        response = self.wait_response(dialog.call_id, "BYE", final=True,
                                      timeout=timeout)
        self.dialogs.pop(dialog.call_id, None)
        return Message(bye), response

    def ack_for_failure(self, invite, response):
        """Build the ACK for a non-2xx final response to invite."""
        cseq_number = invite.cseq[0]
        headers = [("Via", invite.vias[0].value), ("Max-Forwards", "70"),
                   ("From", invite.get("from")), ("To", response.get("to")),
                   ("Call-ID", invite.call_id),
                   ("CSeq", "%d ACK" % cseq_number)]
        return build_message("ACK %s SIP/2.0" % invite.uri, headers)

    # ---- auto-answer (runs on the I/O thread) ----

    def _answer(self, request):
        method = request.method
        if method == "ACK":
            return
        if method == "INVITE":
            self._answer_invite(request)
            return
        if method in ("OPTIONS", "MESSAGE", "BYE", "NOTIFY", "INFO"):
            if method == "BYE":
                self.dialogs.pop(request.call_id, None)
            self._send_async(build_response(request, 200, "OK",
                                            to_tag=random_token(4)))
            return
        self._send_async(build_response(request, 501, "Not Implemented",
                                        to_tag=random_token(4)))

    def _answer_invite(self, request):
        if request.to_tag:
            # A re-INVITE: accept it without changing the dialog.
            extra = [("Contact", "<%s>" % self.contact_uri)]
            self._send_async(build_response(request, 200, "OK", extra=extra))
            return
        tag = random_token(4)
        contact = [("Contact", "<%s>" % self.contact_uri)]
        self._send_async(build_response(request, 180, "Ringing", tag,
                                        contact))
        body = sdp_offer(self.name, "192.0.2.2")
        extra = contact + [("Content-Type", "application/sdp")]
        self._send_async(build_response(request, 200, "OK", tag, extra,
                                        body))
        # The UAS's route set is the Record-Route list in order (RFC 3261
        # section 12.1.1), so that it can send BYE itself.
        self.dialogs[request.call_id] = Dialog(
            request.call_id, uri_of(request.get("to")), tag,
            uri_of(request.get("from")), request.from_tag,
            uri_of(request.get("contact")), request.values("record-route"),
            local_cseq=100)


def content_length(head):
    """Return the Content-Length in a header section (0 when absent).
    Raises ValueError for a value that is not a decimal number."""
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and canonical_name(name.decode("latin-1")) == "content-length":
            value = value.strip()
            if not value.isdigit():
                raise ValueError("invalid Content-Length: %r" % value)
            return int(value)
    return 0


class UdpEndpoint:
    """A plain UDP SIP endpoint on loopback: the tests' stand-in backend
    and their client toward Kamailio."""

    def __init__(self, host="127.0.0.1", port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    def close(self):
        self.sock.close()

    def send(self, data, addr):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendto(data, addr)

    def recv(self, timeout=5.0):
        """Return (Message, source address), or raise TimeoutError."""
        self.sock.settimeout(timeout)
        try:
            data, addr = self.sock.recvfrom(65535)
        except socket.timeout:
            raise TimeoutError("no datagram on %s within %.1f s"
                               % (self.address, timeout)) from None
        return Message(data), addr

    def recv_request(self, method=None, timeout=5.0):
        """Return the next (request, source) pair, skipping responses."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no %s request on %s within %.1f s"
                                   % (method or "SIP", self.address, timeout))
            msg, addr = self.recv(remaining)
            if msg.is_request and (method is None or msg.method == method):
                return msg, addr

    def reply(self, request, source, status, reason, to_tag=None, extra=(),
              body=b""):
        """Answer request where RFC 3261 section 18.2.2 and RFC 3581 say:
        the source address when the top Via has rport, otherwise its
        received address or sent-by host, and its port or 5060."""
        data = build_response(request, status, reason,
                              to_tag or random_token(4), extra, body)
        self.send(data, response_address(request, source))
        return Message(data)

    def request(self, data, addr, timeout=5.0):
        """Send a request and return its final response (1xx skipped)."""
        self.send(data, addr)
        call_id = Message(data).call_id
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no final response on %s within %.1f s"
                                   % (self.address, timeout))
            msg, _ = self.recv(remaining)
            if (not msg.is_request and msg.call_id == call_id
                    and msg.status >= 200):
                return msg

    def build_options(self, request_uri, to_uri=None):
        headers = [
            ("Via", "SIP/2.0/UDP %s;branch=z9hG4bK%s;rport"
             % (self.address, random_token(8))),
            ("Max-Forwards", "70"),
            ("From", "<sip:tester@%s>;tag=%s" % (self.address, random_token(4))),
            ("To", "<%s>" % (to_uri or request_uri)),
            ("Call-ID", random_token(10)),
            ("CSeq", "1 OPTIONS"),
            ("Accept", "application/sdp"),
        ]
        return build_message("OPTIONS %s SIP/2.0" % request_uri, headers)


def response_address(request, source):
    via = request.vias[0]
    if "rport" in via.params:
        return source
    host = via.params.get("received") or via.host
    return (host, via.port or 5060)


# ---- demo ----

def demo_trace(lock):
    def trace(phone, direction, msg):
        if direction == "->":
            line = "%s -> sipsgate: %s" % (phone.name, msg.summary())
        elif msg.is_request:
            line = ("%s <- sipsgate: %s (on %s's own TLS connection, "
                    "local address %s)" % (phone.name, msg.summary(),
                                           phone.name, phone.local_addr))
        else:
            line = "%s <- sipsgate: %s" % (phone.name, msg.summary())
        with lock:
            print(line, flush=True)
    return trace


def run_demo(pki, host, port):
    """Register alice and bob, call alice -> bob, hang up. Returns the exit
    status: 0 when every step got the expected answer."""
    lock = threading.Lock()
    trace = demo_trace(lock)

    def say(text):
        with lock:
            print(text, flush=True)

    phones = {}
    try:
        for name in ("alice", "bob"):
            phone = Phone(name, os.path.join(pki, name + "-chain.pem"),
                          os.path.join(pki, name + ".key"),
                          os.path.join(pki, "root.pem"), host, port,
                          trace=trace)
            phone.connect()
            phones[name] = phone
            say("%s: TLS connection %s -> %s:%d up (%s, client certificate "
                "%s-chain.pem)" % (name, phone.local_addr, host, port,
                                   phone.tls_version, name))
            response = phone.register()
            if response.status != 200:
                say("FAILED: %s's REGISTER got %s" % (name, response.summary()))
                return 1
            say("%s registered as %s" % (name, phone.aor))

        alice, bob = phones["alice"], phones["bob"]
        call = alice.call("bob", hangup=False)
        if call.final.status != 200:
            say("FAILED: INVITE got %s" % call.final.summary())
            return 1
        bob.wait_request("ACK", call_id=call.dialog.call_id)
        say("call established: alice and bob share dialog %s"
            % call.dialog.call_id)
        _, bye_response = alice.hangup(call.dialog)
        if bye_response.status != 200:
            say("FAILED: BYE got %s" % bye_response.summary())
            return 1
        bob.wait_request("BYE", call_id=call.dialog.call_id)
        say("call completed")
        return 0
    except (OSError, ssl.SSLError, TimeoutError, ConnectionClosed,
            ValueError) as e:
        say("FAILED: %s" % e)
        return 1
    finally:
        for phone in phones.values():
            phone.close()


def main(argv):
    parser = argparse.ArgumentParser(description="sipsgate demo phones")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="register alice and bob and place "
                          "one call alice -> bob")
    demo.add_argument("--pki", required=True,
                      help="folder written by tests/e2e/pki.sh")
    demo.add_argument("--host", default="127.0.0.1",
                      help="sipsgate's TLS address (loopback only)")
    demo.add_argument("--port", type=int, default=5061,
                      help="sipsgate's TLS port")
    args = parser.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error("--host must be a loopback address: %s" % args.host)
    return run_demo(args.pki, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
