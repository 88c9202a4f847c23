"""Fixtures for the end-to-end tests: the real sipsgate binary on loopback,
with Kamailio or a scripted UDP socket as the backend and sipphone.Phone
as the phones.

Each test gets its own folder with a copy of the PKI, its own config and
its own ports. A failing test shows the stderr of every sipsgate and the
log of every Kamailio it started.
"""

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import kamailio
import sipphone

REPO = Path(__file__).resolve().parents[2]
PKI_SCRIPT = REPO / "tests" / "e2e" / "pki.sh"
READY_LINE = "sipsgate ready"


# The sanitizer options run-all.sh uses for the build/asan daemon; set
# here too so that a plain pytest run with SIPSGATE_BIN gets them.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:exitcode=66",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}
SANITIZER_REPORT = re.compile(
    r"ERROR: AddressSanitizer|runtime error:|LeakSanitizer")


def sipsgate_binary():
    """The daemon under test: $SIPSGATE_BIN (for example the sanitizer
    build), else $SIPSGATE, else ./sipsgate in the repository."""
    chosen = (os.environ.get("SIPSGATE_BIN") or os.environ.get("SIPSGATE")
              or REPO / "sipsgate")
    return Path(chosen)


def sipsgate_env():
    env = dict(os.environ)
    for name, value in SANITIZER_ENV.items():
        env.setdefault(name, value)
    return env


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes about a minute (deselect with -m 'not slow')")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the daemons' logs to the report of a failed phase."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for title, text_of in getattr(item, "_e2e_logs", []):
        report.sections.append((title, text_of()))


def attach_log(request, title, text_of):
    logs = getattr(request.node, "_e2e_logs", None)
    if logs is None:
        logs = []
        request.node._e2e_logs = logs
    logs.append((title, text_of))


def free_port():
    return kamailio.free_port("127.0.0.1")


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A PKI made once per session by tests/e2e/pki.sh."""
    folder = tmp_path_factory.mktemp("pki")
    result = subprocess.run(["bash", str(PKI_SCRIPT), str(folder)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        "pki.sh failed (%d):\n%s%s" % (result.returncode, result.stdout,
                                       result.stderr))
    return folder


@pytest.fixture
def workdir(tmp_path, pki):
    """The test's own folder, holding a copy of every PKI file."""
    for entry in pki.iterdir():
        if entry.is_file():
            shutil.copy(entry, tmp_path / entry.name)
    return tmp_path


class Sipsgate:
    """One sipsgate process. stderr is read by a thread into a list of
    lines (and a file), so tests can wait for a line without sleeping."""

    def __init__(self, binary, config_path, port, backend_port):
        self.binary = binary
        self.config_path = config_path
        self.port = port
        self.backend_port = backend_port
        self.log_path = Path(str(config_path) + ".stderr")
        self.proc = None
        self.lines = []
        self.returncode = None
        self.stopped_by_test = False
        self._cond = threading.Condition()
        self._reader = None
        self._eof = False

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(
            [str(self.binary), "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=sipsgate_env())
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        line = self.wait_log(re.escape(READY_LINE), timeout)
        if line is None:
            self.stop()
            raise RuntimeError("sipsgate did not log %r within %.0f s "
                               "(exit code %s):\n%s"
                               % (READY_LINE, timeout, self.returncode,
                                  self.stderr_text()))
        return self

    def _read_stderr(self):
        with open(self.log_path, "wb") as log:
            for raw in iter(self.proc.stderr.readline, b""):
                log.write(raw)
                log.flush()
                with self._cond:
                    self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                    self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def mark(self):
        """Return the number of stderr lines so far, for wait_log(since=)."""
        with self._cond:
            return len(self.lines)

    def wait_log(self, pattern, timeout=5.0, since=0):
        """Return the first stderr line from index since that matches the
        regular expression pattern, waiting up to timeout seconds. Returns
        None on timeout or when stderr has ended without a match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[since:]:
                    if regex.search(line):
                        return line
                since = max(since, len(self.lines))
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def wait_count(self, pattern, count, timeout=5.0, since=0):
        """Wait until count stderr lines from index since match the
        regular expression pattern. Returns True, or False on timeout or
        when stderr has ended first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = sum(1 for line in self.lines[since:]
                            if regex.search(line))
                if found >= count:
                    return True
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    return False
                self._cond.wait(remaining)

    def stderr_text(self):
        with self._cond:
            return "\n".join(self.lines)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """Send SIGTERM and return the exit code (negative for a signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.stopped_by_test = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        if self._reader is not None:
            self._reader.join(5)
        return self.returncode


def render_sipsgate_config(port, backend_uri, backend_port,
                           ca_file="phones-ca.pem", backend_ca_file="",
                           verify_client="require", min_version="1.2",
                           sips_plain_backend="reject", log_level="debug",
                           certificate="server-chain.pem",
                           private_key="server.key", extra=""):
    return ("[tls]\n"
            "listen = 127.0.0.1:%d\n"
            "certificate = %s\n"
            "private_key = %s\n"
            "ca_file = %s\n"
            "verify_client = %s\n"
            "verify_depth = 4\n"
            "min_version = %s\n"
            "\n"
            "[backend]\n"
            "uri = %s\n"
            "listen = 127.0.0.1:%d\n"
            "ca_file = %s\n"
            "\n"
            "[proxy]\n"
            "public_host = sips.example.com\n"
            "sips_plain_backend = %s\n"
            "\n"
            "[log]\n"
            "level = %s\n"
            "%s"
            % (port, certificate, private_key, ca_file, verify_client,
               min_version, backend_uri, backend_port, backend_ca_file,
               sips_plain_backend, log_level, extra))


@pytest.fixture
def sipsgate_factory(workdir, request):
    """start(backend_uri, **config options) -> a running Sipsgate.

    A daemon that exits on its own during the test fails the test at
    teardown, because a crash must not pass unnoticed. So does a daemon
    that exits non-zero on SIGTERM (a leak found at exit, with the
    sanitizer build) or whose stderr contains a sanitizer report."""
    binary = sipsgate_binary()
    if not binary.exists():
        pytest.fail("%s not found: run make first" % binary)
    started = []

    def start(backend_uri, **options):
        port = options.pop("port", None) or free_port()
        backend_port = options.pop("backend_port", None) or free_port()
        config_path = workdir / ("sipsgate-%d.conf" % len(started))
        config_path.write_text(render_sipsgate_config(
            port, backend_uri, backend_port, **options))
        gate = Sipsgate(binary, config_path, port, backend_port)
        started.append(gate)
        attach_log(request, "sipsgate stderr (%s)" % config_path.name,
                   gate.stderr_text)
        return gate.start()

    yield start

    crashed = []
    bad_exit = []
    sanitizer = []
    for gate in started:
        if gate.proc is None:
            continue
        if gate.proc.poll() is not None and not gate.stopped_by_test:
            crashed.append((gate.config_path.name, gate.proc.returncode))
        code = gate.stop()
        if gate.stopped_by_test and code != 0:
            bad_exit.append((gate.config_path.name, code))
        if SANITIZER_REPORT.search(gate.stderr_text()):
            sanitizer.append(gate.config_path.name)
    assert not crashed, "sipsgate exited during the test: %s" % crashed
    assert not sanitizer, "sanitizer report in the stderr of %s" % sanitizer
    assert not bad_exit, "sipsgate exited non-zero on SIGTERM: %s" % bad_exit


@pytest.fixture
def kamailio_factory(workdir, request):
    """start(transport="udp", certificate=None, private_key=None) -> a
    running Kamailio on a free port. The TLS variant presents
    backend-chain.pem unless told otherwise."""
    started = []

    def start(transport="udp", certificate=None, private_key=None):
        folder = workdir / ("kamailio-%d" % len(started))
        folder.mkdir()
        certificate = certificate or workdir / "backend-chain.pem"
        private_key = private_key or workdir / "backend.key"
        k = kamailio.Kamailio(str(folder), free_port(), transport,
                              certificate=str(certificate),
                              private_key=str(private_key))
        started.append(k)
        attach_log(request, "kamailio log (%s)" % folder.name,
                   lambda: k.log_text()[-20000:])
        return k.start()

    yield start
    for k in started:
        k.stop()


@pytest.fixture
def gateway(kamailio_factory, sipsgate_factory):
    """start(transport="udp", kamailio_tls=None, **sipsgate options) ->
    (kamailio, sipsgate) with sipsgate forwarding to that Kamailio over
    transport. kamailio_tls is an optional (certificate, key) pair."""

    def start(transport="udp", kamailio_tls=None, **options):
        k = kamailio_factory(transport, *(kamailio_tls or ()))
        if transport == "tls":
            options.setdefault("backend_ca_file", "backend-ca.pem")
        gate = sipsgate_factory(k.uri, **options)
        return k, gate

    return start


@pytest.fixture
def udp_backend(request):
    """A UDP socket the test drives as the backend registrar."""
    endpoint = sipphone.UdpEndpoint("127.0.0.1")
    yield endpoint
    endpoint.close()


@pytest.fixture
def udp_client():
    """A plain UDP SIP client, for requests sent to Kamailio."""
    endpoint = sipphone.UdpEndpoint("127.0.0.1")
    yield endpoint
    endpoint.close()


@pytest.fixture
def phone_factory(workdir):
    """make(gate, name, cert=None, key=None, connect=True, **Phone options)
    -> Phone; cert and key default to NAME-chain.pem and NAME.key."""
    phones = []

    def make(gate, name, cert=None, key=None, connect=True, **options):
        certfile = None
        keyfile = None
        if cert is not False:
            certfile = str(workdir / (cert or name + "-chain.pem"))
            keyfile = str(workdir / (key or name + ".key"))
        phone = sipphone.Phone(name, certfile, keyfile,
                               str(workdir / "root.pem"), "127.0.0.1",
                               gate.port, **options)
        phones.append(phone)
        if connect:
            phone.connect()
        return phone

    yield make
    for phone in phones:
        phone.close()
