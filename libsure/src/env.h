/*
 * env.h - checks a function's environment block before it goes into a guest
 * (the guest's sure_getenv reads it, see guest/src/env.c).
 */
#ifndef SURE_ENV_H
#define SURE_ENV_H

#include <stddef.h>
#include <stdint.h>

/*
 * 0 if env[0..len) is a well-formed block: at most SURE_ENV_MAX bytes of
 * "NAME=VALUE\0" entries, NAME matching [A-Za-z_][A-Za-z0-9_]*, the last
 * entry NUL terminated (len 0: no environment). Else -EINVAL with the
 * problem in err; the problem names the entry by number, never its value
 * (values may be secrets).
 */
int sure_env_check(const uint8_t *env, uint32_t len, char *err, size_t errcap);

#endif
