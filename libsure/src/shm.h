/*
 * shm.h - shared memory for guests: a memfd and its MAP_SHARED mapping in
 * this process. The same fd is mapped into other VMs too (a chain's pool,
 * templates), which is why the fd is kept rather than closed after mmap.
 */
#ifndef SURE_SHM_H
#define SURE_SHM_H

#include <stddef.h>
#include <stdint.h>

struct sure_shm {
	int fd; /* memfd, -1 when unused */
	uint8_t *map; /* host mapping, NULL when unused */
	size_t size; /* bytes, a multiple of the page size */
};

/* Creates a memfd of size bytes (rounded up to pages) and maps it shared. */
int sure_shm_create(struct sure_shm *shm, const char *name, size_t size);
/* Maps an existing memfd once more (MAP_SHARED): same bytes, new address. */
int sure_shm_map(int fd, size_t size, uint8_t **out);
/* Maps fd copy-on-write: the file never sees this mapping's writes. */
int sure_shm_map_private(int fd, size_t size, uint8_t **out);
void sure_shm_unmap(uint8_t *map, size_t size);
/* Unmaps and closes; safe on a zeroed or half-built struct (fd -1 or 0 size). */
void sure_shm_destroy(struct sure_shm *shm);

#endif
