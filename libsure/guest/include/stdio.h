/*
 * stdio.h - formatted output. stdout and stderr both write to the
 * function's log (what sure_log writes to): one log line per '\n', a line
 * longer than 512 bytes is split, and an unfinished line is written out by
 * fflush, at the end of each request and before exit/abort. There are no
 * files and no input: fopen, scanf and friends do not exist in a guest.
 *
 * The response is written with sure_write/sure_printf (sure.h), not stdio.
 *
 * limits.h, errno.h, assert.h, ctype.h, string.h, strings.h, stdlib.h,
 * setjmp.h, math.h, time.h, inttypes.h, sys/time.h, sys/types.h and this file
 * are libsg's own; stddef.h, stdint.h, stdarg.h, stdbool.h, float.h come from
 * the compiler (functions are built with -nostdinc: never the host's headers).
 *
 * Conversions: d i u o x X p s c % and f F e E g G a A (the exact decimal
 * digits, rounded half to even, as glibc prints them).
 */
#ifndef SURE_STDIO_H
#define SURE_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

typedef struct sg_file FILE;
extern FILE *const stdout;
extern FILE *const stderr;
#define stdout stdout
#define stderr stderr

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
int fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vfprintf(FILE *f, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int puts(const char *s);
int putchar(int c);
int fputs(const char *s, FILE *f);
int fputc(int c, FILE *f);
int putc(int c, FILE *f);
size_t fwrite(const void *p, size_t size, size_t n, FILE *f);
/* Writes an unfinished line out now; fflush(NULL) does both streams. */
int fflush(FILE *f);
/* "s: strerror(errno)" to stderr. */
void perror(const char *s);

int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int sprintf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vsprintf(char *buf, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
