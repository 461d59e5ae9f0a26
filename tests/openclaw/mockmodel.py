#!/usr/bin/env python3
"""mockmodel: a scripted OpenAI-compatible model server for the OpenClaw tests.

Real OpenClaw is pointed at it as a custom provider (`api: openai-completions`,
`baseUrl: http://127.0.0.1:<port>/v1`).  It answers `POST /v1/chat/completions`
with a streamed reply (SSE `chat.completion.chunk`s, then a chunk with `usage`,
then `data: [DONE]`) taken from a queue of turns the test scripts, and
`GET /v1/models` with the one model id it serves.  Loopback only.

A turn is a dict:

  {"text": "...",                 assistant text, streamed in a few deltas
   "thinking": "...",             streamed first as `reasoning_content`
   "tools": [("exec", {...}), ...] tool calls (finish_reason tool_calls)
   "usage": (prompt, completion)  the final chunk's usage (default (11, 7))
   "error": "message",            instead of a reply: HTTP `status` (default 500)
   "status": 500,                 with an OpenAI error body; an error turn stays
                                  at the head of the queue (OpenClaw retries)
   "when": "text",                only for a request whose body holds this text
   "first_user": "text"}          only for a request whose first user message holds
                                  this text (a run's prompt: a sub-agent's holds
                                  "[Subagent Task]" and its task, its parent's the
                                  user's message, in every request of the run)
                                  (the first matching turn in the queue is used)

With an empty queue every request gets the text "ok." (so a stray extra
request from OpenClaw never hangs a test); `requests` keeps every request body
and `served` every turn given, in order (a streamed one gets `done_at`, the
time.monotonic() at which its last byte went out).  `hold_first()` makes the first
chat request wait, before any byte of its reply is sent, until `release()`
(or the hold's own deadline, after which the reply goes out anyway and
`hold_expired` is set so the test can fail with a clear message).

  python3 mockmodel.py [--port N]   serves "ok." forever (for trying by hand)
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_ID = "mock-1"


class _QuietServer(ThreadingHTTPServer):
    """OpenClaw drops its connections when a run ends or aborts: not an error here."""

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class MockModel:
    def __init__(self, port=0, model=MODEL_ID):
        self.model = model
        self.turns = []
        self.requests = []
        self.served = []
        self.lock = threading.Lock()
        self.hold = None  # threading.Event for the next request to wait on
        self.holding = None  # the same Event, kept while a request waits on it
        self.hold_deadline = 0.0
        self.hold_match = None
        self.hold_expired = False
        self.held = threading.Event()  # set once the held request has arrived
        self.server = _QuietServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = None

    # ---- the script -------------------------------------------------

    def script(self, *turns):
        with self.lock:
            self.turns.extend(turns)

    def hold_first(self, deadline=60.0, first_user=None):
        """Holds the next chat request (only one whose first user message holds
        first_user, when given) until release() or the deadline."""
        self.hold_match = first_user
        self.hold = self.holding = threading.Event()
        self.hold_deadline = deadline
        self.hold_expired = False
        self.held.clear()

    def release(self):
        if self.holding is not None:
            self.holding.set()

    def chat_requests(self):
        with self.lock:
            return [r for r in self.requests if r.get("path", "").endswith("/chat/completions")]

    # ---- the server -------------------------------------------------

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self):
        return "http://127.0.0.1:%d/v1" % self.port

    @staticmethod
    def _first_user(body):
        msgs = body.get("messages") if isinstance(body, dict) else None
        for m in msgs if isinstance(msgs, list) else []:
            if isinstance(m, dict) and m.get("role") == "user":
                c = m.get("content")
                if isinstance(c, list):
                    c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
                return c if isinstance(c, str) else ""
        return ""

    def _next_turn(self, raw=b"", body=None):
        text = raw.decode("utf-8", "replace")
        first = self._first_user(body)
        with self.lock:
            turn = {"text": "ok."}
            for i, t in enumerate(self.turns):
                if (("when" not in t or t["when"] in text)
                        and ("first_user" not in t or t["first_user"] in first)):
                    turn = self.turns[i] if "error" in t else self.turns.pop(i)
                    break
            self.served.append(turn)
            return turn

    def _wait_hold(self, body):
        with self.lock:
            hold = self.hold
            if hold is None or (self.hold_match is not None
                                and self.hold_match not in self._first_user(body)):
                return
            self.hold = None  # only one request is held
        self.held.set()
        self.held_at = time.monotonic()
        if not hold.wait(self.hold_deadline):
            self.hold_expired = True
        self.released_at = time.monotonic()

    def _handler(self):
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _json(self, status, obj):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [
                        {"id": mock.model, "object": "model", "created": 0,
                         "owned_by": "livestatus-tests"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                with mock.lock:
                    mock.requests.append({"path": self.path, "body": body,
                                          "time": time.monotonic()})
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                mock._wait_hold(body)
                turn = mock._next_turn(raw, body)
                if "error" in turn:
                    self._json(turn.get("status", 500), {"error": {
                        "message": turn["error"], "type": "server_error",
                        "code": turn.get("code", "mock_error")}})
                    return
                if body.get("stream") is False:
                    self._json(200, mock.whole_reply(turn))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in mock.chunks(turn):
                        self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                        self.wfile.flush()
                        if turn.get("pace"):
                            time.sleep(turn["pace"])
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    turn["done_at"] = time.monotonic()  # the reply is complete
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        return Handler

    # ---- replies ----------------------------------------------------

    def _chunk(self, rid, delta, finish=None, usage=None):
        c = {"id": rid, "object": "chat.completion.chunk", "created": int(time.time()),
             "model": self.model,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage is not None:
            c["choices"] = []
            c["usage"] = usage
        return c

    @staticmethod
    def usage_of(turn):
        p, c = turn.get("usage", (11, 7))
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    @staticmethod
    def _pieces(text, n=3):
        step = max(1, -(-len(text) // n))
        return [text[i:i + step] for i in range(0, len(text), step)]

    def chunks(self, turn):
        rid = "chatcmpl-mock%d" % len(self.served)
        yield self._chunk(rid, {"role": "assistant", "content": ""})
        for piece in self._pieces(turn.get("thinking", "")):
            yield self._chunk(rid, {"reasoning_content": piece})
        for piece in self._pieces(turn.get("text", "")):
            yield self._chunk(rid, {"content": piece})
        tools = turn.get("tools") or []
        for i, (name, args) in enumerate(tools):
            cid = "call_mock%d_%d" % (len(self.served), i)
            text = json.dumps(args)
            half = len(text) // 2
            yield self._chunk(rid, {"tool_calls": [{
                "index": i, "id": cid, "type": "function",
                "function": {"name": name, "arguments": text[:half]}}]})
            yield self._chunk(rid, {"tool_calls": [{
                "index": i, "function": {"arguments": text[half:]}}]})
        yield self._chunk(rid, {}, finish="tool_calls" if tools else "stop")
        yield self._chunk(rid, {}, usage=self.usage_of(turn))

    def whole_reply(self, turn):
        msg = {"role": "assistant", "content": turn.get("text", "")}
        if turn.get("tools"):
            msg["tool_calls"] = [{"id": "call_mock%d_%d" % (len(self.served), i),
                                  "type": "function",
                                  "function": {"name": n, "arguments": json.dumps(a)}}
                                 for i, (n, a) in enumerate(turn["tools"])]
        return {"id": "chatcmpl-mock", "object": "chat.completion", "created": int(time.time()),
                "model": self.model,
                "choices": [{"index": 0, "message": msg,
                             "finish_reason": "tool_calls" if turn.get("tools") else "stop"}],
                "usage": self.usage_of(turn)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    m = MockModel(args.port).start()
    print(m.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        m.stop()


if __name__ == "__main__":
    main()
