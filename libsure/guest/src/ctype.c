/* ctype.c - ASCII character classes (no locales in a guest). */
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
