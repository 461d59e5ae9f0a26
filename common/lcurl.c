/* lcurl: libcurl through dlopen(), on first use. */
#include "common/lcurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The SONAME of Debian's libcurl4 (OpenSSL) package. */
#define LCURL_SONAME "libcurl.so.4"

struct lcurl_api lcurl;

static pthread_once_t lcurl_once = PTHREAD_ONCE_INIT;
static int lcurl_ready;
static char lcurl_err[256];
/* Kept from lcurl_open() for lcurl_cleanup(); NULL until libcurl is ready. */
static void (*lcurl_global_cleanup)(void);

/*
 * One symbol into *slot.  POSIX guarantees a function's address survives the
 * round trip through void *; memcpy keeps the compiler quiet about it.
 */
static int
lcurl_sym(void *dl, const char *name, void *slot, size_t size)
{
	void *p = dlsym(dl, name);

	if (p == NULL) {
		snprintf(lcurl_err, sizeof(lcurl_err), "%s has no %s", LCURL_SONAME, name);
		return -1;
	}
	memcpy(slot, &p, size);
	return 0;
}

#define LCURL_SYM(dl, field, name) lcurl_sym((dl), (name), &lcurl.field, sizeof(lcurl.field))

static void
lcurl_open(void)
{
	CURLcode (*global_init)(long flags) = NULL;
	const char *why;
	void *dl;

	dl = dlopen(LCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		why = dlerror();
		snprintf(lcurl_err, sizeof(lcurl_err),
		    "cannot load %s (Debian package libcurl4): %s", LCURL_SONAME,
		    why != NULL ? why : "unknown error");
		return;
	}
	if (lcurl_sym(dl, "curl_global_init", &global_init, sizeof(global_init)) < 0 ||
	    lcurl_sym(dl, "curl_global_cleanup", &lcurl_global_cleanup,
	        sizeof(lcurl_global_cleanup)) < 0 ||
	    LCURL_SYM(dl, easy_init, "curl_easy_init") < 0 ||
	    LCURL_SYM(dl, easy_setopt, "curl_easy_setopt") < 0 ||
	    LCURL_SYM(dl, easy_perform, "curl_easy_perform") < 0 ||
	    LCURL_SYM(dl, easy_getinfo, "curl_easy_getinfo") < 0 ||
	    LCURL_SYM(dl, easy_reset, "curl_easy_reset") < 0 ||
	    LCURL_SYM(dl, easy_cleanup, "curl_easy_cleanup") < 0 ||
	    LCURL_SYM(dl, easy_strerror, "curl_easy_strerror") < 0 ||
	    LCURL_SYM(dl, share_init, "curl_share_init") < 0 ||
	    LCURL_SYM(dl, share_setopt, "curl_share_setopt") < 0 ||
	    LCURL_SYM(dl, share_cleanup, "curl_share_cleanup") < 0 ||
	    LCURL_SYM(dl, slist_append, "curl_slist_append") < 0 ||
	    LCURL_SYM(dl, slist_free_all, "curl_slist_free_all") < 0)
		return; /* the handle stays open: dlclose buys nothing here */
	if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(lcurl_err, sizeof(lcurl_err), "curl_global_init failed");
		return;
	}
	lcurl_ready = 1;
}

int
lcurl_load(char *err, size_t errlen)
{
	pthread_once(&lcurl_once, lcurl_open);
	if (lcurl_ready)
		return 0;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", lcurl_err);
	return -1;
}

void
lcurl_prepare(void)
{
	setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
}

void
lcurl_cleanup(void)
{
	if (lcurl_ready && lcurl_global_cleanup != NULL)
		lcurl_global_cleanup();
}
