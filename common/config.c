/* config: reading and validating environment variables. */
#include "common/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *
cfg_env(const char *name, const char *alias)
{
	const char *v = getenv(name);

	if ((v == NULL || *v == '\0') && alias != NULL)
		v = getenv(alias);
	if (v != NULL && *v == '\0')
		v = NULL;
	return v;
}

/* The name actually set, for messages: the alias when only it is set. */
static const char *
cfg_name(const char *name, const char *alias)
{
	const char *v = getenv(name);

	if ((v == NULL || *v == '\0') && alias != NULL && getenv(alias) != NULL)
		return alias;
	return name;
}

int
cfg_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
cfg_long(const char *name, const char *alias, long def, long min, long max, long *out, char *err,
    size_t errlen)
{
	const char *v = cfg_env(name, alias);

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (cfg_parse_long(v, min, max, out) == 0)
		return 0;
	snprintf(err, errlen, "%s: expected a whole number from %ld to %ld, got \"%s\"",
	    cfg_name(name, alias), min, max, v);
	return -1;
}

int
cfg_bool(const char *name, const char *alias, int def, int *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	const char *v = cfg_env(name, alias);
	size_t i;

	*out = def;
	if (v == NULL)
		return 0;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	snprintf(err, errlen, "%s: expected true or false, got \"%s\"", cfg_name(name, alias), v);
	return -1;
}

const char *
cfg_str(const char *name, const char *alias, const char *def)
{
	const char *v = cfg_env(name, alias);

	return v != NULL ? v : def;
}

int
cfg_choice(const char *name, const char *alias, const char *const *choices, int def, int *out,
    char *err, size_t errlen)
{
	const char *v = cfg_env(name, alias);
	size_t len = 0;
	int i;

	*out = def;
	if (v == NULL)
		return 0;
	for (i = 0; choices[i] != NULL; i++) {
		if (strcasecmp(v, choices[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	len = (size_t)snprintf(err, errlen, "%s: expected one of", cfg_name(name, alias));
	for (i = 0; choices[i] != NULL && len < errlen; i++)
		len += (size_t)snprintf(err + len, errlen - len, "%s %s", i ? "," : "", choices[i]);
	if (len < errlen)
		snprintf(err + len, errlen - len, ", got \"%s\"", v);
	return -1;
}
