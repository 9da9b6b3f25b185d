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
#define RAND_MAX 2147483647

typedef struct {
	int quot, rem;
} div_t;
typedef struct {
	long quot, rem;
} ldiv_t;
typedef struct {
	long long quot, rem;
} lldiv_t;

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
/* Correctly rounded (ties to even) for any decimal input; also hex floats
 * ("0x1.8p3"), "inf", "infinity" and "nan". ERANGE on overflow (HUGE_VAL)
 * and underflow. */
double strtod(const char *s, char **end);
float strtof(const char *s, char **end);
double atof(const char *s);
div_t div(int a, int b);
ldiv_t ldiv(long a, long b);
lldiv_t lldiv(long long a, long long b);

/* Until srand is called, seeded per instance (sure_instance_seed): clones
 * of one template draw different numbers. srand(s) repeats a sequence. */
int rand(void);
void srand(unsigned seed);
int rand_r(unsigned *seed);

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
