/*
 * bench_vm.c - timings of the VMM with functions/echo, each next to a
 * baseline measured in the same run and their ratio, as the TypeScript
 * benchmarks in bench/ report (test_vm.c and test_template.c used to print
 * some of these, posing as tests):
 *   start   a fresh VM boot (create -> ready), a copy-on-write clone of the
 *           template without and with an empty VM made ahead (sure_vm_shells);
 *           baseline: posix_spawn("/bin/true") until it exited
 *   invoke  back to back while the guest spins; baseline: a round trip
 *           through shared memory with a spinning thread (the floor for any
 *           hand-off between two threads)
 *   wake    a request to a guest that went to sleep (SLEEP doorbell, futex);
 *           baseline: a round trip through pipes with a child process
 *           blocked in read()
 * Without usable KVM it says so and exits 0.
 *
 *   make -C libsure bench && libsure/build/tests/bench_vm [starts]
 */
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build_fn.h"
#include "libsure.h"

#define MEM_MIB 16 /* functions/echo/sure.json */
#define IO_CAP 65536
#define INVOKES 2000
#define WAKES 50

extern char **environ;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank, as bench/lib/wrk.ts's percentile(); sorts v. */
static double pct(uint64_t *v, int n, int p)
{
	int i = (p * n + 99) / 100 - 1;

	qsort(v, (size_t)n, sizeof(v[0]), cmp_u64);
	return (double)v[i < 0 ? 0 : i];
}

struct series {
	const char *name;
	uint64_t *v;
	int n;
	double p50, p99;
};

/* One line per measurement: p50 and p99 in the given unit (1000: us, 1000000: ms). */
static void row(struct series *s, double unit, const char *uname)
{
	s->p50 = pct(s->v, s->n, 50) / unit;
	s->p99 = pct(s->v, s->n, 99) / unit;
	printf("%-52s p50 %9.3f %s  p99 %9.3f %s  (%d runs)\n", s->name, s->p50, uname, s->p99,
	       uname, s->n);
}

static void ratio(const char *what, const struct series *a, const struct series *b)
{
	printf("ratio %s: p50 %.2fx, p99 %.2fx\n", what, a->p50 / b->p50, a->p99 / b->p99);
}

static int failed(const char *what, int rc, const char *err)
{
	fprintf(stderr, "bench_vm: %s: %d %s\n", what, rc, err ? err : "");
	return 1;
}

/* ---- baselines ---- */

static uint64_t spawn_true(void)
{
	char *argv[] = { "/bin/true", NULL };
	uint64_t t0 = now_ns();
	pid_t pid;
	int st;

	if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0)
		return 0;
	waitpid(pid, &st, 0);
	return now_ns() - t0;
}

struct spin_peer {
	uint32_t req, resp, stop;
};

static void *spin_echo(void *p)
{
	struct spin_peer *s = p;
	uint32_t seen = 0;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		uint32_t r = __atomic_load_n(&s->req, __ATOMIC_ACQUIRE);
		if (r == seen) {
			__builtin_ia32_pause();
			continue;
		}
		seen = r;
		__atomic_store_n(&s->resp, r, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int spin_round_trips(uint64_t *t, int n)
{
	struct spin_peer s = { 0 };
	pthread_t th;

	if (pthread_create(&th, NULL, spin_echo, &s) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		uint32_t seq = (uint32_t)i + 1;
		uint64_t t0 = now_ns();
		__atomic_store_n(&s.req, seq, __ATOMIC_RELEASE);
		while (__atomic_load_n(&s.resp, __ATOMIC_ACQUIRE) != seq)
			__builtin_ia32_pause();
		t[i] = now_ns() - t0;
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	return 0;
}

/* The child echoes bytes; each round trip waits until the child slept in read(). */
static int pipe_round_trips(uint64_t *t, int n)
{
	int to[2], from[2];
	char c = 'x';
	pid_t pid;

	if (pipe(to) < 0 || pipe(from) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		while (read(to[0], &c, 1) == 1)
			if (write(from[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	for (int i = 0; i < n; i++) {
		usleep(5000); /* as long as the guest is left to fall asleep */
		uint64_t t0 = now_ns();
		if (write(to[1], &c, 1) != 1 || read(from[0], &c, 1) != 1)
			return -1;
		t[i] = now_ns() - t0;
	}
	close(to[1]);
	close(from[0]);
	waitpid(pid, NULL, 0);
	return 0;
}

/* ---- sure ---- */

static int wait_shells(uint32_t n)
{
	for (int i = 0; i < 1000; i++) {
		if (sure_vm_shells_ready() >= n)
			return 0;
		usleep(1000);
	}
	return -1;
}

static int invoke(struct sure_instance *inst)
{
	memcpy(sure_instance_req_buf(inst), "ping", 4);
	return sure_instance_invoke(inst, 4, 1000) == 4 ? 0 : -1;
}

static int run(const uint8_t *img, size_t len, int starts)
{
	char err[256] = "";
	uint64_t *v[8];
	struct sure_template *t = NULL;
	struct sure_instance *inst;
	int rc, n = starts > INVOKES ? starts : INVOKES;

	for (int i = 0; i < 8; i++)
		if (!(v[i] = calloc((size_t)n, sizeof(uint64_t))))
			return 1;
	struct series boot = { .name = "sure: boot a VM (create -> ready)", .v = v[0] };
	struct series clone = { .name = "sure: clone of the template -> ready", .v = v[1] };
	struct series shell = { .name = "sure: clone, empty VM made ahead -> ready", .v = v[2] };
	struct series spawn = { .name = "baseline: posix_spawn /bin/true -> exited", .v = v[3] };
	struct series warm = { .name = "sure: invoke, guest spinning", .v = v[4] };
	struct series spin = { .name = "baseline: shared-memory round trip, spinning thread",
			       .v = v[5] };
	struct series wake = { .name = "sure: invoke waking a sleeping guest", .v = v[6] };
	struct series piped = { .name = "baseline: pipe round trip, child asleep in read()",
				.v = v[7] };

	boot.n = clone.n = shell.n = spawn.n = starts;
	warm.n = spin.n = INVOKES;
	wake.n = piped.n = WAKES;
	rc = sure_template_create(img, len, MEM_MIB, IO_CAP, 2000, NULL, 0, &t, err, sizeof(err));
	if (rc != 0)
		return failed("template", rc, err);
	for (int i = 0; i < starts; i++) {
		uint64_t t0 = now_ns();
		rc = sure_instance_create(img, len, MEM_MIB, IO_CAP, 2000, NULL, 0, &inst, err,
					  sizeof(err));
		boot.v[i] = now_ns() - t0;
		if (rc != 0)
			return failed("boot", rc, err);
		sure_instance_destroy(inst);
		t0 = now_ns();
		rc = sure_instance_clone(t, 2000, &inst, err, sizeof(err));
		clone.v[i] = now_ns() - t0;
		if (rc != 0)
			return failed("clone", rc, err);
		sure_instance_destroy(inst);
		spawn.v[i] = spawn_true();
	}
	/* Shells are refilled in the background: wait for one before each clone. */
	if ((rc = sure_vm_shells(2)) != 0)
		return failed("sure_vm_shells", rc, NULL);
	for (int i = 0; i < starts; i++) {
		if (wait_shells(1) < 0)
			return failed("no empty VM made ahead", -ETIMEDOUT, NULL);
		uint64_t t0 = now_ns();
		rc = sure_instance_clone(t, 2000, &inst, err, sizeof(err));
		shell.v[i] = now_ns() - t0;
		if (rc != 0)
			return failed("clone with shell", rc, err);
		sure_instance_destroy(inst);
	}
	sure_vm_shells(0);

	rc = sure_instance_clone(t, 2000, &inst, err, sizeof(err));
	if (rc != 0)
		return failed("clone", rc, err);
	for (int i = 0; i < INVOKES; i++) {
		uint64_t t0 = now_ns();
		if (invoke(inst) < 0)
			return failed("invoke", -EIO, NULL);
		warm.v[i] = now_ns() - t0;
	}
	for (int i = 0; i < WAKES; i++) {
		usleep(5000); /* the guest rings SLEEP and its vCPU thread waits on a futex */
		uint64_t t0 = now_ns();
		if (invoke(inst) < 0)
			return failed("invoke", -EIO, NULL);
		wake.v[i] = now_ns() - t0;
	}
	sure_instance_destroy(inst);
	sure_template_destroy(t);
	if (spin_round_trips(spin.v, INVOKES) < 0 || pipe_round_trips(piped.v, WAKES) < 0)
		return failed("baseline", -errno, strerror(errno));

	printf("VM start, functions/echo (%d MiB)\n", MEM_MIB);
	row(&boot, 1e6, "ms");
	row(&clone, 1e6, "ms");
	row(&shell, 1e6, "ms");
	row(&spawn, 1e6, "ms");
	ratio("clone / boot", &clone, &boot);
	ratio("clone with shell / clone", &shell, &clone);
	ratio("clone / process spawn", &clone, &spawn);
	printf("request round trip, 4 bytes\n");
	row(&warm, 1e3, "us");
	row(&spin, 1e3, "us");
	row(&wake, 1e3, "us");
	row(&piped, 1e3, "us");
	ratio("invoke / spinning-thread round trip", &warm, &spin);
	ratio("invoke to a sleeping guest / pipe round trip", &wake, &piped);
	for (int i = 0; i < 8; i++)
		free(v[i]);
	return 0;
}

int main(int argc, char **argv)
{
	int starts = argc > 1 ? atoi(argv[1]) : 50;
	char src[PATH_MAX + 64], err[256];
	size_t len = 0;

	if (starts < 1)
		starts = 1;
	if (sure_kvm_probe(err, sizeof(err)) != 0) {
		printf("bench_vm: no usable KVM (%s): nothing measured\n", err);
		return 0;
	}
	if (find_libsure() < 0 || !mkdtemp(tmp_dir)) {
		perror("bench_vm setup");
		return 1;
	}
	snprintf(src, sizeof(src), "%s/../functions/echo/echo.c", libsure_dir);
	uint8_t *img = build_function(src, &len);
	cleanup_tmp();
	if (!img) {
		fprintf(stderr, "bench_vm: could not build %s\n", src);
		return 1;
	}
	int rc = run(img, len, starts);
	free(img);
	return rc;
}
