"""The C code's shape: layers that point one way, no include circle, small files and functions.

scripts/check_layers.py reads the #include lines; these tests run it on the tree, and on
small trees made here to show that it does find what it is meant to find.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(ROOT, "scripts", "check_layers.py")
FOLDERS = ("common", "sql", "mm", "watcher", "fcgi", "cli")
MAX_FILE_LINES = 1000
MAX_FUNCTION_LINES = 80


def run_check(root):
    return subprocess.run([sys.executable, CHECK, root], capture_output=True, text=True,
                          timeout=60)


_trees = []  # removed when the module's tests are done


def tearDownModule():
    for tmp in _trees:
        shutil.rmtree(tmp, ignore_errors=True)


def write_tree(files):
    tmp = tempfile.mkdtemp(prefix="ls-layers-")
    _trees.append(tmp)
    for path, text in files.items():
        os.makedirs(os.path.join(tmp, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(tmp, path), "w") as f:
            f.write(text)
    return tmp


BANNED = re.compile(r"(?<![A-Za-z0-9_])(sprintf|vsprintf|strcpy|strcat|atoi|atol|atoll)\s*\(")


def files_ending(ext):
    found = []
    for folder in FOLDERS:
        path = os.path.join(ROOT, folder)
        if os.path.isdir(path):
            found += [os.path.join(folder, name) for name in sorted(os.listdir(path))
                      if name.endswith(ext)]
    return found


def c_files():
    return files_ending(".c")


def h_files():
    return files_ending(".h")


def long_functions(text, limit):
    """(name, lines) of each function whose body, from the line `{` to the line `}`, is longer
    than limit lines (the project's style puts both braces of a function alone on a line)."""
    lines = text.split("\n")
    found = []
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            j = i - 1
            while j > 0 and "(" not in lines[j]:
                j -= 1
            name = re.split(r"\(", lines[j])[0].split()[-1] if lines[j].split() else "?"
            k = i + 1
            while k < len(lines) and lines[k] != "}":
                k += 1
            if k - i + 1 > limit:
                found.append((name, k - i + 1))
            i = k
        i += 1
    return found


class Layers(unittest.TestCase):
    def test_tree_passes(self):
        r = run_check(ROOT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("check_layers: ok", r.stdout)

    def test_finds_a_circle(self):
        tmp = write_tree({
            "fcgi/a.h": '#include "fcgi/b.h"\n',
            "fcgi/a.c": '#include "fcgi/a.h"\n',
            "fcgi/b.h": "",
            "fcgi/b.c": '#include "fcgi/b.h"\n#include "fcgi/c.h"\n',
            "fcgi/c.h": "",
            "fcgi/c.c": '#include "fcgi/a.h"\n',
        })
        r = run_check(tmp)
        self.assertEqual(r.returncode, 1)
        self.assertIn("include circle: fcgi/a -> fcgi/b -> fcgi/c -> fcgi/a", r.stdout)

    def test_private_header_is_no_circle(self):
        tmp = write_tree({
            "sql/store.h": "",
            "sql/store_int.h": '#include "sql/store.h"\n',
            "sql/store.c": '#include "sql/store_int.h"\n',
        })
        r = run_check(tmp)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_finds_an_upward_include_and_a_relative_one(self):
        tmp = write_tree({
            "common/x.h": '#include "sql/store.h"\n',
            "sql/store.h": "",
            "watcher/w.c": '#include "../common/x.h"\n#include "fcgi/f.h"\n',
            "fcgi/f.h": "",
        })
        r = run_check(tmp)
        self.assertEqual(r.returncode, 1)
        self.assertIn('common/x.h: #include "sql/store.h": common/ may not include sql/',
                      r.stdout)
        self.assertIn("climbs with ../", r.stdout)
        self.assertIn("watcher/ may not include fcgi/", r.stdout)


class Sizes(unittest.TestCase):
    def test_no_c_file_above_the_limit(self):
        big = []
        for path in c_files():
            with open(os.path.join(ROOT, path)) as f:
                n = f.read().count("\n")
            if n > MAX_FILE_LINES:
                big.append(f"{path}: {n} lines")
        self.assertEqual(big, [], f"C files above {MAX_FILE_LINES} lines")

    def test_no_function_above_the_limit(self):
        long = []
        for path in c_files():
            with open(os.path.join(ROOT, path)) as f:
                for name, n in long_functions(f.read(), MAX_FUNCTION_LINES):
                    long.append(f"{path}: {name} {n} lines")
        self.assertEqual(long, [], f"functions above {MAX_FUNCTION_LINES} lines")

    def test_no_unbounded_string_or_number_calls(self):
        # sprintf/strcpy/strcat write without a bound, atoi/atol say nothing of a bad number:
        # snprintf, memcpy with a known length and strtol/strtoll with their checks instead
        found = []
        for path in c_files() + h_files():
            with open(os.path.join(ROOT, path)) as f:
                for n, line in enumerate(f, 1):
                    code = line.split("//")[0]
                    for m in BANNED.finditer(code):
                        found.append(f"{path}:{n}: {m.group(1)}")
        self.assertEqual(found, [])

    def test_the_ban_sees_a_call(self):
        self.assertEqual([m.group(1) for m in BANNED.finditer(
            "n = atoi(s); sprintf(b, x); snprintf(b, 1, x); strcpy (d, s); my_atoi(s);")],
            ["atoi", "sprintf", "strcpy"])

    def test_the_measure_sees_a_long_function(self):
        text = "static int\nf(void)\n{\n" + "\tx++;\n" * 90 + "}\n"
        self.assertEqual(long_functions(text, MAX_FUNCTION_LINES), [("f", 92)])


if __name__ == "__main__":
    unittest.main()
