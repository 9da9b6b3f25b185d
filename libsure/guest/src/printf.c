/* printf.c - vsnprintf, snprintf, vsprintf, sprintf over the format engine. */
#include <limits.h>
#include <stdio.h>

#include "sg.h"

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	/* Room for the text; the last byte is kept for the NUL. */
	struct sg_sink s = { buf, size ? size - 1 : 0, 0 };

	sg_vformat(&s, fmt, ap);
	if (size)
		buf[s.len < s.cap ? s.len : s.cap] = '\0';
	return s.len > INT_MAX ? -1 : (int)s.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int vsprintf(char *buf, const char *fmt, va_list ap)
{
	/* No bound: the caller promises the room, as in C. */
	return vsnprintf(buf, (size_t)INT_MAX + 1, fmt, ap);
}

int sprintf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsprintf(buf, fmt, ap);
	va_end(ap);
	return n;
}
