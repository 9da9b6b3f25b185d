/* sg_sidecar.h - the library sidecar (sidecar.c), used by both request loops. */
#ifndef SG_SIDECAR_H
#define SG_SIDECAR_H

#include <stdint.h>

#include "sure_abi.h"

/* SURE_REASON_HANDLER (0) to run the handler, else why not (enum sure_reason).
 * start_tsc: when the node took the request; queued: requests waiting behind it. */
uint32_t sg_sidecar_admit(uint64_t start_tsc, uint64_t queued);
/* The HTTP status of a refusal. */
int sg_sidecar_status(uint32_t reason);
/* Accounts an admitted request once its handler returned. */
void sg_sidecar_done(uint64_t handler_ticks, int status);
/* Keeps the request's record (admitted or refused) in the page's ring. */
void sg_sidecar_record(uint64_t handler_ticks, int status, uint32_t reason);
/* A hand-off the chain's routes forbid was refused. */
void sg_sidecar_policy_denied(void);
/* This hop's trace context: formats the traceparent the function sees and
 * picks this hop's span id; pass writes that span as the next hop's parent. */
void sg_trace_enter(const struct sure_trace *in);
void sg_trace_pass(struct sure_trace *out);

#endif
