/* http_head.h - internal: checking a response head block (http_head.c). */
#ifndef SURE_HTTP_HEAD_H
#define SURE_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

/* Checks a response head block of SURE_RESP_HEAD_CAP bytes in host memory:
 * the number of headers, or -EPROTO (malformed), -EINVAL (a bad name or
 * value) or -EPERM (a header only the node may set), naming it in err. */
int sure_http_resp_head_check(const uint8_t *blk, char *err, size_t errcap);

#endif
