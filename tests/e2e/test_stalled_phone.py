"""A phone that stops reading must not make sipsgate buffer without bound.

sipsgate's own answers to a phone (error responses, pongs) go into that
phone's output buffer. When the phone stops reading them, sipsgate must
stop reading the phone's requests once the buffer passes
output_high_water, and close the connection when nothing could be
written for idle_timeout seconds."""

import socket
import ssl
import threading
import time

from sipphone import SERVER_NAME

HOPS_EXHAUSTED = (
    "OPTIONS sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TLS alice.invalid;branch=z9hG4bK-stall-%d\r\n"
    "Max-Forwards: 0\r\n"
    "From: <sip:alice@example.com>;tag=stall\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: stall-%d@alice.invalid\r\n"
    "CSeq: %d OPTIONS\r\n"
    "Content-Length: 0\r\n\r\n")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def connect_small_window(gate, workdir):
    ctx = ssl.create_default_context(cafile=str(workdir / "root.pem"))
    ctx.load_cert_chain(str(workdir / "alice-chain.pem"),
                        str(workdir / "alice.key"))
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive window makes the kernel stop taking sipsgate's
    # answers early, so its own output buffer fills.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", gate.port))
    return ctx.wrap_socket(raw, server_hostname=SERVER_NAME)


def test_stalled_phone_paused_then_closed(sipsgate_factory, udp_backend,
                                          workdir):
    gate = sipsgate_factory(
        "sip:127.0.0.1:%d;transport=udp" % udp_backend.port,
        extra="[limits]\nidle_timeout = 2\noutput_high_water = 65536\n")
    phone = connect_small_window(gate, workdir)
    rss_before = rss_kib(gate.proc.pid)
    planned = 30 * 1024 * 1024
    sent = 0
    stalled = False

    # Each request gets a 483 from sipsgate itself; the phone never reads.
    phone.settimeout(3.0)
    deadline = time.monotonic() + 30
    cseq = 0
    while sent < planned and time.monotonic() < deadline:
        batch = "".join(HOPS_EXHAUSTED % (cseq + i, cseq + i, cseq + i)
                        for i in range(50)).encode()
        cseq += 50
        try:
            phone.sendall(batch)
        except (socket.timeout, TimeoutError):
            stalled = True
            break
        except (ConnectionError, ssl.SSLError):
            # Closed by sipsgate after idle_timeout of unwritable output.
            stalled = True
            break
        sent += len(batch)

    assert stalled, "sipsgate kept reading %d bytes from a phone that " \
        "reads nothing" % sent
    assert sent < planned
    assert gate.wait_log(r"peer stopped reading", timeout=15)
    assert gate.wait_log(r"closed \(phone\) reason=idle-timeout", timeout=5)
    assert gate.alive()
    # The replies queued for the phone are bounded by output_high_water
    # plus what one read can produce; allow generous slack for the heap.
    # AddressSanitizer keeps freed memory in quarantine, so its RSS says
    # nothing about what the daemon holds.
    if "asan" not in str(gate.binary):
        assert rss_kib(gate.proc.pid) - rss_before < 32 * 1024
    phone.close()
