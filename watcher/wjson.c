/*
 * wjson: small readers of json-c objects (see wjson.h).
 */
#include "watcher/wjson.h"

#include <stddef.h>

const char *
wjson_str(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}
