/*
 * json_ceiling: reads transcript files and parses every line with json-c,
 * nothing else.  The ceiling the watcher's replay rate is compared with.
 *
 *   json_ceiling FILE...   prints "<lines> <seconds>"
 */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
main(int argc, char **argv)
{
	struct timespec a, b;
	json_tokener *tok = json_tokener_new();
	long lines = 0;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;

		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		while ((n = getline(&line, &cap, f)) > 0) {
			json_object *o;

			json_tokener_reset(tok);
			o = json_tokener_parse_ex(tok, line, (int)n);
			if (o != NULL)
				lines++;
			json_object_put(o);
		}
		free(line);
		fclose(f);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%ld %.6f\n", lines, (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	json_tokener_free(tok);
	return 0;
}
