/* assert.c - where a failing assert() goes: sure_abort("file:line: expr"). */
#include <assert.h>

#include "sg.h"

__attribute__((noreturn)) void __sg_assert_fail(const char *expr, const char *file, int line)
{
	char why[256];

	snprintf(why, sizeof(why), "%s:%d: %s", file, line, expr);
	sure_abort(why);
}
