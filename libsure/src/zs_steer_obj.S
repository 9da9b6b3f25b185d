/*
 * zs_steer_obj.S - the Z-stack's XDP program (bpf/zs_steer.bpf.c, built by
 * zstack.mk) as bytes in libsure.so, so that zs_port.c loads it from memory
 * and nothing is looked up on disk at run time. ZS_STEER_OBJ is the built
 * object's path, given by zstack.mk.
 */
#ifndef ZS_STEER_OBJ
#error "ZS_STEER_OBJ (the BPF object's path) comes from zstack.mk"
#endif

	.section .rodata.zs_steer_obj, "a"
	/* libelf reads the ELF headers in place: keep them aligned. */
	.balign 16
	.globl zs_steer_obj
	.hidden zs_steer_obj
zs_steer_obj:
	.incbin ZS_STEER_OBJ
	.globl zs_steer_obj_end
	.hidden zs_steer_obj_end
zs_steer_obj_end:

	.section .note.GNU-stack, "", @progbits
