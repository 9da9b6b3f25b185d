/*
 * bench_rx_placement.c - why the Z-stack copies received payload out of its
 * UMEM frames into the request's buffer instead of receiving into the pools.
 *
 * On one RX queue the kernel fills whatever frame is next on the fill ring,
 * before anyone knows which function or chain the bytes are for. A chain's
 * pool is mapped into every VM of that chain and of no other, so frames that
 * are pool memory would show one tenant's request to another's guests. The
 * only way to keep both zero copies and that isolation on one queue is to
 * move the page afterwards: map the frame's page over the slot's page in the
 * node's mapping of the pool (which every step's memory slot points at; KVM
 * then drops those guest mappings) and map the pool's own page back when the
 * slot is freed. This measures that move against the copy it would save, in
 * the same run:
 *   - copy: the payload of size bytes gathered out of the UMEM's frames
 *     (1448 bytes of TCP payload each at MTU 1500) into a pool extent,
 *     as zs_recv does;
 *   - move: two mmap(MAP_FIXED) of one page (in, then back) and the first
 *     touch of the moved page, while another thread reads the pool on the
 *     other CPU as a busy step would (so the unmaps cost what they cost in
 *     the node: a TLB shootdown to that CPU). Only a body that fits one frame
 *     can be moved at all: a bigger one lies in pieces between headers, not
 *     in one extent. On hardware KVM, the guest's side (dropping and
 *     faulting back its mappings) comes on top; it is not measured here.
 * Prints ns per request and the ratio. Needs no KVM.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

#define PAGE 4096u
#define FRAME 4096u /* ZS_FRAME_SIZE */
#define PAYLOAD 1448u /* MSS 1460 less the timestamp option */
#define HEADERS 66u /* Ethernet 14 + IPv4 20 + TCP 20 + 12 of options */
#define FRAMES 256u
#define POOL_PAGES 64u
#define ROUNDS 5

static uint8_t *umem, *pool;
static int umem_fd, pool_fd;
static volatile int stop_reader;
static volatile uint64_t sink;

static void *reader(void *arg)
{
	(void)arg;
	while (!stop_reader) {
		uint64_t s = 0;
		for (unsigned p = 0; p < POOL_PAGES; p++)
			s += pool[p * PAGE + 64];
		sink = s;
	}
	return NULL;
}

/* The payload of size bytes, spread over consecutive frames, into the pool. */
static double copy_ns(size_t size, unsigned iters)
{
	double t0 = (double)sure_now_ns();

	for (unsigned i = 0; i < iters; i++) {
		uint8_t *dst = pool + (size_t)(i % 4) * (64u << 10);
		size_t done = 0;
		for (unsigned f = (i * 7) % (FRAMES / 2); done < size; f++) {
			size_t k = size - done < PAYLOAD ? size - done : PAYLOAD;
			memcpy(dst + done, umem + (size_t)f * FRAME + HEADERS, k);
			done += k;
		}
		sink += dst[size - 1];
	}
	return ((double)sure_now_ns() - t0) / iters;
}

/* One frame page moved over a pool page, touched, and the pool's page moved back. */
static double move_ns(unsigned iters)
{
	double t0 = (double)sure_now_ns();

	for (unsigned i = 0; i < iters; i++) {
		unsigned pg = 1 + i % (POOL_PAGES - 1), fr = i % (FRAMES * FRAME / PAGE);
		uint8_t *at = pool + (size_t)pg * PAGE;
		if (mmap(at, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, umem_fd,
			 (off_t)fr * PAGE) == MAP_FAILED)
			return -1;
		sink += at[HEADERS];
		if (mmap(at, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, pool_fd,
			 (off_t)pg * PAGE) == MAP_FAILED)
			return -1;
	}
	return ((double)sure_now_ns() - t0) / iters;
}

static double best(double a, double b)
{
	return a < b ? a : b;
}

int main(void)
{
	static const size_t sizes[] = { 64, PAYLOAD, 4096, 65536 };
	size_t pool_size = (size_t)POOL_PAGES * PAGE > 4 * (64u << 10) ? (size_t)POOL_PAGES * PAGE
								       : 4 * (64u << 10);
	double c[4], mv = 1e18;
	pthread_t thr;
	cpu_set_t set;

	umem_fd = memfd_create("bench-umem", MFD_CLOEXEC);
	pool_fd = memfd_create("bench-pool", MFD_CLOEXEC);
	if (umem_fd < 0 || pool_fd < 0 || ftruncate(umem_fd, (off_t)FRAMES * FRAME) < 0 ||
	    ftruncate(pool_fd, (off_t)pool_size) < 0) {
		perror("memfd");
		return 1;
	}
	umem = mmap(NULL, (size_t)FRAMES * FRAME, PROT_READ | PROT_WRITE, MAP_SHARED, umem_fd, 0);
	pool = mmap(NULL, pool_size, PROT_READ | PROT_WRITE, MAP_SHARED, pool_fd, 0);
	if (umem == MAP_FAILED || pool == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(umem, 'u', (size_t)FRAMES * FRAME);
	memset(pool, 'p', pool_size);
	/* The node's thread on CPU 0, a busy step reading the pool on CPU 1. */
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	pthread_create(&thr, NULL, reader, NULL);
	CPU_ZERO(&set);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0, &set);
	pthread_setaffinity_np(thr, sizeof(set), &set);
	for (unsigned k = 0; k < 4; k++)
		c[k] = 1e18;
	for (int r = 0; r < ROUNDS; r++) {
		for (unsigned k = 0; k < 4; k++)
			c[k] = best(c[k], copy_ns(sizes[k], sizes[k] > 4096 ? 20000 : 200000));
		double m = move_ns(20000);
		if (m < 0) {
			perror("mmap(MAP_FIXED)");
			return 1;
		}
		mv = best(mv, m);
	}
	stop_reader = 1;
	pthread_join(thr, NULL);
	printf("received payload into a chain's pool: copy out of UMEM frames vs moving the frame's page "
	       "(best of %d rounds)\n",
	       ROUNDS);
	printf("%-8s %12s %12s %10s\n", "body", "copy ns", "move ns", "move/copy");
	for (unsigned k = 0; k < 4; k++) {
		if (sizes[k] <= PAYLOAD)
			printf("%-8zu %12.1f %12.1f %9.1fx\n", sizes[k], c[k], mv, mv / c[k]);
		else
			printf("%-8zu %12.1f %12s %10s\n", sizes[k], c[k], "-", "(in pieces)");
	}
	return 0;
}
