/* paging.c - see paging.h. */
#include "paging.h"

#include <errno.h>
#include <string.h>

#include "sure_abi.h"

#define ADDR_MASK 0x000ffffffffff000ull
/* Intermediate levels allow everything; the leaf decides (x86 ANDs levels). */
#define TABLE_FLAGS (SURE_PTE_P | SURE_PTE_RW | SURE_PTE_US)

int sure_pt_init(struct sure_pt *pt, uint8_t *mem, uint64_t mem_size)
{
	if (mem_size < SURE_PT_END)
		return -EINVAL;
	pt->mem = mem;
	pt->mem_size = mem_size;
	pt->next = SURE_PT_GPA + SURE_PAGE_SIZE; /* the PML4 is the first page */
	memset(mem + SURE_PT_GPA, 0, SURE_PAGE_SIZE);
	return 0;
}

uint64_t sure_pt_root(const struct sure_pt *pt)
{
	(void)pt;
	return SURE_PT_GPA;
}

static uint64_t *table(struct sure_pt *pt, uint64_t gpa)
{
	return (uint64_t *)(pt->mem + gpa);
}

/* Returns the next-level table of entry e, allocating it if absent. */
static int descend(struct sure_pt *pt, uint64_t *e, uint64_t *next_gpa)
{
	if (!(*e & SURE_PTE_P)) {
		if (pt->next + SURE_PAGE_SIZE > SURE_PT_END)
			return -ENOMEM;
		memset(pt->mem + pt->next, 0, SURE_PAGE_SIZE);
		*e = pt->next | TABLE_FLAGS;
		pt->next += SURE_PAGE_SIZE;
	}
	*next_gpa = *e & ADDR_MASK;
	return 0;
}

int sure_pt_map(struct sure_pt *pt, uint64_t gva, uint64_t len, uint64_t perms)
{
	uint64_t leaf = SURE_PTE_P | SURE_PTE_A | SURE_PTE_D;
	uint64_t end = gva + len;
	int rc;

	if ((gva | len) & (SURE_PAGE_SIZE - 1) || end < gva || end > (1ull << 47))
		return -EINVAL;
	if (perms & SURE_MAP_USER)
		leaf |= SURE_PTE_US;
	if (perms & SURE_MAP_WRITE)
		leaf |= SURE_PTE_RW;
	if (!(perms & SURE_MAP_EXEC))
		leaf |= SURE_PTE_NX;
	leaf |= perms & SURE_PTE_PKEY_MASK;
	while (gva < end) {
		uint64_t t = sure_pt_root(pt);
		for (int shift = 39; shift > 12; shift -= 9) {
			rc = descend(pt, &table(pt, t)[(gva >> shift) & 511], &t);
			if (rc < 0)
				return rc;
		}
		/* Fill the rest of this last-level table in one go. */
		uint64_t *pte = table(pt, t);
		for (unsigned i = (gva >> 12) & 511; i < 512 && gva < end; i++) {
			pte[i] = gva | leaf;
			gva += SURE_PAGE_SIZE;
		}
	}
	return 0;
}
