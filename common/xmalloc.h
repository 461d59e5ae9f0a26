/*
 * xmalloc: allocation that cannot fail.
 *
 * Every allocation in livestatus goes through these wrappers.  When memory
 * runs out they print one line naming the size and abort: out-of-memory is
 * fatal and loud, so callers never carry an untested NULL branch.
 *
 * xasprintf returns a newly allocated, formatted string; xstrndup copies at
 * most n bytes and always terminates.  Free everything with free().
 */
#ifndef LS_XMALLOC_H
#define LS_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
