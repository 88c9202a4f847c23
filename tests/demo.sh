#!/bin/bash
# Demo on loopback: a throwaway PKI, Kamailio as registrar on UDP
# (127.0.0.1:5060, or a free port when that one is taken), sipsgate on
# 127.0.0.1:5061, and two phones (tests/e2e/sipphone.py) that register
# and place one call alice -> bob, each on its own TLS connection.
# Exits non-zero when any step fails. Run from anywhere after make.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=/usr/bin/python3
HOST=127.0.0.1

workdir=$(mktemp -d "${TMPDIR:-/tmp}/sipsgate-demo.XXXXXX")
pids=()
drain_pid=

cleanup() {
	status=$?
	# Only the processes this script started, by PID, newest first.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	# The log reader ends by itself once sipsgate has closed its stderr.
	if [ -n "$drain_pid" ]; then
		wait "$drain_pid" 2>/dev/null || true
	fi
	if [ "$status" -ne 0 ]; then
		for log in kamailio.log sipsgate.log; do
			if [ -s "$workdir/$log" ]; then
				echo "---- last lines of $log ----" >&2
				tail -n 30 "$workdir/$log" >&2
			fi
		done
	fi
	rm -rf "$workdir"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "demo: $*" >&2
	exit 1
}

[ -x ./sipsgate ] || fail "./sipsgate not found: run make first"

echo "== certificates: root CA, phones intermediate CA, server, alice, bob"
bash tests/e2e/pki.sh "$workdir/pki" >"$workdir/pki.log" 2>&1 ||
	fail "tests/e2e/pki.sh failed: $(tail -n 5 "$workdir/pki.log")"

kamailio_port=$("$PYTHON" tests/e2e/kamailio.py free-port "$HOST" 5060)
gate_port=$("$PYTHON" tests/e2e/kamailio.py free-port "$HOST" 5061)
backend_port=$("$PYTHON" tests/e2e/kamailio.py free-port "$HOST" 0)

echo "== Kamailio registrar on udp $HOST:$kamailio_port"
mkdir "$workdir/kamailio"
"$PYTHON" tests/e2e/kamailio.py run "$workdir/kamailio" "$kamailio_port" \
	>"$workdir/kamailio.log" 2>&1 &
pids+=($!)
"$PYTHON" tests/e2e/kamailio.py probe "$HOST" "$kamailio_port" 10 ||
	fail "Kamailio did not answer OPTIONS on $HOST:$kamailio_port"

# The config sits beside the certificates, because its file names are
# relative to the config's folder.
cat >"$workdir/pki/sipsgate.conf" <<EOF
[tls]
listen = $HOST:$gate_port
certificate = server-chain.pem
private_key = server.key
ca_file = phones-ca.pem
verify_client = require
verify_depth = 4
min_version = 1.2

[backend]
uri = sip:$HOST:$kamailio_port;transport=udp
listen = $HOST:$backend_port

[proxy]
public_host = sips.example.com
sips_plain_backend = reject

[log]
level = info
EOF

echo "== sipsgate on tls $HOST:$gate_port, backend udp $HOST:$kamailio_port"
# stderr goes through a FIFO so that the script can wait for the ready
# line without polling; cat then keeps draining it into the log.
mkfifo "$workdir/sipsgate.fifo"
./sipsgate -c "$workdir/pki/sipsgate.conf" 2>"$workdir/sipsgate.fifo" &
pids+=($!)
exec 3<"$workdir/sipsgate.fifo"
ready=0
deadline=$((SECONDS + 10))
while [ "$SECONDS" -lt "$deadline" ] &&
	IFS= read -r -t "$((deadline - SECONDS))" line <&3; do
	printf '%s\n' "$line" >>"$workdir/sipsgate.log"
	case $line in
	*"sipsgate ready"*)
		ready=1
		break
		;;
	esac
done
cat <&3 >>"$workdir/sipsgate.log" &
drain_pid=$!
exec 3<&-
if [ "$ready" -ne 1 ]; then
	# The loop ended early only at end of file on sipsgate's stderr.
	[ "$SECONDS" -ge "$deadline" ] ||
		fail "sipsgate exited before it was ready (see its log below)"
	fail "sipsgate did not log \"sipsgate ready\" within 10 s"
fi

echo "== phones"
"$PYTHON" tests/e2e/sipphone.py demo --pki "$workdir/pki" --host "$HOST" \
	--port "$gate_port" || fail "the call did not complete"
echo "== demo finished"
