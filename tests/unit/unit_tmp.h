/*
 * unit_tmp: a unit test's scratch folder, made in its setup and removed
 * in its teardown.  Include after <cmocka.h> (the helpers assert).
 *
 * unit_tmp_make() makes /tmp/ls-<tag>-XXXXXX into dir and puts the path of
 * a store file in it, <dir>/t.db, into db; unit_tmp_remove() removes the
 * folder with all it holds.
 */
#ifndef LS_UNIT_TMP_H
#define LS_UNIT_TMP_H

#include <stdio.h>
#include <stdlib.h>

static inline void
unit_tmp_make(char *dir, size_t dirlen, char *db, size_t dblen, const char *tag)
{
	snprintf(dir, dirlen, "/tmp/ls-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(dir));
	snprintf(db, dblen, "%s/t.db", dir);
}

static inline void
unit_tmp_remove(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

#endif
