"""Kamailio as the registrar behind sipsgate in the end-to-end tests.

Writes a kamailio.cfg (and a TLS config for the TLS variant) into a
test's own folder and runs Debian's kamailio 5.6 in the foreground,
logging to stderr. Its runtime folder is inside the test folder, so it
needs no writable path outside it, even when run as root.

The routing logic is a plain registrar: REGISTER is saved with its Path,
an initial request to a registered user is record-routed and relayed
along the stored Path, in-dialog requests follow their Route headers.

Also runnable as a small command-line tool for tests/demo.sh:
    kamailio.py run DIR PORT                     write DIR/kamailio.cfg for
                                                 UDP, then exec kamailio on it
    kamailio.py probe HOST PORT [TIMEOUT]        wait until it answers OPTIONS
    kamailio.py free-port HOST PREFERRED         print PREFERRED or a free port
"""

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

KAMAILIO = "/usr/sbin/kamailio"
MODULE_DIR = "/usr/lib/x86_64-linux-gnu/kamailio/modules"

CFG_TEMPLATE = """#!KAMAILIO
# Written by tests/e2e/kamailio.py for one test run.
debug={debug}
log_stderror=yes
log_prefix="{{$mt $rm $ci}} "
memdbg=5
memlog=5
children=1
tcp_children=1
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
dns_try_ipv6=no
{listen}
{tls_globals}
mpath="{module_dir}"

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "path.so"
{tls_module}

modparam("usrloc", "db_mode", 0)
# Store the Path of each binding and route requests along it; return the
# Path in the 200 when the UA sent "Supported: path" (path_mode 1).
modparam("registrar", "use_path", 1)
modparam("registrar", "path_mode", 1)
modparam("registrar", "path_use_received", 0)
modparam("registrar", "max_expires", 3600)
modparam("rr", "enable_full_lr", 1)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}

    if (has_totag()) {{
        route(WITHINDLG);
        exit;
    }}

    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}

    if (is_method("REGISTER")) {{
        if (!save("location")) {{
            sl_reply_error();
        }}
        exit;
    }}

    # An OPTIONS to the server itself is the readiness probe.
    if (is_method("OPTIONS") && $rU == $null) {{
        sl_send_reply("200", "Keepalive");
        exit;
    }}

    if (is_method("INVITE|SUBSCRIBE|REFER")) {{
        record_route();
    }}

    if (!lookup("location")) {{
        sl_send_reply("404", "Not Found");
        exit;
    }}

    xlog("L_INFO", "relay $rm to $ru via $du\\n");
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

route[WITHINDLG] {{
    if (loose_route()) {{
        if (!t_relay()) {{
            sl_reply_error();
        }}
        exit;
    }}
    if (is_method("ACK")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    sl_send_reply("404", "Not Here");
    exit;
}}
"""

TLS_CFG_TEMPLATE = """# Written by tests/e2e/kamailio.py for one test run.
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
certificate = {certificate}
private_key = {private_key}

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
"""


def render_config(folder, port, transport="udp", certificate=None,
                  private_key=None, host="127.0.0.1", debug=2):
    """Write kamailio.cfg (and tls.cfg for transport "tls") into folder.

    UDP is always on port, because the probe and the tests' plain UDP
    clients use it. TCP or TLS shares the same port number: only one of
    them, since both are TCP sockets. Returns the path of kamailio.cfg.
    """
    if transport not in ("udp", "tcp", "tls"):
        raise ValueError("transport must be udp, tcp or tls: %r" % transport)
    listen = ["listen=udp:%s:%d" % (host, port)]
    tls_globals = ""
    tls_module = ""
    if transport == "tcp":
        listen.append("listen=tcp:%s:%d" % (host, port))
    elif transport == "tls":
        if not certificate or not private_key:
            raise ValueError("a TLS listener needs certificate and private_key")
        listen.append("listen=tls:%s:%d" % (host, port))
        tls_cfg = os.path.join(folder, "kamailio-tls.cfg")
        with open(tls_cfg, "w") as f:
            f.write(TLS_CFG_TEMPLATE.format(certificate=certificate,
                                            private_key=private_key))
        tls_globals = "enable_tls=yes"
        tls_module = ('loadmodule "tls.so"\n'
                      'modparam("tls", "config", "%s")' % tls_cfg)
    else:
        tls_globals = "disable_tcp=yes"

    text = CFG_TEMPLATE.format(debug=debug, listen="\n".join(listen),
                               tls_globals=tls_globals, tls_module=tls_module,
                               module_dir=MODULE_DIR)
    path = os.path.join(folder, "kamailio.cfg")
    with open(path, "w") as f:
        f.write(text)
    return path


def options_probe(host, port, timeout=10.0):
    """Send OPTIONS over UDP to host:port until any response arrives.

    Each try waits 100 ms for a response, so the probe doubles as the
    readiness wait. Returns the response bytes, or raises TimeoutError.
    """
    deadline = time.monotonic() + timeout
    branch = "z9hG4bK" + uuid.uuid4().hex
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        local_port = sock.getsockname()[1]
        request = ("OPTIONS sip:%s:%d SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
                   "Max-Forwards: 70\r\n"
                   "From: <sip:probe@%s>;tag=probe\r\n"
                   "To: <sip:%s:%d>\r\n"
                   "Call-ID: %s\r\n"
                   "CSeq: 1 OPTIONS\r\n"
                   "Content-Length: 0\r\n\r\n"
                   % (host, port, host, local_port, branch, host, host,
                      port, uuid.uuid4().hex)).encode()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no response to OPTIONS from %s:%d"
                                   % (host, port))
            sock.sendto(request, (host, port))
            sock.settimeout(min(0.1, remaining))
            try:
                data, _ = sock.recvfrom(65535)
                return data
            except socket.timeout:
                continue
            except ConnectionRefusedError:
                # ICMP port unreachable from an earlier try: not bound yet.
                continue


class Kamailio:
    """One kamailio process running from a config in folder.

    Output goes to folder/kamailio.log. The process is started in its own
    session, so stop() can signal its whole process group (the main
    process and the children it forks) and nothing else.
    """

    def __init__(self, folder, port, transport="udp", certificate=None,
                 private_key=None, host="127.0.0.1"):
        self.folder = folder
        self.host = host
        self.port = port
        self.transport = transport
        self.config_path = render_config(folder, port, transport,
                                         certificate, private_key, host)
        self.log_path = os.path.join(folder, "kamailio.log")
        self.runtime_dir = os.path.join(folder, "kamailio-run")
        self.proc = None
        self._log_file = None

    @property
    def uri(self):
        return "sip:%s:%d;transport=%s" % (self.host, self.port, self.transport)

    def command(self):
        """Return kamailio's argv: foreground (-DD), log to stderr (-E), one
        worker per socket, small memory pools, runtime folder inside the
        test folder."""
        return [KAMAILIO, "-f", self.config_path, "-DD", "-E",
                "-n", "1", "-m", "32", "-M", "8",
                "-L", MODULE_DIR, "-Y", self.runtime_dir, "-w", self.folder]

    def start(self, timeout=10.0):
        os.makedirs(self.runtime_dir, exist_ok=True)
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._log_file,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout):
        """Probe until kamailio responds, and fail early if it exits."""
        result = {}

        def probe():
            try:
                result["response"] = options_probe(self.host, self.port,
                                                   timeout)
            except TimeoutError as e:
                result["error"] = e

        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while thread.is_alive():
            try:
                code = self.proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None:
                raise RuntimeError("kamailio exited with %d during start-up:\n%s"
                                   % (code, self.log_text()[-4000:]))
            if time.monotonic() > deadline + 1.0:
                break
        thread.join(1.0)
        if "response" not in result:
            raise RuntimeError("kamailio did not answer OPTIONS on %s:%d:\n%s"
                               % (self.host, self.port, self.log_text()[-4000:]))

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        """Stop the process group; returns the main process's exit code."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                code = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                code = self.proc.wait(timeout=5)
        else:
            # The main process is gone; children left in its group go too.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return code


def free_port(host="127.0.0.1", preferred=0):
    """Return preferred when both its UDP and TCP ports are free on host,
    otherwise a port the kernel picks that is free for both."""
    candidates = [preferred] if preferred else []
    candidates += [0] * 20
    for candidate in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((host, candidate))
            except OSError:
                continue
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no port free for both UDP and TCP on %s" % host)


def require_loopback(host):
    """Raise SystemExit unless host is a loopback address: the tests and
    the demo send traffic nowhere else."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit("kamailio.py: %s is not a loopback address" % host)


def main(argv):
    usage = ("usage: kamailio.py run DIR PORT | probe HOST PORT [TIMEOUT] | "
             "free-port HOST PREFERRED")
    if len(argv) == 3 and argv[0] == "run":
        # exec keeps the caller's PID, so a shell script can stop
        # kamailio by the PID it started.
        k = Kamailio(argv[1], int(argv[2]), "udp")
        os.makedirs(k.runtime_dir, exist_ok=True)
        command = k.command()
        os.execv(command[0], command)
    if len(argv) >= 3 and argv[0] == "probe":
        require_loopback(argv[1])
        timeout = float(argv[3]) if len(argv) > 3 else 10.0
        try:
            options_probe(argv[1], int(argv[2]), timeout)
        except TimeoutError as e:
            print(e, file=sys.stderr)
            return 1
        return 0
    if len(argv) == 3 and argv[0] == "free-port":
        require_loopback(argv[1])
        print(free_port(argv[1], int(argv[2])))
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
