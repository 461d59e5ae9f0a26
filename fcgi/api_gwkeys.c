/* api_gwkeys: the gateway keys file, read again when it changes. */
#include "fcgi/api_gwkeys.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

struct api_gwkey {
	char name[API_GATEWAY_NAME_MAX + 1];
	char *key;
};

struct api_gwkeys {
	pthread_mutex_t lock;
	char *path;         /* NULL: no file */
	int64_t checked_ms; /* monotonic ms of the last look, 0 for never */
	int have;           /* the file was read at the last look; then its identity: */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	struct api_gwkey *keys;
	size_t n;
};

int
api_gwkeys_valid_name(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= API_GATEWAY_NAME_MAX)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return i > 0;
}

static void
api_gwkeys_list_free(struct api_gwkey *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		/* Do not leave keys in freed memory. */
		explicit_bzero(keys[i].key, strlen(keys[i].key));
		free(keys[i].key);
	}
	free(keys);
}

static int
api_gwkeys_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The next white-space separated field of *p (advanced past it); NULL at the end. */
static char *
api_gwkeys_field(char **p)
{
	char *s = *p, *start;

	while (*s != '\0' && api_gwkeys_space(*s))
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	start = s;
	while (*s != '\0' && !api_gwkeys_space(*s))
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return start;
}

/*
 * Checks one line against the keys read so far; NULL and the name and key
 * (pointing into line) when it holds a gateway, NULL and no name for a
 * blank line or a comment, else why the line is bad.
 */
static const char *
api_gwkeys_parse(
    char *line, size_t len, const struct api_gwkey *keys, size_t n, char **name, char **key)
{
	char *p = line, *extra;
	size_t i, keylen;

	*name = *key = NULL;
	if (memchr(line, '\0', len) != NULL)
		return "NUL byte in the line";
	if ((*name = api_gwkeys_field(&p)) == NULL || (*name)[0] == '#') {
		*name = NULL;
		return NULL;
	}
	if (!api_gwkeys_valid_name(*name))
		return "invalid gateway name (expected [A-Za-z0-9_.-], 1 to 64 characters)";
	if ((*key = api_gwkeys_field(&p)) == NULL)
		return "no key after the gateway name";
	extra = api_gwkeys_field(&p);
	if (extra != NULL && extra[0] != '#')
		return "expected NAME KEY";
	keylen = strlen(*key);
	if (keylen < API_GWKEY_MIN)
		return "key shorter than 16 characters";
	if (keylen > API_GWKEY_MAX)
		return "key longer than 1024 characters";
	for (i = 0; i < keylen; i++)
		if ((unsigned char)(*key)[i] < 0x20 || (*key)[i] == 0x7f)
			return "control character in the key";
	for (i = 0; i < n; i++) {
		if (strcmp(keys[i].name, *name) == 0)
			return "gateway named twice (the first line counts)";
		if (strcmp(keys[i].key, *key) == 0)
			return "key given to another gateway already";
	}
	return NULL;
}

/* Reads f into a new list and puts it in place of k's keys. */
static void
api_gwkeys_read(struct api_gwkeys *k, FILE *f)
{
	struct api_gwkey *keys = NULL;
	char *line = NULL, *name, *key;
	const char *why;
	size_t cap = 0, n = 0;
	ssize_t len;
	int64_t lineno = 0;

	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		why = api_gwkeys_parse(line, (size_t)len, keys, n, &name, &key);
		if (why != NULL) {
			log_warn("gateway keys file: line skipped", "path", k->path, "line",
			    LOG_I64(lineno), "err", why);
		} else if (name != NULL) {
			keys = xreallocarray(keys, n + 1, sizeof(*keys));
			snprintf(keys[n].name, sizeof(keys[n].name), "%s", name);
			keys[n].key = xstrdup(key);
			n++;
		}
		explicit_bzero(line, cap);
	}
	if (ferror(f))
		log_warn(
		    "cannot read the gateway keys file", "path", k->path, "err", strerror(errno));
	free(line);
	api_gwkeys_list_free(k->keys, k->n);
	k->keys = keys;
	k->n = n;
	log_info("gateway keys read", "path", k->path, "gateways", LOG_I64(n));
}

static int
api_gwkeys_same(const struct api_gwkeys *k, const struct stat *sb)
{
	return k->have && k->dev == sb->st_dev && k->ino == sb->st_ino && k->size == sb->st_size &&
	    k->mtime.tv_sec == sb->st_mtim.tv_sec && k->mtime.tv_nsec == sb->st_mtim.tv_nsec &&
	    k->ctime.tv_sec == sb->st_ctim.tv_sec && k->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

/* Looks at the file (at most once per API_GWKEYS_CHECK_MS); under lock. */
static void
api_gwkeys_check(struct api_gwkeys *k)
{
	struct stat sb;
	int64_t now = util_mono_ms();
	FILE *f;

	if (k->path == NULL || (k->checked_ms != 0 && now - k->checked_ms < API_GWKEYS_CHECK_MS))
		return;
	k->checked_ms = now != 0 ? now : 1;
	if (stat(k->path, &sb) < 0) {
		if (k->have || errno != ENOENT)
			log_warn("cannot find the gateway keys file: no gateway keys", "path",
			    k->path, "err", strerror(errno));
		k->have = 0;
		api_gwkeys_list_free(k->keys, k->n);
		k->keys = NULL;
		k->n = 0;
		return;
	}
	if (api_gwkeys_same(k, &sb))
		return;
	k->have = 0;
	if ((f = fopen(k->path, "re")) == NULL) {
		log_warn("cannot read the gateway keys file: no gateway keys", "path", k->path,
		    "err", strerror(errno));
		api_gwkeys_list_free(k->keys, k->n);
		k->keys = NULL;
		k->n = 0;
		return;
	}
	api_gwkeys_read(k, f);
	fclose(f);
	k->have = 1;
	k->dev = sb.st_dev;
	k->ino = sb.st_ino;
	k->size = sb.st_size;
	k->mtime = sb.st_mtim;
	k->ctime = sb.st_ctim;
}

struct api_gwkeys *
api_gwkeys_new(const char *path)
{
	struct api_gwkeys *k = xcalloc(1, sizeof(*k));

	pthread_mutex_init(&k->lock, NULL);
	k->path = path != NULL && path[0] != '\0' ? xstrdup(path) : NULL;
	pthread_mutex_lock(&k->lock);
	api_gwkeys_check(k);
	pthread_mutex_unlock(&k->lock);
	return k;
}

void
api_gwkeys_free(struct api_gwkeys *k)
{
	if (k == NULL)
		return;
	api_gwkeys_list_free(k->keys, k->n);
	pthread_mutex_destroy(&k->lock);
	free(k->path);
	free(k);
}

int
api_gwkeys_lookup(struct api_gwkeys *k, const char *token, size_t len, char *name, size_t namelen)
{
	size_t i, hit = SIZE_MAX;

	if (k == NULL || token == NULL || len == 0)
		return 0;
	pthread_mutex_lock(&k->lock);
	api_gwkeys_check(k);
	/* Every key is compared, so the time says nothing about which matched. */
	for (i = 0; i < k->n; i++)
		if (util_secret_equal(k->keys[i].key, token, len))
			hit = i;
	if (hit != SIZE_MAX)
		snprintf(name, namelen, "%s", k->keys[hit].name);
	pthread_mutex_unlock(&k->lock);
	return hit != SIZE_MAX;
}

size_t
api_gwkeys_count(struct api_gwkeys *k)
{
	size_t n;

	if (k == NULL)
		return 0;
	pthread_mutex_lock(&k->lock);
	api_gwkeys_check(k);
	n = k->n;
	pthread_mutex_unlock(&k->lock);
	return n;
}
