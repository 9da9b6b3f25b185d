/* layout.c - see layout.h. */
#include "layout.h"

#include <errno.h>
#include <string.h>

#include "cpu.h"
#include "gate_load.h"
#include "paging.h"
#include "sure_abi.h"
#include "util.h"

#define USER_RW (SURE_MAP_USER | SURE_MAP_WRITE)

static void fill_ctrl(const struct sure_layout_in *in, uint64_t env_gva, uint64_t heap_start,
		      uint64_t heap_end)
{
	struct sure_ctrl *c = (struct sure_ctrl *)(in->ram + SURE_CTRL_GPA);

	memset(c, 0, sizeof(*c));
	c->magic = SURE_CTRL_MAGIC;
	/* The image's own (the parser allowed only this one or the legacy one);
	 * the control page is the same in both. */
	c->abi_version = in->info->abi_version;
	c->mem_size = in->mem_bytes;
	c->heap_start = heap_start;
	c->heap_end = heap_end;
	c->req_gva = SURE_IO_GPA;
	c->resp_gva = SURE_IO_GPA + in->io_cap;
	c->io_cap = in->io_cap;
	c->req_head_gva = SURE_IO_GPA + 2ull * in->io_cap;
	c->resp_head_gva = c->req_head_gva + SURE_REQ_HEAD_CAP;
	c->io_slots = in->io_slots;
	c->log_size = SURE_LOG_SIZE;
	if (in->env_len) {
		c->env_gva = env_gva;
		c->env_len = in->env_len;
	}
}

/* An attachment's region: whole pages above everything the core maps. */
static int region_ok(const struct sure_region *r)
{
	return r->size && !((r->gpa | r->size) & (SURE_PAGE_SIZE - 1)) &&
	       r->gpa >= SURE_DOORBELL_GPA + SURE_PAGE_SIZE && r->gpa + r->size > r->gpa;
}

/* A region's page-table entries: all of it, or only its views, each inside
 * it and writable only if the memslot is. */
static int map_region(struct sure_pt *pt, const struct sure_region *r)
{
	if (!region_ok(r))
		return -EINVAL;
	if (!r->views)
		return sure_pt_map(pt, r->gpa, r->size,
				   (r->writable ? USER_RW : SURE_MAP_USER) | SURE_MAP_KEY(r->pkey));
	for (uint32_t i = 0; i < r->nviews; i++) {
		const struct sure_view *v = &r->views[i];
		int rc;

		if (v->size == 0 || (v->off | v->size) & (SURE_PAGE_SIZE - 1) || v->off > r->size ||
		    v->size > r->size - v->off || (v->writable && !r->writable))
			return -EINVAL;
		rc = sure_pt_map(pt, r->gpa + v->off, v->size,
				 (v->writable ? USER_RW : SURE_MAP_USER) | SURE_MAP_KEY(v->pkey));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int map_image(struct sure_pt *pt, const struct sure_image_info *info)
{
	for (unsigned i = 0; i < info->nseg; i++) {
		const struct sure_image_seg *s = &info->seg[i];
		uint64_t perms = SURE_MAP_USER;
		int rc;

		/* W^X even if a checker bug let a W+X segment through. */
		if (s->writable)
			perms |= SURE_MAP_WRITE;
		else if (s->executable)
			perms |= SURE_MAP_EXEC;
		rc = sure_pt_map(pt, s->vaddr, s->memsz, perms);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sure_layout_build(const struct sure_layout_in *in, struct sure_layout_out *out, char *err,
		      size_t errcap)
{
	const struct sure_image_info *info = in->info;
	uint64_t stack_lo = in->mem_bytes - SURE_STACK_SIZE;
	uint64_t guard = stack_lo - SURE_PAGE_SIZE;
	/* The environment sits between the image and the heap, on pages of its
	 * own that the guest may read but not write. */
	uint64_t env_gva = info->end;
	uint64_t env_pages = ((uint64_t)in->env_len + SURE_PAGE_SIZE - 1) & ~(SURE_PAGE_SIZE - 1);
	uint64_t heap_start = env_gva + env_pages;
	struct sure_pt pt;
	int rc;

	/* The parser checked this already; the loader does not trust a stale info. */
	if (in->mem_bytes < SURE_IMAGE_BASE + SURE_STACK_SIZE || info->end < SURE_IMAGE_BASE ||
	    heap_start > guard || (heap_start & (SURE_PAGE_SIZE - 1)) || info->nseg == 0 ||
	    info->nseg > SURE_IMAGE_MAX_SEGS)
		return sure_errf(err, errcap, -EINVAL, "image does not fit in %llu MiB of guest RAM",
				 (unsigned long long)(in->mem_bytes >> 20));
	for (unsigned i = 0; i < info->nseg; i++) {
		const struct sure_image_seg *s = &info->seg[i];
		if (s->vaddr < SURE_IMAGE_BASE || s->memsz > info->end - s->vaddr ||
		    s->vaddr > info->end || (s->vaddr | s->memsz) & (SURE_PAGE_SIZE - 1))
			return sure_errf(err, errcap, -EINVAL, "image segment %u out of place", i);
	}
	/* env.c checked the block; the loader does not copy one it cannot bound. */
	if (in->env_len > SURE_ENV_MAX || (in->env_len && !in->env))
		return sure_errf(err, errcap, -EINVAL, "environment of %u bytes out of bounds",
				 in->env_len);

	fill_ctrl(in, env_gva, heap_start, guard);
	sure_image_load(in->img, info, in->ram);
	if (in->env_len)
		memcpy(in->ram + env_gva, in->env, in->env_len);
	sure_cpu_tables(in->ram);
	sure_gate_install(in->ram, in->mem_bytes, in->pku);

	rc = sure_pt_init(&pt, in->ram, in->mem_bytes);
	if (rc == 0)
		rc = sure_pt_map(&pt, SURE_GDT_GPA, SURE_PAGE_SIZE, SURE_MAP_WRITE);
	if (rc == 0)
		rc = sure_pt_map(&pt, SURE_IDT_GPA, SURE_PAGE_SIZE, 0);
	if (rc == 0)
		rc = sure_pt_map(&pt, SURE_TRAP_GPA, SURE_PAGE_SIZE, SURE_MAP_EXEC);
	if (rc == 0)
		rc = sure_pt_map(&pt, SURE_KSTACK_GPA, SURE_KSTACK_TOP - SURE_KSTACK_GPA,
				 SURE_MAP_WRITE);
	if (rc == 0)
		rc = sure_pt_map(&pt, SURE_CTRL_GPA, SURE_PAGE_SIZE, USER_RW);
	if (rc == 0)
		rc = sure_pt_map(&pt, SURE_LOG_GPA, SURE_LOG_SIZE, USER_RW);
	if (rc == 0)
		rc = sure_gate_map(&pt);
	if (rc == 0)
		rc = map_image(&pt, info);
	if (rc == 0 && env_pages)
		rc = sure_pt_map(&pt, env_gva, env_pages, SURE_MAP_USER);
	if (rc == 0 && guard > heap_start)
		rc = sure_pt_map(&pt, heap_start, guard - heap_start, USER_RW);
	if (rc == 0)
		rc = sure_pt_map(&pt, stack_lo, SURE_STACK_SIZE, USER_RW);
	if (rc == 0)
		rc = sure_pt_map(&pt, SURE_DOORBELL_GPA, SURE_PAGE_SIZE, USER_RW);
	if (rc == 0 && in->io_cap)
		rc = sure_pt_map(&pt, SURE_IO_GPA, in->io_slots * SURE_IO_BYTES(in->io_cap),
				 USER_RW);
	/* A read-only region is read-only twice over: here and in its memslot. */
	for (uint32_t i = 0; rc == 0 && i < in->nregions; i++)
		rc = map_region(&pt, &in->regions[i]);
	if (rc < 0)
		return sure_errf(err, errcap, rc, "building guest page tables failed (%d)", rc);

	out->cr3 = sure_pt_root(&pt);
	out->rip = info->entry;
	out->rsp = in->mem_bytes; /* 16-byte aligned, as the SysV entry expects */
	return 0;
}
