/*
 * gate_trace.c - the W3C trace context of the request in hand: its
 * traceparent as the function sees it (in the gate state page, which the
 * function may read) and a fresh span id for this hop, which becomes the
 * next hop's parent. Kept in the gate so that the request records the sidecar
 * writes name the trace and span the node gave, not ones the function chose.
 */
#include "gate.h"

static struct sure_trace current; /* the request's context, for its record */
static uint64_t span_counter;
static uint64_t my_span;

static void hex(char *out, const uint8_t *b, int n)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
}

/* splitmix64: distinct, well-spread span ids from the instance's seed. */
static uint64_t next_span(void)
{
	uint64_t z = gate_ctrl()->instance_seed + ++span_counter * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1;
}

void gate_trace_set(const struct sure_trace *in)
{
	struct sure_gstate *g = gate_state();
	uint8_t any = 0;

	current = *in;
	for (int i = 0; i < 16; i++)
		any |= current.trace_id[i];
	if (!any) {
		g->traceparent[0] = 0;
		g->span_hex[0] = 0;
		my_span = 0;
		return;
	}
	gate_copy(g->traceparent, "00-", 3);
	hex(g->traceparent + 3, current.trace_id, 16);
	g->traceparent[35] = '-';
	hex(g->traceparent + 36, current.parent_id, 8);
	g->traceparent[52] = '-';
	hex(g->traceparent + 53, &current.flags, 1);
	g->traceparent[55] = 0;
	my_span = next_span();
	hex(g->span_hex, (const uint8_t *)&my_span, 8);
	g->span_hex[16] = 0;
}

void gate_trace_parent(uint8_t parent_id[8])
{
	if (my_span)
		gate_copy(parent_id, &my_span, 8);
}

uint64_t gate_trace_enter(uint64_t in)
{
	struct sure_trace t;

	if (!gate_user_ok(in, sizeof(t)))
		return SURE_GATE_EINVAL;
	gate_copy(&t, (const void *)(uintptr_t)in, sizeof(t));
	gate_trace_set(&t);
	return 0;
}

uint64_t gate_trace_pass(uint64_t out)
{
	if (!gate_user_ok(out, sizeof(struct sure_trace)))
		return SURE_GATE_EINVAL;
	gate_trace_parent(((struct sure_trace *)(uintptr_t)out)->parent_id);
	return 0;
}

void gate_trace_ids(uint8_t trace_id[16], uint8_t span_id[8])
{
	gate_copy(trace_id, current.trace_id, 16);
	gate_copy(span_id, &my_span, 8);
}
