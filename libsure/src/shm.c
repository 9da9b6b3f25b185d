/* shm.c - see shm.h. Every mapping made here is counted in sure_stats. */
#include "shm.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stats.h"

#define PAGE 4096ull

int sure_shm_map(int fd, size_t size, uint8_t **out)
{
	/* NORESERVE: guest RAM is touched sparsely; do not charge it all up front. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	sure_stat_add(SURE_STAT_MAPPED_BYTES, (int64_t)size);
	*out = p;
	return 0;
}

int sure_shm_map_private(int fd, size_t size, uint8_t **out)
{
	/* Copy-on-write: reads share the file's pages, writes get private ones. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	sure_stat_add(SURE_STAT_MAPPED_BYTES, (int64_t)size);
	*out = p;
	return 0;
}

void sure_shm_unmap(uint8_t *map, size_t size)
{
	if (!map || !size)
		return;
	munmap(map, size);
	sure_stat_add(SURE_STAT_MAPPED_BYTES, -(int64_t)size);
}

int sure_shm_create(struct sure_shm *shm, const char *name, size_t size)
{
	int rc;

	shm->fd = -1;
	shm->map = NULL;
	shm->size = 0;
	if (size == 0 || size > (1ull << 40))
		return -EINVAL;
	size = (size + PAGE - 1) & ~(PAGE - 1);
	shm->fd = memfd_create(name, MFD_CLOEXEC);
	if (shm->fd < 0)
		return -errno;
	if (ftruncate(shm->fd, (off_t)size) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = sure_shm_map(shm->fd, size, &shm->map);
	if (rc < 0)
		goto fail;
	shm->size = size;
	return 0;
fail:
	close(shm->fd);
	shm->fd = -1;
	return rc;
}

void sure_shm_destroy(struct sure_shm *shm)
{
	sure_shm_unmap(shm->map, shm->size);
	if (shm->fd >= 0)
		close(shm->fd);
	shm->fd = -1;
	shm->map = NULL;
	shm->size = 0;
}
