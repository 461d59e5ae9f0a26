#!/usr/bin/env python3
"""figures: the one table of `make bench`.

Each benchmark prints its own report, and beside it one line per figure that
belongs in the table:

    bench-figure: {"what": ..., "value": ..., "command": ..., ...}

From Python:  figures.figure(what, value, command, peer=..., ratio=..., goal=...,
holds=...).  From a shell script:

    python3 tests/bench/figures.py emit --what W --value V --command C \\
        [--peer P] [--ratio R] [--goal G] [--holds yes|no]

`peer` is what the figure is measured against in the same run (static nginx, a
parse-only pass, the hello-world responder, OpenClaw's own draft preview),
`ratio` the figure over its peer, `goal` the target the project set for it and
`holds` whether this run meets it.  tests/bench/run.sh (make bench) keeps each
part's output and ends with

    python3 tests/bench/figures.py table LOG... [--out FILE] [--write DOC]

which prints the table of every figure found, in order, writes it to FILE and,
with --write, puts it into DOC between the lines BEGIN and END below, keeping the
rows of parts that did not run (make bench does that for docs/benchmarks.md when
BENCH_WRITE_DOCS=1).  Standard library only.
"""
import argparse
import json
import sys

MARK = "bench-figure: "
BEGIN = "<!-- bench-figures: begin (written by make bench with BENCH_WRITE_DOCS=1) -->"
END = "<!-- bench-figures: end -->"
COLUMNS = ("what", "figure", "peer (same run)", "ratio", "goal", "holds", "measured by")


def figure(what, value, command, peer="", ratio=None, goal="", holds=None):
    """Prints one figure's line for the table (stdout, flushed)."""
    row = {"what": what, "value": value, "command": command, "peer": peer,
           "ratio": ratio, "goal": goal, "holds": holds}
    print(MARK + json.dumps(row), flush=True)


def rows_of(lines):
    """The figures among a benchmark's output lines; a broken one is skipped."""
    rows = []
    for line in lines:
        at = line.find(MARK)
        if at < 0:
            continue
        try:
            row = json.loads(line[at + len(MARK):])
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("what") and row.get("value"):
            rows.append(row)
    return rows


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(rows):
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        ratio = r.get("ratio")
        holds = r.get("holds")
        out.append("| " + " | ".join(cell(c) for c in (
            r["what"], r["value"], r.get("peer") or "",
            "%.2f" % ratio if isinstance(ratio, (int, float)) else (ratio or ""),
            r.get("goal") or "",
            "" if holds is None else ("yes" if holds else "no"),
            "`%s`" % r["command"] if r.get("command") else "")) + " |")
    return "\n".join(out) + "\n"


def merged(old_rows, text):
    """The table text with the rows of old_rows (lines of an earlier table) whose part
    (its last cell, the command) did not run this time kept where they were."""
    lines = text.splitlines()
    head, new_rows = lines[:2], lines[2:]
    part = lambda row: row.rstrip(" |").rsplit("|", 1)[-1].strip()  # noqa: E731
    ran = {}
    for row in new_rows:
        ran.setdefault(part(row), []).append(row)
    out, done = [], set()
    for row in old_rows:
        p = part(row)
        if p not in ran:
            out.append(row)
        elif p not in done:
            out += ran[p]
            done.add(p)
    out += [row for row in new_rows if part(row) not in done]
    return "\n".join(head + out) + "\n"


def write_into(doc, text):
    """Puts the table between BEGIN and END in doc (rows of parts that did not run
    stay); 0, or 1 without the markers."""
    with open(doc) as f:
        old = f.read()
    a, b = old.find(BEGIN), old.find(END)
    if a < 0 or b < a:
        print("figures: %s has no %r ... %r lines" % (doc, BEGIN, END), file=sys.stderr)
        return 1
    old_rows = [line for line in old[a + len(BEGIN):b].splitlines() if line.startswith("|")][2:]
    new = old[:a + len(BEGIN)] + "\n" + merged(old_rows, text) + old[b:]
    with open(doc, "w") as f:
        f.write(new)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="the benchmarks' one figures table")
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("emit", help="print one figure's line (for shell benchmarks)")
    e.add_argument("--what", required=True)
    e.add_argument("--value", required=True)
    e.add_argument("--command", required=True)
    e.add_argument("--peer", default="")
    e.add_argument("--ratio", type=float)
    e.add_argument("--goal", default="")
    e.add_argument("--holds", choices=("yes", "no"))
    t = sub.add_parser("table", help="the table of the figures in benchmark logs")
    t.add_argument("logs", nargs="*", help="benchmark outputs (none: standard input)")
    t.add_argument("--out", help="also write the table to this file")
    t.add_argument("--write", metavar="DOC", help="put the table into DOC between its markers")
    a = ap.parse_args(argv)
    if a.cmd == "emit":
        figure(a.what, a.value, a.command, a.peer, a.ratio, a.goal,
               None if a.holds is None else a.holds == "yes")
        return 0
    lines = []
    if not a.logs:
        lines = sys.stdin.read().splitlines()
    for path in a.logs:
        try:
            with open(path, errors="replace") as f:
                lines += f.read().splitlines()
        except OSError as err:
            print("figures: cannot read %s: %s" % (path, err), file=sys.stderr)
    rows = rows_of(lines)
    if not rows:
        print("figures: no figures found", file=sys.stderr)
        return 1
    text = table(rows)
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return write_into(a.write, text) if a.write else 0


if __name__ == "__main__":
    sys.exit(main())
