/* gate_dispatch.c - runs one gate operation, on the gate's stack with its keys open. */
#include "gate.h"

uint64_t sg_gate_dispatch(uint64_t op, uint64_t a, uint64_t b);

uint64_t sg_gate_dispatch(uint64_t op, uint64_t a, uint64_t b)
{
	switch (op) {
	case SURE_GATE_ADMIT:
		return gate_admit(a, b);
	case SURE_GATE_DONE:
		gate_done(a, (uint32_t)b);
		return 0;
	case SURE_GATE_RECORD:
		gate_record(a, (uint32_t)b & 0xffff, (uint32_t)b >> 16);
		return 0;
	case SURE_GATE_POLICY_DENIED:
		gate_policy_denied();
		return 0;
	case SURE_GATE_TRACE_ENTER:
		return gate_trace_enter(a);
	case SURE_GATE_TRACE_PASS:
		return gate_trace_pass(a);
	case SURE_GATE_CHAIN_INIT:
		return gate_chain_init();
	case SURE_GATE_CHAIN_TAKE:
		return gate_chain_take(a);
	case SURE_GATE_CHAIN_GIVE:
		return gate_chain_give(a);
	case SURE_GATE_CHAIN_NEXT:
		return gate_chain_next(a);
	case SURE_GATE_CHAIN_SLEEP:
		return gate_chain_sleep(a);
	default:
		return SURE_GATE_EINVAL;
	}
}
