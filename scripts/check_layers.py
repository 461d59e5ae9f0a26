#!/usr/bin/env python3
"""check_layers.py: the C code's layers point one way.

    python3 scripts/check_layers.py [ROOT]

Reads every quoted #include in the program folders and fails (exit 1,
one line per finding) when:

  - an include is not written from the repository's root ("common/util.h"),
    names a file that does not exist, or climbs with "../";
  - a folder includes one it may not: each folder may include only itself
    and the folders below it in LAYERS (common/ is the bottom, it includes
    nothing of ours; the three programs never include each other);
  - modules include each other in a circle (a module is x.c with x.h and
    its private x_int.h).

Run by tests/integ/test_layers.py, so by make test.
"""
import os
import re
import sys

# folder -> the folders it may include besides itself
LAYERS = {
    "common": set(),
    "sql": {"common"},
    "mm": {"common", "sql"},
    "watcher": {"common", "sql", "mm"},
    "fcgi": {"common", "sql", "mm"},
    "cli": {"common", "sql", "mm"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(root):
    for folder in sorted(LAYERS):
        path = os.path.join(root, folder)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if name.endswith((".c", ".h")):
                yield folder + "/" + name


def module(path):
    """x.c and x.h are module x; a private header x_int.h belongs to x too."""
    base = os.path.splitext(path)[0]
    if path.endswith("_int.h"):
        base = base[:-len("_int")]
    return base


def find_circle(graph):
    """One circle of the module graph as a list of modules, or None."""
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def check(root):
    problems = []
    graph = {}
    for path in sources(root):
        folder = path.split("/")[0]
        with open(os.path.join(root, path), encoding="utf-8") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            where = f"{path}: #include \"{inc}\""
            if ".." in inc.split("/"):
                problems.append(f"{where}: climbs with ../ (name it from the root)")
                continue
            if not os.path.isfile(os.path.join(root, inc)):
                problems.append(f"{where}: no such file from the repository's root")
                continue
            target = inc.split("/")[0]
            if target not in LAYERS:
                continue  # tests/, build/gen/: not a layer
            if target != folder and target not in LAYERS[folder]:
                problems.append(f"{where}: {folder}/ may not include {target}/")
            if module(inc) != module(path):
                graph.setdefault(module(path), set()).add(module(inc))
    circle = find_circle(graph)
    if circle:
        problems.append("include circle: " + " -> ".join(circle))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))
    problems = check(root)
    for p in problems:
        print("check_layers: " + p)
    if problems:
        return 1
    print("check_layers: ok (%d files)" % sum(1 for _ in sources(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
