# zstack.mk - build rules of the Z-stack's AF_XDP port (src/zs_port.c),
# included by Makefile:
#   - its XDP program, bpf/zs_steer.bpf.c, built with clang -target bpf;
#   - the object embedded into every host build (libsure.so, the C tests, the
#     fuzz targets) by src/zs_steer_obj.S (.incbin), so that nothing has to
#     be found on disk at run time;
#   - libbpf (HOST_LIBS) on every link line that takes the host objects.
# Needs clang and libbpf-dev (scripts/setup.sh installs them).

BPF_CC ?= clang
# -g: libbpf reads the maps' BTF (the .BTF section -g makes). The multiarch
# include dir holds <asm/types.h>, which clang does not search for -target bpf.
BPF_CFLAGS := -O2 -g -target bpf -Wall -Wextra -Werror -Isrc \
	-I/usr/include/$(shell $(CC) -print-multiarch 2>/dev/null)
ZS_BPF_OBJ := $(BUILD)/bpf/zs_steer.bpf.o
HOST_LIBS += -lbpf

$(ZS_BPF_OBJ): bpf/zs_steer.bpf.c src/zs_steer.h zstack.mk
	@mkdir -p $(dir $@)
	$(BPF_CC) $(BPF_CFLAGS) -c $< -o $@

# The embedding object, host and fuzz builds alike (both pattern rules pass
# CFLAGS_HOST's -D flags): it depends on the BPF object and is told its path.
ZS_EMBED_OBJ := $(BUILD)/host/zs_steer_obj.S.o $(BUILD)/fuzz/host/zs_steer_obj.S.o
$(ZS_EMBED_OBJ): $(ZS_BPF_OBJ)
$(ZS_EMBED_OBJ): CFLAGS_HOST += -DZS_STEER_OBJ='"$(abspath $(ZS_BPF_OBJ))"'

$(BUILD)/libsure.so: zstack.mk
