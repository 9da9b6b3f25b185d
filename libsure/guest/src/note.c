/*
 * note.c - the ELF note that marks a file as a sure image and says which ABI
 * it speaks. The image checker refuses files without it. main.c reads it,
 * which is what pulls this object out of libsg.a into every image.
 */
#include "sg.h"

/* Section ".note.*": the assembler gives it type SHT_NOTE; sure.ld puts it
 * both in the read-only PT_LOAD and in its own PT_NOTE. */
__attribute__((section(".note.sure"), aligned(4), used)) const struct sg_note sg_abi_note = {
	.namesz = 5, /* "sure" and its NUL */
	.descsz = 4,
	.type = 1,
	.name = "sure",
	.abi_version = SURE_ABI_VERSION,
};
