/*
 * gate.h - what the gate's own files share (libsure/gate/). The gate is built
 * apart from everything else: freestanding, linked at SURE_GATE_GPA by
 * gate.ld, its data in the protected pages, copied into every guest by the
 * VMM (src/gate_load.c). It includes only the ABI headers.
 */
#ifndef SURE_GATE_H
#define SURE_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "sure_abi.h"
#include "sure_gate_abi.h"

static inline struct sure_gstate *gate_state(void)
{
	return (struct sure_gstate *)(uintptr_t)SURE_GSTATE_GPA;
}

static inline struct sure_sidecar *gate_sidecar(void)
{
	return (struct sure_sidecar *)(uintptr_t)SURE_SIDECAR_GPA;
}

static inline struct sure_ctrl *gate_ctrl(void)
{
	return (struct sure_ctrl *)(uintptr_t)SURE_CTRL_GPA;
}

static inline uint64_t gate_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* gate_mem.c: a byte copy, and the check of every pointer from the function. */
void gate_copy(void *dst, const void *src, size_t n);

/*
 * 1 if [p, p + n) is memory the function may hand a gate: the control page
 * or its own RAM above the image base (gstate.user_lo/hi, which only the VMM
 * writes). A gate reads or writes the function's memory only through pointers
 * that pass this, so it is never tricked into touching a protected page.
 */
int gate_user_ok(uint64_t p, uint64_t n);

/* The sidecar's operations (gate_sidecar.c). */
uint64_t gate_admit(uint64_t start_tsc, uint64_t queued);
void gate_done(uint64_t handler_ticks, uint32_t status);
void gate_record(uint64_t handler_ticks, uint32_t status, uint32_t reason);
void gate_policy_denied(void);
/* A chain step's rings (gate_chain.c). */
uint64_t gate_chain_init(void);
uint64_t gate_chain_take(uint64_t out);
uint64_t gate_chain_give(uint64_t in);
uint64_t gate_chain_next(uint64_t name);
uint64_t gate_chain_sleep(uint64_t asleep);
/* The trace context (gate_trace.c). */
uint64_t gate_trace_enter(uint64_t in);
uint64_t gate_trace_pass(uint64_t out);
/* The same from the gate's own copy, and this hop's span as the next parent. */
void gate_trace_set(const struct sure_trace *in);
void gate_trace_parent(uint8_t parent_id[8]);
/* For records: the request's trace id and this hop's span. */
void gate_trace_ids(uint8_t trace_id[16], uint8_t span_id[8]);

#endif
