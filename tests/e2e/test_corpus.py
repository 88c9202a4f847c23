"""The RFC 4475 and RFC 5118 torture messages, each sent as is over a
phone's TLS connection to sipsgate with a scripted UDP backend behind it.

Every file has an expected outcome in EXPECTED. A forwarded request must
reach the backend with the phone's bytes unchanged apart from sipsgate's
own edits. A rejected request gets the status and reason phrase that
name its fault. A response from a phone carries no Via of ours, so it is
dropped. Input that cannot be framed ends the connection. After every
file the daemon must still be running and a REGISTER on another
connection must work.

The verdicts follow the corpus manifests (tests/corpus/*/MANIFEST.tsv)
and the parser's verdict table in tests/unit/test_sipmsg.c. Where they
differ on a stream, the entry says why.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from rawsip import (answer, header_length, recv_datagram, recv_new_datagram,
                    undo_proxy_edits)
from sipphone import ConnectionClosed, Message, build_message, random_token

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@dataclass(frozen=True)
class Expect:
    """The expected outcome of one torture message sent by a phone.

    kind is one of:
      forward  the backend receives the request (edits taken out, the
               bytes equal the file)
      reject   sipsgate responds with status/reason; with closes, it then
               ends the connection because the stream can no longer be
               framed
      drop     a response from the phone: nothing is sent back or passed
               on, and the connection stays open
      close    no response can be formed: the connection ends at once
      stall    an incomplete message: sipsgate waits, and header_timeout
               ends the connection
    xfail names a confirmed daemon bug: the test is then expected to fail
    until the bug is fixed."""
    kind: str
    status: int = 0
    reason: str = ""
    closes: bool = False
    xfail: str = ""


FORWARD = Expect("forward")
DROP = Expect("drop")
CLOSE = Expect("close")
STALL = Expect("stall")


def reject(status, reason, closes=False, xfail=""):
    return Expect("reject", status, reason, closes, xfail)


# A bare LF ends the first line of every RFC 5118 archive file. The framer
# rejects it before an empty line is found, so there is no header section
# to build a response from: the connection ends without one.
BARE_LF = CLOSE

EXPECTED = {
    "rfc4475/wsinv.dat": FORWARD,
    "rfc4475/intmeth.dat": FORWARD,
    "rfc4475/esc01.dat": FORWARD,
    "rfc4475/escnull.dat": FORWARD,
    "rfc4475/esc02.dat": FORWARD,
    "rfc4475/lwsdisp.dat": FORWARD,
    "rfc4475/longreq.dat": FORWARD,
    # Two messages on a stream, tested by test_corpus_dblreq.
    "rfc4475/dblreq.dat": Expect("dblreq"),
    "rfc4475/semiuri.dat": FORWARD,
    "rfc4475/transports.dat": FORWARD,
    "rfc4475/mpart01.dat": FORWARD,
    "rfc4475/unreason.dat": DROP,
    "rfc4475/noreason.dat": DROP,
    "rfc4475/badinv01.dat": reject(400, "Malformed Via"),
    # Content-Length 9999 with 154 octets sent: on a stream that is a body
    # still arriving, not an error (RFC 4475 section 3.1.2.2).
    "rfc4475/clerr.dat": STALL,
    "rfc4475/ncl.dat": reject(400, "Invalid Content-Length", closes=True),
    "rfc4475/scalar02.dat": reject(400, "Invalid CSeq"),
    "rfc4475/scalarlg.dat": DROP,
    "rfc4475/quotbal.dat": reject(400, "Malformed To"),
    "rfc4475/ltgtruri.dat": reject(400, "Invalid Request-URI"),
    "rfc4475/lwsruri.dat": reject(400, "Malformed Request Line"),
    "rfc4475/lwsstart.dat": reject(400, "Malformed Request Line"),
    "rfc4475/trws.dat": reject(400, "Malformed Request Line"),
    "rfc4475/escruri.dat": reject(400, "Invalid Request-URI"),
    # RFC 4475 allows either policy; sipsgate does not act on Date.
    "rfc4475/baddate.dat": FORWARD,
    "rfc4475/regbadct.dat": reject(400, "Malformed Contact"),
    "rfc4475/badaspec.dat": reject(400, "Malformed To"),
    # The archive copy has no empty line after its headers.
    "rfc4475/baddn.dat": STALL,
    "rfc4475/badvers.dat": reject(505, "Version Not Supported"),
    "rfc4475/mismatch01.dat": reject(400, "CSeq Method Mismatch"),
    "rfc4475/mismatch02.dat": reject(400, "CSeq Method Mismatch"),
    "rfc4475/bigcode.dat": DROP,
    "rfc4475/badbranch.dat": FORWARD,
    "rfc4475/insuf.dat": reject(400, "Missing Call-ID"),
    # The manifest suggests 416, which RFC 3261 section 16.3 makes a
    # SHOULD for a proxy that routes on the Request-URI. sipsgate sends
    # every request to its one backend whatever the Request-URI, so it
    # relays and leaves the scheme to the backend.
    "rfc4475/unkscm.dat": FORWARD,
    "rfc4475/novelsc.dat": FORWARD,
    "rfc4475/unksm2.dat": FORWARD,
    # RFC 3261 section 16.3 step 5: a proxy MUST respond with 420 to a
    # Proxy-Require option tag it does not support.
    "rfc4475/bext01.dat": reject(420, "Bad Extension"),
    "rfc4475/invut.dat": FORWARD,
    "rfc4475/regaut01.dat": FORWARD,
    "rfc4475/multi01.dat": reject(400, "Multiple Call-ID"),
    "rfc4475/mcl01.dat": reject(400, "Multiple Content-Length", closes=True),
    "rfc4475/bcast.dat": DROP,
    "rfc4475/zeromf.dat": reject(483, "Too Many Hops"),
    "rfc4475/cparam01.dat": FORWARD,
    "rfc4475/cparam02.dat": FORWARD,
    "rfc4475/regescrt.dat": FORWARD,
    "rfc4475/sdp01.dat": FORWARD,
    # Without Content-Length a stream cannot be framed (RFC 3261 section
    # 18.3), so the missing header is a framing fault.
    "rfc4475/inv2543.dat": reject(400, "Missing Content-Length",
                                  closes=True),
    # A header line without a colon makes it invalid, and with no Via
    # there is nowhere to send the 400, so it is dropped.
    "rfc4475/test.dat": DROP,

    "rfc5118/wire/ipv6-good.dat": FORWARD,
    "rfc5118/wire/ipv6-bad.dat": reject(400, "Invalid Request-URI"),
    "rfc5118/wire/port-ambiguous.dat": FORWARD,
    "rfc5118/wire/port-unambiguous.dat": FORWARD,
    "rfc5118/wire/via-received-param-with-delim.dat": FORWARD,
    "rfc5118/wire/via-received-param-no-delim.dat": FORWARD,
    "rfc5118/wire/ipv6-in-sdp.dat": FORWARD,
    "rfc5118/wire/mult-ip-in-header.dat": FORWARD,
    "rfc5118/wire/mult-ip-in-sdp.dat": FORWARD,
    "rfc5118/wire/ipv4-mapped-ipv6.dat": FORWARD,
    "rfc5118/wire/ipv6-bug-abnf-3-colons.dat": FORWARD,
    "rfc5118/wire/ipv6-correct-abnf-2-colons.dat": FORWARD,

    "rfc5118/ipv6-good.dat": BARE_LF,
    "rfc5118/ipv6-bad.dat": BARE_LF,
    "rfc5118/port-ambiguous.dat": BARE_LF,
    "rfc5118/port-unambiguous.dat": BARE_LF,
    "rfc5118/via-received-param-with-delim.dat": BARE_LF,
    "rfc5118/via-received-param-no-delim.dat": BARE_LF,
    "rfc5118/ipv6-in-sdp.dat": BARE_LF,
    "rfc5118/mult-ip-in-header.dat": BARE_LF,
    "rfc5118/mult-ip-in-sdp.dat": BARE_LF,
    "rfc5118/ipv4-mapped-ipv6.dat": BARE_LF,
    "rfc5118/ipv6-bug-abnf-3-colons.dat": BARE_LF,
    "rfc5118/ipv6-correct-abnf-2-colons.dat": BARE_LF,
}

# Responses from the corpus that a backend may send: with our Via on top
# they reach the phone; the invalid ones are dropped.
RESPONSES = {
    "rfc4475/unreason.dat": "deliver",
    "rfc4475/noreason.dat": "deliver",
    # The second Via names the broadcast address, but the response goes
    # over the phone's TLS connection, never to that address.
    "rfc4475/bcast.dat": "deliver",
    "rfc4475/scalarlg.dat": "drop",
    "rfc4475/bigcode.dat": "drop",
}

STALL_TIMEOUT = 2


def corpus_files():
    """Every torture message in the corpus folders, as "rfc4475/x.dat"."""
    names = []
    for folder in ("rfc4475", "rfc5118", "rfc5118/wire"):
        names += ["%s/%s" % (folder, p.name)
                  for p in sorted((CORPUS / folder).glob("*.dat"))]
    return names


def case_params():
    params = []
    for name in corpus_files():
        expect = EXPECTED.get(name)
        if expect is not None and expect.kind == "dblreq":
            continue
        marks = []
        if expect is not None and expect.xfail:
            marks.append(pytest.mark.xfail(strict=True, reason=expect.xfail))
        case_id = name.replace("/", "-").replace(".dat", "")
        params.append(pytest.param(name, expect, id=case_id, marks=marks))
    return params


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def read_corpus(name):
    return (CORPUS / name).read_bytes()


def source_port(phone):
    return int(phone.local_addr.rsplit(":", 1)[1])


def first_response(phone, timeout=5.0):
    """Return the first response on phone, or None when the connection
    closes first."""
    try:
        return phone.wait_message(lambda m: not m.is_request, timeout,
                                  "response")
    except ConnectionClosed:
        return None


def assert_open_and_quiet(phone):
    """A CRLFCRLF ping gets its pong, so the connection is open and every
    byte sent before the ping has been handled; no response came."""
    phone.send(b"\r\n\r\n")
    phone.wait_pong()
    assert [m.summary() for m in phone.messages] == []


def assert_register_works(gate, backend, phone_factory, seen=()):
    """A REGISTER on a new connection is the next new datagram at the
    backend, and its 200 reaches the phone."""
    assert gate.alive()
    bob = phone_factory(gate, "bob")
    request = bob.build_register()
    bob.send_message(request)

    data, source = recv_new_datagram(backend, set(seen))
    forwarded = Message(data)

    assert forwarded.call_id == Message(request).call_id
    backend.reply(forwarded, source, 200, "OK")
    assert bob.wait_response(final=True).status == 200


def assert_checksums(folder):
    """Every file listed in folder/SHA256SUMS has its recorded digest."""
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        if not line:
            continue
        digest, name = line.split(None, 1)
        data = (folder / name.lstrip("*")).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name


def test_corpus_complete():
    """EXPECTED has a verdict for every file, and the files are intact."""
    files = corpus_files()

    assert sorted(EXPECTED) == sorted(files)
    assert len(files) == 50 + 12 + 12
    assert_checksums(CORPUS / "rfc4475")
    assert_checksums(CORPUS / "rfc5118")


@pytest.mark.parametrize("name,expect", case_params())
def test_corpus_file(sipsgate_factory, udp_backend, phone_factory, name,
                     expect):
    assert expect is not None, "no verdict for %s in EXPECTED" % name
    data = read_corpus(name)
    extra = ""
    if expect.kind == "stall":
        extra = "[limits]\nheader_timeout = %d\n" % STALL_TIMEOUT
    gate = sipsgate_factory(udp_uri(udp_backend), extra=extra)
    mallet = phone_factory(gate, "alice")
    mark = gate.mark()

    mallet.send(data)

    seen = check_outcome(gate, udp_backend, mallet, data, expect, mark)
    assert_register_works(gate, udp_backend, phone_factory, seen)


def check_outcome(gate, backend, phone, data, expect, mark):
    """Check what sipsgate did with data; returns the datagrams the
    backend received."""
    if expect.kind == "forward":
        forwarded, source = recv_datagram(backend)
        restored = undo_proxy_edits(forwarded, data, gate.backend_port,
                                    gate.port, source_port(phone))
        assert restored == data
        assert_open_and_quiet(phone)
        answer(backend, forwarded, source)
        return [forwarded]

    if expect.kind == "reject":
        response = first_response(phone)
        assert response is not None, "connection closed without a response"
        assert response.status == expect.status
        assert response.reason == expect.reason
        if expect.closes:
            assert phone.wait_closed(5.0)
        else:
            assert_open_and_quiet_after(phone)
        return []

    if expect.kind == "drop":
        assert_open_and_quiet(phone)
        return []

    if expect.kind == "close":
        assert phone.wait_closed(5.0)
        assert phone.messages == []
        return []

    assert expect.kind == "stall", expect.kind
    assert phone.wait_closed(STALL_TIMEOUT + 8.0)
    assert phone.messages == []
    line = gate.wait_log(r"%s(?!\d).*reason=header-timeout"
                         % re.escape(phone.local_addr), since=mark)
    assert line is not None
    return []


def assert_open_and_quiet_after(phone):
    """Like assert_open_and_quiet, once the one expected response has
    been taken."""
    phone.send(b"\r\n\r\n")
    phone.wait_pong()
    unexpected = [m.summary() for m in phone.messages if not m.consumed]
    assert unexpected == []


def test_corpus_dblreq(sipsgate_factory, udp_backend, phone_factory):
    """dblreq.dat on a stream: a REGISTER, a CRLF, an INVITE, then five
    octets ("C", CRLF, CRLF) that form a header section without
    Content-Length, which cannot be framed."""
    data = read_corpus("rfc4475/dblreq.dat")
    first_len = header_length(data)
    assert data[first_len:first_len + 2] == b"\r\n"
    rest = data[first_len + 2:]
    second_len = header_length(rest) + 150
    first, second, tail = data[:first_len], rest[:second_len], \
        rest[second_len:]
    assert tail == b"C\r\n\r\n"
    gate = sipsgate_factory(udp_uri(udp_backend))
    mallet = phone_factory(gate, "alice")

    mallet.send(data)

    register, source = recv_datagram(udp_backend)
    invite, _ = recv_new_datagram(udp_backend, {register})
    ports = gate.backend_port, gate.port, source_port(mallet)
    assert undo_proxy_edits(register, first, *ports) == first
    assert undo_proxy_edits(invite, second, *ports) == second
    assert mallet.wait_closed(5.0)
    assert mallet.messages == []
    answer(udp_backend, register, source)
    answer(udp_backend, invite, source)
    assert_register_works(gate, udp_backend, phone_factory,
                          [register, invite])


@pytest.mark.parametrize("name,outcome", sorted(RESPONSES.items()),
                         ids=[n.split("/")[1][:-4] for n in sorted(RESPONSES)])
def test_corpus_response_from_backend(sipsgate_factory, udp_backend,
                                      phone_factory, name, outcome):
    """A corpus response sent by the backend with our Via on top: valid
    ones reach the phone with exactly the file's bytes, invalid ones
    are dropped."""
    data = read_corpus(name)
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    # Our Via, with a flow token naming alice's connection, comes from a
    # request she sends.
    alice.send_message(options_request(alice))
    carrier, source = recv_datagram(udp_backend)
    our_via = Message(carrier).get_all("via")[0]
    status_end = data.index(b"\r\n") + 2
    injected = (data[:status_end] + b"Via: " + our_via.encode() + b"\r\n"
                + data[status_end:])

    udp_backend.send(injected, source)
    # A valid response sent next is handled after the injected one.
    follow_up = Message(carrier)
    udp_backend.reply(follow_up, source, 200, "OK")

    final = alice.wait_response(follow_up.call_id, "OPTIONS", final=True)
    assert final.status == 200
    others = [m for m in alice.messages if m is not final]
    if outcome == "deliver":
        assert [m.raw for m in others] == [data]
    else:
        assert others == []
    assert_register_works(gate, udp_backend, phone_factory, [carrier])


def options_request(phone):
    return build_message("OPTIONS sip:%s SIP/2.0" % phone.domain, [
        ("Via", phone.new_via()),
        ("Max-Forwards", "70"),
        ("From", "<%s>;tag=%s" % (phone.aor, random_token(4))),
        ("To", "<sip:%s>" % phone.domain),
        ("Call-ID", random_token(10)),
        ("CSeq", "1 OPTIONS"),
    ])
