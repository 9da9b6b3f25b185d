/* http_head.h - internal: reading a head block the node wrote, and checking a
 * response head block a guest wrote (http_head.c). */
#ifndef SURE_HTTP_HEAD_H
#define SURE_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

/* Checks a response head block of SURE_RESP_HEAD_CAP bytes in host memory:
 * the number of headers, or -EPROTO (malformed), -EINVAL (a bad name or
 * value) or -EPERM (a header only the node may set), naming it in err. */
int sure_http_resp_head_check(const uint8_t *blk, char *err, size_t errcap);
/* The value of the first field named name (lower case, as the writer stores
 * names) in a head block the node wrote itself, its length in *len; NULL if
 * there is none. */
const char *sure_http_head_get(const uint8_t *blk, const char *name, uint32_t *len);
/* Every field named name (lower case) gone from a head block the node
 * wrote, its bytes zeroed, the others kept in order. */
void sure_http_head_drop(uint8_t *blk, const char *name);

#endif
