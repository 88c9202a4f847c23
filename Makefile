# sipsgate: SIP-over-TLS edge proxy. Plain make; honours CC, CFLAGS,
# CPPFLAGS, LDFLAGS, PREFIX, DESTDIR and the directories under "install".

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libosip2 libevent_openssl libevent openssl inih

# Debian's hardening flags: PIE, stack protector, FORTIFY, RELRO, BIND_NOW.
HARDEN_CFLAGS := -fPIE -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fstack-clash-protection
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now

# The caller's CFLAGS replace "-O2 -g"; warnings and hardening are added
# with override, so they stay even with CFLAGS=... on the command line.
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter $(HARDEN_CFLAGS)
override CPPFLAGS += -D_GNU_SOURCE $(shell $(PKG_CONFIG) --cflags $(PKGS))
override LDLIBS += $(shell $(PKG_CONFIG) --libs $(PKGS))
override LDFLAGS += $(HARDEN_LDFLAGS)

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
UNIT_TESTS := test_framing test_flow test_config test_sipmsg test_txn test_tls \
	test_sdnotify test_identity
UNIT_BINS := $(addprefix build/,$(UNIT_TESTS))
UNIT_LIBS := $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

UNIT_SRCS_test_framing := src/framing.c
UNIT_SRCS_test_flow := src/flow.c
UNIT_SRCS_test_config := src/config.c src/log.c
UNIT_SRCS_test_sipmsg := src/sipmsg.c
UNIT_SRCS_test_txn := src/txn.c src/log.c
UNIT_SRCS_test_tls := src/tls.c src/tls_diag.c src/tls_tickets.c \
	src/tls_cert.c src/identity.c src/sipmsg.c src/config.c src/log.c
UNIT_SRCS_test_identity := src/identity.c src/sipmsg.c
UNIT_SRCS_test_sdnotify := src/sdnotify.c
$(foreach t,$(UNIT_TESTS),$(eval build/$(t) build/asan/$(t): \
	tests/unit/$(t).c $(UNIT_SRCS_$(t))))

$(UNIT_BINS): $(HDRS) | build
	$(CC) $(CPPFLAGS) -Isrc $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(UNIT_LIBS)

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do $$t || fail=1; done; exit $$fail

# ---- fuzzing (libFuzzer; needs clang and libclang-rt-14-dev) ----
# Each target links only the pure modules it drives. `make fuzz` runs each
# for FUZZ_SECONDS from the seeds in tests/fuzz/seeds, keeps what it finds
# under build/fuzz, and fails when any target crashes. `make fuzz-regress`
# replays the seeds and every saved crash input once.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_framing fuzz_sipmsg fuzz_rewrite
FUZZ_BINS := $(addprefix build/fuzz/,$(FUZZ_TARGETS))
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Wno-unused-parameter \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -Isrc $(shell $(PKG_CONFIG) --cflags libosip2)
FUZZ_LIBS := $(shell $(PKG_CONFIG) --libs libosip2)
FUZZ_OPTS := -dict=tests/fuzz/sip.dict -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1

build/fuzz/fuzz_framing: tests/fuzz/fuzz_framing.c src/framing.c
build/fuzz/fuzz_sipmsg: tests/fuzz/fuzz_sipmsg.c src/sipmsg.c src/framing.c
build/fuzz/fuzz_rewrite: tests/fuzz/fuzz_rewrite.c src/sipmsg.c src/framing.c

$(FUZZ_BINS): tests/fuzz/fuzz_util.h $(HDRS)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

# New inputs go to the first corpus directory only; the seeds are read.
fuzz: $(FUZZ_BINS)
	@fail=0; for t in $(FUZZ_TARGETS); do \
		case $$t in fuzz_framing) max=65536 ;; *) max=16384 ;; esac; \
		mkdir -p build/fuzz/corpus/$$t build/fuzz/crashes/$$t; \
		echo "== $$t: $(FUZZ_SECONDS) s =="; \
		build/fuzz/$$t $(FUZZ_OPTS) -max_len=$$max \
		    -max_total_time=$(FUZZ_SECONDS) \
		    -artifact_prefix=build/fuzz/crashes/$$t/ \
		    build/fuzz/corpus/$$t tests/fuzz/seeds || fail=1; \
	done; exit $$fail

fuzz-regress: $(FUZZ_BINS)
	@fail=0; for t in $(FUZZ_TARGETS); do \
		set -- tests/fuzz/seeds/*; \
		[ -d tests/fuzz/regressions/$$t ] && \
		    set -- "$$@" tests/fuzz/regressions/$$t/*; \
		build/fuzz/$$t "$$@" >build/fuzz/$$t-regress.log 2>&1 && \
		    echo "$$t: $$# inputs replayed" || \
		    { cat build/fuzz/$$t-regress.log; fail=1; }; \
	done; exit $$fail

# ---- sanitizers ----
# build/asan/ holds the daemon and the unit tests built with
# AddressSanitizer (leak checks included) and UndefinedBehaviorSanitizer;
# make check runs every test against them too. FORTIFY_SOURCE is left out
# because it hides some accesses from ASan's interceptors.
ASAN_CC ?= $(if $(shell command -v clang),clang,$(CC))
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
ASAN_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter \
	$(ASAN_FLAGS)
ASAN_OBJS := $(patsubst src/%.c,build/asan/%.o,$(SRCS))
ASAN_UNIT_BINS := $(addprefix build/asan/,$(UNIT_TESTS))

asan: build/asan/sipsgate $(ASAN_UNIT_BINS)

build/asan/sipsgate: $(ASAN_OBJS)
	$(ASAN_CC) $(ASAN_FLAGS) -o $@ $(ASAN_OBJS) $(LDLIBS)

build/asan/%.o: src/%.c $(HDRS) | build/asan
	$(ASAN_CC) $(CPPFLAGS) $(ASAN_CFLAGS) -c -o $@ $<

$(ASAN_UNIT_BINS): $(HDRS) | build/asan
	$(ASAN_CC) $(CPPFLAGS) -Isrc $(ASAN_CFLAGS) -o $@ $(filter %.c,$^) \
	    $(UNIT_LIBS)

build/asan:
	mkdir -p build/asan

deps-build:
	@sh tests/install-deps.sh build
deps-demo:
	@sh tests/install-deps.sh demo
deps-check:
	@sh tests/install-deps.sh check
deps-bench:
	@sh tests/install-deps.sh bench

# Installs what is missing, builds, and runs every test twice: once
# against the normal build, once against the sanitizer build. Ends with
# "N passed, N failed" summed over both.
check: deps-check
	$(MAKE) all $(UNIT_BINS) asan
	$(MAKE) fuzz-regress
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

# ---- install ----
# GNU-style directories, each overridable. The configuration goes to
# /etc when PREFIX is /usr (a distribution package), else under PREFIX.
PREFIX ?= /usr/local
sbindir ?= $(PREFIX)/sbin
mandir ?= $(PREFIX)/share/man
sysconfdir ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
systemdunitdir ?= $(PREFIX)/lib/systemd/system
sysusersdir ?= $(PREFIX)/lib/sysusers.d
INSTALL ?= install

# The unit, the sample config and the man pages name /usr/sbin and
# /etc/sipsgate; the installed copies name the real directories.
SUBST_PATHS = sed -e 's|/usr/sbin/sipsgate|$(sbindir)/sipsgate|g' \
	-e 's|/etc/sipsgate|$(sysconfdir)/sipsgate|g'
CONF_DEST = $(DESTDIR)$(sysconfdir)/sipsgate/sipsgate.ini

install: sipsgate
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(sysconfdir)/sipsgate \
	    $(DESTDIR)$(systemdunitdir) $(DESTDIR)$(sysusersdir) \
	    $(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8
	$(INSTALL) -m 0755 sipsgate $(DESTDIR)$(sbindir)/sipsgate
	$(SUBST_PATHS) systemd/sipsgate.service >$(DESTDIR)$(systemdunitdir)/sipsgate.service
	chmod 0644 $(DESTDIR)$(systemdunitdir)/sipsgate.service
	$(INSTALL) -m 0644 systemd/sipsgate.sysusers $(DESTDIR)$(sysusersdir)/sipsgate.conf
	$(SUBST_PATHS) docs/sipsgate.8 >$(DESTDIR)$(mandir)/man8/sipsgate.8
	$(SUBST_PATHS) docs/sipsgate.ini.5 >$(DESTDIR)$(mandir)/man5/sipsgate.ini.5
	chmod 0644 $(DESTDIR)$(mandir)/man8/sipsgate.8 $(DESTDIR)$(mandir)/man5/sipsgate.ini.5
	@if [ -e $(CONF_DEST) ]; then \
		echo "keeping the existing $(CONF_DEST)"; \
	else \
		echo "$(SUBST_PATHS) conf/sipsgate.ini >$(CONF_DEST)"; \
		$(SUBST_PATHS) conf/sipsgate.ini >$(CONF_DEST).tmp && \
		chmod 0644 $(CONF_DEST).tmp && mv $(CONF_DEST).tmp $(CONF_DEST); \
	fi

# Removes what install put in place. A config that differs from the
# shipped one has been edited and stays.
uninstall:
	rm -f $(DESTDIR)$(sbindir)/sipsgate \
	    $(DESTDIR)$(systemdunitdir)/sipsgate.service \
	    $(DESTDIR)$(sysusersdir)/sipsgate.conf \
	    $(DESTDIR)$(mandir)/man8/sipsgate.8 \
	    $(DESTDIR)$(mandir)/man5/sipsgate.ini.5
	@if [ -e $(CONF_DEST) ]; then \
		if $(SUBST_PATHS) conf/sipsgate.ini | cmp -s - $(CONF_DEST); then \
			echo "rm -f $(CONF_DEST)"; rm -f $(CONF_DEST); \
			rmdir $(DESTDIR)$(sysconfdir)/sipsgate 2>/dev/null || true; \
		else \
			echo "keeping $(CONF_DEST): it differs from the shipped one"; \
		fi; \
	fi

.PHONY: install uninstall

.PHONY: all unit asan clean check demo deps-build deps-demo deps-check bench deps-bench fuzz fuzz-regress
