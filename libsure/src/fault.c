/* fault.c - see fault.h. */
#include "fault.h"

#include <stdio.h>
#include <string.h>

#include "libsure.h"

void sure_fault_init(struct sure_fault *f)
{
	pthread_mutex_init(&f->lock, NULL);
	memset(f->v, 0, sizeof(f->v));
}

void sure_fault_fini(struct sure_fault *f)
{
	pthread_mutex_destroy(&f->lock);
}

int sure_fault_record(struct sure_fault *f, uint64_t kind, uint64_t vector, uint64_t code,
		      uint64_t addr, uint64_t rip)
{
	int first;

	pthread_mutex_lock(&f->lock);
	first = f->v[0] == SURE_FAULT_NONE;
	if (first) {
		f->v[0] = kind;
		f->v[1] = vector;
		f->v[2] = code;
		f->v[3] = addr;
		f->v[4] = rip;
	}
	pthread_mutex_unlock(&f->lock);
	return first;
}

void sure_fault_get(struct sure_fault *f, uint64_t out[5])
{
	pthread_mutex_lock(&f->lock);
	memcpy(out, f->v, sizeof(f->v));
	pthread_mutex_unlock(&f->lock);
}

void sure_fault_describe(struct sure_fault *f, char *buf, size_t cap)
{
	static const char *const names[] = { "none", "exception", "triple fault", "timeout",
					     "bad exit", "protocol violation", "guest exit",
					     "KVM error" };
	uint64_t v[5];

	if (!buf || !cap)
		return;
	sure_fault_get(f, v);
	const char *name = v[0] < sizeof(names) / sizeof(names[0]) ? names[v[0]] : "unknown";
	switch (v[0]) {
	case SURE_FAULT_EXCEPTION:
		snprintf(buf, cap, "guest exception %llu (error code 0x%llx) at rip 0x%llx, address 0x%llx",
			 (unsigned long long)v[1], (unsigned long long)v[2],
			 (unsigned long long)v[4], (unsigned long long)v[3]);
		break;
	case SURE_FAULT_GUEST_EXIT:
		snprintf(buf, cap, "guest exited with code %llu", (unsigned long long)v[2]);
		break;
	case SURE_FAULT_KVM:
		snprintf(buf, cap, "KVM_RUN failed: %s", strerror((int)v[2]));
		break;
	default:
		snprintf(buf, cap, "guest %s (code 0x%llx, address 0x%llx, rip 0x%llx)", name,
			 (unsigned long long)v[2], (unsigned long long)v[3],
			 (unsigned long long)v[4]);
	}
}
