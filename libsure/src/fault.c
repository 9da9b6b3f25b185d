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

size_t sure_fault_clean_reason(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i = 0;

	if (!dst || !cap)
		return 0;
	for (; src && i < n && i < cap - 1 && src[i]; i++) {
		unsigned char ch = (unsigned char)src[i];

		/* Printable ASCII only: the words end up in JSON bodies and log
		 * lines, where a control byte or a stray UTF-8 half would not do. */
		dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[i] = '\0';
	return i;
}

int sure_fault_record_exit(struct sure_fault *f, uint64_t code, uint64_t rip,
			   const volatile char *reason, size_t n)
{
	char copy[SURE_FAULT_REASON_MAX];
	size_t i;
	int first;

	/* One read of guest memory into our own buffer, then the cleaning. */
	if (n > sizeof(copy))
		n = sizeof(copy);
	for (i = 0; reason && i < n; i++)
		copy[i] = reason[i];
	pthread_mutex_lock(&f->lock);
	first = f->info.kind == SURE_FAULT_NONE;
	if (first) {
		f->info = (struct sure_fault_info){
			.kind = SURE_FAULT_GUEST_EXIT, .error_code = code, .rip = rip,
		};
		sure_fault_clean_reason(f->info.reason, sizeof(f->info.reason), copy, i);
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
		if (v.reason[0])
			snprintf(buf, cap, "guest exited with code %llu: %s",
				 (unsigned long long)v.error_code, v.reason);
		else
			snprintf(buf, cap, "guest exited with code %llu",
				 (unsigned long long)v.error_code);
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
