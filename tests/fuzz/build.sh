#!/bin/sh
# build.sh: builds the libFuzzer harnesses with clang (tests/fuzz/README.md).
#
#   sh tests/fuzz/build.sh            -> build/fuzz/fuzz_api_json, build/fuzz/fuzz_transcript
#
# Needs clang and libFuzzer (Debian: apt-get install clang libclang-rt-14-dev);
# make test does not: it replays the corpora through tests/unit/test_fuzz_replay.c.
# Each harness links the few modules it reaches, built here with
# -fsanitize=fuzzer-no-link,address,undefined.
set -eu
cd "$(dirname "$0")/../.."
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
command -v "$CC" >/dev/null 2>&1 || { echo "build.sh: $CC not found (apt-get install clang libclang-rt-14-dev)"; exit 1; }
mkdir -p "$OUT/obj"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -D_GNU_SOURCE -DLS_VERSION=\"fuzz\" -g -O1 -fno-omit-frame-pointer $SAN \
	-I. $(pkg-config --cflags json-c sqlite3)"
LIBS="$(pkg-config --libs json-c sqlite3) -lpthread"

sh scripts/embed.sh store_schema_sql sql/schema.sql > "$OUT/obj/schema_sql.c"

# obj SRC: compiles SRC (instrumented for coverage) and prints the object.
obj() {
	o="$OUT/obj/$(echo "$1" | tr / _ | sed 's/\.c$/.o/')"
	$CC $CFLAGS -fsanitize=fuzzer-no-link -c -o "$o" "$1"
	echo "$o"
}

LIB="$(obj common/util.c) $(obj common/xmalloc.c) $(obj common/log.c)"
STORE="$(obj sql/store.c) $(obj "$OUT/obj/schema_sql.c")"

$CC $CFLAGS -fsanitize=fuzzer -o "$OUT/fuzz_api_json" tests/fuzz/fuzz_api_json.c \
	$(obj fcgi/api_json.c) $(obj fcgi/api_box.c) $(obj fcgi/api_http.c) \
	$(obj fcgi/api_cache.c) $STORE $LIB $LIBS
$CC $CFLAGS -fsanitize=fuzzer -o "$OUT/fuzz_transcript" tests/fuzz/fuzz_transcript.c \
	$(obj watcher/transcript.c) $LIB $LIBS
echo "built $OUT/fuzz_api_json $OUT/fuzz_transcript"
