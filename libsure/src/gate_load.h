/*
 * gate_load.h - puts the gates (sure_gate_abi.h, libsure/gate/) into a guest:
 * their code copied from libsure, their state page written, and their pages
 * mapped with the protection keys that fence them off from the function.
 */
#ifndef SURE_GATE_LOAD_H
#define SURE_GATE_LOAD_H

#include <stdint.h>

#include "paging.h"

/* The gate's code as libsure carries it (for checks of its bytes). */
const uint8_t *sure_gate_code(uint64_t *len);
/* Copies the code and writes the state page: pku says whether the vCPU will
 * have CR4.PKE; the function's own memory is [SURE_IMAGE_BASE, mem_bytes). */
void sure_gate_install(uint8_t *ram, uint64_t mem_bytes, int pku);
/* The guest's TSC rate, for the sidecar's rate limit (0: unknown). */
void sure_gate_set_tsc_hz(uint8_t *ram, uint64_t hz);
/* This VM is step `step` of a chain (the gate reads it, not the control page). */
void sure_gate_set_chain(uint8_t *ram, uint32_t step);
/* Maps the gate's pages and the sidecar page, each with its key. */
int sure_gate_map(struct sure_pt *pt);

#endif
