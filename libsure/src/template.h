/*
 * template.h - making templates, for the public template API (template.c)
 * and for attachments that make templates of their own seats (a chain's
 * steps, chain_step.c).
 */
#ifndef SURE_TEMPLATE_H
#define SURE_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "instance.h"

struct sure_template;

/* Boots the image with its environment block (attached to att if given),
 * stops it after init and keeps it as a template; its clones are attached to
 * the same seat and see the same environment. */
int sure_template_make(const uint8_t *img, size_t len, uint32_t mem_mib, uint32_t io_cap,
		       uint32_t init_timeout_ms, const uint8_t *env, uint32_t env_len,
		       const struct sure_attachment *att, struct sure_template **out, char *err,
		       size_t errcap);

#endif
