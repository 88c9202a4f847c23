"""Short TLS connections to sipsgate that report what was negotiated:
protocol version, cipher, the server certificate and whether the
session was resumed. The tests of the [tls] settings use them where
sipphone.Phone hides those details."""

import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

SERVER_NAME = "sips.example.com"


@dataclass
class Probe:
    version: str
    cipher: str
    server_der: bytes       # the server's leaf certificate, DER
    session: ssl.SSLSession
    reused: bool


def client_context(workdir, cert="alice", min_version=None,
                   max_version=None, ciphers=None, curve=None,
                   check_hostname=True):
    """A phone's context: trusts root.pem and presents CERT-chain.pem
    (no certificate when cert is None). curve limits the key exchange
    groups the client offers to one OpenSSL curve name."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(Path(workdir) / "root.pem"))
    ctx.check_hostname = check_hostname
    if cert is not None:
        ctx.load_cert_chain(str(Path(workdir) / (cert + "-chain.pem")),
                            str(Path(workdir) / (cert + ".key")))
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if curve is not None:
        ctx.set_ecdh_curve(curve)
    return ctx


def probe(port, ctx, server_name=SERVER_NAME, session=None, timeout=5.0):
    """Connect, complete the handshake, exchange one CRLF keep-alive and
    close with close_notify. The keep-alive round trip makes the client
    read the TLS 1.3 session ticket, and proves that the server accepted
    the client certificate. Raises ssl.SSLError or OSError when the
    server rejects the connection."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock = ctx.wrap_socket(raw, server_hostname=server_name,
                               session=session)
    except BaseException:
        raw.close()
        raise
    try:
        sock.sendall(b"\r\n\r\n")
        pong = sock.recv(2)
        if pong != b"\r\n":
            raise ConnectionError("no keep-alive pong, got %r" % pong)
        result = Probe(sock.version(), sock.cipher()[0],
                       sock.getpeercert(binary_form=True), sock.session,
                       sock.session_reused)
        try:
            sock.unwrap()
        except (ssl.SSLError, OSError):
            pass
    finally:
        sock.close()
    return result


def rejected(port, ctx, server_name=SERVER_NAME):
    """Return a description of how the server rejected the connection, or
    None when it was accepted."""
    try:
        probe(port, ctx, server_name)
    except (ssl.SSLError, OSError) as e:
        return "%s: %s" % (type(e).__name__, e)
    return None


def leaf_der(path):
    """The first certificate of a PEM file, DER encoded."""
    text = Path(path).read_text()
    match = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                      text, re.S)
    assert match, "no certificate in %s" % path
    return ssl.PEM_cert_to_DER_cert(match.group(0))
