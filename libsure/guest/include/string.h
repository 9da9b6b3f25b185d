/* string.h - memory and NUL-terminated string functions of libsg. */
#ifndef SURE_STRING_H
#define SURE_STRING_H

#include <stddef.h>

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
char *strrchr(const char *s, int c);
char *strstr(const char *haystack, const char *needle);
size_t strspn(const char *s, const char *accept);
size_t strcspn(const char *s, const char *reject);
char *strpbrk(const char *s, const char *accept);
char *strcpy(char *dst, const char *src);
char *strncpy(char *dst, const char *src, size_t n);
char *strcat(char *dst, const char *src);
char *strncat(char *dst, const char *src, size_t n);
/* On the heap (malloc); NULL when it is full. */
char *strdup(const char *s);
char *strndup(const char *s, size_t n);
/* Splits s at any of delim's bytes; strtok keeps its place in one static
 * pointer, strtok_r in *save. strsep also returns empty fields. */
char *strtok(char *s, const char *delim);
char *strtok_r(char *s, const char *delim, char **save);
char *strsep(char **sp, const char *delim);
/* glibc's messages for errno.h's values, "Unknown error N" for others. */
char *strerror(int e);
int strerror_r(int e, char *buf, size_t cap);
/* ASCII, without case (also in strings.h). */
int strcasecmp(const char *a, const char *b);
int strncasecmp(const char *a, const char *b, size_t n);

#endif
