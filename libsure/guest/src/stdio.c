/*
 * stdio.c - stdout and stderr: both write to the function's log through
 * sg_log_line, one log line per '\n'. Each stream keeps its unfinished line
 * (so the two never mix within a line); a line longer than LINE_MAX is
 * split, '\r' is dropped. Unfinished lines go out on fflush, at the end of
 * each request (through sg_flush_stdio, which the loops call: the first write
 * installs flush_all there) and before exit/abort.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "exit.h"
#include "sg.h"

#define LINE_MAX 512 /* as sure_log's lines */

struct sg_file {
	size_t len;
	char line[LINE_MAX];
};

static struct sg_file out_file, err_file;
FILE *const stdout = &out_file;
FILE *const stderr = &err_file;

static int known(FILE *f)
{
	if (f == &out_file || f == &err_file)
		return 1;
	errno = EBADF;
	return 0;
}

static void emit(FILE *f)
{
	sg_log_line(f->line, f->len);
	f->len = 0;
}

static void flush_all(void);

static void put_bytes(FILE *f, const char *p, size_t n)
{
	sg_stdio_flusher = flush_all;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\n') {
			emit(f);
			continue;
		}
		if (c == '\r')
			continue;
		if (f->len == LINE_MAX)
			emit(f);
		f->line[f->len++] = c;
	}
}

int fflush(FILE *f)
{
	if (!f) {
		fflush(stdout);
		return fflush(stderr);
	}
	if (!known(f))
		return EOF;
	if (f->len)
		emit(f);
	return 0;
}

static void flush_all(void)
{
	fflush(NULL);
}

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	char buf[LINE_MAX];
	struct sg_sink s = { buf, sizeof(buf), 0 };
	va_list again;

	if (!known(f))
		return -1;
	va_copy(again, ap);
	sg_vformat(&s, fmt, ap);
	if (s.len <= sizeof(buf)) {
		put_bytes(f, buf, s.len);
	} else {
		/* Longer than the stack buffer: format again into the heap (and
		 * write what fit if the heap is full). */
		char *big = malloc(s.len);
		if (big) {
			struct sg_sink b = { big, s.len, 0 };
			sg_vformat(&b, fmt, again);
			put_bytes(f, big, b.len);
			free(big);
		} else {
			put_bytes(f, buf, sizeof(buf));
		}
	}
	va_end(again);
	return s.len > INT_MAX ? -1 : (int)s.len;
}

int fprintf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}

int vprintf(const char *fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(stdout, fmt, ap);
	va_end(ap);
	return n;
}

int fputs(const char *s, FILE *f)
{
	if (!known(f))
		return EOF;
	put_bytes(f, s, strlen(s));
	return 0;
}

int puts(const char *s)
{
	fputs(s, stdout);
	put_bytes(stdout, "\n", 1);
	return 0;
}

int fputc(int c, FILE *f)
{
	char ch = (char)c;

	if (!known(f))
		return EOF;
	put_bytes(f, &ch, 1);
	return (unsigned char)ch;
}

int putc(int c, FILE *f)
{
	return fputc(c, f);
}

int putchar(int c)
{
	return fputc(c, stdout);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	if (!known(f) || size == 0)
		return 0;
	put_bytes(f, p, size * n);
	return n;
}
