"""Deployment: the sd_notify protocol, the graceful stop, dropping root,
the systemd unit (checked with systemd-analyze), the man pages and
make install."""

import os
import pwd
import grp
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import (READY_LINE, REPO, Sipsgate, attach_log, free_port,
                      render_sipsgate_config, sipsgate_binary)
from sipphone import Message, random_token

UNIT = REPO / "systemd" / "sipsgate.service"


class EnvSipsgate(Sipsgate):
    """A Sipsgate started with extra environment variables and an
    optional command prefix (setpriv, for example)."""

    def __init__(self, *args, env=None, prefix=(), ready=READY_LINE,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.prefix = list(prefix)
        self.ready = ready

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(
            self.prefix + [str(self.binary), "-c", str(self.config_path)],
            env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if self.wait_log(re.escape(self.ready), timeout) is None:
            self.stop()
            raise RuntimeError("sipsgate did not become ready (exit code "
                               "%s):\n%s" % (self.returncode,
                                             self.stderr_text()))
        return self


@pytest.fixture
def env_gate(workdir, request):
    """start(backend_uri, env=None, prefix=(), folder=None, **config
    options) -> a running EnvSipsgate, stopped at teardown."""
    started = []

    def start(backend_uri, env=None, prefix=(), folder=None, ready=READY_LINE,
              **options):
        folder = Path(folder or workdir)
        port = free_port()
        backend_port = free_port()
        config_path = folder / ("sipsgate-env-%d.conf" % len(started))
        config_path.write_text(render_sipsgate_config(
            port, backend_uri, backend_port, **options))
        gate = EnvSipsgate(sipsgate_binary(), config_path, port,
                           backend_port, env=env, prefix=prefix, ready=ready)
        started.append(gate)
        attach_log(request, "sipsgate stderr (%s)" % config_path.name,
                   gate.stderr_text)
        return gate.start()

    yield start
    for gate in started:
        gate.stop()


class NotifySocket:
    """The service manager's end of NOTIFY_SOCKET: a datagram socket that
    keeps every message it receives, in order."""

    def __init__(self, path):
        self.path = str(path)
        # sun_path has room for 108 bytes, the terminating NUL included.
        assert len(self.path.encode()) < 108, self.path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def wait(self, key, timeout=5.0):
        """Return the first message from now on that sets key (for
        example "READY=1"), as a dict of its assignments."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no %s on NOTIFY_SOCKET within %.1f s; "
                                   "got %r" % (key, timeout, self.messages))
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            fields = dict(line.split("=", 1)
                          for line in data.decode().split("\n") if line)
            self.messages.append(fields)
            name, value = key.split("=", 1)
            if fields.get(name) == value:
                return fields

    def states(self):
        """The READY/RELOADING/STOPPING assignments received, in order."""
        out = []
        for fields in self.messages:
            for name in ("READY", "RELOADING", "STOPPING"):
                if name in fields:
                    out.append("%s=%s" % (name, fields[name]))
        return out

    def close(self):
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path):
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


def udp_uri(endpoint):
    return "sip:%s;transport=udp" % endpoint.address


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


# ---- sd_notify ----

def test_notify_sequence(env_gate, udp_backend, notify_socket):
    gate = env_gate(udp_uri(udp_backend),
                    env={"NOTIFY_SOCKET": notify_socket.path,
                         "WATCHDOG_USEC": "200000"})
    notify_socket.wait("READY=1")

    before = monotonic_usec()
    gate.proc.send_signal(signal.SIGHUP)
    reloading = notify_socket.wait("RELOADING=1")
    after = monotonic_usec()
    notify_socket.wait("READY=1")
    stamp = int(reloading["MONOTONIC_USEC"])
    assert before <= stamp <= after

    notify_socket.wait("WATCHDOG=1")

    gate.stopped_by_test = True
    gate.proc.send_signal(signal.SIGTERM)
    notify_socket.wait("STOPPING=1")
    assert gate.proc.wait(10) == 0
    assert notify_socket.states() == [
        "READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]


def test_notify_abstract_socket(env_gate, udp_backend):
    name = "sipsgate-test-%s" % random_token(6)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(10)
        env_gate(udp_uri(udp_backend), env={"NOTIFY_SOCKET": "@" + name})
        first = sock.recv(4096).decode()
    assert first.split("\n")[0] == "READY=1"


def test_notify_watchdog_other_pid(env_gate, udp_backend, notify_socket):
    """WATCHDOG_PID naming another process turns the watchdog off: only
    READY and STOPPING arrive, with no WATCHDOG=1 between them."""
    gate = env_gate(udp_uri(udp_backend),
                    env={"NOTIFY_SOCKET": notify_socket.path,
                         "WATCHDOG_USEC": "20000", "WATCHDOG_PID": "1"})
    notify_socket.wait("READY=1")
    ready_at = time.monotonic()
    # Round trips through the daemon's loop until five ping intervals
    # (10 ms each) have passed, in which a watchdog would have pinged.
    for _ in range(100000):
        gate.proc.send_signal(signal.SIGHUP)
        notify_socket.wait("RELOADING=1")
        notify_socket.wait("READY=1")
        if time.monotonic() - ready_at > 0.05:
            break
    assert time.monotonic() - ready_at > 0.05
    gate.stopped_by_test = True
    gate.proc.send_signal(signal.SIGTERM)
    notify_socket.wait("STOPPING=1")
    assert gate.proc.wait(10) == 0
    assert not any("WATCHDOG" in m for m in notify_socket.messages)


def test_notify_socket_invalid(workdir):
    path = workdir / "invalid-notify.conf"
    path.write_text(render_sipsgate_config(
        free_port(), "sip:127.0.0.1:5060;transport=udp", free_port()))
    env = dict(os.environ, NOTIFY_SOCKET="relative/notify")
    result = subprocess.run([str(sipsgate_binary()), "-c", str(path)],
                            env=env, capture_output=True, text=True,
                            timeout=10)
    assert result.returncode == 1
    assert "NOTIFY_SOCKET" in result.stderr


# ---- graceful stop ----

def connect_refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_stop_waits_for_invite(sipsgate_factory, udp_backend, phone_factory):
    """SIGTERM while an INVITE is unanswered: sipsgate stops accepting
    phones but keeps relaying until the 200 has reached the phone, then
    exits 0."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    alice = phone_factory(gate, "alice")
    call_id = random_token(10)
    invite = Message(alice.build_invite("bob", call_id, random_token(4)))
    alice.send_message(invite.raw)
    forwarded, source = udp_backend.recv_request("INVITE")
    mark = gate.mark()

    gate.stopped_by_test = True
    gate.proc.send_signal(signal.SIGTERM)
    assert gate.wait_log("received SIGTERM", since=mark) is not None
    assert connect_refused(gate.port)
    assert gate.alive()

    contact = ("Contact", "<sip:bob@%s>" % udp_backend.address)
    udp_backend.reply(forwarded, source, 200, "OK", extra=[contact])
    final = alice.wait_response(call_id, "INVITE", final=True)
    assert final.status == 200
    assert gate.proc.wait(10) == 0


def test_stop_timeout_closes(sipsgate_factory, udp_backend, phone_factory):
    """An INVITE without any response from the backend holds the stop
    for shutdown_timeout, then the phone's connection is closed."""
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra="[general]\nshutdown_timeout = 1\n")
    alice = phone_factory(gate, "alice")
    call_id = random_token(10)
    alice.send_message(alice.build_invite("bob", call_id, random_token(4)))
    udp_backend.recv_request("INVITE")

    started = time.monotonic()
    gate.stopped_by_test = True
    gate.proc.send_signal(signal.SIGTERM)
    assert gate.proc.wait(10) == 0
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5, "stopped after %.2f s" % elapsed
    assert alice.wait_closed()


def test_stop_sends_close_notify(sipsgate_factory, udp_backend, workdir):
    """An idle phone connection ends with a TLS close_notify, not a bare
    TCP close."""
    gate = sipsgate_factory(udp_uri(udp_backend))
    ctx = ssl.create_default_context(cafile=str(workdir / "root.pem"))
    ctx.load_cert_chain(str(workdir / "alice-chain.pem"),
                        str(workdir / "alice.key"))
    raw = socket.create_connection(("127.0.0.1", gate.port), timeout=5)
    with ctx.wrap_socket(raw, server_hostname="sips.example.com",
                         suppress_ragged_eofs=False) as tls:
        tls.send(b"\r\n\r\n")
        assert tls.recv(2) == b"\r\n"
        gate.stopped_by_test = True
        gate.proc.send_signal(signal.SIGTERM)
        # b"" is a close_notify; an EOF without one raises SSLEOFError.
        assert tls.recv(100) == b""
    assert gate.proc.wait(10) == 0


# ---- dropping root ----

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="dropping privileges needs root")


def proc_ids(pid, field):
    """The four ids of the Uid: or Gid: line of /proc/PID/status."""
    text = Path("/proc/%d/status" % pid).read_text()
    line = re.search(r"^%s:\s+(.*)$" % field, text, re.M).group(1)
    return [int(x) for x in line.split()]


def proc_groups(pid):
    text = Path("/proc/%d/status" % pid).read_text()
    line = re.search(r"^Groups:\s*(.*)$", text, re.M).group(1)
    return [int(x) for x in line.split()]


@needs_root
def test_privdrop_to_nobody(sipsgate_factory, udp_backend, workdir):
    # Keys readable by root only still load: they are read before the
    # switch.
    os.chmod(workdir / "server.key", 0o600)
    nobody = pwd.getpwnam("nobody")
    nogroup = grp.getgrnam("nogroup")
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra="[general]\nuser = nobody\n"
                                  "group = nogroup\n")

    assert proc_ids(gate.proc.pid, "Uid") == [nobody.pw_uid] * 4
    assert proc_ids(gate.proc.pid, "Gid") == [nogroup.gr_gid] * 4
    assert proc_groups(gate.proc.pid) == [nogroup.gr_gid]


@needs_root
def test_privdrop_primary_group(sipsgate_factory, udp_backend):
    nobody = pwd.getpwnam("nobody")
    gate = sipsgate_factory(udp_uri(udp_backend),
                            extra="[general]\nuser = nobody\n")
    assert proc_ids(gate.proc.pid, "Gid") == [nobody.pw_gid] * 4


@needs_root
def test_privdrop_not_root_warns(env_gate, udp_backend, workdir):
    """Started as an ordinary user, a configured user is ignored with a
    warning and the daemon runs."""
    folder = Path(tempfile.mkdtemp(prefix="sipsgate-nonroot-"))
    try:
        os.chmod(folder, 0o755)
        for entry in workdir.iterdir():
            if entry.is_file():
                shutil.copy(entry, folder / entry.name)
                os.chmod(folder / entry.name, 0o644)
        nobody = pwd.getpwnam("nobody")
        gate = env_gate(udp_uri(udp_backend), folder=folder,
                        prefix=["setpriv", "--reuid=nobody", "--regid=nogroup",
                                "--clear-groups", "--"],
                        extra="[general]\nuser = daemon\n")
        assert proc_ids(gate.proc.pid, "Uid") == [nobody.pw_uid] * 4
        assert gate.wait_log(r"warning: \[general\] user = daemon ignored",
                             timeout=0) is not None
    finally:
        shutil.rmtree(folder)


# ---- syslog ----

@pytest.fixture
def dev_log():
    """A datagram socket bound at /dev/log, where syslog(3) in glibc
    sends. Skips unless the test may create it: root, and no syslog
    daemon listening there already."""
    if os.geteuid() != 0:
        pytest.skip("binding /dev/log needs root")
    if os.path.exists("/dev/log"):
        pytest.skip("/dev/log exists: a syslog daemon owns it")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/dev/log")
    try:
        yield sock
    finally:
        sock.close()
        os.unlink("/dev/log")


def test_syslog_facility(env_gate, udp_backend, dev_log):
    """[log] syslog = yes moves logging to syslog after start-up, with
    the configured facility; start-up lines stay on stderr."""
    gate = env_gate(udp_uri(udp_backend),
                    ready="logging to syslog from now on",
                    extra="syslog = yes\nfacility = local3\n")
    dev_log.settimeout(5)
    ready = None
    for _ in range(20):
        data = dev_log.recv(4096).decode()
        if "sipsgate ready" in data:
            ready = data
            break
    assert ready is not None
    # local3 is facility 19 and notice is severity 5: 19 * 8 + 5.
    assert ready.startswith("<157>")
    assert "sipsgate[%d]: sipsgate ready" % gate.proc.pid in ready
    assert gate.wait_log("sipsgate ready", timeout=0) is None
    assert gate.wait_log("listening for phones", timeout=0) is not None


def test_privdrop_unknown_user(workdir):
    path = workdir / "unknown-user.conf"
    path.write_text(render_sipsgate_config(
        free_port(), "sip:127.0.0.1:5060;transport=udp", free_port(),
        extra="[general]\nuser = no-such-user-%s\n" % random_token(3)))
    result = subprocess.run([str(sipsgate_binary()), "-t", "-c", str(path)],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert re.search(r"\[general\] user: user \"no-such-user-\w+\" not "
                     r"found", result.stderr), result.stderr


def test_privdrop_group_without_user(workdir):
    path = workdir / "group-only.conf"
    path.write_text(render_sipsgate_config(
        free_port(), "sip:127.0.0.1:5060;transport=udp", free_port(),
        extra="[general]\ngroup = nogroup\n"))
    result = subprocess.run([str(sipsgate_binary()), "-t", "-c", str(path)],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert "[general] group: set without user" in result.stderr


# ---- systemd unit ----

def need_tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip("%s not installed (package systemd)" % name)
    return path


def test_unit_exposure_score():
    need_tool("systemd-analyze")
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager",
         str(UNIT)], capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for sipsgate\.service: "
                      r"([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 1.5, result.stdout


def test_sysusers_entry(tmp_path):
    need_tool("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    with open(REPO / "systemd" / "sipsgate.sysusers") as entry:
        result = subprocess.run(
            ["systemd-sysusers", "--root=%s" % tmp_path, "-"], stdin=entry,
            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    passwd = (tmp_path / "etc" / "passwd").read_text().splitlines()
    group = (tmp_path / "etc" / "group").read_text().splitlines()
    user = [line.split(":") for line in passwd if line.startswith("sipsgate:")]
    assert len(user) == 1
    assert user[0][6] == "/usr/sbin/nologin"
    assert int(user[0][2]) < 1000
    assert any(line.startswith("sipsgate:") for line in group)


# ---- man pages ----

MAN_PAGES = [REPO / "docs" / "sipsgate.8", REPO / "docs" / "sipsgate.ini.5"]


@pytest.mark.parametrize("page", MAN_PAGES, ids=lambda p: p.name)
def test_man_page_warnings(page):
    if shutil.which("man") is None:
        pytest.skip("man not installed (package man-db)")
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    result = subprocess.run(["man", "--warnings", "-l", str(page)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, timeout=30)
    assert result.returncode == 0
    assert result.stderr == ""


def config_keys():
    """(section, name, default, required) for each row of config_keys[]
    in src/config.c. default is None for NULL and for a macro."""
    text = (REPO / "src" / "config.c").read_text()
    table = text[text.index("config_keys[] = {"):]
    table = table[:table.index("\n};")]
    rows = []
    for row in re.finditer(r'KEY\("(\w+)", "(\w+)", \w+, (NULL|"[^"]*"|\w+)'
                           r'(.*?)\),\s*$', table, re.S | re.M):
        section, name, default, rest = row.groups()
        value = default[1:-1] if default.startswith('"') else None
        rows.append((section, name, value, "KEY_REQUIRED" in rest,
                     default == "NULL"))
    return rows


def man_entries():
    """{section: {key: text after the key names}} from sipsgate.ini(5)."""
    text = (REPO / "docs" / "sipsgate.ini.5").read_text()
    entries = {}
    section = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        heading = re.match(r'\.SH "\[(\w+)\]"', line)
        if heading:
            section = heading.group(1)
            entries[section] = {}
        elif line.startswith(".SH"):
            section = None
        elif section and line == ".TP" and i + 1 < len(lines):
            tag = lines[i + 1]
            names = tag.split("(")[0]
            for name in re.findall(r"\w+", names):
                if name != "BR":
                    entries[section][name] = tag
    return entries


def test_man_lists_every_key():
    rows = config_keys()
    entries = man_entries()
    assert len(rows) > 20
    for section, name, default, required, is_null in rows:
        tag = entries.get(section, {}).get(name)
        assert tag is not None, "[%s] %s missing from sipsgate.ini.5" % (
            section, name)
        if required:
            assert "(required)" in tag, tag
        elif default is not None:
            assert "(default: %s)" % default in tag, tag
        elif is_null:
            assert "(default: empty)" in tag or "(no default)" in tag, tag


# ---- make install ----

def copy_source(folder):
    for name in ("Makefile",):
        shutil.copy(REPO / name, folder / name)
    for name in ("src", "conf", "docs", "systemd"):
        shutil.copytree(REPO / name, folder / name)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A copy of the source built with the caller's CFLAGS and LDFLAGS:
    no debug information and no build ID, unlike the defaults."""
    folder = tmp_path_factory.mktemp("build")
    copy_source(folder)
    result = subprocess.run(
        ["make", "-C", str(folder), "-j4", "CFLAGS=-O2 -g0",
         "LDFLAGS=-Wl,--build-id=none", "sipsgate"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder, result.stdout + result.stderr


def make(folder, *args):
    result = subprocess.run(["make", "-C", str(folder)] + list(args),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def readelf(binary, option):
    return subprocess.run(["readelf", option, "-W", str(binary)],
                          capture_output=True, text=True, timeout=30,
                          check=True).stdout


def test_build_warning_free(built):
    _, output = built
    assert "warning:" not in output, output


def test_build_hardened(built):
    binary = built[0] / "sipsgate"
    assert re.search(r"Type:\s+DYN", readelf(binary, "-h"))
    dynamic = readelf(binary, "-d")
    assert re.search(r"\(FLAGS_1\).*\bNOW\b", dynamic) or \
        re.search(r"\(FLAGS\).*\bBIND_NOW\b", dynamic), dynamic
    assert re.search(r"\(FLAGS_1\).*\bPIE\b", dynamic), dynamic
    assert "GNU_RELRO" in readelf(binary, "-l")
    symbols = readelf(binary, "--dyn-syms")
    assert "__stack_chk_fail" in symbols
    assert re.search(r"__\w+_chk\b", symbols.replace("__stack_chk_fail", ""))
    if shutil.which("hardening-check"):
        result = subprocess.run(["hardening-check", str(binary)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout


def test_build_caller_flags(built):
    binary = built[0] / "sipsgate"
    sections = readelf(binary, "-S")
    assert ".debug_info" not in sections
    assert ".note.gnu.build-id" not in sections


def installed_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file())


def test_install_tree_usr(built, tmp_path):
    folder, _ = built
    make(folder, "install", "DESTDIR=%s" % tmp_path, "PREFIX=/usr")

    assert installed_files(tmp_path) == [
        "etc/sipsgate/sipsgate.ini",
        "usr/lib/systemd/system/sipsgate.service",
        "usr/lib/sysusers.d/sipsgate.conf",
        "usr/sbin/sipsgate",
        "usr/share/man/man5/sipsgate.ini.5",
        "usr/share/man/man8/sipsgate.8",
    ]
    assert stat.S_IMODE((tmp_path / "usr/sbin/sipsgate").stat().st_mode) \
        == 0o755
    ini = tmp_path / "etc/sipsgate/sipsgate.ini"
    assert stat.S_IMODE(ini.stat().st_mode) == 0o644
    assert ini.read_text() == (REPO / "conf" / "sipsgate.ini").read_text()
    unit = (tmp_path / "usr/lib/systemd/system/sipsgate.service").read_text()
    assert unit == UNIT.read_text()


def test_install_tree_local(built, tmp_path):
    folder, _ = built
    make(folder, "install", "DESTDIR=%s" % tmp_path)

    assert installed_files(tmp_path) == [
        "usr/local/etc/sipsgate/sipsgate.ini",
        "usr/local/lib/systemd/system/sipsgate.service",
        "usr/local/lib/sysusers.d/sipsgate.conf",
        "usr/local/sbin/sipsgate",
        "usr/local/share/man/man5/sipsgate.ini.5",
        "usr/local/share/man/man8/sipsgate.8",
    ]
    unit = (tmp_path / "usr/local/lib/systemd/system/sipsgate.service")
    lines = unit.read_text().splitlines()
    assert ("ExecStart=/usr/local/sbin/sipsgate -c "
            "/usr/local/etc/sipsgate/sipsgate.ini") in lines
    assert ("LoadCredential=server.key:/usr/local/etc/sipsgate/server.key"
            in lines)
    assert not any("/etc/sipsgate" in line and "/usr/local" not in line
                   for line in lines)
    ini = (tmp_path / "usr/local/etc/sipsgate/sipsgate.ini").read_text()
    assert "certificate = /usr/local/etc/sipsgate/server-chain.pem" in ini


def test_install_keeps_edited_config(built, tmp_path):
    folder, _ = built
    args = ["DESTDIR=%s" % tmp_path, "PREFIX=/usr"]
    make(folder, "install", *args)
    ini = tmp_path / "etc/sipsgate/sipsgate.ini"
    edited = ini.read_text().replace("level = info", "level = debug")
    ini.write_text(edited)

    make(folder, "install", *args)
    assert ini.read_text() == edited

    make(folder, "uninstall", *args)
    assert installed_files(tmp_path) == ["etc/sipsgate/sipsgate.ini"]
    assert ini.read_text() == edited


def test_uninstall_removes_all(built, tmp_path):
    folder, _ = built
    args = ["DESTDIR=%s" % tmp_path, "PREFIX=/usr"]
    make(folder, "install", *args)
    make(folder, "uninstall", *args)
    assert installed_files(tmp_path) == []
    assert not (tmp_path / "etc/sipsgate").exists()


def test_installed_unit_verifies(built, tmp_path):
    """systemd-analyze verify checks that the Exec binaries exist and the
    man pages in Documentation= open, so the unit is verified where an
    install under a temporary PREFIX put them."""
    need_tool("systemd-analyze")
    folder, _ = built
    prefix = tmp_path / "prefix"
    make(folder, "install", "PREFIX=%s" % prefix)
    unit = prefix / "lib/systemd/system/sipsgate.service"
    assert "ExecStart=%s/sbin/sipsgate" % prefix in unit.read_text()

    env = dict(os.environ, MANPATH=str(prefix / "share/man"))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)],
                            env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""
