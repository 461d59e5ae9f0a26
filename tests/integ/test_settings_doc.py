"""Settings: what the code reads, what --help says and docs/configuration.md agree.

For each program of the Makefile (livestatus-watcher, livestatus-fcgi,
live-status) the settings it reads are taken from its C sources, the
shared library code it links (common/, sql/) and the other folders its link
rule names (the Mattermost layer mm/, for two of them; of those, only the
functions the program's own code calls, directly or through each other):
every call of a helper whose
first two parameters are (const char *name, const char *alias), as
common/config.h declares them, with a literal name (and alias), plus every
getenv() of a literal name.  LISTEN_PID and LISTEN_FDS are systemd's socket
hand-over, not settings; REMOTE_ADDR and PATH_INFO, which a --help may
name, are FastCGI parameters.

The test fails, naming each name and where it is missing, when a setting
read by a program is absent from its --help output or from its table in
docs/configuration.md, when either names a setting the program never reads,
or when the table's default or bounds of a whole-number setting differ from
the code's.  The same holds for the options of install.sh and
livestatus-check: those in the script's option parser, those in its --help
and those in its docs/configuration.md table.  No server is started: only
`--help` of the built programs (LIVESTATUS_BUILD, default build).
"""

import ast
import glob
import operator
import os
import re
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "configuration.md")
SYSTEMD = {"LISTEN_PID", "LISTEN_FDS"}
# FastCGI parameters nginx passes with each request; a --help may name them.
FCGI_PARAMS = {"REMOTE_ADDR", "PATH_INFO"}
SCRIPTS = {"install.sh": "install.sh", "livestatus-check": "scripts/livestatus-check"}

# A setting's name as it appears in text: capitals, digits and at least one
# underscore, not part of a longer word.
NAME_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_])([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])(?![A-Za-z0-9_])")
HELPER_DEF = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(\s*const char \*name,\s*const char \*alias\b")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def build_dir():
    b = os.environ.get("LIVESTATUS_BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(ROOT, b)


def makefile_programs():
    """{program: its folder} from the link rules, the shared folders every one links, and
    {program: [the other folders its link rule names through an $(X_OBJ) list]}."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = f.read()
    rules = re.findall(r"^\$\(BUILD\)/([\w.-]+):\s*\$\(call obj,(\w+)/main\.c\)(.*)$", text,
                       re.M)
    progs = {prog: folder for prog, folder, _ in rules}
    lib = re.search(r"^LIB_SRC\s*:=(.*)$", text, re.M)
    shared = re.findall(r"wildcard (\w+)/\*\.c", lib.group(1)) if lib else []
    extra = {}
    for prog, folder, rest in rules:
        for var in re.findall(r"\$\((\w+)_OBJ\)", rest):
            src = re.search(r"^%s_SRC\s*:=(.*)$" % var, text, re.M)
            for f in re.findall(r"wildcard (\w+)/\*\.c", src.group(1)) if src else []:
                if f != folder and f not in shared and f not in extra.setdefault(prog, []):
                    extra[prog].append(f)
    return progs, shared, extra


def sources(folders):
    out = []
    for folder in folders:
        out += sorted(glob.glob(os.path.join(ROOT, folder, "*.[ch]")))
    return out


def read_source(path):
    with open(path, errors="replace") as f:
        text = f.read()
    # Comments blanked, newlines kept, so line numbers stay right.
    return COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def helpers(paths):
    names = {"getenv", "secure_getenv"}
    for p in paths:
        names.update(HELPER_DEF.findall(read_source(p)))
    return names


FUNC_START = re.compile(r"^([a-z_][a-z0-9_]*)\(", re.M)
WORD = re.compile(r"\b[a-z_][a-z0-9_]*\b")


def functions(text):
    """[(name, start, end)] of the top-level function definitions of a C text (name at the
    start of a line, body up to the next "}" alone on a line)."""
    out = []
    for m in FUNC_START.finditer(text):
        end = text.find("\n}\n", m.start())
        if end >= 0 and text.find(";", m.start(), text.find("{", m.start())) < 0:
            out.append((m.group(1), m.start(), end + 2))
    return out


def reached(own_paths, extra_paths):
    """{path: text} of extra_paths with every function the program never calls blanked
    (newlines kept): the called ones are those named in own_paths, then in their bodies."""
    texts = {p: read_source(p) for p in extra_paths}
    funcs = {p: functions(t) for p, t in texts.items()}
    words = set()
    for p in own_paths:
        words.update(WORD.findall(read_source(p)))
    keep, grew = set(), True
    while grew:
        grew = False
        for p, fs in funcs.items():
            for name, a, b in fs:
                if (p, name) not in keep and name in words:
                    keep.add((p, name))
                    words.update(WORD.findall(texts[p][a:b]))
                    grew = True
    for p, fs in funcs.items():
        t = texts[p]
        for name, a, b in reversed(fs):
            if (p, name) not in keep:
                t = t[:a] + re.sub(r"[^\n]", " ", t[a:b]) + t[b:]
        texts[p] = t
    return texts


def env_reads(paths, helper_names, texts=None):
    """{name: "file:line" of its first read} for the literal names passed to helper_names
    (texts: the source of some paths, as reached() gives it)."""
    call = re.compile(r"\b(?:%s)\s*\(\s*\"([A-Z][A-Z0-9_]*)\"(?:\s*,\s*\"([A-Z][A-Z0-9_]*)\")?"
                      % "|".join(sorted(helper_names)))
    found = {}
    for p in paths:
        text = texts[p] if texts and p in texts else read_source(p)
        for m in call.finditer(text):
            where = "%s:%d" % (os.path.relpath(p, ROOT), text.count("\n", 0, m.start()) + 1)
            for n in m.groups():
                if n:
                    found.setdefault(n, where)
    return found


def defines(paths):
    out = {}
    for p in paths:
        for name, value in re.findall(r"^#define\s+([A-Z][A-Z0-9_]*)\s+([^\n]+)$",
                                      read_source(p), re.M):
            out.setdefault(name, value.strip())
    return out


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.FloorDiv: operator.floordiv, ast.Div: operator.floordiv}


def c_number(expr, consts, depth=0):
    """The value of a C constant expression of whole numbers, #defines and + - * /; or None."""
    expr = re.sub(r"\b(\d+)[uUlL]+\b", r"\1", expr.strip())
    if depth > 8:
        return None

    def ev(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = ev(node.operand)
            return None if v is None else -v
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            a, b = ev(node.left), ev(node.right)
            return None if a is None or b is None else _OPS[type(node.op)](a, b)
        if isinstance(node, ast.Name) and node.id in consts:
            return c_number(consts[node.id], consts, depth + 1)
        return None

    try:
        return ev(ast.parse(expr, mode="eval").body)
    except SyntaxError:
        return None


def long_settings(paths, consts, texts=None):
    """{name: [(default, min, max, "file:line"), ...]} of the cfg_long() reads."""
    call = re.compile(r"\bcfg_long\s*\(\s*\"([A-Z][A-Z0-9_]*)\"\s*,\s*(?:NULL|\"[A-Z0-9_]+\")\s*,"
                      r"\s*([^,]+),\s*([^,]+),\s*([^,]+),")
    out = {}
    for p in paths:
        text = texts[p] if texts and p in texts else read_source(p)
        for m in call.finditer(text):
            where = "%s:%d" % (os.path.relpath(p, ROOT), text.count("\n", 0, m.start()) + 1)
            vals = tuple(c_number(e, consts) for e in m.groups()[1:])
            out.setdefault(m.group(1), []).append(vals + (where,))
    return out


def doc_sections():
    """{heading text: section text} of docs/configuration.md's "## " sections."""
    try:
        with open(DOC) as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    parts = re.split(r"^## +(.*)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def section_for(sections, program):
    for head, body in sections.items():
        if re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(program), head):
            return body
    return None


def table_rows(section):
    """(first cell, the other cells) of every table row of a section, headers left out."""
    rows, in_table = [], False
    for line in section.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not in_table:
            in_table = True  # the header row
            continue
        if all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue
        rows.append((cells[0], cells[1:]))
    return rows


def run_help(argv):
    proc = subprocess.run(argv + ["--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    return proc.returncode, proc.stdout + proc.stderr


def mentions(text, name):
    return re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(name), text) is not None


class SettingsDocTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.progs, cls.shared, cls.extra = makefile_programs()
        cls.sections = doc_sections()

    def test_makefile_names_the_three_programs(self):
        self.assertEqual(sorted(self.progs), ["live-status", "livestatus-fcgi",
                                              "livestatus-watcher"], "Makefile link rules")
        self.assertIn("common", self.shared)

    def all_folders(self):
        return sorted(set(self.progs.values()) | set(self.shared)
                      | {f for fs in self.extra.values() for f in fs})

    def program_reads(self, prog):
        own = sources([self.progs[prog]] + self.shared)
        self.texts = reached(own, sources(self.extra.get(prog, [])))
        paths = own + sorted(self.texts)
        reads = env_reads(paths, helpers(sources(self.all_folders())), self.texts)
        return paths, reads

    def test_the_parser_finds_settings(self):
        # Guards the regexes: a renamed helper must not make every check pass vacuously.
        for prog, must in (("livestatus-watcher", {"TRANSCRIPT_DIR", "MM_RATE_LIMIT", "MM_URL",
                                                   "MM_BASE_URL", "PLUGIN_URL"}),
                           ("livestatus-fcgi", {"READ_AUTH", "AUTH_CLIENT_LOOKUPS", "LISTEN_FDS"}),
                           ("live-status", {"PLUGIN_SECRET", "MAX_STATUS_LINES"})):
            _, reads = self.program_reads(prog)
            self.assertLessEqual(must, set(reads), prog)

    def test_help_and_doc_list_every_setting_and_no_other(self):
        problems = []
        for prog in sorted(self.progs):
            paths, reads = self.program_reads(prog)
            wanted = {n: w for n, w in reads.items() if n not in SYSTEMD}
            binary = os.path.join(build_dir(), prog)
            if not os.access(binary, os.X_OK):
                problems.append(f"{prog}: {os.path.relpath(binary, ROOT)} is missing: run make all")
                continue
            rc, help_text = run_help([binary])
            if rc != 0:
                problems.append(f"{prog} --help: exit status {rc}")
            for name, where in sorted(wanted.items()):
                if not mentions(help_text, name):
                    problems.append(f"{name}: read by {prog} ({where}), missing from "
                                    f"`{prog} --help`")
            for name in sorted(set(NAME_IN_TEXT.findall(help_text)) - set(reads) - FCGI_PARAMS):
                problems.append(f"{name}: named by `{prog} --help`, never read by {prog}")

            section = section_for(self.sections, prog)
            if section is None:
                problems.append(f"{prog}: no \"## {prog}\" section in docs/configuration.md")
                continue
            rows = table_rows(section)
            documented = {}
            for first, rest in rows:
                for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", first):
                    documented[name] = rest
            for name, where in sorted(wanted.items()):
                if name not in documented:
                    problems.append(f"{name}: read by {prog} ({where}), missing from the {prog} "
                                    f"table of docs/configuration.md")
            for name in sorted(set(documented) - set(reads)):
                problems.append(f"{name}: in the {prog} table of docs/configuration.md, never "
                                f"read by {prog}")

            consts = defines(sources(self.all_folders()))
            for name, uses in sorted(long_settings(paths, consts, self.texts).items()):
                if any(None in u[:3] for u in uses):
                    problems.append(f"{name}: cannot evaluate the default or bounds at "
                                    + ", ".join(u[3] for u in uses))
                    continue
                defaults = {u[0] for u in uses}
                if len(defaults) > 1:
                    problems.append(f"{name}: {prog} reads it with different defaults at "
                                    + ", ".join(u[3] for u in uses))
                    continue
                lo, hi = max(u[1] for u in uses), min(u[2] for u in uses)
                rest = documented.get(name)
                if rest is None or len(rest) < 2:
                    continue  # reported above, or a table without default and bounds
                default = defaults.pop()
                if not re.search(r"(?<![\d.])%d(?!\.?\d)" % default, rest[0].replace(" ", "")):
                    problems.append(f"{name}: default {default} in the code, \"{rest[0]}\" in "
                                    f"the {prog} table of docs/configuration.md")
                m = re.search(r"(-?\d+)\s*(?:-|–|to)\s*(-?\d+)", rest[1])
                if m is None or (int(m.group(1)), int(m.group(2))) != (lo, hi):
                    problems.append(f"{name}: bounds {lo}-{hi} in the code, \"{rest[1]}\" in "
                                    f"the {prog} table of docs/configuration.md")
        if problems:
            self.fail("settings out of step:\n  " + "\n  ".join(problems))

    def test_script_options_are_in_help_and_doc(self):
        problems = []
        for prog, rel in sorted(SCRIPTS.items()):
            with open(os.path.join(ROOT, rel)) as f:
                parser = f.read()
            options = set(re.findall(r"^\s*(?:-[a-z]\|)?(--[a-z][a-z-]*)\)", parser, re.M))
            options |= set(re.findall(r"^\s*(-[a-z])\)", parser, re.M))
            if not options:
                problems.append(f"{rel}: no option found in its parser")
                continue
            rc, help_text = run_help(["sh", os.path.join(ROOT, rel)])
            if rc != 0:
                problems.append(f"{prog} --help: exit status {rc}")
            section = section_for(self.sections, prog)
            documented = set()
            if section is None:
                problems.append(f"{prog}: no \"## {prog}\" section in docs/configuration.md")
            else:
                for first, _ in table_rows(section):
                    documented.update(re.findall(r"`(--?[a-z][a-z-]*)", first))
            for opt in sorted(options):
                if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), help_text):
                    problems.append(f"{opt}: taken by {rel}, missing from `{prog} --help`")
                if section is not None and opt not in documented:
                    problems.append(f"{opt}: taken by {rel}, missing from the {prog} table of "
                                    f"docs/configuration.md")
            for opt in sorted(documented - options):
                problems.append(f"{opt}: in the {prog} table of docs/configuration.md, not taken "
                                f"by {rel}")
        if problems:
            self.fail("options out of step:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    unittest.main()
