#!/bin/sh
# Installs the Debian 12 packages sipsgate needs, only when some are
# missing. Usage: tests/install-deps.sh build|demo|check|bench
set -eu

build="build-essential pkg-config libssl-dev libevent-dev libosip2-dev libinih-dev"
demo="$build openssl kamailio python3"
# systemd provides systemd-analyze and systemd-sysusers for the unit
# checks, man-db the man page check.
check="$demo kamailio-tls-modules libcmocka-dev python3-pytest clang libclang-rt-14-dev systemd man-db"
bench="$demo kamailio-tls-modules stunnel4"

case "${1:-check}" in
build) want=$build ;;
demo) want=$demo ;;
check) want=$check ;;
bench) want=$bench ;;
*) echo "usage: $0 build|demo|check|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing missing packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet.
$SUDO apt-get update -qq || true
# Kamailio's package starts a system service on install, listening on
# port 5060 of every interface. The tests and the demo start their own
# instances on loopback, so a policy-rc.d that denies every start (exit
# 101, Debian's convention) keeps the packaged one down during the
# install, unless the machine already has its own policy.
policy=/usr/sbin/policy-rc.d
own_policy=no
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	own_policy=yes
fi
rc=0
$SUDO apt-get install -y -qq --no-install-recommends $missing || rc=$?
[ "$own_policy" = yes ] && $SUDO rm -f "$policy"
exit $rc
