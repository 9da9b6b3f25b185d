/*
 * stdlib.h - the heap, integer parsing, sorting and leaving.
 *
 * exit(code) and abort() end the INSTANCE, not just the request: the request
 * in flight is answered 502 and the node starts a fresh instance for the
 * next one (exit first writes "exit(code) called" and any unfinished
 * stdout/stderr line to the log). To answer a request, return from handle().
 */
#ifndef SURE_STDLIB_H
#define SURE_STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

/* Heap: the memory between the image and the stack. */
void *malloc(size_t n);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);

int abs(int x);
long labs(long x);
long long llabs(long long x);
int atoi(const char *s);
long atol(const char *s);
long long atoll(const char *s);
/* Out-of-range values clamp to the type's limits and set errno to ERANGE. */
long strtol(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
long long strtoll(const char *s, char **end, int base);
unsigned long long strtoull(const char *s, char **end, int base);

/* A value deployed with the function (`--env`, `--secret`, "env" in sure.json),
 * as sure_getenv; NULL if unset. Read-only memory: do not write through it. */
char *getenv(const char *name);

void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void *bsearch(const void *key, const void *base, size_t n, size_t size,
	      int (*cmp)(const void *, const void *));

__attribute__((noreturn)) void abort(void);
__attribute__((noreturn)) void exit(int code);
__attribute__((noreturn)) void _Exit(int code);

#endif
