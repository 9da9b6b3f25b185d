/*
 * sure_gate_abi.h - the gates: the only code in a guest that may touch the
 * library OS's protected state, and where the CPU has protection keys (PKU)
 * the only code that runs with those keys open.
 *
 * A function image is whatever its author linked, libsg included, so nothing
 * in it can be trusted to guard anything. The gate code therefore does not
 * come from the image: the VMM builds it (libsure/gate/), copies it into every
 * guest at SURE_GATE_GPA and maps it read-only; an image with a WRPKRU, XRSTOR
 * or XRSTORS anywhere in its executable bytes is refused at deploy
 * (image_scan.c), so these pages are the only place a key can be opened.
 *
 *   0x010000  gate code (SURE_GATE_PAGES)     user R X, key 0
 *   0x014000  gate state (struct sure_gstate) user RW NX, key GSTATE:
 *                                             readable by the function, never writable
 *   0x015000  gate private data               user RW NX, key PRIV
 *   0x018000  guard                           unmapped
 *   0x019000  gate stack                      user RW NX, key PRIV
 *   0x01d000  (free)
 *   SURE_SIDECAR_GPA  sidecar page            user RW NX, key SIDECAR
 *
 * One entry, SURE_GATE_GPA: uint64_t gate(op, a, b), the SysV calling
 * convention, at most two arguments after op. Inside, the gate writes
 * SURE_PKRU_GATE and checks that it took (whoever jumps to that WRPKRU with
 * another value stops at the check), moves to its own stack, runs op, writes
 * the function's value back from the gate state page and checks it again
 * (a jump to the second WRPKRU with keys still open stops there too), then
 * returns on the caller's stack. A bad check is UD2: the instance dies.
 */
#ifndef SURE_GATE_ABI_H
#define SURE_GATE_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif
#include "sure_chain_abi.h"

#define SURE_GATE_GPA 0x10000ull
#define SURE_GATE_PAGES 4u
#define SURE_GSTATE_GPA 0x14000ull
#define SURE_GPRIV_GPA 0x15000ull
#define SURE_GPRIV_PAGES 3u
#define SURE_GSTACK_GPA 0x19000ull
#define SURE_GSTACK_TOP 0x1d000ull

/* Protection keys (page-table bits 62:59). 0 is the function's own memory. */
#define SURE_PKEY_PRIV 1u	/* the gate's private data and stack */
#define SURE_PKEY_GSTATE 2u	/* the gate state page: the function may read it */
#define SURE_PKEY_SIDECAR 3u	/* the sidecar page */
#define SURE_PKEY_CHAIN 4u	/* a chain's table, pool header, node pages and rings */
/* Keys 5..15: one request each of a chain with request-level isolation. */
#define SURE_PKEY_COLOUR0 5u
#define SURE_CHAIN_COLOURS 11u
/* The PKRU bits of every colour: the only ones a gate may leave open. */
#define SURE_PKRU_COLOURS 0xfffffc00u
#define SURE_PKEY_NKEYS 16u

/* PKRU: two bits per key, AD (access disable) at 2k, WD (write disable) at 2k+1. */
#define SURE_PKRU_AD(k) (1u << (2 * (k)))
#define SURE_PKRU_WD(k) (2u << (2 * (k)))
/* Every key from 5 up (the request colours) is closed unless a gate opens one. */
#define SURE_PKRU_REST 0xfffffc00u
/* While a function runs: its own memory only; the gate state readable. */
#define SURE_PKRU_FUNC                                                                          \
	(SURE_PKRU_REST | SURE_PKRU_AD(SURE_PKEY_PRIV) | SURE_PKRU_WD(SURE_PKEY_PRIV) |        \
	 SURE_PKRU_WD(SURE_PKEY_GSTATE) | SURE_PKRU_AD(SURE_PKEY_SIDECAR) |                     \
	 SURE_PKRU_WD(SURE_PKEY_SIDECAR) | SURE_PKRU_AD(SURE_PKEY_CHAIN) |                      \
	 SURE_PKRU_WD(SURE_PKEY_CHAIN))
/* Inside a gate: the library OS's keys open. */
#define SURE_PKRU_GATE SURE_PKRU_REST

/* Gate operations (the op argument). */
#define SURE_GATE_ADMIT 1	   /* a = start tsc, b = queued: enum sure_reason */
#define SURE_GATE_DONE 2	   /* a = handler ticks, b = status */
#define SURE_GATE_RECORD 3	   /* a = handler ticks, b = status | reason << 16 */
#define SURE_GATE_POLICY_DENIED 4 /* a hand-off the routes forbid */
#define SURE_GATE_TRACE_ENTER 5   /* a = struct sure_trace * in the function's memory */
#define SURE_GATE_TRACE_PASS 6	   /* a = struct sure_trace * to receive the next parent */
/* A chain step's ring work (gate_chain.c): the function never sees a ring. */
#define SURE_GATE_CHAIN_INIT 7	/* checks the chain's table: 0, or SURE_GATE_EINVAL */
#define SURE_GATE_CHAIN_TAKE 8	/* a = struct sure_gate_take *: 1 a request to handle, 2 one
				 * dealt with here (bad, stale, refused), 0 none */
#define SURE_GATE_CHAIN_GIVE 9	/* a = struct sure_gate_give *: hands the held request on */
#define SURE_GATE_CHAIN_NEXT 10 /* a = step name: its node if the routes allow it, -1 no such
				 * step, -2 the routes forbid it (counted) */
#define SURE_GATE_CHAIN_SLEEP 11 /* a = 1: mark asleep, 1 if work came meanwhile; a = 0: awake */
#define SURE_GATE_NOPS 12

/* A gate's answer when op or its arguments are refused. */
#define SURE_GATE_EINVAL ((uint64_t)-22)

#ifndef __ASSEMBLER__

/* The gate state page. The VMM writes it before the guest runs; afterwards
 * only gates write it, and the function may read it. */
struct sure_gstate {
	uint32_t magic;
	uint32_t pku; /* 1: the vCPU has CR4.PKE and the gates switch keys */
	uint32_t exit_pkru; /* what a gate leaves PKRU at (SURE_PKRU_FUNC) */
	uint32_t pad;
	uint64_t tsc_hz;
	/* Where the function's own memory is: a pointer a gate is given must lie
	 * in [user_lo, user_hi), so that no gate writes protected pages for it. */
	uint64_t user_lo, user_hi;
	char traceparent[56]; /* "00-" 32 hex "-" 16 hex "-" 2 hex, or "" */
	char span_hex[17];    /* this hop's span id, or "" */
	char step_name[SURE_STEP_NAME]; /* a chain step's function, once CHAIN_INIT took */
	uint32_t chain;	       /* 1: this VM is step chain_step of a chain (the VMM's word) */
	uint32_t chain_step;
};

/* A request the gate hands a chain step's handler (addresses in its pool). */
struct sure_gate_take {
	uint64_t body, out, head, resp_head;
	uint64_t len, out_cap;
	uint32_t status; /* so far */
	uint32_t pad;
};

/* What the handler made of it. */
struct sure_gate_give {
	uint64_t len;	  /* in place: the body's new length */
	uint64_t out_len; /* else: bytes written to out */
	uint64_t handler_ticks;
	int32_t rc;	  /* handle()'s return */
	uint32_t status;
	uint32_t inplace; /* 1: the answer is the body, changed in place */
	int32_t next;	  /* a node from SURE_GATE_CHAIN_NEXT, SURE_NODE_GW, or -1: the default */
};

#define SURE_GSTATE_MAGIC 0x65746167u /* "gate" */

#endif
#endif
