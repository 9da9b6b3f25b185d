/* gate_load.c - see gate_load.h. */
#include "gate_load.h"

#include <string.h>

#include "sure_abi.h"

extern const uint8_t sure_gate_blob[], sure_gate_blob_end[];

const uint8_t *sure_gate_code(uint64_t *len)
{
	*len = (uint64_t)(sure_gate_blob_end - sure_gate_blob);
	return sure_gate_blob;
}

void sure_gate_install(uint8_t *ram, uint64_t mem_bytes, int pku)
{
	uint64_t len;
	const uint8_t *code = sure_gate_code(&len);
	struct sure_gstate *g = (struct sure_gstate *)(ram + SURE_GSTATE_GPA);

	/* gate.ld keeps the code inside its pages; a build that did not is refused there. */
	memcpy(ram + SURE_GATE_GPA, code, len);
	memset(g, 0, sizeof(*g));
	g->magic = SURE_GSTATE_MAGIC;
	g->pku = pku ? 1 : 0;
	g->exit_pkru = SURE_PKRU_FUNC;
	g->user_lo = SURE_IMAGE_BASE;
	g->user_hi = mem_bytes;
}

void sure_gate_set_tsc_hz(uint8_t *ram, uint64_t hz)
{
	((struct sure_gstate *)(ram + SURE_GSTATE_GPA))->tsc_hz = hz;
}

void sure_gate_set_chain(uint8_t *ram, uint32_t step)
{
	struct sure_gstate *g = (struct sure_gstate *)(ram + SURE_GSTATE_GPA);

	g->chain = 1;
	g->chain_step = step;
}

int sure_gate_map(struct sure_pt *pt)
{
	const uint64_t user_rw = SURE_MAP_USER | SURE_MAP_WRITE;
	int rc = sure_pt_map(pt, SURE_GATE_GPA, SURE_GATE_PAGES * SURE_PAGE_SIZE,
			     SURE_MAP_USER | SURE_MAP_EXEC);

	if (rc == 0)
		rc = sure_pt_map(pt, SURE_GSTATE_GPA, SURE_PAGE_SIZE,
				 user_rw | SURE_MAP_KEY(SURE_PKEY_GSTATE));
	if (rc == 0)
		rc = sure_pt_map(pt, SURE_GPRIV_GPA, SURE_GPRIV_PAGES * SURE_PAGE_SIZE,
				 user_rw | SURE_MAP_KEY(SURE_PKEY_PRIV));
	/* The page below the stack stays unmapped: an overflow faults. */
	if (rc == 0)
		rc = sure_pt_map(pt, SURE_GSTACK_GPA, SURE_GSTACK_TOP - SURE_GSTACK_GPA,
				 user_rw | SURE_MAP_KEY(SURE_PKEY_PRIV));
	if (rc == 0)
		rc = sure_pt_map(pt, SURE_SIDECAR_GPA, SURE_PAGE_SIZE,
				 user_rw | SURE_MAP_KEY(SURE_PKEY_SIDECAR));
	return rc;
}
