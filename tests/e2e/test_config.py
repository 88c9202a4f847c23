"""Command line: -t checks a config without starting, and SIGTERM stops
a running daemon cleanly."""

import re
import socket
import subprocess

from conftest import free_port, render_sipsgate_config, sipsgate_binary


def check_config(path):
    return subprocess.run([str(sipsgate_binary()), "-t", "-c", str(path)],
                          capture_output=True, text=True, timeout=10)


def test_config_errors_listed(workdir):
    lines = [
        "[tls]",                                    # 1
        "listen = 127.0.0.1:%d" % free_port(),      # 2
        "certificate = server-chain.pem",           # 3
        "private_key = server.key",                 # 4
        "ca_file = no-such-ca.pem",                 # 5: missing file
        "verify_client = sometimes",                # 6: invalid value
        "verify_depth = 4",                         # 7
        "colour = blue",                            # 8: unknown key
        "",
        "[backend]",
        "uri = sip:127.0.0.1:5060;transport=udp",
        "listen = 127.0.0.1:%d" % free_port(),
        "",
        "[proxy]",
        "public_host = sips.example.com",
    ]
    path = workdir / "broken.conf"
    path.write_text("\n".join(lines) + "\n")

    result = check_config(path)

    assert result.returncode == 1
    for line, key in ((5, "ca_file"), (6, "verify_client"), (8, "colour")):
        pattern = r"%s:%d: (tls\.)?%s:" % (re.escape(path.name), line, key)
        assert re.search(pattern, result.stderr), (
            "no /%s/ in stderr:\n%s" % (pattern, result.stderr))


def test_config_valid(workdir):
    port = free_port()
    path = workdir / "valid.conf"
    path.write_text(render_sipsgate_config(
        port, "sip:127.0.0.1:5060;transport=udp", free_port()))

    # -t only checks: it must not need the listening port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        result = check_config(path)

    assert result.returncode == 0, result.stderr


def test_sigterm_exit_zero(gateway, phone_factory):
    registrar, gate = gateway("udp")
    alice = phone_factory(gate, "alice")
    assert alice.register().status == 200

    code = gate.stop()

    assert code == 0
    assert alice.wait_closed(5.0)
