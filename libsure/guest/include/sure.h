/*
 * sure.h - the guest SDK: what a function written in C sees.
 *
 * A function defines
 *
 *     int handle(sure_req *req);
 *
 * which reads req->body (req->len bytes) and the rest of the HTTP request
 * (sure_req_method, sure_req_path, sure_req_query, sure_header), writes its
 * answer with sure_write()/sure_printf() (or straight into req->out, then
 * sets req->out_len), sure_set_status and sure_set_header, and returns 0.
 * Returning non-zero means the handler failed: whatever it wrote and the
 * status and headers it set are dropped, the node answers 500 saying which
 * value handle() returned, and the instance keeps serving (it is not a
 * crash; sure_abort() is the way to give up on the instance).
 * An optional `void sure_init(void)` runs once per deployment: the node saves
 * the VM right after it as the function's template, and every instance is a
 * copy-on-write clone of that state (so init's work is never repeated). An
 * optional `void sure_start(void)` runs in every instance (boot or clone)
 * before its first request: the place for per-instance state such as
 * reseeding a random number generator from sure_instance_seed().
 *
 * The function runs in guest user mode inside its own KVM micro-VM, linked
 * with the sure library OS (libsg) into one static image by `sure build`.
 */
#ifndef SURE_H
#define SURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sure_req {
	const uint8_t *body; /* request body, in shared memory (read-only by convention) */
	size_t len; /* request body length */
	uint8_t *out; /* response area, in shared memory */
	size_t out_cap; /* bytes available in out */
	size_t out_len; /* bytes of response written so far */
	int status; /* HTTP status of the answer; 200 unless set */
	/* chain mode (library-private; use the functions below) */
	int sg_inplace; /* 1: the output is body[0..len) itself */
	int sg_next; /* chosen next node, -1 = the step's default */
	const void *sg_head; /* the request head block (sure_http_abi.h) */
	void *sg_resp_head; /* the response head block */
} sure_req;

/* The function's handler. */
int handle(sure_req *req);
/* Optional one-time initialisation (weak: define it or not). */
void sure_init(void);
/* Optional per-instance start hook, after the clone (weak). */
void sure_start(void);
/* The W3C traceparent of the current request as it reached this function
 * ("00-<trace-id>-<parent-id>-<flags>"), or "" when it carries none. */
const char *sure_traceparent(void);
/* This function's own span id for the current request (16 hex digits; the
 * next function of a chain sees it as its parent-id), or "". */
const char *sure_trace_span(void);
/* 0 in a booted instance, n in the n-th clone of the function's template. */
uint32_t sure_instance_number(void);
/* 64 random bits chosen by the node for this instance (differs per clone). */
uint64_t sure_instance_seed(void);

/* Appends n bytes to the response; returns 0 or -1 if they do not fit. */
int sure_write(sure_req *req, const void *data, size_t n);
/* Appends formatted text to the response; returns bytes written or -1. */
int sure_printf(sure_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the HTTP status of the answer (100..599). */
void sure_set_status(sure_req *req, int status);
/* Writes one line to the node's log for this function (no VM exit). */
void sure_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Gives up: the instance is stopped and the request answered 502. */
__attribute__((noreturn)) void sure_abort(const char *why);
/* Cycle counter, for timing inside a function. */
uint64_t sure_rdtsc(void);
/* Monotonic nanoseconds (the TSC scaled by the rate the host told the guest). */
uint64_t sure_now_ns(void);

/* ---- the HTTP request and response ---------------------------------------
 * Every string below is NUL terminated and stays valid until handle returns.
 * A function that sets no Content-Type answers application/octet-stream. */

/* "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" or another. */
const char *sure_req_method(const sure_req *req);
/* The path below /invoke/<name>: "/users/7" for /invoke/api/users/7, "/"
 * for /invoke/api. Percent-escapes are left as they came. */
const char *sure_req_path(const sure_req *req);
/* The raw query string without '?' ("" if there is none). */
const char *sure_req_query(const sure_req *req);
/* Copies the (percent- and '+'-decoded) value of query parameter `name` into
 * buf (NUL terminated); returns its length, or -1 if absent or too long. */
int sure_query_param(const sure_req *req, const char *name, char *buf, size_t cap);
/* The value of request header `name` (case-insensitive), or NULL. */
const char *sure_header(const sure_req *req, const char *name);
/* Number of request headers, and header i (names in lower case): 0, or -1
 * if i is out of range. */
size_t sure_header_count(const sure_req *req);
int sure_header_at(const sure_req *req, size_t i, const char **name, const char **value);
/* Sets response header `name` to `value`, replacing any earlier value;
 * sure_add_header adds one more (Set-Cookie). 0, or -1 if the name or value
 * is not valid HTTP or the response headers are full (SURE_RESP_HEAD_CAP).
 * The node refuses hop-by-hop and framing headers (Connection,
 * Transfer-Encoding, Content-Length, ...) and its own (X-Sure-*) with a 502
 * that names them. */
int sure_set_header(sure_req *req, const char *name, const char *value);
int sure_add_header(sure_req *req, const char *name, const char *value);

/* ---- configuration --------------------------------------------------------
 * The values deployed with the function (`--env K=V`, `--secret K=@file`,
 * "env" in sure.json), already there in sure_init. NULL if unset. */
const char *sure_getenv(const char *name);

/* ---- chains ---------------------------------------------------------------
 * In a chain, body is the request's buffer in the chain's shared pool and
 * out is a second (fresh) buffer of the same size: bytes never get copied
 * between functions, only a descriptor moves on. A function either writes its
 * output to out (sure_write, sure_printf) or transforms body in place and
 * says so with sure_inplace. Outside a chain these work too (the library
 * copies where it must). */

/* The output is body itself, now len bytes long (len <= the buffer size). */
int sure_inplace(sure_req *req, size_t len);
/* Size of body's buffer: how far an in-place transformation may grow. */
size_t sure_body_cap(const sure_req *req);
/* Hands the output to function `name` next; it must be one of the hops the
 * chain allows this function. 0, or -1 if not allowed (outside a chain too). */
int sure_next(sure_req *req, const char *name);
/* Answers the client now instead of handing on (skips the rest of the chain). */
void sure_finish(sure_req *req);
/* Name of the function this instance runs in its chain ("" outside a chain). */
const char *sure_step_name(void);

/* ---- the libc subset ------------------------------------------------------
 * Declared here as in libsg's standard headers (string.h, stdlib.h, ctype.h,
 * stdio.h next to this file), which hold more: include those for the rest
 * (printf to the log, qsort, errno, assert, ...). */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strcpy(char *dst, const char *src);
char *strncpy(char *dst, const char *src, size_t n);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
long strtol(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
int atoi(const char *s);
int toupper(int c);
int tolower(int c);
int isalpha(int c);
int isdigit(int c);
int isalnum(int c);
int isspace(int c);
int isupper(int c);
int islower(int c);
/* Heap: the memory between the image and the stack. */
void *malloc(size_t n);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
__attribute__((noreturn)) void abort(void);

#endif
