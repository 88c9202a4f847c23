#!/bin/sh
# Builds the load client and runs the benchmark; extra arguments go to
# bench.py (see --help). Run from anywhere after make.
set -eu
cd "$(dirname "$0")/../.."

[ -x ./sipsgate ] || { echo "bench: ./sipsgate not found: run make first" >&2; exit 1; }
mkdir -p build/bench
${CC:-cc} -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wshadow \
	-Wno-unused-parameter -o build/bench/tlsload tests/bench/tlsload.c \
	$(${PKG_CONFIG:-pkg-config} --cflags --libs openssl)
exec /usr/bin/python3 tests/bench/bench.py --tlsload build/bench/tlsload "$@"
