"""The [tls] protocol settings, certificate sets, server names (SNI) and
session resumption, seen from the client side of real handshakes."""

import re
import ssl
import subprocess

import pytest

from conftest import free_port, render_sipsgate_config, sipsgate_binary
from tlsprobe import client_context, leaf_der, probe, rejected


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def tls_extra(**keys):
    return "[tls]\n" + "".join("%s = %s\n" % kv for kv in keys.items())


# ---- versions, ciphers and groups ----

def test_max_version_12(sipsgate_factory, udp_backend, workdir):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=tls_extra(max_version="1.2"))

    assert probe(gate.port, client_context(workdir)).version == "TLSv1.2"


def test_min_version_13(sipsgate_factory, udp_backend, workdir):
    gate = sipsgate_factory(udp_uri(udp_backend), min_version="1.3")
    old = client_context(workdir, max_version=ssl.TLSVersion.TLSv1_2)

    assert rejected(gate.port, old) is not None
    assert gate.wait_log(r"no shared protocol version")
    assert probe(gate.port, client_context(workdir)).version == "TLSv1.3"


def test_ciphersuites_chacha(sipsgate_factory, udp_backend, workdir):
    gate = sipsgate_factory(
        udp_uri(udp_backend),
        extra=tls_extra(ciphersuites="TLS_CHACHA20_POLY1305_SHA256"))

    result = probe(gate.port, client_context(workdir))

    assert result.version == "TLSv1.3"
    assert result.cipher == "TLS_CHACHA20_POLY1305_SHA256"


def test_ciphers_tls12_chacha(sipsgate_factory, udp_backend, workdir):
    gate = sipsgate_factory(
        udp_uri(udp_backend),
        extra=tls_extra(max_version="1.2",
                        ciphers="ECDHE-ECDSA-CHACHA20-POLY1305"))

    result = probe(gate.port, client_context(workdir))

    assert result.version == "TLSv1.2"
    assert result.cipher == "ECDHE-ECDSA-CHACHA20-POLY1305"


def test_ciphers_no_shared(sipsgate_factory, udp_backend, workdir):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=tls_extra(max_version="1.2"))
    client = client_context(workdir, max_version=ssl.TLSVersion.TLSv1_2,
                            ciphers="ECDHE-ECDSA-AES128-SHA256")

    assert rejected(gate.port, client) is not None
    assert gate.wait_log(r"handshake failed.*no shared cipher")


def test_groups_p384(sipsgate_factory, udp_backend, workdir):
    """TLS 1.3 only: with TLS 1.2 the client's groups also limit the
    curve of the server's ECDSA key (P-256 here), so a P-384-only
    TLS 1.2 client shares no cipher with any server using that key."""
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=tls_extra(groups="P-384"))
    p256_only = client_context(workdir, curve="prime256v1")
    p384_only = client_context(workdir, curve="secp384r1")

    assert rejected(gate.port, p256_only) is not None
    assert gate.wait_log(r"handshake failed.*no shared key exchange group")
    assert rejected(gate.port, p384_only) is None


def check_config(path):
    return subprocess.run([str(sipsgate_binary()), "-t", "-c", str(path)],
                          capture_output=True, text=True, timeout=10)


WEAK = [
    ("static_rsa", "ciphers", "AES128-GCM-SHA256", r"static RSA"),
    ("null", "ciphers", "eNULL", r"NULL cipher|selects no cipher"),
    ("triple_des", "ciphers", "ECDHE-RSA-DES-CBC3-SHA",
     r"3DES|selects no cipher"),
    ("rc4", "ciphers", "RC4-SHA", r"RC4|selects no cipher"),
    ("seclevel_0", "ciphers", "ECDHE+AESGCM:@SECLEVEL=0", r"security level"),
    ("unknown_suite", "ciphersuites", "TLS_NO_SUCH", r"TLS 1\.3 suites"),
    ("unknown_group", "groups", "X25519:P-999", r"unknown or unsupported"),
    ("tls11", "min_version", "1.1", r"invalid value \"1\.1\""),
]


@pytest.mark.parametrize("case,key,value,reason", WEAK,
                         ids=[c[0] for c in WEAK])
def test_weak_setting_rejected(workdir, case, key, value, reason):
    path = workdir / "weak.conf"
    lines = render_sipsgate_config(free_port(),
                                   "sip:127.0.0.1:5060;transport=udp",
                                   free_port()).splitlines()
    keys = [n for n, text in enumerate(lines) if text.startswith(key + " =")]
    if keys:
        lines[keys[0]] = "%s = %s" % (key, value)
        line = keys[0] + 1
    else:
        lines += ["[tls]", "%s = %s" % (key, value)]
        line = len(lines)
    path.write_text("\n".join(lines) + "\n")

    result = check_config(path)

    assert result.returncode == 1
    pattern = r"weak\.conf:%d: %s: .*(%s)" % (line, key, reason)
    assert re.search(pattern, result.stderr), result.stderr


# ---- certificate sets and SNI ----

def test_rsa_and_ecdsa_certificates(sipsgate_factory, udp_backend, workdir):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            certificate="server-chain.pem, server-rsa-chain.pem",
                            private_key="server.key, server-rsa.key")
    rsa_only = client_context(workdir, max_version=ssl.TLSVersion.TLSv1_2,
                              ciphers="ECDHE-RSA-AES128-GCM-SHA256")

    rsa = probe(gate.port, rsa_only)
    default = probe(gate.port, client_context(workdir))

    assert rsa.server_der == leaf_der(workdir / "server-rsa.pem")
    assert default.server_der == leaf_der(workdir / "server.pem")


SNI = "[sni:phones.example.org]\ncertificate = sni-chain.pem\n" \
      "private_key = sni.key\n"


def test_sni_selects_certificate(sipsgate_factory, udp_backend, workdir):
    gate = sipsgate_factory(udp_uri(udp_backend), extra=SNI)
    unchecked = client_context(workdir, check_hostname=False)

    named = probe(gate.port, client_context(workdir),
                  server_name="phones.example.org")
    unknown = probe(gate.port, unchecked, server_name="unknown.example.org")
    default = probe(gate.port, client_context(workdir))

    assert named.server_der == leaf_der(workdir / "sni.pem")
    assert unknown.server_der == leaf_der(workdir / "server.pem")
    assert default.server_der == leaf_der(workdir / "server.pem")


def test_sni_client_verified(sipsgate_factory, udp_backend, workdir):
    """A phone that reaches a per-name set is checked like any other."""
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=SNI + "[tls]\ncrl_file = inter.crl\n")

    assert rejected(gate.port, client_context(workdir, "mallory"),
                    "phones.example.org") is not None
    assert rejected(gate.port, client_context(workdir, "carol"),
                    "phones.example.org") is not None
    assert rejected(gate.port, client_context(workdir, None),
                    "phones.example.org") is not None
    assert rejected(gate.port, client_context(workdir),
                    "phones.example.org") is None


# ---- session resumption ----

VERSIONS = [("tls12", ssl.TLSVersion.TLSv1_2), ("tls13", ssl.TLSVersion.TLSv1_3)]


@pytest.mark.parametrize("name,version", VERSIONS, ids=[v[0] for v in VERSIONS])
def test_session_resumed(sipsgate_factory, udp_backend, workdir, name,
                         version):
    gate = sipsgate_factory(udp_uri(udp_backend))
    ctx = client_context(workdir, max_version=version)

    first = probe(gate.port, ctx)
    mark = gate.mark()
    second = probe(gate.port, ctx, session=first.session)

    assert first.reused is False
    assert second.reused is True
    # The resumed session keeps the phone's verified identity.
    line = gate.wait_log(r"TLS established \(phone\).*session=resumed",
                         since=mark)
    assert line is not None
    assert "identity=sip:alice@example.com" in line


@pytest.mark.parametrize("name,version", VERSIONS, ids=[v[0] for v in VERSIONS])
def test_session_resumption_off(sipsgate_factory, udp_backend, workdir, name,
                                version):
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra=tls_extra(session_resumption="no"))
    ctx = client_context(workdir, max_version=version)

    first = probe(gate.port, ctx)
    second = probe(gate.port, ctx, session=first.session)

    assert second.reused is False


# ---- diagnostics ----

def test_debug_handshake_steps(sipsgate_factory, udp_backend, workdir):
    gate = sipsgate_factory(udp_uri(udp_backend))
    mark = gate.mark()

    probe(gate.port, client_context(workdir))

    for pattern in (r"debug: conn \d+: TLS ClientHello: versions TLS 1\.3.*"
                    r"cipher suites, server name sips\.example\.com",
                    r"debug: conn \d+: TLS ServerHello: TLSv1\.3 \S+, server "
                    r"certificate \"CN=sips\.example\.com\" \(EC key\)",
                    r"debug: conn \d+: TLS peer certificate depth 0: subject "
                    r"\"CN=alice\", issuer \"CN=Phones Intermediate CA\", "
                    r"notAfter \S+: ok",
                    r"debug: conn \d+: TLS handshake finished: session new, "
                    r"client certificate verified",
                    r"info: conn \d+ \S+: TLS established \(phone\) TLSv1\.3 "
                    r"\S+ subject=\"CN=alice\" session=new "
                    r"identity=sip:alice@example\.com"):
        assert gate.wait_log(pattern, since=mark), pattern


FAILURES = [
    ("unknown_ca", "mallory.pem", "mallory.key",
     r"Unknown CA: ca_file has no certificate \"CN=Rogue CA\""),
    ("unknown_root", "mallory-chain.pem", "mallory.key",
     r"self-signed certificate in certificate chain.*Unknown CA: ca_file "
     r"does not contain this root"),
    ("missing_intermediate", "alice.pem", "alice.key",
     r"Missing intermediate: the phone must send its intermediate "
     r"certificate \"CN=Phones Intermediate CA\""),
]


@pytest.mark.parametrize("case,cert,key,pattern", FAILURES,
                         ids=[f[0] for f in FAILURES])
def test_failure_hint(sipsgate_factory, udp_backend, workdir, case, cert,
                      key, pattern):
    # client_context loads NAME-chain.pem and NAME.key.
    (workdir / "probe-chain.pem").write_bytes((workdir / cert).read_bytes())
    (workdir / "probe.key").write_bytes((workdir / key).read_bytes())
    gate = sipsgate_factory(udp_uri(udp_backend))

    assert rejected(gate.port, client_context(workdir, "probe")) is not None
    assert gate.wait_log(r"TLS handshake failed from .*" + pattern)
