# The gate (gate/, sure_gate_abi.h): trusted guest code that the VMM, not the
# function's image, provides. Built freestanding like libsg, linked at its
# fixed address by gate/gate.ld, cut to a flat binary of code and constants,
# and embedded in libsure.so (and the fuzz builds) by src/gate_blob.S.

CFLAGS_GATE := $(filter-out -Iguest/%,$(CFLAGS_GUEST)) -Igate
GATE_SRC := $(wildcard gate/*.c) $(wildcard gate/*.S)
GATE_OBJ := $(patsubst gate/%,$(BUILD)/gate/%.o,$(GATE_SRC))
GATE_ELF := $(BUILD)/gate/gate.elf
GATE_BIN := $(BUILD)/gate/gate.bin

$(BUILD)/gate/%.c.o: gate/%.c $(HEADERS) $(wildcard gate/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_GATE) -c $< -o $@
$(BUILD)/gate/%.S.o: gate/%.S $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_GATE) -c $< -o $@
$(GATE_ELF): $(GATE_OBJ) gate/gate.ld
	$(CC) -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-T,gate/gate.ld -o $@ $(GATE_OBJ)
$(GATE_BIN): $(GATE_ELF)
	objcopy -O binary -j .text -j .rodata $< $@

GATE_EMBED_OBJ := $(BUILD)/host/gate_blob.S.o $(BUILD)/fuzz/host/gate_blob.S.o
$(GATE_EMBED_OBJ): $(GATE_BIN)
$(GATE_EMBED_OBJ): CFLAGS_HOST += -DSURE_GATE_BIN='"$(abspath $(GATE_BIN))"'
