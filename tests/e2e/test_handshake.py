"""TLS handshakes that sipsgate must reject, and client chains checked
against the configured ca_file."""

import re
import ssl
import warnings

import pytest

from sipphone import ConnectionClosed


def handshake_rejected(phone, timeout=5.0):
    """Return a description of how the server rejected phone's handshake,
    or None when the connection is usable.

    With TLS 1.3 the server checks the client certificate after the
    client has finished its part of the handshake, so a rejection can
    show up only as a closed connection after connect(). A CRLF keep-alive
    round trip tells the two apart without waiting for a timeout."""
    try:
        with warnings.catch_warnings():
            # TLS 1.1 is deprecated in Python's ssl; the test uses it on
            # purpose.
            warnings.simplefilter("ignore", DeprecationWarning)
            phone.connect(timeout)
    except (ssl.SSLError, OSError) as e:
        return "handshake failed: %s" % e
    try:
        phone.send(b"\r\n\r\n")
        phone.wait_pong(timeout)
    except ConnectionClosed:
        return "closed after handshake: %s" % phone.close_reason
    return None


def log_line_pattern(address, reason):
    """A line naming the peer address and matching reason, in any order."""
    return r"(?i)^(?=.*%s(?!\d))(?=.*(?:%s))" % (re.escape(address), reason)


TLS_1_1_ONLY = dict(min_version=ssl.TLSVersion.TLSv1,
                    max_version=ssl.TLSVersion.TLSv1_1,
                    ciphers="DEFAULT:@SECLEVEL=0")

REJECTED = [
    ("no_certificate", dict(cert=False),
     r"no (client )?certificate|certificate required|did not return"),
    ("untrusted_ca", dict(cert="mallory.pem", key="mallory.key"),
     r"issuer|unknown ca|untrusted|unable to (get|verify)|self.signed"),
    ("expired", dict(cert="expired-chain.pem", key="expired.key"),
     r"expired"),
    ("tls_1_1_only", TLS_1_1_ONLY,
     r"version|protocol"),
]


@pytest.mark.parametrize("case,options,reason", REJECTED,
                         ids=[c[0] for c in REJECTED])
def test_handshake_rejected(gateway, phone_factory, case, options, reason):
    registrar, gate = gateway("udp")
    bob = phone_factory(gate, "bob")
    assert bob.register().status == 200
    mark = gate.mark()
    intruder = phone_factory(gate, "alice", connect=False, **options)

    outcome = handshake_rejected(intruder)

    assert outcome is not None, "the handshake was accepted"
    line = gate.wait_log(log_line_pattern(intruder.local_addr, reason),
                         timeout=5.0, since=mark)
    assert line is not None, (
        "no log line with %s and /%s/ after: %s"
        % (intruder.local_addr, reason, outcome))
    # The phone on the other connection is not affected.
    assert bob.register().status == 200
    bob.send(b"\r\n\r\n")
    bob.wait_pong()


CHAINS = [
    ("chain_with_root_ca", "alice-chain.pem", "phones-ca.pem", True),
    ("leaf_with_full_ca", "alice.pem", "phones-ca-full.pem", True),
    ("leaf_with_root_ca", "alice.pem", "phones-ca.pem", False),
]


@pytest.mark.parametrize("case,cert,ca_file,accepted", CHAINS,
                         ids=[c[0] for c in CHAINS])
def test_client_chain(gateway, phone_factory, case, cert, ca_file, accepted):
    registrar, gate = gateway("udp", ca_file=ca_file)
    alice = phone_factory(gate, "alice", cert=cert, key="alice.key",
                          connect=False)

    outcome = handshake_rejected(alice)

    if accepted:
        assert outcome is None
        assert alice.register().status == 200
    else:
        assert outcome is not None, "the handshake was accepted"
        line = gate.wait_log(log_line_pattern(alice.local_addr,
                                              r"issuer|unable to"),
                             timeout=5.0)
        assert line is not None


def test_handshake_tls12_accepted(gateway, phone_factory):
    """min_version = 1.2 still lets a TLS 1.2-only phone in."""
    registrar, gate = gateway("udp")
    alice = phone_factory(gate, "alice", connect=False,
                          max_version=ssl.TLSVersion.TLSv1_2)

    outcome = handshake_rejected(alice)

    assert outcome is None
    assert alice.tls_version == "TLSv1.2"
    assert alice.register().status == 200
