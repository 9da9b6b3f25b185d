/*
 * libsure.h - the host API of libsure, called from Deno through ffi/.
 *
 * Conventions: opaque handles; functions return 0 (or a byte count) on
 * success and a negative errno on failure; where a failure needs words, the
 * caller passes a buffer (err, errcap) that receives one NUL-terminated line.
 */
#ifndef LIBSURE_H
#define LIBSURE_H

#include <stddef.h>
#include <stdint.h>

#if defined(SURE_BUILDING)
#define SURE_API __attribute__((visibility("default")))
#else
#define SURE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct sure_instance;

/* ---- capabilities -------------------------------------------------------- */

/* 0 if /dev/kvm can run sure guests; else -errno and a reason in err. */
SURE_API int sure_kvm_probe(char *err, size_t errcap);
/* 1 if the host CPU has protection keys usable by pkey_alloc(), else 0. */
SURE_API int sure_pku_probe(void);
/* 1 if an AF_XDP socket can be created here, else 0. */
SURE_API int sure_afxdp_probe(void);

/* ---- function images ----------------------------------------------------- */

/*
 * Checks that img is a sure function image that fits a guest of mem_mib MiB:
 * ELF64 x86-64 ET_EXEC with the sure ABI note, PT_LOAD segments inside
 * [SURE_IMAGE_BASE, SURE_IMAGE_LIMIT) and inside the file, page aligned, not
 * overlapping one another, none both writable and executable, entry in an
 * executable segment. 0 or -EINVAL with the problem in err.
 */
SURE_API int sure_image_check(const uint8_t *img, size_t len, uint32_t mem_mib,
			      char *err, size_t errcap);

/* ---- instances (one KVM micro-VM running one function) ------------------- */

/*
 * Creates a VM from a checked image, runs the guest's init and waits until it
 * is ready to serve, at most init_timeout_ms. io_cap is the size of each of
 * the request and response areas (bytes, rounded up to pages).
 * On success stores the handle in *out (8 bytes) and returns 0.
 */
SURE_API int sure_instance_create(const uint8_t *img, size_t len, uint32_t mem_mib,
				  uint32_t io_cap, uint32_t init_timeout_ms,
				  struct sure_instance **out, char *err, size_t errcap);

/* Stops the vCPU (kicking it if it runs), joins its thread, frees everything. */
SURE_API void sure_instance_destroy(struct sure_instance *inst);

/* Zero-copy views of the shared request and response areas. */
SURE_API uint8_t *sure_instance_req_buf(struct sure_instance *inst);
SURE_API uint8_t *sure_instance_resp_buf(struct sure_instance *inst);
SURE_API uint32_t sure_instance_io_cap(struct sure_instance *inst);

/*
 * Runs one request whose req_len bytes the caller already wrote into the
 * request area. Blocks (spin briefly, then sleep) until the guest answers or
 * timeout_ms passes. Returns the response length (the bytes are in the
 * response area), or:
 *   -ETIMEDOUT  the guest did not answer in time; the vCPU has been stopped
 *   -EFAULT     the guest faulted; see sure_instance_fault()
 *   -EPROTO     the guest broke the protocol (e.g. a bogus response length)
 *   -EPIPE      the instance was already dead
 *   -EBUSY      a request is already in flight on this instance
 *   -E2BIG      req_len is larger than the request area
 * After any negative return except -EBUSY/-E2BIG the instance is dead and
 * must be destroyed.
 */
SURE_API int sure_instance_invoke(struct sure_instance *inst, uint32_t req_len,
				  uint32_t timeout_ms);

/* HTTP status the function chose for the last response (200 by default). */
SURE_API int sure_instance_status(struct sure_instance *inst);

/* Why the instance died. out[5] = kind, vector, error code, address, rip. */
enum sure_fault_kind {
	SURE_FAULT_NONE = 0,
	SURE_FAULT_EXCEPTION = 1, /* a CPU exception: vector, error code, CR2, RIP */
	SURE_FAULT_TRIPLE = 2, /* the VM shut down (triple fault) */
	SURE_FAULT_TIMEOUT = 3, /* stopped by the host after its timeout */
	SURE_FAULT_BAD_EXIT = 4, /* an exit the VMM does not allow (address in out[3]) */
	SURE_FAULT_PROTOCOL = 5, /* the guest broke the shared-memory protocol */
	SURE_FAULT_GUEST_EXIT = 6, /* the guest rang the EXIT doorbell (code in out[2]) */
	SURE_FAULT_KVM = 7, /* KVM_RUN failed (errno in out[2]) */
};
SURE_API int sure_instance_fault(struct sure_instance *inst, uint64_t *out);

/* Drains the guest's log ring into buf; returns bytes copied (whole lines). */
SURE_API int sure_instance_read_log(struct sure_instance *inst, uint8_t *buf, size_t cap);

/* Requests served by this instance so far. */
SURE_API uint64_t sure_instance_requests(struct sure_instance *inst);

/* ---- process-wide accounting (leak checks, healthz) ---------------------- */

/* out[3] = live instances, live vCPU threads, bytes mapped for guests. */
SURE_API void sure_stats(uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
