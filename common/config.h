/*
 * config: validated settings from the environment.
 *
 * Both programs take their configuration from environment variables with
 * the original Live Status names.  These helpers read one variable each and
 * refuse bad values with a message that names the variable, e.g.
 *   THROTTLE_MS: not a number: "fast"
 * written into err (errlen bytes).  They return 0 on success and -1 on a
 * bad value; an unset or empty variable yields the default.
 *
 * An alias (a second accepted name, such as MM_BOT_TOKEN for MM_TOKEN) is
 * consulted only when the main name is unset; pass NULL for none.
 */
#ifndef LS_CONFIG_H
#define LS_CONFIG_H

#include <stddef.h>

/* The value of name, else of alias, else NULL; empty counts as unset. */
const char *cfg_env(const char *name, const char *alias);

int cfg_long(const char *name, const char *alias, long def, long min, long max, long *out,
    char *err, size_t errlen);

/* true/false, 1/0, yes/no, on/off (any case). */
int cfg_bool(const char *name, const char *alias, int def, int *out, char *err, size_t errlen);

/* A string, or def when unset; never fails.  The result is not copied. */
const char *cfg_str(const char *name, const char *alias, const char *def);

/*
 * One of the words in choices (a NULL-terminated list); *out is its index.
 * def is the index used when the variable is unset.
 */
int cfg_choice(const char *name, const char *alias, const char *const *choices, int def, int *out,
    char *err, size_t errlen);

/* Parses a whole decimal number within [min, max]; 0 or -1. */
int cfg_parse_long(const char *s, long min, long max, long *out);

#endif
