/*
 * api_gwkeys: the per-gateway keys of POST /api/v1/gateway/boxes.
 *
 * The keys file (GATEWAY_KEYS_FILE, default /etc/livestatus/gateway-keys)
 * holds one gateway per line:
 *
 *   # name    key
 *   gw-a      0123456789abcdef0123
 *
 * NAME matches [A-Za-z0-9_.-]{1,64}, KEY is at least API_GWKEY_MIN bytes
 * with no white space or control character, separated by spaces or tabs.
 * Blank lines and lines starting with '#' are ignored, and so is a third
 * field starting with '#'.  Any other line (bad name, short key, extra
 * fields, a name or a key given twice) is logged once, with its line
 * number, and skipped; keys are never logged.
 *
 * A gateway presents its key as "Authorization: Bearer <key>".
 * api_gwkeys_lookup() compares the token with every key, each in constant
 * time, and copies the name of the gateway whose key it is.  Before that it
 * looks at the file (stat, at most once per API_GWKEYS_CHECK_MS) and reads
 * it again when its inode, size or mtime changed, so that removing a line
 * revokes a gateway without a restart.  A file that is missing (or cannot
 * be read) means no keys.
 *
 * A handle is shared by all worker threads: lookups take its mutex.
 * api_gwkeys_new(NULL) or a missing file gives a handle without keys;
 * whether a missing file is an error is api_config_load()'s business.
 */
#ifndef LS_API_GWKEYS_H
#define LS_API_GWKEYS_H

#include <stddef.h>

#define API_GATEWAY_NAME_MAX 64 /* bytes of a gateway name */
#define API_GWKEY_MIN 16        /* bytes of a key, at least */
#define API_GWKEY_MAX 1024      /* bytes of a key, at most */
#define API_GWKEYS_CHECK_MS 1000

struct api_gwkeys;

struct api_gwkeys *api_gwkeys_new(const char *path);
void api_gwkeys_free(struct api_gwkeys *k);

/*
 * 1 when token[0..len) is a gateway's key, with that gateway's name in
 * name (namelen bytes, at least API_GATEWAY_NAME_MAX + 1); else 0.
 * k may be NULL (no keys).
 */
int
api_gwkeys_lookup(struct api_gwkeys *k, const char *token, size_t len, char *name, size_t namelen);

/* The keys in use now (after a look at the file), for tests and logs. */
size_t api_gwkeys_count(struct api_gwkeys *k);

/* 1 when s is a gateway name: [A-Za-z0-9_.-]{1,64}. */
int api_gwkeys_valid_name(const char *s);

#endif
