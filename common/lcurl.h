/*
 * lcurl: libcurl, loaded the first time a feature needs it.
 *
 * Linking libcurl maps its whole dependency tree (OpenSSL, GnuTLS, Kerberos,
 * LDAP, SSH, ...) into every process and runs their constructors: about
 * 5 MiB of resident memory in a daemon that may never make a request, and
 * 7 MiB once curl_global_init() has set up TLS.  The daemons therefore do
 * not link it: lcurl_load() opens libcurl.so.4 (Debian's libcurl4 package)
 * with dlopen() when a feature that needs it starts (Mattermost, forwarding
 * to a central, the Mattermost login check), runs curl_global_init() once,
 * and fills the table `lcurl` with the functions livestatus calls.  Callers
 * write lcurl.easy_setopt(...) where they would write curl_easy_setopt(...);
 * the types and constants are libcurl's own, from <curl/curl.h>.
 *
 * lcurl_load() is safe to call from any thread, any number of times; only
 * the first does the work.  It returns 0 when the table is ready and -1 when
 * libcurl cannot be loaded, with the reason in err (and the same answer to
 * every later call).
 */
#ifndef LS_LCURL_H
#define LS_LCURL_H

#include <curl/curl.h>
#include <stddef.h>

struct lcurl_api {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_reset)(CURL *curl);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	CURLSH *(*share_init)(void);
	CURLSHcode (*share_setopt)(CURLSH *share, CURLSHoption option, ...);
	CURLSHcode (*share_cleanup)(CURLSH *share);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
};

extern struct lcurl_api lcurl;

int lcurl_load(char *err, size_t errlen);

/*
 * For main(), before any thread starts (it sets an environment variable).
 * libcurl4 links librtmp and libldap, and they link GnuTLS, whose
 * constructor sets GnuTLS up as soon as it is loaded (its PKCS #11 modules,
 * its random generator): 0.85 MiB resident for a library livestatus never
 * uses, since libcurl4 speaks TLS through OpenSSL and only http and https
 * are ever asked of it.  GNUTLS_NO_IMPLICIT_INIT=1, GnuTLS's own switch,
 * skips that; a library that does use GnuTLS calls gnutls_global_init()
 * itself.  A value already in the environment is left as it is.
 */
void lcurl_prepare(void);

/* curl_global_cleanup() when libcurl was loaded; for the end of main(). */
void lcurl_cleanup(void);

#endif
