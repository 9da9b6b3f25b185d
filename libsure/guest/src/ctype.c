/* ctype.c - ASCII character classes (no locales in a guest). */
#include <ctype.h>

#include "sg.h"

/* EOF (-1) and anything outside 0..255 belongs to no class. */
static int in(int c, int lo, int hi)
{
	return c >= lo && c <= hi;
}

int isupper(int c)
{
	return in(c, 'A', 'Z');
}

int islower(int c)
{
	return in(c, 'a', 'z');
}

int isalpha(int c)
{
	return isupper(c) || islower(c);
}

int isdigit(int c)
{
	return in(c, '0', '9');
}

int isalnum(int c)
{
	return isalpha(c) || isdigit(c);
}

int isspace(int c)
{
	return c == ' ' || in(c, '\t', '\r');
}

int toupper(int c)
{
	return islower(c) ? c - 'a' + 'A' : c;
}

int tolower(int c)
{
	return isupper(c) ? c - 'A' + 'a' : c;
}

int isxdigit(int c)
{
	return isdigit(c) || in(c, 'a', 'f') || in(c, 'A', 'F');
}

int isblank(int c)
{
	return c == ' ' || c == '\t';
}

int iscntrl(int c)
{
	return in(c, 0, 31) || c == 127;
}

int isprint(int c)
{
	return in(c, ' ', '~');
}

int isgraph(int c)
{
	return in(c, '!', '~');
}

int ispunct(int c)
{
	return isgraph(c) && !isalnum(c);
}
