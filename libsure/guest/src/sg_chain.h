/* sg_chain.h - chain mode of the guest library (chain.c), for the SDK and main.c. */
#ifndef SG_CHAIN_H
#define SG_CHAIN_H

#include "sure.h"

/* 1 when this instance is a step of a chain. */
extern int sg_chain_mode;
/* Reads and checks the chain table if the host gave one: 0, or -1 if unusable. */
int sg_chain_init(void);
/* Serves descriptors forever. */
__attribute__((noreturn)) void sg_serve_chain(void);
/* sure_next and sure_step_name in chain mode. */
int sg_chain_next(sure_req *req, const char *name);
const char *sg_chain_step_name(void);

#endif
