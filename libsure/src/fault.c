/* fault.c - see fault.h. */
#include "fault.h"

#include <stdio.h>
#include <string.h>

#include "libsure.h"

void sure_fault_init(struct sure_fault *f)
{
	pthread_mutex_init(&f->lock, NULL);
	memset(&f->info, 0, sizeof(f->info));
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
	first = f->info.kind == SURE_FAULT_NONE;
	if (first) {
		f->info = (struct sure_fault_info){
			.kind = kind, .vector = vector, .error_code = code, .address = addr, .rip = rip,
		};
	}
	pthread_mutex_unlock(&f->lock);
	return first;
}

void sure_fault_get(struct sure_fault *f, struct sure_fault_info *out)
{
	pthread_mutex_lock(&f->lock);
	*out = f->info;
	pthread_mutex_unlock(&f->lock);
}

void sure_fault_describe(struct sure_fault *f, char *buf, size_t cap)
{
	static const char *const names[] = { "none", "exception", "triple fault", "timeout",
					     "bad exit", "protocol violation", "guest exit",
					     "KVM error" };
	struct sure_fault_info v;

	if (!buf || !cap)
		return;
	sure_fault_get(f, &v);
	const char *name = v.kind < sizeof(names) / sizeof(names[0]) ? names[v.kind] : "unknown";
	switch (v.kind) {
	case SURE_FAULT_EXCEPTION:
		snprintf(buf, cap, "guest exception %llu (error code 0x%llx) at rip 0x%llx, address 0x%llx",
			 (unsigned long long)v.vector, (unsigned long long)v.error_code,
			 (unsigned long long)v.rip, (unsigned long long)v.address);
		break;
	case SURE_FAULT_GUEST_EXIT:
		snprintf(buf, cap, "guest exited with code %llu", (unsigned long long)v.error_code);
		break;
	case SURE_FAULT_KVM:
		snprintf(buf, cap, "KVM_RUN failed: %s", strerror((int)v.error_code));
		break;
	default:
		snprintf(buf, cap, "guest %s (code 0x%llx, address 0x%llx, rip 0x%llx)", name,
			 (unsigned long long)v.error_code, (unsigned long long)v.address,
			 (unsigned long long)v.rip);
	}
}
