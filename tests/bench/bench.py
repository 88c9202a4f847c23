"""make bench: sipsgate side by side with a Kamailio TLS edge and stunnel.

Each edge in turn sits between tlsload (the phones, mutual TLS) and one
Kamailio registrar, all on 127.0.0.1:

    tlsload --TLS--> sipsgate        --UDP--> Kamailio registrar
    tlsload --TLS--> Kamailio edge   --UDP--> Kamailio registrar
    tlsload --TLS--> stunnel         --TCP--> Kamailio registrar

and three figures are measured for the edge alone:

  handshake   server CPU time per full mutual-TLS handshake (no
              resumption), from accept to close
  REGISTER    CPU time per REGISTER transaction relayed through the edge
              over persistent connections, pipelined
  idle        memory per idle connection that has registered once

CPU time is read from /proc for every task of the edge's process group.
The sum of schedstat run times is exact to the nanosecond. When a task
ended during the window, the sum of utime+stime from /proc/PID/stat is
used instead, because only it keeps the time of ended threads (stunnel
runs a thread per connection). The edge's CPU time while idle is
measured first and its rate subtracted, so timer wake-ups between
requests do not count as work per request. Memory is Pss_Anon +
Pss_Shmem from /proc/PID/smaps_rollup summed over the edge's processes.
Kamailio's workers share one shared-memory pool, and Pss counts each
shared page once in total.

Only loopback addresses are used. Every wait is bounded in time.
"""

import argparse
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
import kamailio  # noqa: E402

HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# RFC 3261 T4: how long a UDP client transaction stays completed after
# its final response. The REGISTER window includes it, so that expiring
# the transaction counts as part of the work for that REGISTER.
T4_SECONDS = 5.0
START_TIMEOUT = 10.0
CLOSE_TIMEOUT = 30.0
TCP_ESTABLISHED = "01"
TCP_SYN_RECV = "03"
TCP_CLOSE_WAIT = "08"
TCP_LISTEN = "0A"


class BenchError(Exception):
    """A step of the benchmark failed; the message names the step."""


# ---- /proc readers ----

def group_pids(pgid):
    """Return the PIDs of every process in process group pgid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        # fields[0] is field 3 of stat (the state), so the process group,
        # field 5, is fields[2].
        if int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


class CpuSnapshot:
    """CPU time of a process group at one moment."""

    def __init__(self, pgid):
        self.wall = time.monotonic()
        self.ticks = 0
        self.task_ns = {}
        self.processes = 0
        for pid in group_pids(pgid):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                # utime and stime, fields 14 and 15 of stat, cover every
                # thread of the process, ended ones included.
                self.ticks += int(fields[11]) + int(fields[12])
                self.processes += 1
                for tid in os.listdir("/proc/%d/task" % pid):
                    with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                        self.task_ns[(pid, tid)] = int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                continue


def cpu_seconds(before, after):
    """Return (CPU seconds between two snapshots, method).

    The schedstat sum is exact to the nanosecond but loses tasks that
    ended in between. The stat sum keeps them but counts whole clock
    ticks, rounded per process in each snapshot. The stat figure is used
    when schedstat is short by more than that rounding can explain.
    """
    tick_s = (after.ticks - before.ticks) / CLOCK_TICKS
    rounding_s = (before.processes + after.processes) / CLOCK_TICKS
    ended = set(before.task_ns) - set(after.task_ns)
    ns = sum(after.task_ns[t] - before.task_ns.get(t, 0)
             for t in after.task_ns)
    exact = ns / 1e9
    if ended or exact < tick_s - rounding_s:
        return tick_s, "stat"
    return exact, "schedstat"


def memory_kib(pgid):
    """Return {"anon_shmem", "pss", "rss"} in KiB summed over the
    processes of group pgid, from /proc/PID/smaps_rollup.

    anon_shmem is Pss_Anon + Pss_Shmem: the heap, stacks and shared
    memory pools, each shared page divided among the processes that map
    it. The whole Pss also contains pages of shared libraries, whose share
    drops when the load client starts and maps the same libraries, so it
    understates growth; Rss counts a page once per process that maps it.
    """
    keys = {"Pss_Anon:": "anon", "Pss_Shmem:": "shmem", "Pss:": "pss",
            "Rss:": "rss"}
    total = dict.fromkeys(keys.values(), 0)
    for pid in group_pids(pgid):
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    parts = line.split()
                    if parts and parts[0] in keys:
                        total[keys[parts[0]]] += int(parts[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    total["anon_shmem"] = total.pop("anon") + total.pop("shmem")
    return total


def tcp_sockets():
    """Yield (local port, remote port, state) of every IPv4 TCP socket."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local_port = int(parts[1].split(":")[1], 16)
            remote_port = int(parts[2].split(":")[1], 16)
            yield local_port, remote_port, parts[3]


def wait_until(condition, timeout, what):
    """Poll condition every 20 ms until it is true or timeout passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError("timed out after %.0f s waiting for %s"
                             % (timeout, what))
        time.sleep(0.02)


def edge_connections_closed(edge):
    """True when the edge has closed every phone connection and, for
    stunnel, every connection it opened toward the registrar."""
    busy = (TCP_ESTABLISHED, TCP_SYN_RECV, TCP_CLOSE_WAIT)
    for local, remote, state in tcp_sockets():
        if state not in busy:
            continue
        if local == edge.port:
            return False
        if edge.backend_tcp_port and remote == edge.backend_tcp_port:
            return False
    return True


def is_listening(port):
    return any(local == port and state == TCP_LISTEN
               for local, _, state in tcp_sockets())


# ---- the edges ----

class Edge:
    """One edge process group, started in its own session so that it can
    be measured and stopped as a group."""

    name = "?"
    backend_tcp_port = None
    # Whether the edge puts a Path header into REGISTER; the registrar
    # returns it in the 200, and the run checks that it is there.
    adds_path = True

    def __init__(self, folder, pki, registrar_port):
        self.folder = Path(folder)
        self.pki = Path(pki)
        self.registrar_port = registrar_port
        self.port = kamailio.free_port(HOST)
        self.proc = None
        self._log = None

    @property
    def log_path(self):
        """The edge's stdout and stderr, in its own folder."""
        return self.folder / ("%s.log" % self.name.split()[0].lower())

    def command(self):
        raise NotImplementedError

    def start(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = self.command()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            wait_until(self._listening_or_dead, START_TIMEOUT,
                       "%s to listen on %s:%d" % (self.name, HOST, self.port))
        except BenchError:
            self.stop()
            raise
        code = self.proc.poll()
        if code is not None:
            self.stop()
            raise BenchError("%s exited with %d during start-up:\n%s"
                             % (self.name, code, self.log_tail()))

    def _listening_or_dead(self):
        return self.proc.poll() is not None or is_listening(self.port)

    @property
    def pgid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=30):
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        else:
            # Workers left behind by a main process that died.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


class Sipsgate(Edge):
    name = "sipsgate"

    def command(self):
        backend_listen = kamailio.free_port(HOST)
        config = self.folder / "sipsgate.ini"
        config.write_text(
            "[tls]\n"
            "listen = %(host)s:%(port)d\n"
            "certificate = %(pki)s/server-chain.pem\n"
            "private_key = %(pki)s/server.key\n"
            "ca_file = %(pki)s/phones-ca.pem\n"
            "verify_client = require\n"
            "\n"
            "[backend]\n"
            "uri = sip:%(host)s:%(registrar)d;transport=udp\n"
            "listen = %(host)s:%(backend)d\n"
            "\n"
            "[proxy]\n"
            "public_host = sips.example.com\n"
            "\n"
            "[limits]\n"
            "; Every phone of the benchmark connects from 127.0.0.1.\n"
            "max_connections_per_ip = 100000\n"
            % {"host": HOST, "port": self.port, "pki": self.pki,
               "registrar": self.registrar_port, "backend": backend_listen})
        binary = os.environ.get("SIPSGATE", str(REPO / "sipsgate"))
        return [binary, "-c", str(config)]


KAMAILIO_EDGE_CFG = """#!KAMAILIO
# A TLS edge in front of the registrar, written by tests/bench/bench.py:
# mutual TLS toward the phones, stateless forwarding over UDP toward the
# registrar, Path on REGISTER and Record-Route on dialogs, as sipsgate
# does.
debug=2
log_stderror=yes
children=1
tcp_children={tcp_children}
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
dns_try_ipv6=no
listen=tls:{host}:{port}
listen=udp:{host}:{udp_port}
enable_tls=yes
tcp_max_connections=8192
tls_max_connections=8192
mpath="{module_dir}"

loadmodule "tls.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "rr.so"
loadmodule "path.so"

modparam("tls", "config", "{tls_cfg}")
modparam("rr", "enable_full_lr", 1)
# Requests that follow a Path entry with a received parameter go to the
# phone's own connection.
modparam("path", "use_received", 1)

request_route {{
    if (!mf_process_maxfwd_header("70")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}

    if ($pr == "tls") {{
        # From a phone: reply to the port it connected from, and let the
        # registrar reach it back over this connection.
        force_rport();
        if (is_method("REGISTER")) {{
            add_path_received();
        }} else if (!has_totag()) {{
            record_route();
        }} else {{
            loose_route();
        }}
        $du = "sip:{host}:{registrar_port};transport=udp";
        forward();
        exit;
    }}

    # From the registrar: follow the Path or Record-Route entry of this
    # edge back to the phone.
    if (!loose_route()) {{
        sl_send_reply("404", "No Route");
        exit;
    }}
    forward();
}}
"""

KAMAILIO_EDGE_TLS = """[server:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
verify_depth = 4
certificate = {pki}/server-chain.pem
private_key = {pki}/server.key
ca_list = {pki}/phones-ca.pem

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
"""


class KamailioEdge(Edge):
    """A Kamailio TLS edge with one of its memory managers for both
    shared and private memory: qm (Debian's default, built with memory
    debugging), fm or tlsf."""

    def __init__(self, folder, pki, registrar_port, tcp_children,
                 memory_manager):
        super().__init__(folder, pki, registrar_port)
        self.tcp_children = tcp_children
        self.memory_manager = memory_manager
        self.name = "Kamailio %s" % memory_manager

    def command(self):
        runtime = self.folder / "kamailio-edge-run"
        runtime.mkdir(parents=True, exist_ok=True)
        tls_cfg = self.folder / "kamailio-edge-tls.cfg"
        tls_cfg.write_text(KAMAILIO_EDGE_TLS.format(pki=self.pki))
        cfg = self.folder / "kamailio-edge.cfg"
        cfg.write_text(KAMAILIO_EDGE_CFG.format(
            host=HOST, port=self.port, udp_port=kamailio.free_port(HOST),
            registrar_port=self.registrar_port, tls_cfg=tls_cfg,
            tcp_children=self.tcp_children,
            module_dir=kamailio.MODULE_DIR))
        # Every TLS connection's OpenSSL state lives in shared memory, so
        # the pool must fit the idle run. Untouched pages cost nothing.
        return [kamailio.KAMAILIO, "-f", str(cfg), "-DD", "-E",
                "-m", "512", "-M", "16",
                "-x", self.memory_manager, "-X", self.memory_manager,
                "-L", kamailio.MODULE_DIR, "-Y", str(runtime),
                "-w", str(self.folder)]


class Stunnel(Edge):
    name = "stunnel"
    adds_path = False

    def __init__(self, folder, pki, registrar_port):
        super().__init__(folder, pki, registrar_port)
        # stunnel speaks only TCP toward the registrar.
        self.backend_tcp_port = registrar_port

    def command(self):
        config = self.folder / "stunnel.conf"
        config.write_text(
            "foreground = yes\n"
            "pid =\n"
            "syslog = no\n"
            "\n"
            "[sip]\n"
            "accept = %(host)s:%(port)d\n"
            "connect = %(host)s:%(registrar)d\n"
            "cert = %(pki)s/server-chain.pem\n"
            "key = %(pki)s/server.key\n"
            "CAfile = %(pki)s/phones-ca.pem\n"
            "verifyChain = yes\n"
            "requireCert = yes\n"
            "sslVersionMin = TLSv1.2\n"
            "socket = l:TCP_NODELAY=1\n"
            "socket = r:TCP_NODELAY=1\n"
            % {"host": HOST, "port": self.port, "pki": self.pki,
               "registrar": self.registrar_port})
        return [shutil.which("stunnel4") or "/usr/bin/stunnel4",
                str(config)]


class Registrar(kamailio.Kamailio):
    """The e2e tests' Kamailio registrar, on UDP and TCP (for stunnel),
    with a shared-memory pool large enough for the idle stunnel run,
    which keeps one TCP connection per phone open."""

    def command(self):
        argv = super().command()
        argv[argv.index("-m") + 1] = "256"
        return argv


# ---- the load client ----

class Load:
    """tlsload, started for one phase against one edge."""

    def __init__(self, tlsload, pki, edge, mode, *args, deadline=120):
        self.argv = [tlsload, mode, "-p", str(edge.port),
                     "-C", str(pki / "alice-chain.pem"),
                     "-K", str(pki / "alice.key"),
                     "-A", str(pki / "root.pem"),
                     "-t", str(deadline)] + [str(a) for a in args]
        self.results = {}
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def read_until(self, key):
        """Read key=value lines until key appears. tlsload's own
        deadline bounds the wait: it exits and the pipe closes."""
        while key not in self.results:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(timeout=10)
                raise BenchError("tlsload %s exited with %s before %s=:\n%s"
                                 % (self.argv[1], self.proc.returncode, key,
                                    self.proc.stderr.read()))
            name, _, value = line.strip().partition("=")
            self.results[name] = value
        return self.results[key]

    def proceed(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self):
        self.proc.stdin.close()
        for line in self.proc.stdout:
            name, _, value = line.strip().partition("=")
            self.results[name] = value
        code = self.proc.wait(timeout=60)
        if code != 0:
            raise BenchError("tlsload %s exited with %d:\n%s"
                             % (self.argv[1], code, self.proc.stderr.read()))
        return self.results

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


# ---- the measurements ----

class Result:
    """The figures of one edge. CPU figures are lists with one entry per
    repetition; the table shows their median."""

    def __init__(self, name):
        self.name = name
        self.tls = ""
        self.idle_cpu_rate = 0.0
        self.handshake_us = []
        self.register_us = []
        self.cpu_methods = set()
        self.register_rate = 0.0
        self.idle_kib = None
        self.idle_pss_kib = None
        self.idle_rss_kib = None


def median(values):
    return statistics.median(values) if values else None


def measure_idle_rate(edge, seconds=2.0):
    """Return the edge's CPU seconds per wall second while nothing
    happens (timers, housekeeping)."""
    before = CpuSnapshot(edge.pgid)
    time.sleep(seconds)
    after = CpuSnapshot(edge.pgid)
    spent, _ = cpu_seconds(before, after)
    return spent / (after.wall - before.wall)


def net_cpu(result, before, after):
    """Return the CPU seconds between two snapshots less the idle rate."""
    spent, method = cpu_seconds(before, after)
    result.cpu_methods.add(method)
    spent -= result.idle_cpu_rate * (after.wall - before.wall)
    return max(spent, 0.0)


def run_handshakes(args, edge, result, count):
    """Return the edge's CPU microseconds per handshake over count
    handshakes, each with a ping and a close."""
    load = Load(args.tlsload, args.pki, edge, "handshake", "-n", count)
    before = CpuSnapshot(edge.pgid)
    try:
        results = load.finish()
    except BaseException:
        load.kill()
        raise
    wait_until(lambda: edge_connections_closed(edge), CLOSE_TIMEOUT,
               "%s to close the handshake connections" % edge.name)
    after = CpuSnapshot(edge.pgid)
    if int(results["handshakes"]) != count:
        raise BenchError("%s: %s of %d handshakes completed"
                         % (edge.name, results["handshakes"], count))
    result.tls = "%s %s %s, session tickets per handshake: %.0f" % (
        results["tls_version"], results["cipher"], results["group"],
        int(results["tickets"]) / count)
    return net_cpu(result, before, after) / count * 1e6


def run_registers(args, edge, result):
    """Return the edge's CPU microseconds per REGISTER transaction; the
    handshakes of the load's connections are outside the window."""
    load = Load(args.tlsload, args.pki, edge, "register",
                "-n", args.registers, "-c", args.connections,
                "-w", args.window)
    try:
        load.read_until("connected")
        before = CpuSnapshot(edge.pgid)
        load.proceed()
        load.read_until("path")
        # The edge may still expire transaction state after the last
        # response (RFC 3261 Timer K); that work belongs to the REGISTERs.
        time.sleep(T4_SECONDS + 0.5)
        after = CpuSnapshot(edge.pgid)
        load.proceed()
        results = load.finish()
    except BaseException:
        load.kill()
        raise
    ok = int(results["ok"])
    if ok != args.registers:
        raise BenchError("%s: %d of %d REGISTERs got 200 (first other "
                         "response: %s)" % (edge.name, ok, args.registers,
                                            results.get("first_other", "-")))
    check_path(edge, results["path"])
    result.register_rate = args.registers / float(results["seconds"])
    wait_until(lambda: edge_connections_closed(edge), CLOSE_TIMEOUT,
               "%s to close the REGISTER connections" % edge.name)
    return net_cpu(result, before, after) / args.registers * 1e6


def run_idle(args, edge, result):
    """Measure on a freshly started edge, so that memory freed by earlier
    phases cannot be reused and hide the growth."""
    warm = Load(args.tlsload, args.pki, edge, "idle", "-c", 10)
    try:
        warm.read_until("ready")
        warm.finish()
    except BaseException:
        warm.kill()
        raise
    wait_until(lambda: edge_connections_closed(edge), CLOSE_TIMEOUT,
               "%s to close the warm-up connections" % edge.name)

    before = memory_kib(edge.pgid)
    load = Load(args.tlsload, args.pki, edge, "idle", "-c", args.idle,
                deadline=240)
    try:
        load.read_until("ready")
        if int(load.results["ok"]) != args.idle:
            raise BenchError("%s: %s of %d idle phones registered"
                             % (edge.name, load.results["ok"], args.idle))
        # Let transactions of the last REGISTERs expire (Timer K), so
        # that only per-connection state remains.
        time.sleep(T4_SECONDS + 0.5)
        after = memory_kib(edge.pgid)
        load.finish()
    except BaseException:
        load.kill()
        raise
    result.idle_kib = (after["anon_shmem"] - before["anon_shmem"]) / args.idle
    result.idle_pss_kib = (after["pss"] - before["pss"]) / args.idle
    result.idle_rss_kib = (after["rss"] - before["rss"]) / args.idle
    wait_until(lambda: edge_connections_closed(edge), CLOSE_TIMEOUT,
               "%s to close the idle connections" % edge.name)


def check_path(edge, path):
    if edge.adds_path and not path:
        raise BenchError("%s: the 200 to REGISTER has no Path, so the edge "
                         "did not insert one" % edge.name)
    if not edge.adds_path and path:
        raise BenchError("%s: unexpected Path in the 200 to REGISTER: %s"
                         % (edge.name, path))


def check_alive(edge):
    if not edge.alive():
        raise BenchError("%s exited during the run:\n%s"
                         % (edge.name, edge.log_tail()))


def runs_text(values, digits):
    return ", ".join("%.*f" % (digits, v) for v in values)


def bench_edge(args, make_edge):
    """Run the three phases against one edge: the CPU phases, each
    repeated, on one instance, the idle phase on a second, fresh one."""
    edge = make_edge()
    result = Result(edge.name)
    print("== %s" % edge.name, flush=True)
    edge.start()
    try:
        # The first connections pay for lazy initialisation (worker
        # start-up, first allocations) that no later one repeats.
        run_handshakes(args, edge, Result(edge.name), args.warmup)
        result.idle_cpu_rate = measure_idle_rate(edge)
        for _ in range(args.repeat):
            result.handshake_us.append(
                run_handshakes(args, edge, result, args.handshakes))
        print("   handshake: %s us CPU (%s)"
              % (runs_text(result.handshake_us, 0), result.tls), flush=True)
        for _ in range(args.repeat):
            result.register_us.append(run_registers(args, edge, result))
        print("   REGISTER: %s us CPU, %.0f/s"
              % (runs_text(result.register_us, 1), result.register_rate),
              flush=True)
        check_alive(edge)
    finally:
        edge.stop()

    edge = make_edge()
    edge.start()
    try:
        run_idle(args, edge, result)
        print("   idle: %.1f KiB per connection" % result.idle_kib,
              flush=True)
        check_alive(edge)
    finally:
        edge.stop()
    return result


# ---- report ----

def package_version(name):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.stdout.strip() or "not installed"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def load_average():
    return "%.2f %.2f %.2f" % os.getloadavg()


def print_machine():
    print("machine: %s, %d CPUs, Linux %s" % (cpu_model(), os.cpu_count(),
                                              platform.release()))
    print("packages: " + ", ".join(
        "%s %s" % (p, package_version(p))
        for p in ("libssl3", "libevent-2.1-7", "libosip2-15", "kamailio",
                  "stunnel4")))
    print("load average at start: %s" % load_average(), flush=True)


def fmt(value, digits):
    return "-" if value is None else "%.*f" % (digits, value)


def print_table(args, results):
    print()
    print("handshakes %d, REGISTERs %d over %d connections (window %d), "
          "idle connections %d"
          % (args.handshakes, args.registers, args.connections, args.window,
             args.idle))
    header = ("edge", "handshake CPU us", "REGISTER CPU us",
              "KiB per idle conn")
    rows = [(r.name, fmt(median(r.handshake_us), 0),
             fmt(median(r.register_us), 1),
             fmt(r.idle_kib, 1)) for r in results]
    widths = [max(len(row[i]) for row in rows + [header])
              for i in range(len(header))]

    def format_row(row):
        cells = ["%-*s" % (widths[0], row[0])]
        cells += ["%*s" % (w, cell) for w, cell in zip(widths[1:], row[1:])]
        return "  ".join(cells)

    print(format_row(header))
    print("-" * len(format_row(header)))
    for row in rows:
        print(format_row(row))
    print()
    print("details: KiB per idle connection as Pss_Anon+Pss_Shmem / Pss / "
          "Rss; CPU time source; CPU use while idle; TLS")
    for r in results:
        print("  %-14s %s / %s / %s; %s; %.2f%% of a CPU; %s"
              % (r.name, fmt(r.idle_kib, 1), fmt(r.idle_pss_kib, 1),
                 fmt(r.idle_rss_kib, 1), "+".join(sorted(r.cpu_methods)),
                 r.idle_cpu_rate * 100, r.tls))
    print("load average at end: %s" % load_average())


def print_targets(results):
    """Compare sipsgate with the product targets: a third of Kamailio's
    CPU per handshake and per REGISTER, under 12 KiB per idle phone."""
    gate = next((r for r in results if r.name == "sipsgate"), None)
    if gate is None:
        return
    print()
    for kam in results:
        if not kam.name.startswith("Kamailio"):
            continue
        for label, ours, theirs in (
                ("handshake", median(gate.handshake_us),
                 median(kam.handshake_us)),
                ("REGISTER", median(gate.register_us),
                 median(kam.register_us))):
            ratio = ours / theirs if theirs else float("inf")
            print("target %-9s sipsgate / %-13s = %.2f (target <= 0.33): %s"
                  % (label, kam.name, ratio,
                     "met" if ratio <= 1 / 3 else "MISSED"))
    print("target idle      %.1f KiB per connection (target < 12): %s"
          % (gate.idle_kib, "met" if gate.idle_kib < 12 else "MISSED"))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tlsload", required=True, help="path of tlsload")
    p.add_argument("--handshakes", type=int, default=500)
    p.add_argument("--warmup", type=int, default=20,
                   help="handshakes before any measurement")
    p.add_argument("--registers", type=int, default=10000)
    p.add_argument("--connections", type=int, default=10)
    p.add_argument("--window", type=int, default=50,
                   help="REGISTERs outstanding at once, over all connections")
    p.add_argument("--idle", type=int, default=1000,
                   help="idle connections")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of each CPU phase; the table shows the median")
    p.add_argument("--kamailio-tcp-children", type=int, default=1)
    p.add_argument("--edges", default="sipsgate,kamailio,kamailio-tlsf,stunnel",
                   help="comma-separated list from sipsgate, kamailio (qm "
                   "memory manager), kamailio-tlsf, kamailio-fm, stunnel")
    p.add_argument("--keep", action="store_true",
                   help="keep the work folder with configs and logs")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * args.idle + 1024
    if hard != resource.RLIM_INFINITY and hard < want:
        raise SystemExit("bench: RLIMIT_NOFILE hard limit %d is below the "
                         "%d the idle run needs; lower --idle" % (hard, want))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    work = Path(tempfile.mkdtemp(prefix="sipsgate-bench."))
    args.pki = work / "pki"
    subprocess.run(["sh", str(REPO / "tests" / "e2e" / "pki.sh"),
                    str(args.pki)], check=True, timeout=60)
    print_machine()

    os.makedirs(work / "registrar")
    registrar = Registrar(str(work / "registrar"),
                          kamailio.free_port(HOST), "tcp")
    makers = {
        "sipsgate": lambda: Sipsgate(work / "sipsgate", args.pki,
                                     registrar.port),
        "kamailio": lambda: KamailioEdge(work / "kamailio-qm", args.pki,
                                         registrar.port,
                                         args.kamailio_tcp_children, "qm"),
        "kamailio-tlsf": lambda: KamailioEdge(work / "kamailio-tlsf",
                                              args.pki, registrar.port,
                                              args.kamailio_tcp_children,
                                              "tlsf"),
        "kamailio-fm": lambda: KamailioEdge(work / "kamailio-fm",
                                            args.pki, registrar.port,
                                            args.kamailio_tcp_children,
                                            "fm"),
        "stunnel": lambda: Stunnel(work / "stunnel", args.pki,
                                   registrar.port),
    }
    results = []
    status = 0
    try:
        registrar.start()
        for name in args.edges.split(","):
            if name not in makers:
                raise BenchError("unknown edge %r" % name)
            results.append(bench_edge(args, makers[name]))
        print_table(args, results)
        print_targets(results)
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        status = 1
    finally:
        registrar.stop()
        if args.keep or status:
            print("work folder kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
