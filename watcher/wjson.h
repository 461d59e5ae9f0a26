/*
 * wjson: small readers of json-c objects shared by the watcher's modules.
 *
 * Every transcript, session-index and store record the watcher reads is a
 * JSON object; these answer "the string member key of o" the same way for
 * all of them, so each module does not carry its own copy.  Returned
 * pointers belong to o and live as long as it does.
 */
#ifndef LS_WATCHER_WJSON_H
#define LS_WATCHER_WJSON_H

#include <json-c/json.h>

/*
 * The string at o[key]; NULL when o is NULL, when key is absent, and when
 * its value is not a JSON string (null, a number, an object).  An empty
 * string is returned as "", not NULL: callers that treat "" as missing say so.
 */
const char *wjson_str(json_object *o, const char *key);

#endif
