"""Issue 13, item 5: numbers in transcripts.

Before the fix `usage.input = 1e308` overflowed a signed integer (UB in
watcher/box.c) and doubles and negatives were taken as counts.  Now every
count, time and duration is an integer in [0, 2^53] or the field is dropped
and counted (stats.numbers_dropped); sums never pass INT64_MAX.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integ"))
from wharness import WatcherCase, assistant, header, wait_for  # noqa: E402


def with_usage(text, usage, stop="toolUse"):
    line = assistant([text], stop=stop)
    line["message"]["usage"] = usage
    return line


class Numbers(WatcherCase):
    def test_bad_numbers_are_dropped_and_counted(self):
        self.start_watcher()
        self.lock("n.jsonl")
        self.append("n.jsonl", header("n"))
        bad = [{"input": 1e308, "output": 1}, {"input": -5, "output": 2},
               {"input": 1.5, "output": 3}, {"input": "12", "output": 4},
               {"input": 2 ** 63 - 1, "output": 5}, {"input": 2 ** 70, "output": 6}]
        for i, usage in enumerate(bad):
            self.append("n.jsonl", with_usage("bad %d" % i, usage))
        # raw text, so the JSON holds what Python's encoder would not write
        self.append("n.jsonl", raw=b'{"type":"message","id":"x1","parentId":null,'
                    b'"message":{"role":"assistant","content":[{"type":"text","text":"neg"}],'
                    b'"usage":{"input":-1e999,"output":7},"stopReason":"toolUse",'
                    b'"timestamp":-3}}\n')
        self.append("n.jsonl", with_usage("done", {"input": 100, "output": 8}, stop="stop"))
        self.unlock("n.jsonl")
        box = wait_for(lambda: self.boxes() and self.boxes()[0]["status"] == "done" and
                       self.boxes()[0], what="the box")
        # only the good integers count: outputs 1..8 and the last input 100
        self.assertEqual(box["token_count"], 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 100)
        self.assertIn("done", box["lines"])
        # 1e308, -5, 1.5, "12", 2^63-1, 2^70, -1e999 and the timestamp -3
        wait_for(lambda: self.stats().get("numbers_dropped") == 8, what="8 numbers dropped")

    def test_largest_counts_never_overflow(self):
        self.start_watcher()
        self.lock("big.jsonl")
        self.append("big.jsonl", header("big"))
        for i in range(4):
            self.append("big.jsonl", with_usage("big %d" % i, {"input": 2 ** 53, "output": 2 ** 53}))
        self.append("big.jsonl", with_usage("end", {"input": 0, "output": 0}, stop="stop"))
        self.unlock("big.jsonl")
        box = wait_for(lambda: self.boxes() and self.boxes()[0]["status"] == "done" and
                       self.boxes()[0], what="the box")
        self.assertEqual(box["token_count"], 8 * 2 ** 53)
        self.assertGreaterEqual(box["token_count"], 0)
        self.assertEqual(self.stats().get("numbers_dropped"), 0)


if __name__ == "__main__":
    unittest.main()
