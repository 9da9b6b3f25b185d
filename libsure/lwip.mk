# lwip.mk - lwIP, the Z-stack's TCP/IP stack, built from Debian's source
# package at build time (scripts/lwip_source.sh fetches it; nothing of lwIP
# is in this repo) with libsure's options (lwip/lwipopts.h: NO_SYS, raw API,
# IPv4 + ARP + ICMP + TCP) into $(BUILD)/liblwip.a, linked into libsure.so
# with hidden symbols. Included by Makefile.

LWIP_SRC ?= $(BUILD)/lwip-src
LWIP_FILES := core/init.c core/def.c core/inet_chksum.c core/ip.c core/mem.c core/memp.c \
	core/netif.c core/pbuf.c core/stats.c core/sys.c core/tcp.c core/tcp_in.c core/tcp_out.c \
	core/timeouts.c core/ipv4/etharp.c core/ipv4/icmp.c core/ipv4/ip4.c core/ipv4/ip4_addr.c \
	core/ipv4/ip4_frag.c netif/ethernet.c
LWIP_OBJ := $(patsubst %.c,$(BUILD)/lwip/%.o,$(LWIP_FILES))
LWIP_A := $(BUILD)/liblwip.a
# Our sources see lwIP's headers as system headers: its style is not ours
# to warn about. lwIP's own files build without -Werror for the same reason.
LWIP_INC := -Ilwip -isystem $(LWIP_SRC)/src/include
LWIP_CFLAGS := -O2 -g -std=gnu11 -fPIC -fvisibility=hidden -D_GNU_SOURCE -w $(LWIP_INC)

$(LWIP_SRC)/src/core/tcp.c:
	../scripts/lwip_source.sh $(LWIP_SRC)
# Every lwIP file needs the source tree first (an order-only prerequisite).
$(BUILD)/lwip/%.o: $(LWIP_SRC)/src/%.c lwip/lwipopts.h lwip/arch/cc.h | $(LWIP_SRC)/src/core/tcp.c
	@mkdir -p $(dir $@)
	$(CC) $(LWIP_CFLAGS) -c $< -o $@
# The sources come with tcp.c; make must neither remake nor delete them.
$(LWIP_SRC)/src/%.c: | $(LWIP_SRC)/src/core/tcp.c
	@true
.SECONDARY: $(addprefix $(LWIP_SRC)/src/,$(LWIP_FILES))
$(LWIP_A): $(LWIP_OBJ)
	@rm -f $@
	ar rcs $@ $^

# For the fuzz targets (tests/fuzz_zstack.c feeds frames to the stack), lwIP
# is built again with the fuzzer's coverage and sanitizers, so that libFuzzer
# sees inside it. FUZZ_CC / FUZZ_CFLAGS are the Makefile's. One check is left
# out for lwIP's own code: shift-base. lwIP 2.1.3 builds a received TCP
# timestamp option as `opt_byte << 24` on an int (tcp_in.c, tcp_parseopt), which
# a byte of 0x80 or more shifts into the sign bit. The node's lwIP is built by
# GCC, which documents that it gives signed `<<` its two's-complement result
# and never treats it as undefined (GCC manual, "Integers implementation"), so
# the sum is the intended one; the fuzzer found it (CI, 48cb6a4) and would stop
# at it every time.
LWIP_FUZZ_OBJ := $(patsubst %.c,$(BUILD)/fuzz/lwip/%.o,$(LWIP_FILES))
LWIP_FUZZ_A := $(BUILD)/fuzz/liblwip.a
$(BUILD)/fuzz/lwip/%.o: $(LWIP_SRC)/src/%.c lwip/lwipopts.h lwip/arch/cc.h | $(LWIP_SRC)/src/core/tcp.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -Wall -Wextra,$(FUZZ_CFLAGS)) -w -fsanitize=fuzzer-no-link \
		-fno-sanitize=shift-base $(LWIP_INC) -c $< -o $@
$(LWIP_FUZZ_A): $(LWIP_FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
