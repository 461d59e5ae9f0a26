"""promparse: a strict parser for the Prometheus text exposition format 0.0.4.

Used by the metrics tests to check that GET /api/v1/metrics is what a
Prometheus server accepts, and to read figures out of it.

    fams = parse(text)              # raises ParseError naming the line
    fams["livestatus_boxes"].type   # "gauge"
    value(fams, "livestatus_boxes", status="active")  # -> float or None

Checked: the line grammar (HELP, TYPE, comments, samples with optional
labels and timestamp), metric and label names, label value escapes, one
TYPE per family given before its samples, samples of a family kept
together, no duplicate series, counters not negative, histograms whose
buckets are cumulative, end with le="+Inf" and agree with _count, and a
final newline.
"""

import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class ParseError(ValueError):
    pass


class Family:
    def __init__(self, name):
        self.name = name
        self.type = "untyped"
        self.help = None
        self.samples = []  # (sample name, labels dict, value)

    def __repr__(self):
        return f"Family({self.name}, {self.type}, {len(self.samples)} samples)"


def _value(s, lineno):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    try:
        return float(s)
    except ValueError:
        raise ParseError(f"line {lineno}: not a number: {s!r}") from None


def _labels(s, pos, lineno):
    """Parses {a="x",b="y"} from s[pos] == '{'; returns (dict, new pos)."""
    labels = {}
    pos += 1
    while True:
        while pos < len(s) and s[pos] == " ":
            pos += 1
        if pos < len(s) and s[pos] == "}":
            return labels, pos + 1
        m = LABEL.match(s, pos)
        if not m:
            raise ParseError(f"line {lineno}: bad label name at column {pos + 1}")
        name = m.group(0)
        pos = m.end()
        if s[pos:pos + 2] != '="':
            raise ParseError(f"line {lineno}: expected =\" after label {name}")
        pos += 2
        val = []
        while True:
            if pos >= len(s):
                raise ParseError(f"line {lineno}: unterminated label value")
            c = s[pos]
            if c == "\\":
                nxt = s[pos + 1:pos + 2]
                if nxt == "n":
                    val.append("\n")
                elif nxt in ("\\", '"'):
                    val.append(nxt)
                else:
                    raise ParseError(f"line {lineno}: bad escape \\{nxt} in label {name}")
                pos += 2
            elif c == '"':
                pos += 1
                break
            else:
                val.append(c)
                pos += 1
        if name in labels:
            raise ParseError(f"line {lineno}: label {name} given twice")
        labels[name] = "".join(val)
        if pos < len(s) and s[pos] == ",":
            pos += 1
        elif pos < len(s) and s[pos] == "}":
            return labels, pos + 1
        else:
            raise ParseError(f"line {lineno}: expected , or }} after label {name}")


def _family_of(sample, fams):
    """The family a sample name belongs to (histogram/summary suffixes)."""
    if sample in fams:
        return fams[sample]
    for suffix in ("_bucket", "_sum", "_count"):
        if sample.endswith(suffix):
            base = fams.get(sample[: -len(suffix)])
            if base is not None and base.type in ("histogram", "summary"):
                if suffix == "_bucket" and base.type != "histogram":
                    continue
                return base
    return None


def parse(text):
    if text and not text.endswith("\n"):
        raise ParseError("the exposition does not end with a newline")
    fams = {}
    order = []  # family names in the order their samples appear
    seen = set()
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not NAME.fullmatch(parts[2]):
                    raise ParseError(f"line {lineno}: bad metric name in {parts[1]}")
                fam = fams.setdefault(parts[2], Family(parts[2]))
                rest = parts[3] if len(parts) > 3 else ""
                if parts[1] == "TYPE":
                    if rest not in TYPES:
                        raise ParseError(f"line {lineno}: unknown type {rest!r}")
                    if getattr(fam, "_typed", False):
                        raise ParseError(f"line {lineno}: second TYPE for {fam.name}")
                    if fam.samples:
                        raise ParseError(f"line {lineno}: TYPE after samples of {fam.name}")
                    fam.type = rest
                    fam._typed = True
                else:
                    if fam.help is not None:
                        raise ParseError(f"line {lineno}: second HELP for {fam.name}")
                    fam.help = rest
            continue
        m = NAME.match(line)
        if not m:
            raise ParseError(f"line {lineno}: bad metric name: {line[:60]!r}")
        sname = m.group(0)
        pos = m.end()
        labels = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = _labels(line, pos, lineno)
        if pos >= len(line) or line[pos] != " ":
            raise ParseError(f"line {lineno}: expected a space before the value")
        fields = line[pos:].split()
        if len(fields) not in (1, 2):
            raise ParseError(f"line {lineno}: expected value [timestamp]")
        val = _value(fields[0], lineno)
        if len(fields) == 2 and not re.fullmatch(r"-?[0-9]+", fields[1]):
            raise ParseError(f"line {lineno}: bad timestamp {fields[1]!r}")
        fam = _family_of(sname, fams)
        if fam is None:
            fam = fams.setdefault(sname, Family(sname))
        if order and order[-1] != fam.name and fam.name in order:
            raise ParseError(f"line {lineno}: samples of {fam.name} are not together")
        if not order or order[-1] != fam.name:
            order.append(fam.name)
        key = (sname, tuple(sorted(labels.items())))
        if key in seen:
            raise ParseError(f"line {lineno}: series given twice: {sname}{labels}")
        seen.add(key)
        if fam.type == "counter" and val < 0:
            raise ParseError(f"line {lineno}: negative counter {sname}")
        fam.samples.append((sname, labels, val))
    for fam in fams.values():
        if fam.type == "histogram":
            _check_histogram(fam)
    return fams


def _check_histogram(fam):
    groups = {}
    for sname, labels, val in fam.samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if sname == fam.name + "_bucket":
            if "le" not in labels:
                raise ParseError(f"{fam.name}: bucket without le")
            g["buckets"].append((_value(labels["le"], 0), val))
        elif sname == fam.name + "_sum":
            g["sum"] = val
        elif sname == fam.name + "_count":
            g["count"] = val
        else:
            raise ParseError(f"{fam.name}: unexpected sample {sname}")
    for rest, g in groups.items():
        b = g["buckets"]
        if not b or b[-1][0] != math.inf:
            raise ParseError(f"{fam.name}{dict(rest)}: no le=\"+Inf\" bucket last")
        if [x[0] for x in b] != sorted(x[0] for x in b):
            raise ParseError(f"{fam.name}{dict(rest)}: buckets not in order of le")
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            raise ParseError(f"{fam.name}{dict(rest)}: buckets not cumulative")
        if g["count"] is None or g["sum"] is None:
            raise ParseError(f"{fam.name}{dict(rest)}: missing _sum or _count")
        if g["count"] != b[-1][1]:
            raise ParseError(f"{fam.name}{dict(rest)}: _count differs from the +Inf bucket")


def value(fams, name, **labels):
    """The value of the one sample called name whose labels include labels;
    None when there is none."""
    fam = _family_of(name, fams)
    if fam is None:
        return None
    for sname, slabels, val in fam.samples:
        if sname == name and all(slabels.get(k) == v for k, v in labels.items()):
            return val
    return None


def total(fams, name, **labels):
    """The sum of all samples called name whose labels include labels."""
    fam = _family_of(name, fams)
    if fam is None:
        return 0.0
    return sum(val for sname, slabels, val in fam.samples
               if sname == name and all(slabels.get(k) == v for k, v in labels.items()))
