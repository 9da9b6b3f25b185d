/*
 * kvm.c - opening and checking the KVM device (see kvm.h), and
 * sure_kvm_probe().
 */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cpu.h"
#include "libsure.h"
#include "util.h"

#define CPUID_MAX_ENTRIES 256

/*
 * One entry per device path ever opened successfully. Entries are never
 * freed, so a pointer handed out stays valid without reference counting;
 * in practice there is exactly one (tests may point SURE_KVM_DEVICE elsewhere).
 */
struct kvm_entry {
	struct kvm_entry *next;
	struct sure_kvm kvm;
	char path[];
};

static pthread_mutex_t kvm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kvm_entry *kvm_list;

static const char *device_path(void)
{
	const char *p = getenv("SURE_KVM_DEVICE");

	return p && *p ? p : "/dev/kvm";
}

/* Caps without which a sure guest cannot run or cannot be stopped. */
static int check_caps(int fd, const char *path, char *err, size_t errcap)
{
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ KVM_CAP_USER_MEMORY, "USER_MEMORY" },
		{ KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT" },
		{ KVM_CAP_EXT_CPUID, "EXT_CPUID" },
	};

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (ioctl(fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0)
			return sure_errf(err, errcap, -ENOTSUP, "%s: KVM lacks capability %s", path,
					 need[i].name);
	return 0;
}

static int open_kvm(const char *path, struct sure_kvm *kvm, char *err, size_t errcap)
{
	int fd, v, rc;
	struct kvm_cpuid2 *cpuid;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return sure_errf(err, errcap, rc, "%s: %s", path, strerror(-rc));
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		rc = v < 0 ? -errno : -ENOTSUP;
		if (v < 0)
			sure_errf(err, errcap, rc, "%s: not a KVM device (%s)", path, strerror(-rc));
		else
			sure_errf(err, errcap, rc, "KVM API version %d unsupported", v);
		goto fail;
	}
	rc = check_caps(fd, path, err, errcap);
	if (rc < 0)
		goto fail;
	v = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (v < (int)sizeof(struct kvm_run)) {
		rc = v < 0 ? -errno : -EINVAL;
		sure_errf(err, errcap, rc, "%s: bad vCPU mmap size %d", path, v);
		goto fail;
	}
	kvm->vcpu_mmap_size = v;
	cpuid = calloc(1, sizeof(*cpuid) + CPUID_MAX_ENTRIES * sizeof(cpuid->entries[0]));
	if (!cpuid) {
		rc = -ENOMEM;
		goto fail;
	}
	cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		rc = -errno;
		free(cpuid);
		sure_errf(err, errcap, rc, "%s: KVM_GET_SUPPORTED_CPUID: %s", path, strerror(-rc));
		goto fail;
	}
	kvm->cpuid = cpuid;
	kvm->pkru_offset = sure_cpu_pku_setup(cpuid);
	kvm->fd = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

int sure_kvm_get(const struct sure_kvm **out, char *err, size_t errcap)
{
	const char *path = device_path();
	struct kvm_entry *e;
	int rc = 0;

	pthread_mutex_lock(&kvm_lock);
	for (e = kvm_list; e; e = e->next)
		if (strcmp(e->path, path) == 0)
			goto done;
	e = calloc(1, sizeof(*e) + strlen(path) + 1);
	if (!e) {
		rc = sure_errf(err, errcap, -ENOMEM, "out of memory");
		goto done;
	}
	strcpy(e->path, path);
	rc = open_kvm(path, &e->kvm, err, errcap);
	if (rc < 0) {
		/* Not cached: the device may appear (or be fixed) later. */
		free(e);
		e = NULL;
		goto done;
	}
	e->next = kvm_list;
	kvm_list = e;
done:
	pthread_mutex_unlock(&kvm_lock);
	if (e)
		*out = &e->kvm;
	return rc;
}

SURE_API int sure_kvm_probe(char *err, size_t errcap)
{
	const struct sure_kvm *kvm;

	if (err && errcap)
		err[0] = 0;
	return sure_kvm_get(&kvm, err, errcap);
}

SURE_API int sure_guest_pku_probe(void)
{
	const struct sure_kvm *kvm;
	char err[128];

	return sure_kvm_get(&kvm, err, sizeof(err)) == 0 && sure_cpu_guest_keys(kvm);
}
