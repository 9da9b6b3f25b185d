/*
 * sg.h - private declarations of the sure guest library OS (libsg).
 * Function authors see only sure.h; everything here is shared between the
 * library's own files.
 */
#ifndef SG_H
#define SG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sure.h"
#include "sure_abi.h"

/* The control page lives at a fixed address (identity mapped guest). */
static inline struct sure_ctrl *sg_ctrl(void)
{
	return (struct sure_ctrl *)(uintptr_t)SURE_CTRL_GPA;
}

/*
 * Acquire loads and release stores for fields shared with the host: the
 * host runs on another CPU and reads/writes them concurrently.
 */
#define sg_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define sg_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define sg_fence() __atomic_thread_fence(__ATOMIC_SEQ_CST)

static inline uint64_t sg_rdtsc(void)
{
	uint32_t lo, hi;

	/* CR4.TSD is clear, so rdtsc works at CPL3 without an exit. */
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void sg_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/*
 * Rings a doorbell: a store to the unbacked doorbell page is an MMIO exit
 * that the VMM decodes by offset. One 64-bit store, so the VMM sees the
 * whole value in a single exit.
 */
static inline void sg_doorbell(uint64_t offset, uint64_t value)
{
	volatile uint64_t *bell = (volatile uint64_t *)(uintptr_t)(SURE_DOORBELL_GPA + offset);

	*bell = value;
}

/*
 * Calls the gate (sure_gate_abi.h): the node's code, not this image's, for
 * everything that touches the library OS's protected state.
 */
static inline uint64_t sg_gate(uint64_t op, uint64_t a, uint64_t b)
{
	uint64_t (*gate)(uint64_t, uint64_t, uint64_t) =
		(uint64_t(*)(uint64_t, uint64_t, uint64_t))(uintptr_t)SURE_GATE_GPA;

	return gate(op, a, b);
}

static inline const struct sure_gstate *sg_gstate(void)
{
	return (const struct sure_gstate *)(uintptr_t)SURE_GSTATE_GPA;
}

/* The ABI note of this image (note.c); the guest checks the host against it. */
struct sg_note {
	uint32_t namesz;
	uint32_t descsz;
	uint32_t type;
	char name[8]; /* "sure" + NUL, padded to 4 bytes */
	uint32_t abi_version;
};
extern const struct sg_note sg_abi_note;

/* A formatting target: bytes past cap are counted but not stored. */
struct sg_sink {
	char *buf;
	size_t cap;
	size_t len;
};
/* printf-style formatting into a sink; no NUL is added. */
void sg_vformat(struct sg_sink *s, const char *fmt, va_list ap);

/* printf's flags, shared with the floating-point conversions. */
enum { SG_F_LEFT = 1, SG_F_ZERO = 2, SG_F_PLUS = 4, SG_F_SPACE = 8, SG_F_ALT = 16 };
struct sg_fpspec {
	int flags;
	int width; /* 0: none */
	int prec; /* -1: none */
	int long_double; /* the L length: the argument is a long double */
};
/* %f %F %e %E %g %G %a %A: takes the double from ap and writes it exactly
 * rounded (ties to even, as glibc). In fp/fmtfp.c, the one part of the
 * printf engine built with SSE (a double argument arrives in an XMM
 * register). */
void sg_format_fp(struct sg_sink *s, const struct sg_fpspec *sp, char conv, va_list *ap);

/* Heap over [start, end); called once before any malloc. */
void sg_heap_init(uint64_t start, uint64_t end);

/* Empties a response head block (http.c). */
void sg_resp_head_reset(void *blk);

/* Runs requests forever (loop.c). */
__attribute__((noreturn)) void sg_serve(void);

/* Appends one complete line (text without '\n') to the log ring. */
void sg_log_line(const char *text, size_t n);

#endif
