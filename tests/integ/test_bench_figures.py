"""make bench's one table (tests/bench/figures.py): the benchmarks' figure lines become
one Markdown table, written into docs/benchmarks.md between its markers, and every
benchmark part reports its figures that way.  No benchmark runs here."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIGURES = os.path.join(ROOT, "tests", "bench", "figures.py")
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
import figures  # noqa: E402


def run(*args, stdin=""):
    return subprocess.run([sys.executable, FIGURES, *args], input=stdin, capture_output=True,
                          text=True, timeout=60)


class Table(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ls-figures-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def emit(self, *args):
        r = run("emit", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_figures_among_other_output_make_one_table(self):
        log = ("=== bench_x\nsome report line\n"
               + self.emit("--what", "reads", "--value", "10 req/s", "--command", "sh x.sh",
                           "--peer", "static 20", "--ratio", "0.5", "--goal", ">= 0.6",
                           "--holds", "no")
               + "bench-figure: {not json\n"
               + self.emit("--what", "a | pipe", "--value", "1 ms", "--command", "sh y.sh"))
        path = os.path.join(self.tmp, "x.log")
        with open(path, "w") as f:
            f.write(log)
        out = os.path.join(self.tmp, "figures.md")
        r = run("table", path, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = r.stdout.splitlines()
        self.assertEqual(rows[0], "| " + " | ".join(figures.COLUMNS) + " |")
        self.assertEqual(rows[2], "| reads | 10 req/s | static 20 | 0.50 | >= 0.6 | no | "
                                  "`sh x.sh` |")
        self.assertEqual(rows[3], "| a \\| pipe | 1 ms |  |  |  |  | `sh y.sh` |")
        self.assertEqual(len(rows), 4)  # the broken line is no row
        with open(out) as f:
            self.assertEqual(f.read(), r.stdout)

    def test_no_figures_is_an_error(self):
        r = run("table", stdin="nothing here\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no figures", r.stderr)

    def test_write_replaces_the_rows_of_the_parts_that_ran(self):
        doc = os.path.join(self.tmp, "doc.md")
        old = [figures.table([
            {"what": "a1", "value": "old", "command": "sh a.sh"},
            {"what": "b1", "value": "kept", "command": "sh b.sh"},
            {"what": "a2", "value": "old", "command": "sh a.sh"}])]
        with open(doc, "w") as f:
            f.write("# Doc\n\n" + figures.BEGIN + "\n" + old[0] + figures.END + "\n\ntail\n")
        log = (self.emit("--what", "a1", "--value", "new", "--command", "sh a.sh")
               + self.emit("--what", "c1", "--value", "new", "--command", "sh c.sh"))
        r = run("table", "--write", doc, stdin=log)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(doc) as f:
            text = f.read()
        self.assertTrue(text.startswith("# Doc\n\n" + figures.BEGIN + "\n"))
        self.assertTrue(text.endswith(figures.END + "\n\ntail\n"))
        body = [line.split(" | ")[:2] for line in text.splitlines() if line.startswith("| ")]
        self.assertEqual(body[1:], [["| a1", "new"], ["| b1", "kept"], ["| c1", "new"]])

    def test_write_without_markers_fails_and_leaves_the_doc(self):
        doc = os.path.join(self.tmp, "doc.md")
        with open(doc, "w") as f:
            f.write("no markers\n")
        r = run("table", "--write", doc,
                stdin=self.emit("--what", "a", "--value", "1", "--command", "c"))
        self.assertEqual(r.returncode, 1)
        with open(doc) as f:
            self.assertEqual(f.read(), "no markers\n")


class Parts(unittest.TestCase):
    def test_every_part_reports_figures(self):
        # a part is tests/bench/bench_<name>.sh; it or the Python it runs reports figures
        for sh in sorted(glob.glob(os.path.join(ROOT, "tests", "bench", "bench_*.sh"))):
            with open(sh) as f:
                text = f.read()
            py = sh[:-3] + ".py"
            if os.path.exists(py):
                with open(py) as f:
                    text += f.read()
            with self.subTest(part=os.path.basename(sh)):
                self.assertRegex(text, r"\bfigure\(|figures\.py emit")

    def test_the_doc_has_the_table_between_its_markers(self):
        with open(os.path.join(ROOT, "docs", "benchmarks.md")) as f:
            text = f.read()
        a, b = text.find(figures.BEGIN), text.find(figures.END)
        self.assertGreater(b, a)
        self.assertGreaterEqual(a, 0)
        rows = [line for line in text[a:b].splitlines() if line.startswith("|")]
        self.assertEqual(rows[0], "| " + " | ".join(figures.COLUMNS) + " |")
        for row in rows[2:]:
            self.assertRegex(row, r"\| `sh tests/bench/bench_\w+\.sh` \|$")

    def test_make_bench_ends_with_the_table(self):
        with open(os.path.join(ROOT, "tests", "bench", "run.sh")) as f:
            text = f.read()
        self.assertRegex(text, re.compile(r"figures\.py table .*--out build/bench/figures\.md"))


if __name__ == "__main__":
    unittest.main()
