"""TLS material that changes while sipsgate runs: SIGHUP reload of the
certificates and the config, certificate revocation lists, expiry
warnings, and sipsgate --check-cert."""

import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import free_port, render_sipsgate_config, sipsgate_binary
from sipphone import Message, random_token
from tlsprobe import client_context, leaf_der, probe, rejected

RELOADED = r"reload complete"
RELOAD_FAILED = r"reload failed"


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def reload(gate, outcome=RELOADED):
    """Send SIGHUP and wait for the line that ends the reload. Returns
    the index of the first line logged after the signal."""
    mark = gate.mark()
    os.kill(gate.proc.pid, signal.SIGHUP)
    line = gate.wait_log(outcome, timeout=10.0, since=mark)
    assert line is not None, "no /%s/ after SIGHUP:\n%s" % (
        outcome, "\n".join(gate.lines[mark:]))
    return mark


def register_via(phone, backend):
    """A REGISTER through sipsgate, to which the UDP backend responds 200."""
    request = phone.build_register()
    phone.send_message(request)
    forwarded, source = backend.recv_request("REGISTER")
    assert forwarded.call_id == Message(request).call_id
    backend.reply(forwarded, source, 200, "OK")
    assert phone.wait_response(phone.register_call_id, "REGISTER",
                               final=True).status == 200


def invite_via(phone, backend):
    """An INVITE through sipsgate, to which the UDP backend responds 486."""
    call_id = random_token(10)
    invite = Message(phone.build_invite("bob", call_id, random_token(4)))
    phone.send_message(invite.raw)
    forwarded, source = backend.recv_request("INVITE")
    assert forwarded.call_id == call_id
    backend.reply(forwarded, source, 486, "Busy Here")
    final = phone.wait_response(call_id, "INVITE", final=True)
    assert final.status == 486
    phone.send_message(phone.ack_for_failure(invite, final))


def append_config(gate, text):
    with open(gate.config_path, "a") as f:
        f.write(text)


# ---- reload ----

def test_reload_rotates_certificate(sipsgate_factory, udp_backend,
                                    phone_factory, workdir):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    register_via(alice, udp_backend)
    before = probe(gate.port, client_context(workdir))
    assert before.server_der == leaf_der(workdir / "server.pem")

    shutil.copy(workdir / "server-next-chain.pem", workdir / "server-chain.pem")
    shutil.copy(workdir / "server-next.key", workdir / "server.key")
    reload(gate)

    after = probe(gate.port, client_context(workdir))
    assert after.server_der == leaf_der(workdir / "server-next.pem")
    assert after.server_der != before.server_der
    # The connection from before the reload carries on, calls included.
    invite_via(alice, udp_backend)
    register_via(alice, udp_backend)


def test_reload_broken_certificate(sipsgate_factory, udp_backend,
                                   phone_factory, workdir):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    (workdir / "server-chain.pem").write_text("not a certificate\n")

    mark = reload(gate, RELOAD_FAILED)

    error = gate.wait_log(r"certificate: .*server-chain\.pem: cannot load",
                          since=mark)
    assert error is not None
    assert re.search(r"sipsgate-0\.conf:3: ", error), error
    assert gate.alive()
    now = probe(gate.port, client_context(workdir))
    assert now.server_der == leaf_der(workdir / "server.pem")
    register_via(alice, udp_backend)


def test_reload_config_error(sipsgate_factory, udp_backend, phone_factory):
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    append_config(gate, "[tls]\nmax_version = 1.1\n")

    mark = reload(gate, RELOAD_FAILED)

    line = gate.wait_log(r"sipsgate-0\.conf:\d+: max_version: invalid value",
                         since=mark)
    assert line is not None
    register_via(alice, udp_backend)


def test_reload_applies_policy(sipsgate_factory, udp_backend, workdir):
    gate = sipsgate_factory(udp_uri(udp_backend))
    assert probe(gate.port, client_context(workdir)).version == "TLSv1.3"

    append_config(gate, "[tls]\nmax_version = 1.2\n")
    reload(gate)

    assert probe(gate.port, client_context(workdir)).version == "TLSv1.2"


def test_reload_keeps_restart_keys(sipsgate_factory, udp_backend,
                                   phone_factory, workdir):
    gate = sipsgate_factory(udp_uri(udp_backend))
    text = gate.config_path.read_text()
    gate.config_path.write_text(text.replace(
        "public_host = sips.example.com", "public_host = other.example.com")
        .replace("listen = 127.0.0.1:%d\n" % gate.port,
                 "listen = 127.0.0.1:%d\n" % free_port()))

    mark = reload(gate)

    assert gate.wait_log(r"\[proxy\] public_host changed", since=mark)
    assert gate.wait_log(r"\[tls\] listen changed", since=mark)
    alice = phone_factory(gate, "alice")
    request = alice.build_invite("bob", random_token(10), random_token(4))
    alice.send_message(request)
    forwarded, source = udp_backend.recv_request("INVITE")
    assert any("sips.example.com" in rr
               for rr in forwarded.values("record-route"))
    udp_backend.reply(forwarded, source, 486, "Busy Here")


# ---- revocation ----

def test_crl_revoked_phone(sipsgate_factory, udp_backend, phone_factory,
                           workdir):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra="[tls]\ncrl_file = inter.crl\n")
    mark = gate.mark()

    outcome = rejected(gate.port, client_context(workdir, "carol"))

    assert outcome is not None, "carol's revoked certificate was accepted"
    line = gate.wait_log(r"handshake failed.*certificate revoked.*CN=carol",
                         since=mark)
    assert line is not None
    alice = phone_factory(gate, "alice")
    register_via(alice, udp_backend)


def test_crl_chain_needs_root_crl(sipsgate_factory, udp_backend, workdir):
    leaf_only = sipsgate_factory(
        udp_uri(udp_backend),
        extra="[tls]\ncrl_file = inter.crl\ncrl_check = chain\n")
    both = sipsgate_factory(
        udp_uri(udp_backend),
        extra="[tls]\ncrl_file = crls.pem\ncrl_check = chain\n")

    assert rejected(leaf_only.port, client_context(workdir)) is not None
    assert leaf_only.wait_log(r"no CRL from \"CN=Sipsgate Test Root CA\"")
    assert rejected(both.port, client_context(workdir)) is None
    assert rejected(both.port, client_context(workdir, "carol")) is not None


def test_crl_added_by_reload(sipsgate_factory, udp_backend, phone_factory,
                             workdir):
    gate = sipsgate_factory(udp_uri(udp_backend))
    carol = phone_factory(gate, "carol")
    register_via(carol, udp_backend)

    append_config(gate, "[tls]\ncrl_file = inter.crl\n")
    reload(gate)

    assert rejected(gate.port, client_context(workdir, "carol")) is not None
    assert rejected(gate.port, client_context(workdir, "alice")) is None
    # Revocation applies to new handshakes; carol's connection stays.
    carol.send(b"\r\n\r\n")
    carol.wait_pong()


# ---- expiry ----

def test_expiry_warning_at_start(sipsgate_factory, udp_backend):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            certificate="server-short-chain.pem",
                            private_key="server-short.key")

    line = gate.wait_log(r"warning: .*server-short-chain\.pem: certificate "
                         r"\"CN=sips\.example\.com\" expires on "
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (9|10) days\)")
    assert line is not None
    assert gate.wait_log(r"warning: .*server-chain\.pem", timeout=0) is None


# ---- sipsgate --check-cert ----

def check_cert(workdir, cert, extra=""):
    config = workdir / "check.conf"
    config.write_text(render_sipsgate_config(
        free_port(), "sip:127.0.0.1:5060;transport=udp", free_port(),
        extra=extra))
    return subprocess.run([str(sipsgate_binary()), "--check-cert",
                           str(workdir / cert), "-c", str(config)],
                          capture_output=True, text=True, timeout=10)


CHECKS = [
    ("accepted", "alice-chain.pem", "", 0,
     r"(?m)^accepted: subject \"CN=alice\".*\nidentities: "
     r"sip:alice@example\.com\n"),
    ("identity_policy", "alice-chain.pem", "[tls]\nidentity_check = user\n",
     0, r"identity_check = user: .* one of: sip:alice@example\.com"),
    ("missing_intermediate", "alice.pem", "", 1,
     r"(?m)^rejected: .*Missing intermediate"),
    ("revoked", "carol-chain.pem", "[tls]\ncrl_file = inter.crl\n", 1,
     r"(?m)^rejected: .*certificate revoked"),
    ("expired", "expired-chain.pem", "", 1,
     r"(?m)^rejected: .*certificate has expired"),
    ("wrong_ca", "mallory.pem", "", 1, r"(?m)^rejected: .*Unknown CA"),
    ("not_a_certificate", "alice.key", "", 2, r"cannot check"),
]


@pytest.mark.parametrize("case,cert,extra,code,pattern", CHECKS,
                         ids=[c[0] for c in CHECKS])
def test_check_cert(workdir, case, cert, extra, code, pattern):
    result = check_cert(workdir, cert, extra)

    assert result.returncode == code, result.stdout + result.stderr
    assert re.search(pattern, result.stdout), result.stdout
