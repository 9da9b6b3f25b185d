/*
 * http_chars.h - RFC 9110's character classes, shared by the request parser
 * (http_parse.c) and the head-block builder (http_head.c). Tests on ranges
 * and a switch the compiler turns into a bit test: these run for every byte
 * of every request line and field name, where strchr() cost a call each.
 */
#ifndef SURE_HTTP_CHARS_H
#define SURE_HTTP_CHARS_H

#include <stdint.h>

static inline int http_is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* tchar: a token's bytes (methods, field names). */
static inline int http_is_tchar(uint8_t c)
{
	if (http_is_alnum(c))
		return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return 1;
	default:
		return 0;
	}
}

/* RFC 3986 pchar without '%' (checked apart), plus '/' and '?', which may
 * appear in the path (/) and in the query (both). */
static inline int http_is_target_char(uint8_t c)
{
	if (http_is_alnum(c))
		return 1;
	switch (c) {
	case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'':
	case '(': case ')': case '*': case '+': case ',': case ';': case '=': case ':':
	case '@': case '/': case '?':
		return 1;
	default:
		return 0;
	}
}

/* Field values: VCHAR, obs-text, SP, HTAB; never another control byte. */
static inline int http_is_value_char(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

#endif
