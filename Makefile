# sipsgate: SIP-over-TLS edge proxy. Plain make; honours CC, CFLAGS,
# LDFLAGS, PREFIX and DESTDIR.

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libosip2 libevent_openssl libevent openssl inih

# Debian's hardening flags: PIE, stack protector, FORTIFY, RELRO, BIND_NOW.
HARDEN_CFLAGS := -fPIE -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fstack-clash-protection
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter $(HARDEN_CFLAGS)
CPPFLAGS += -D_GNU_SOURCE $(shell $(PKG_CONFIG) --cflags $(PKGS))
LDLIBS += $(shell $(PKG_CONFIG) --libs $(PKGS))
LDFLAGS += $(HARDEN_LDFLAGS)

SRCS := $(wildcard src/*.c)
OBJS := $(patsubst src/%.c,build/%.o,$(SRCS))
HDRS := $(wildcard src/*.h)

all: sipsgate

sipsgate: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

build/%.o: src/%.c $(HDRS) | build
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

build:
	mkdir -p build

# ---- unit tests (cmocka) ----
# Each unit test links only the pure modules it drives.
UNIT_TESTS := test_framing test_flow test_config test_sipmsg test_txn test_tls
UNIT_BINS := $(addprefix build/,$(UNIT_TESTS))
UNIT_LIBS := $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

build/test_framing: tests/unit/test_framing.c src/framing.c
build/test_flow: tests/unit/test_flow.c src/flow.c
build/test_config: tests/unit/test_config.c src/config.c src/log.c
build/test_sipmsg: tests/unit/test_sipmsg.c src/sipmsg.c
build/test_txn: tests/unit/test_txn.c src/txn.c src/log.c
build/test_tls: tests/unit/test_tls.c src/tls.c

$(UNIT_BINS): $(HDRS) | build
	$(CC) $(CPPFLAGS) -Isrc $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(UNIT_LIBS)

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do $$t || fail=1; done; exit $$fail

deps-build:
	@sh tests/install-deps.sh build
deps-demo:
	@sh tests/install-deps.sh demo
deps-check:
	@sh tests/install-deps.sh check
deps-bench:
	@sh tests/install-deps.sh bench

# Installs what is missing, builds, and runs every test; ends with
# "N passed, N failed".
check: deps-check
	$(MAKE) all $(UNIT_BINS)
	sh tests/run-all.sh $(UNIT_BINS)

# A throwaway PKI, Kamailio as registrar and sipsgate on loopback; two
# phones register and one calls the other.
demo: deps-demo
	$(MAKE) all
	sh tests/demo.sh

# CPU per handshake and per REGISTER and memory per idle connection of
# sipsgate, a Kamailio TLS edge and stunnel, side by side on loopback.
bench: deps-bench
	$(MAKE) all
	sh tests/bench/run.sh

clean:
	rm -rf build sipsgate

.PHONY: all unit clean check demo deps-build deps-demo deps-check bench deps-bench
