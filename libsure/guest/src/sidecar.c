/*
 * sidecar.c - the library sidecar as the request loops see it: every call
 * passes a gate (sure_gate_abi.h), because its state, the sidecar page and
 * the request records must not be the function's to rewrite. The gate code
 * (libsure/gate/gate_sidecar.c, gate_trace.c) comes from the VMM, not from
 * this image. What the function may read of it (its traceparent and span id)
 * is in the gate state page.
 */
#include "sg.h"
#include "sg_sidecar.h"

uint32_t sg_sidecar_admit(uint64_t start_tsc, uint64_t queued)
{
	return (uint32_t)sg_gate(SURE_GATE_ADMIT, start_tsc, queued);
}

int sg_sidecar_status(uint32_t reason)
{
	return reason == SURE_REASON_DEADLINE ? 504 : 429;
}

void sg_sidecar_record(uint64_t handler_ticks, int status, uint32_t reason)
{
	sg_gate(SURE_GATE_RECORD, handler_ticks, (uint64_t)(status & 0xffff) | (uint64_t)reason << 16);
}

void sg_sidecar_done(uint64_t handler_ticks, int status)
{
	sg_gate(SURE_GATE_DONE, handler_ticks, (uint64_t)(uint32_t)status);
}

void sg_sidecar_policy_denied(void)
{
	sg_gate(SURE_GATE_POLICY_DENIED, 0, 0);
}

void sg_trace_enter(const struct sure_trace *in)
{
	sg_gate(SURE_GATE_TRACE_ENTER, (uint64_t)(uintptr_t)in, 0);
}

void sg_trace_pass(struct sure_trace *out)
{
	sg_gate(SURE_GATE_TRACE_PASS, (uint64_t)(uintptr_t)out, 0);
}

const char *sure_traceparent(void)
{
	return sg_gstate()->traceparent;
}

const char *sure_trace_span(void)
{
	return sg_gstate()->span_hex;
}
