# dealmail — build, test, install.  See README.md.
PREFIX   ?= /usr/local
CC       ?= cc
PKGS      = sqlite3 libpcre2-8 nettle inih
# libcurl, libxml2 and libssl: headers only; smtp.c, message.c and imap.c load
# the libraries when they first need them (see there; dlopen is in glibc's libc)
PKG_CFLAGS := $(shell pkg-config --cflags libetpan libcurl libxml-2.0 libssl $(PKGS) 2>/dev/null)
# libetpan is linked from its static archive: only its MIME and IMAP parts come
# in (TLS is ours, with OpenSSL), so that the pipe does not load GnuTLS and
# the libraries behind it; of libetpan's dependencies those parts need SASL
# (mailimap_authenticate) and liblockfile.  Startup time is most of `ingest`
# on the MTA pipe.
ETPAN_LIBS := -Wl,-Bstatic -letpan -Wl,-Bdynamic -lsasl2 -llockfile
# SQLite, PCRE2, Nettle, libunistring and inih are linked from their static
# archives too: resolving their symbols at every start was a tenth of the
# MTA pipe's time (one process per message).  The cost: a security update
# of one of them reaches dealmail only when it is rebuilt (`make install`
# again).  STATIC_DEPS=0 links them as shared libraries.
STATIC_DEPS ?= 1
ifeq ($(STATIC_DEPS),1)
DEP_LIBS   := -Wl,-Bstatic $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lunistring -Wl,-Bdynamic
else
DEP_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lunistring
endif
PKG_LIBS   := $(ETPAN_LIBS) $(DEP_LIBS)
# The batch's allocator: `ingest --maildir/--mbox` runs itself again with
# mimalloc (Debian's libmimalloc2.0) preloaded and set for a batch (main.c,
# batch_memory()): glibc's malloc and free were a tenth of the batch's
# instructions and its 5,300 page faults most of the rest.  Every other
# command keeps glibc's malloc: mimalloc's start-up would cost the pipe ~1 ms
# a message.  The library's path is found here; MALLOC=glibc (the sanitizer
# builds) leaves it out.
MALLOC ?= mimalloc
ifeq ($(MALLOC),mimalloc)
MIMALLOC_SO := $(abspath $(shell $(CC) -print-file-name=libmimalloc.so.2))
ifneq ($(wildcard $(MIMALLOC_SO)),)
MALLOC_CFLAGS := -DDEALMAIL_MIMALLOC='"$(MIMALLOC_SO)"'
endif
endif
CFLAGS   ?= -O2 -g
# the project's own flags stay even when CFLAGS is given on the command line
DM_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude $(PKG_CFLAGS) $(MALLOC_CFLAGS) \
            -DDEALMAIL_DATADIR='"$(PREFIX)/share/dealmail"' -DDEALMAIL_SRCDIR='"$(CURDIR)"'
LDLIBS   += $(PKG_LIBS) -lm
BUILD    ?= build

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check unit corpus integration asan tsan valgrind deps install demo bench fuzz clean

all: dealmail dealmail-pipe

dealmail: $(BUILD)/dealmail
	cp $< $@

dealmail-pipe: $(BUILD)/dealmail-pipe
	cp $< $@

# The MTA pipe's fast client (handoff.h): handoff.c, sha256.c and its main
# only.  On x86-64 it runs on src/pipe/rt.c instead of libc (a static glibc
# program takes ~0.7 ms more to start, see there), built freestanding: no
# stack protector (there is no thread pointer for its canary) and no
# fortified calls.  Elsewhere, and in the sanitizer builds (PIPE_RT=0), it is
# linked with glibc: statically (no dynamic loader: ~1 ms of a piped message)
# except where PIPE_STATIC is emptied.
PIPE_RT     ?= $(if $(filter x86_64,$(shell uname -m)),1,0)
PIPE_STATIC ?= -static-pie
PIPE_SRC     = src/pipe/dealmail-pipe.c src/handoff.c src/sha256.c
RT_CFLAGS    = -fPIE -fno-stack-protector -fno-sanitize=all -U_FORTIFY_SOURCE
ifeq ($(PIPE_RT),1)
$(BUILD)/dealmail-pipe: $(PIPE_SRC) src/pipe/rt.c include/handoff.h include/sha256.h | $(BUILD)
	$(CC) $(CFLAGS) $(DM_CFLAGS) $(RT_CFLAGS) -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns \
	  -c -o $(BUILD)/pipe-rt.o src/pipe/rt.c
	$(CC) $(CFLAGS) $(DM_CFLAGS) $(RT_CFLAGS) -static-pie -nostdlib -o $@ $(PIPE_SRC) $(BUILD)/pipe-rt.o -lgcc
else
$(BUILD)/dealmail-pipe: $(PIPE_SRC) include/handoff.h include/sha256.h | $(BUILD)
	$(CC) $(CFLAGS) $(DM_CFLAGS) $(LDFLAGS) $(PIPE_STATIC) -o $@ $(PIPE_SRC)
endif

$(BUILD)/dealmail: $(BUILD)/main.o $(BUILD)/libdealmail.a
	$(CC) $(CFLAGS) $(DM_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libdealmail.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: src/%.c $(wildcard include/*.h) | $(BUILD)
	$(CC) $(CFLAGS) $(DM_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libdealmail.a | $(BUILD)/tests
	$(CC) $(CFLAGS) $(DM_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libdealmail.a $(LDLIBS) -lcmocka

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $(TEST_WRAP) $$t; done

corpus: $(BUILD)/dealmail
	DEALMAIL_BIN=$(abspath $(BUILD)/dealmail) WRAP="$(TEST_WRAP)" CORPUS_JOBS="$(CORPUS_JOBS)" tests/corpus/run.sh

integration: $(BUILD)/dealmail $(BUILD)/dealmail-pipe
	DEALMAIL_BIN=$(abspath $(BUILD)/dealmail) WRAP="$(TEST_WRAP)" tests/integration/run.sh

check: all unit corpus integration
	@echo "make check: all tests passed"

# The whole suite under AddressSanitizer + UBSan (leaks included).  Tests that
# measure time or memory relax those bounds under DEALMAIL_SANITIZED=1; their
# correctness checks stay.
asan:
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	DEALMAIL_SANITIZED=1 \
	$(MAKE) BUILD=build-asan MALLOC=glibc PIPE_STATIC= PIPE_RT=0 CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" unit corpus integration

# The batch's threads under ThreadSanitizer (tests/tsan/run.sh): any report,
# or a wrong result, fails it.
tsan:
	$(MAKE) BUILD=build-tsan MALLOC=glibc PIPE_STATIC= PIPE_RT=0 CFLAGS="-O1 -g -fsanitize=thread" LDFLAGS="-fsanitize=thread" build-tsan/dealmail
	DEALMAIL_BIN=$(abspath build-tsan/dealmail) tests/tsan/run.sh

# Every test binary and every dealmail call of the corpus under memcheck (any
# error or definite leak fails the call with exit 99); the corpus runs
# CORPUS_JOBS cases at once, by default one per CPU.
valgrind: CORPUS_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
valgrind: all
	$(MAKE) CORPUS_JOBS=$(CORPUS_JOBS) TEST_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" unit corpus

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get)"; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	  build-essential pkg-config libetpan-dev libsqlite3-dev libpcre2-dev libssl-dev nettle-dev libmimalloc2.0 \
	  libinih-dev libxml2-dev libunistring-dev libcmocka-dev sqlite3 \
	  dovecot-imapd python3 python3-aiosmtpd openssl curl valgrind ca-certificates \
	  clang time tzdata chromium

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/dealmail/templates
	install -m 755 dealmail $(DESTDIR)$(PREFIX)/bin/dealmail
	install -m 755 dealmail-pipe $(DESTDIR)$(PREFIX)/bin/dealmail-pipe
	cp -R templates/. $(DESTDIR)$(PREFIX)/share/dealmail/templates/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	-install -m 644 contrib/dealmail.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	-install -m 644 contrib/dealmail.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/

demo: all
	contrib/demo/run.sh

bench: all
	bench/run.sh

FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_PARALLEL="$(FUZZ_PARALLEL)" FUZZ_JOBS="$(FUZZ_JOBS)" tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-tsan dealmail dealmail-pipe
