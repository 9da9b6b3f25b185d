/* env.c - see env.h. */
#include "env.h"

#include <errno.h>

#include "sure_abi.h"
#include "util.h"

static int name_start(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int name_char(uint8_t c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

int sure_env_check(const uint8_t *env, uint32_t len, char *err, size_t errcap)
{
	uint32_t i = 0, entry = 0;

	if (len == 0)
		return 0;
	if (!env)
		return sure_errf(err, errcap, -EINVAL, "environment of %u bytes has no data", len);
	if (len > SURE_ENV_MAX)
		return sure_errf(err, errcap, -EINVAL,
				 "environment is %u bytes, more than the %u allowed", len,
				 SURE_ENV_MAX);
	if (env[len - 1] != 0)
		return sure_errf(err, errcap, -EINVAL,
				 "environment does not end with a NUL after its last entry");
	while (i < len) {
		uint32_t start = i;

		entry++;
		if (!name_start(env[i]))
			return sure_errf(err, errcap, -EINVAL,
					 "environment entry %u: the name must start with a "
					 "letter or _",
					 entry);
		while (name_char(env[i]))
			i++;
		if (env[i] != '=')
			return sure_errf(err, errcap, -EINVAL,
					 "environment entry %u: the name (%u characters of "
					 "[A-Za-z0-9_]) must be followed by =",
					 entry, i - start);
		/* The value: any bytes up to the NUL (the last byte is one). */
		while (env[i])
			i++;
		i++;
	}
	return 0;
}
