/*
 * gate_blob.S - the gate's code (libsure/gate/, built by gate.mk) as bytes in
 * libsure.so; gate_load.c copies them to SURE_GATE_GPA in every guest. They
 * are data here, never run on the host.
 */
#ifndef SURE_GATE_BIN
#error "SURE_GATE_BIN (the built gate's path) comes from gate.mk"
#endif

	.section .rodata.sure_gate, "a"
	.balign 16
	.globl sure_gate_blob
	.hidden sure_gate_blob
sure_gate_blob:
	.incbin SURE_GATE_BIN
	.globl sure_gate_blob_end
	.hidden sure_gate_blob_end
sure_gate_blob_end:

	.section .note.GNU-stack, "", @progbits
