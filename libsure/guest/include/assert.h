/* assert.h - a failing assert stops the instance through sure_abort with
 * "file:line: expr" (the request is answered 502). NDEBUG turns it off.
 * Like C's, this header may be included again after changing NDEBUG. */
#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
__attribute__((noreturn)) void __sg_assert_fail(const char *expr, const char *file, int line);
#define assert(e) ((e) ? (void)0 : __sg_assert_fail(#e, __FILE__, __LINE__))
#endif

#ifndef SURE_ASSERT_H
#define SURE_ASSERT_H
#if !defined(__cplusplus) && __STDC_VERSION__ >= 201112L
#define static_assert _Static_assert
#endif
#endif
