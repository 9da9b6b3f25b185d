/*
 * paging.h - the guest's 4-level page tables, built by the host in guest RAM
 * at [SURE_PT_GPA, SURE_PT_END). Identity mapping (GVA == GPA) with
 * per-page permissions; whatever is not mapped faults (#PF), which is how
 * the null page and the stack guard page work.
 */
#ifndef SURE_PAGING_H
#define SURE_PAGING_H

#include <stddef.h>
#include <stdint.h>

#define SURE_PTE_P (1ull << 0)
#define SURE_PTE_RW (1ull << 1)
#define SURE_PTE_US (1ull << 2)
#define SURE_PTE_A (1ull << 5)
#define SURE_PTE_D (1ull << 6)
#define SURE_PTE_NX (1ull << 63)

/* Permission shorthands for sure_pt_map. */
#define SURE_MAP_USER SURE_PTE_US
#define SURE_MAP_WRITE SURE_PTE_RW
#define SURE_MAP_EXEC 1ull /* no NX; reuses the P bit position, which is always set */
/* The page's protection key (bits 62:59; ignored by a CPU without CR4.PKE). */
#define SURE_PTE_PKEY_SHIFT 59
#define SURE_PTE_PKEY_MASK (15ull << SURE_PTE_PKEY_SHIFT)
#define SURE_MAP_KEY(k) (((uint64_t)(k) << SURE_PTE_PKEY_SHIFT) & SURE_PTE_PKEY_MASK)

struct sure_pt {
	uint8_t *mem; /* host view of guest RAM */
	uint64_t mem_size;
	uint64_t next; /* next free page-table page (GPA) */
};

/* Starts an empty table (the PML4 at SURE_PT_GPA); the area must be zero. */
int sure_pt_init(struct sure_pt *pt, uint8_t *mem, uint64_t mem_size);
/*
 * Maps [gva, gva + len) to the same GPAs with perms (SURE_MAP_* bits).
 * gva and len must be page aligned; -ENOMEM when the page-table area is full.
 */
int sure_pt_map(struct sure_pt *pt, uint64_t gva, uint64_t len, uint64_t perms);
/* The CR3 value for this table. */
uint64_t sure_pt_root(const struct sure_pt *pt);

#endif
