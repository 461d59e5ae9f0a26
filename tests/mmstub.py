#!/usr/bin/env python3
"""mmstub: a recording stand-in for the Mattermost REST API v4.

No Mattermost server can run on the test machines, so the integration tests
point livestatus at this process instead.  It answers the handful of
endpoints livestatus uses with the shapes, status codes and headers the real
server produces (checked against the Mattermost API reference and server
source), records every request, and lets a test inject failures: 5xx, 429,
slow answers, dropped connections, or a whole server that is down.

Run it as a process:
    python3 tests/mmstub.py --port 0 --port-file F [--state-file S]
or in-process:
    stub = MMStub().start(); ...; stub.stop()
A test can steer it over HTTP (`/_stub/...`, JSON) or, in-process, through the
same verbs as Python methods.  StubClient speaks the HTTP control API to a
stub running elsewhere; StubProcess starts one as a subprocess.

Python 3.11 standard library only: the CI machine has nothing else.
See tests/mmstub.md for the control API reference.
"""

import argparse
import copy
import hashlib
import http.client
import json
import math
import os
import re
import secrets
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

PLUGIN_ID = "com.openclaw.livestatus"
DEFAULT_BOT_TOKEN = "bot-token"
DEFAULT_BOT_ID = "livestatusbot" + "0" * 13
DEFAULT_BOT_USERNAME = "livestatus-bot"
# Mattermost's post size limit, counted in runes (code points), not bytes.
MAX_MESSAGE_RUNES = 16383
# Mattermost keeps pending_post_id -> post id for 30 s (PendingPostIDsCacheTTL).
PENDING_TTL_S = 30.0
# A body bigger than this is a client bug; refuse instead of buffering it.
MAX_BODY_BYTES = 16 * 1024 * 1024
VERSION_ID = "9.11.0.stub"
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

assert len(DEFAULT_BOT_ID) == 26


def _now_ms():
    return int(time.time() * 1000)


def new_id():
    """A fresh Mattermost-style id: 26 characters of [a-z0-9]."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(26))


def derived_id(*parts):
    """A stable 26-character id for a key, so repeats map to the same id."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return "".join(_ID_ALPHABET[b % 36] for b in digest[:26])


def app_error(status, err_id, message, request_id="", detailed=""):
    """The body Mattermost sends with every API error (model.AppError)."""
    return {
        "id": err_id,
        "message": message,
        "detailed_error": detailed,
        "request_id": request_id,
        "status_code": status,
    }


def go_json(obj):
    """JSON bytes as Go's encoding/json writes them: raw UTF-8, but <, >, &
    and U+2028/U+2029 escaped.  A status box is a blockquote, so its message
    really does come back as "\\u003e ..." from Mattermost."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode()


class _Answer:
    """One HTTP answer, built before it is written so faults can replace it."""

    def __init__(self, status, body=b"", ctype="application/json", headers=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = dict(headers or {})

    @classmethod
    def json(cls, status, obj, headers=None):
        return cls(status, go_json(obj), "application/json", headers)

    @classmethod
    def text(cls, status, text, headers=None):
        return cls(status, text.encode(), "text/plain; charset=utf-8", headers)

    def parsed(self):
        """The body as a test would want to see it in the request log."""
        if self.ctype.startswith("application/json"):
            try:
                return json.loads(self.body)
            except ValueError:
                pass
        return self.body.decode("utf-8", "replace")[:4096]


class _Drop:
    """Close the connection without answering; reset=True sends an RST."""

    def __init__(self, reset=False):
        self.reset = reset


class _RateLimiter:
    """Mattermost's limiter: GCRA with MaxRate=per_sec and MaxBurst=burst.

    The real server allows burst+1 requests at once, then one every
    1/per_sec seconds, and reports Limit=burst+1, Remaining, Reset (seconds
    until the bucket is full again) and, when it refuses, Retry-After (seconds
    until the next request would pass), both rounded up.  With the limiter
    off the stub still sends the headers (every Mattermost answer carries
    them) but reports a full bucket, so a client that watches Remaining is
    not slowed by a limit that does not exist.
    """

    def __init__(self, per_sec=0.0, burst=100):
        self.per_sec = float(per_sec)
        self.burst = int(burst)
        self.limit = self.burst + 1
        self.interval = 1.0 / self.per_sec if self.per_sec > 0 else 0.0
        self.tolerance = self.interval * (self.burst + 1)
        self.tat = 0.0  # theoretical arrival time of the next request

    @property
    def enabled(self):
        return self.per_sec > 0

    def take(self, now=None, consume=True):
        """Returns (allowed, headers)."""
        if not self.enabled:
            return True, self._headers(self.burst, 0.0, None)
        now = time.monotonic() if now is None else now
        tat = max(self.tat, now)
        new_tat = tat + self.interval
        allow_at = new_tat - self.tolerance
        if now < allow_at:
            ttl = tat - now
            remaining = self._remaining(ttl)
            return False, self._headers(remaining, ttl, allow_at - now)
        ttl = (new_tat if consume else tat) - now
        if consume:
            self.tat = new_tat
        return True, self._headers(self._remaining(ttl), ttl, None)

    def _remaining(self, ttl):
        spare = self.tolerance - ttl
        if spare <= -self.interval:
            return 0
        return max(0, int(spare / self.interval + 1e-9))

    def _headers(self, remaining, reset_s, retry_s):
        h = {
            "X-Ratelimit-Limit": str(self.limit),
            "X-Ratelimit-Remaining": str(remaining),
            "X-Ratelimit-Reset": str(math.ceil(max(reset_s, 0.0) - 1e-9)),
        }
        if retry_s is not None:
            h["Retry-After"] = str(max(1, math.ceil(retry_s - 1e-9)))
        return h


class _Req:
    """The parts of a request the API handlers look at."""

    def __init__(self, method, path, query, headers, body, request_id):
        self.method = method
        self.path = path
        self.query = query
        self.args = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        self.headers = headers
        self.body = body
        self.request_id = request_id
        self.json = None
        self.json_ok = False
        if body:
            try:
                self.json = json.loads(body)
                self.json_ok = True
            except ValueError:
                pass


class _Session:
    def __init__(self, token, via, user):
        self.token = token
        self.via = via
        self.user = user

    @property
    def user_id(self):
        return self.user["id"]

    def is_admin(self):
        return "system_admin" in self.user.get("roles", "").split()


# Method, path pattern, handler name, whether a session is required.  The
# patterns follow Mattermost's router: ids are [A-Za-z0-9]+, anything else is
# a 404 as on the real server.
_ROUTES = [
    ("GET", r"/api/v4/system/ping", "_api_ping", False),
    ("GET", r"/api/v4/plugins/webapp", "_api_webapp_plugins", False),
    ("GET", r"/api/v4/users/me", "_api_users_me", True),
    ("POST", r"/api/v4/posts", "_api_create_post", True),
    ("GET", r"/api/v4/posts/(?P<post_id>[A-Za-z0-9]+)", "_api_get_post", True),
    ("PUT", r"/api/v4/posts/(?P<post_id>[A-Za-z0-9]+)", "_api_update_post", True),
    ("DELETE", r"/api/v4/posts/(?P<post_id>[A-Za-z0-9]+)", "_api_delete_post", True),
    ("PUT", r"/api/v4/posts/(?P<post_id>[A-Za-z0-9]+)/patch", "_api_patch_post", True),
    ("POST", r"/api/v4/channels/direct", "_api_direct_channel", True),
    (
        "GET",
        r"/api/v4/channels/(?P<channel_id>[A-Za-z0-9]+)/members/(?P<user_id>[A-Za-z0-9]+)",
        "_api_channel_member",
        True,
    ),
    ("GET", r"/api/v4/channels/(?P<channel_id>[A-Za-z0-9]+)/posts", "_api_channel_posts", True),
]
_ROUTES = [(m, re.compile(p), h, a) for m, p, h, a in _ROUTES]

_DEFAULT_OPTIONS = {
    "pending_ttl_s": PENDING_TTL_S,
    # Non-member asking /channels/{id}/members/me: the server's read_channel
    # permission check answers 403 (api.context.permissions.app_error); 404
    # (app.channel.get_member.missing) only reaches callers who have the
    # permission anyway.  Switchable so a client can be tested against both.
    "nonmember_status": 403,
    # PUT /posts/{id} and /patch on an unknown or deleted post: the server
    # turns the failed lookup into a permission error (403), and the API
    # reference lists no 404 for these routes.  Switchable to 404.
    "unknown_post_status": 403,
    "max_message_runes": MAX_MESSAGE_RUNES,
    "idle_timeout_s": 60.0,
}


class _Controls:
    """Control verbs shared by MMStub (in-process) and StubClient (HTTP).

    Subclasses provide _control(method, name, payload, query) returning the
    decoded JSON answer of /_stub/<name>.
    """

    def health(self):
        return self._control("GET", "health")

    def requests(self, since=0, method=None, path=None):
        """Recorded API requests from index `since` on (see _record_start)."""
        query = {"since": str(since)}
        if method:
            query["method"] = method
        if path:
            query["path"] = path
        return self._control("GET", "requests", query=query)["requests"]

    def posts(self, channel_id=None, history=False):
        query = {"history": "1" if history else "0"}
        if channel_id:
            query["channel_id"] = channel_id
        return self._control("GET", "posts", query=query)["posts"]

    def config(self):
        return self._control("GET", "config")

    def reset(self, keep_config=False):
        return self._control("POST", "reset", {"keep_config": keep_config})

    def add_user(self, username, user_id=None, roles="system_user", is_bot=False,
                 token=None, ttl_s=None):
        payload = {"username": username, "roles": roles, "is_bot": is_bot}
        if user_id:
            payload["id"] = user_id
        if token:
            payload["token"] = token
        if ttl_s is not None:
            payload["ttl_s"] = ttl_s
        return self._control("POST", "users", payload)

    def add_token(self, token, user_id, ttl_s=None, expires_at=None):
        payload = {"token": token, "user_id": user_id}
        if ttl_s is not None:
            payload["ttl_s"] = ttl_s
        if expires_at is not None:
            payload["expires_at"] = expires_at
        return self._control("POST", "tokens", payload)

    def expire_token(self, token):
        return self._control("POST", "tokens/expire", {"token": token})

    def revoke_token(self, token):
        return self._control("POST", "tokens/revoke", {"token": token})

    def add_channel(self, channel_id, type="O", members=(), team_id="", name=None):
        payload = {"id": channel_id, "type": type, "members": list(members), "team_id": team_id}
        if name:
            payload["name"] = name
        return self._control("POST", "channels", payload)

    def add_member(self, channel_id, user_id):
        return self._control("POST", "members", {"channel_id": channel_id, "user_id": user_id})

    def remove_member(self, channel_id, user_id):
        return self._control(
            "POST", "members", {"channel_id": channel_id, "user_id": user_id, "remove": True}
        )

    def set_plugin(self, enabled=None, version=None, plugins_enabled=None):
        """Whether the livestatus webapp plugin is listed; None leaves a field
        as it is.  plugins_enabled=False is a server with plugins off (501)."""
        payload = {"enabled": enabled, "version": version, "plugins_enabled": plugins_enabled}
        return self._control("POST", "plugin", {k: v for k, v in payload.items() if v is not None})

    def set_rate_limit(self, per_sec, burst=100):
        """per_sec=0 turns the limiter off (the default)."""
        return self._control("POST", "ratelimit", {"per_sec": per_sec, "burst": burst})

    def set_options(self, **options):
        return self._control("POST", "options", options)

    def add_fault(self, status=None, delay_s=0.0, drop=False, process=False, count=1,
                  method=None, path=None, retry_after=1, body=None):
        """Make the next `count` matching API requests misbehave; returns the rule id.

        status: answer this status instead (5xx with a Mattermost error body,
            429 like the rate limiter); delay_s: wait first; drop: True (FIN)
            or "reset" (RST) closes without an answer; process: run the
            request for real first (the post exists, the client never hears);
            count: -1 = until cleared; method/path: regexes to match.
        """
        payload = {
            "status": status, "delay_s": delay_s, "drop": drop, "process": process,
            "count": count, "method": method, "path": path, "retry_after": retry_after,
        }
        if body is not None:
            payload["body"] = body
        return self._control("POST", "faults", payload)["id"]

    def faults(self):
        return self._control("GET", "faults")["faults"]

    def clear_faults(self):
        return self._control("DELETE", "faults")

    def set_down(self, mode="status", status=503, for_s=None):
        """mode: "status" (every API call answers `status`), "drop", "reset",
        "refuse" (the port stops listening) or "off"."""
        payload = {"mode": mode, "status": status}
        if for_s is not None:
            payload["for_s"] = for_s
        return self._control("POST", "down", payload)

    def set_up(self):
        return self.set_down("off")

    def wait_for(self, predicate, timeout=5.0, interval=0.02, what="condition"):
        """Poll `predicate()` until it returns something truthy; return that."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"mmstub: timed out after {timeout}s waiting for {what}")
            time.sleep(interval)

    def wait_requests(self, count, since=0, method=None, path=None, timeout=5.0):
        """Wait until at least `count` finished requests match; return them."""
        def enough():
            done = [r for r in self.requests(since, method, path) if r["done"]]
            return done if len(done) >= count else None
        return self.wait_for(enough, timeout, what=f"{count} requests {method or ''} {path or ''}")


class MMStub(_Controls):
    """The stub server.  start() binds and serves on a background thread."""

    def __init__(self, host="127.0.0.1", port=0, state_file=None, bot_token=DEFAULT_BOT_TOKEN,
                 bot_user_id=DEFAULT_BOT_ID, verbose=False):
        self.host = host
        self._port = port
        self.state_file = state_file
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.verbose = verbose
        self._lock = threading.RLock()
        self._stop_evt = threading.Event()
        self._server = None
        self._thread = None
        self._holder = None  # keeps the port while "refuse" (see _refuse)
        self._conns = {}
        self._conn_seq = 0
        self._down_gen = 0
        self._config = self._default_config()
        self._limiter = _RateLimiter()
        self._reset_runtime()
        if state_file and os.path.exists(state_file):
            self._load_state()

    # -- lifecycle ---------------------------------------------------------

    @property
    def port(self):
        return self._port

    @property
    def url(self):
        return f"http://{self.host}:{self._port}"

    def start(self):
        self._stop_evt.clear()
        self._open_listener()
        return self

    def stop(self):
        self._stop_evt.set()  # wakes handlers sleeping on a delay fault
        with self._lock:
            self._down_gen += 1  # cancels a pending "back up" timer
        self._close_listener()
        self._release_port()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _open_listener(self):
        with self._lock:
            holder, self._holder = self._holder, None
        if holder is not None:
            # Back from "refuse": the socket that kept the port bound starts
            # to listen, so no new bind can meet EADDRINUSE (a failed bind
            # in the timer thread left the port refusing for good once).
            server = _Server((self.host, self._port), _Handler, bind_and_activate=False)
            server.socket.close()
            server.socket = holder
            server.server_address = holder.getsockname()
            server.server_name, server.server_port = server.server_address[:2]
            try:
                server.server_activate()
            except OSError as e:
                # Someone bound the port beside the holder (SO_REUSEADDR) and
                # listens on it: say so, and bind anew while it may free up.
                print(f"mmstub: cannot listen again on port {self._port}: {e}",
                      file=sys.stderr, flush=True)
                holder.close()
                server = self._bind_listener()
        else:
            server = self._bind_listener()
        server.stub = self
        self._port = server.server_address[1]
        self._release_port()
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name="mmstub-accept", daemon=True,
        )
        with self._lock:
            self._server, self._thread = server, thread
        thread.start()

    def _bind_listener(self):
        # Opening may race an old socket's teardown; retry briefly rather
        # than fail the test on a transient EADDRINUSE.
        deadline = time.monotonic() + 2.0
        while True:
            try:
                return _Server((self.host, self._port), _Handler)
            except OSError:
                if self._port == 0 or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _close_listener(self):
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=2)
        self._kill_connections()

    def _refuse(self):
        # Connections must be refused, yet the port must stay ours: closed
        # outright, a test running beside could get it as its ephemeral port
        # (bind to port 0, or an outgoing connection) and the stub could not
        # come back.  A bound socket that does not listen answers connects
        # with a reset, and Linux hands out no ephemeral port that has one.
        # SO_REUSEPORT (the listener has it too) lets it bind beside the
        # listener before that closes, and the next listener bind beside it.
        with self._lock:
            if self._holder is None and self._port:
                holder = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
                holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                holder.bind((self.host, self._port))
                self._holder = holder
        self._close_listener()

    def _release_port(self):
        with self._lock:
            holder, self._holder = self._holder, None
        if holder is not None:
            holder.close()

    def _kill_connections(self, upto=None):
        # Handler threads block reading the next keep-alive request; shutting
        # the socket makes them see EOF and exit, and the client sees a close.
        # upto: only connections opened up to that sequence number (over HTTP
        # the follow-ups run after the answer, when the client may already
        # have opened a new connection that the change must not touch).
        with self._lock:
            conns = [c for c, seq in self._conns.items() if upto is None or seq <= upto]
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _register_conn(self, conn):
        with self._lock:
            self._conn_seq += 1
            self._conns[conn] = self._conn_seq
            return self._conn_seq

    def _unregister_conn(self, conn):
        with self._lock:
            self._conns.pop(conn, None)

    # -- state -------------------------------------------------------------

    def _default_config(self):
        bot = self._make_user(self.bot_user_id, DEFAULT_BOT_USERNAME, "system_user", True)
        return {
            "users": {bot["id"]: bot},
            "tokens": {self.bot_token: {"user_id": bot["id"], "expires_at": None}},
            "channels": {},
            "plugin": {"enabled": False, "version": "0.1.0", "plugins_enabled": True},
            "rate_limit": {"per_sec": 0, "burst": 100},
            "options": dict(_DEFAULT_OPTIONS),
        }

    def _reset_runtime(self):
        self._posts = {}  # id -> {"post": public fields, "history": [...], ...}
        self._pending = {}  # pending_post_id -> {"post_id", "user_id", "expires_at"}
        self._requests = []
        self._faults = []
        self._fault_seq = 0
        self._down = {"mode": "off", "status": 503, "until": None}
        rl = self._config["rate_limit"]
        self._limiter = _RateLimiter(rl["per_sec"], rl["burst"])

    @staticmethod
    def _make_user(user_id, username, roles, is_bot):
        t = _now_ms()
        return {
            "id": user_id, "create_at": t, "update_at": t, "delete_at": 0,
            "username": username, "auth_data": "", "auth_service": "",
            "email": f"{username}@example.invalid", "nickname": "",
            "first_name": "", "last_name": "", "position": "",
            "roles": roles, "locale": "en", "is_bot": bool(is_bot),
            "props": {}, "notify_props": {},
            "timezone": {"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"},
        }

    def _save(self):
        """Write the durable state so a restarted stub still has its posts."""
        if not self.state_file:
            return
        data = {"config": self._config, "posts": self._posts, "pending": self._pending}
        directory = os.path.dirname(os.path.abspath(self.state_file))
        fd, tmp = tempfile.mkstemp(prefix=".mmstub-", dir=directory)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.state_file)

    def _load_state(self):
        with open(self.state_file) as f:
            data = json.load(f)
        config = self._default_config()
        config.update(data.get("config", {}))
        config["options"] = {**_DEFAULT_OPTIONS, **config.get("options", {})}
        self._config = config
        self._reset_runtime()
        self._posts = data.get("posts", {})
        self._pending = data.get("pending", {})

    # -- sessions ----------------------------------------------------------

    @staticmethod
    def _find_token(headers, args):
        """Where Mattermost looks for a token, in its order: header, cookie, query."""
        auth = headers.get("Authorization", "")
        parts = auth.split(None, 1)
        if len(parts) == 2 and parts[0].lower() in ("bearer", "token"):
            return parts[1].strip(), parts[0].lower()
        cookie = headers.get("Cookie")
        if cookie:
            jar = SimpleCookie()
            try:
                jar.load(cookie)
            except CookieError:
                jar = {}
            if "MMAUTHTOKEN" in jar and jar["MMAUTHTOKEN"].value:
                return jar["MMAUTHTOKEN"].value, "cookie"
        if args.get("access_token"):
            return args["access_token"], "query"
        return None, None

    def _session(self, token, via):
        if token is None:
            return None
        entry = self._config["tokens"].get(token)
        if entry is None:
            return None
        if entry.get("expires_at") is not None and time.time() >= entry["expires_at"]:
            return None
        user = self._config["users"].get(entry["user_id"])
        if user is None:
            return None
        return _Session(token, via, user)

    # -- request log -------------------------------------------------------

    def _record_start(self, conn_id, req, session, via, token):
        rec = {
            "index": None, "conn_id": conn_id, "t_ms": _now_ms(),
            "method": req.method, "path": req.path, "query": req.query, "args": req.args,
            "headers": {k.lower(): v for k, v in req.headers.items()},
            "has_authorization": "Authorization" in req.headers,
            "auth": via, "token": token,
            "user_id": session.user_id if session else None,
            "body": req.json if req.json_ok else None,
            "body_text": None if req.json_ok or not req.body else req.body.decode("utf-8", "replace")[:4096],
            "status": None, "dropped": False, "fault": None, "response": None, "post_id": None,
            "duration_ms": None, "done": False,
        }
        with self._lock:
            rec["index"] = len(self._requests)
            self._requests.append(rec)
        return rec

    def _record_end(self, rec, t0, answer, fault):
        with self._lock:
            rec["fault"] = fault
            if isinstance(answer, _Drop):
                rec["dropped"] = True
            else:
                rec["status"] = answer.status
                rec["response"] = answer.parsed()
            rec["duration_ms"] = round((time.monotonic() - t0) * 1000, 3)
            rec["done"] = True
        if self.verbose:
            what = "dropped" if rec["dropped"] else rec["status"]
            print(f"mmstub: #{rec['index']} c{rec['conn_id']} {rec['method']} {rec['path']}"
                  f" -> {what}{' [' + fault + ']' if fault else ''}", file=sys.stderr)

    # -- serving the API ---------------------------------------------------

    def serve_api(self, conn_id, method, path, query, headers, body):
        """Everything under /api/: down mode, faults, limiter, handler."""
        t0 = time.monotonic()
        req = _Req(method, path, query, headers, body, new_id())
        with self._lock:
            token, via = self._find_token(headers, req.args)
            session = self._session(token, via)
        rec = self._record_start(conn_id, req, session, via, token)
        answer, fault = self._decide(req, session, rec)
        if isinstance(answer, _Answer):
            answer.headers.setdefault("X-Request-Id", req.request_id)
            answer.headers.setdefault("X-Version-Id", VERSION_ID)
            if "X-Ratelimit-Limit" not in answer.headers:
                with self._lock:
                    _, rl_headers = self._limiter.take(consume=False)
                rl_headers.pop("Retry-After", None)
                answer.headers.update(rl_headers)
        self._record_end(rec, t0, answer, fault)
        return answer

    def _decide(self, req, session, rec):
        with self._lock:
            down = dict(self._down)
        if down["mode"] == "status":
            return self._error_answer(req, down["status"], "stub.down.app_error",
                                      "Mattermost is down (mmstub down mode)."), f"down:{down['status']}"
        if down["mode"] in ("drop", "reset", "refuse"):
            # "refuse" normally never gets here (the port is closed); a
            # request that raced the close is dropped like the rest.
            return _Drop(reset=down["mode"] == "reset"), f"down:{down['mode']}"

        rule = self._take_fault(req.method, req.path)
        if rule is None:
            return self._real_answer(req, session, rec), None

        real = self._real_answer(req, session, rec) if rule["process"] else None
        if rule["delay_s"] > 0:
            self._stop_evt.wait(rule["delay_s"])
        if rule["drop"]:
            answer = _Drop(reset=rule["drop"] == "reset")
        elif rule["status"]:
            answer = self._fault_answer(req, rule)
        else:
            answer = real if real is not None else self._real_answer(req, session, rec)
        return answer, self._describe_fault(rule)

    @staticmethod
    def _describe_fault(rule):
        parts = [f"rule{rule['id']}"]
        if rule["process"]:
            parts.append("processed")
        if rule["delay_s"]:
            parts.append(f"delay:{rule['delay_s']}")
        if rule["drop"]:
            parts.append("reset" if rule["drop"] == "reset" else "drop")
        elif rule["status"]:
            parts.append(f"status:{rule['status']}")
        return ",".join(parts)

    def _take_fault(self, method, path):
        with self._lock:
            for rule in self._faults:
                if rule["count"] == 0:
                    continue
                if rule["method"] and not re.fullmatch(rule["method"], method, re.IGNORECASE):
                    continue
                if rule["path"] and not re.search(rule["path"], path):
                    continue
                if rule["count"] > 0:
                    rule["count"] -= 1
                rule["hits"] += 1
                return dict(rule)
        return None

    def _fault_answer(self, req, rule):
        status = rule["status"]
        if status == 429:
            # What the limiter itself sends: plain text, empty bucket.
            retry = max(0, int(math.ceil(float(rule.get("retry_after", 1)))))
            with self._lock:
                limit = self._limiter.limit
            return _Answer.text(429, "limit exceeded\n", {
                "X-Ratelimit-Limit": str(limit), "X-Ratelimit-Remaining": "0",
                "X-Ratelimit-Reset": str(retry), "Retry-After": str(retry),
            })
        if rule.get("body") is not None:
            # e.g. the HTML page a reverse proxy sends while Mattermost is down
            return _Answer(status, str(rule["body"]).encode(), "text/html; charset=utf-8")
        return self._error_answer(req, status, "stub.injected.app_error",
                                  f"Injected failure (status {status}).")

    @staticmethod
    def _error_answer(req, status, err_id, message, detailed=""):
        return _Answer.json(status, app_error(status, err_id, message, req.request_id, detailed))

    def _real_answer(self, req, session, rec):
        """The answer the server would give: rate limiter, then the route."""
        with self._lock:
            allowed, rl_headers = self._limiter.take()
        if not allowed:
            answer = _Answer.text(429, "limit exceeded\n", rl_headers)
            return answer
        answer = self._route(req, session, rec)
        answer.headers.update(rl_headers)
        return answer

    def _route(self, req, session, rec):
        path_matched = False
        for method, pattern, handler, needs_session in _ROUTES:
            m = pattern.fullmatch(req.path)
            if not m:
                continue
            path_matched = True
            if method != req.method:
                continue
            if needs_session and session is None:
                return self._error_answer(
                    req, 401, "api.context.session_expired.app_error",
                    "Invalid or expired session, please login again.",
                    "token=" + ("missing" if rec["token"] is None else "invalid"))
            try:
                with self._lock:
                    return getattr(self, handler)(req, session, rec, **m.groupdict())
            except Exception:  # a stub bug: answer 500 and show it, not a hang-up
                traceback.print_exc()
                return self._error_answer(req, 500, "stub.internal.app_error",
                                          "mmstub failed handling this request.")
        if path_matched:
            return self._error_answer(req, 405, "api.context.method_not_allowed.app_error",
                                      "Method not allowed.")
        return self._error_answer(req, 404, "api.context.404.app_error",
                                  "Sorry, we could not find the page.")

    # -- API handlers (called with the lock held) --------------------------

    def _permission_error(self, req, session, permission):
        return self._error_answer(
            req, 403, "api.context.permissions.app_error",
            "You do not have the appropriate permissions.",
            f"userId={session.user_id}, permission={permission}")

    def _invalid_param(self, req, name):
        return self._error_answer(req, 400, "api.context.invalid_body_param.app_error",
                                  f"Invalid or missing {name} in request body.")

    def _api_ping(self, req, session, rec):
        return _Answer.json(200, {"status": "OK"})

    def _api_webapp_plugins(self, req, session, rec):
        plugin = self._config["plugin"]
        if not plugin.get("plugins_enabled", True):
            return self._error_answer(req, 501, "app.plugin.disabled.app_error",
                                      "Plugins have been disabled. Please check your logs for details.")
        if not plugin.get("enabled"):
            return _Answer.json(200, [])
        version = plugin.get("version", "0.1.0")
        bundle = f"/static/plugins/{PLUGIN_ID}/{PLUGIN_ID}_{derived_id(version)[:10]}_bundle.js"
        return _Answer.json(200, [{"id": PLUGIN_ID, "version": version,
                                   "webapp": {"bundle_path": bundle}}])

    def _api_users_me(self, req, session, rec):
        return _Answer.json(200, session.user)

    def _public_post(self, entry, with_pending=False):
        post = copy.deepcopy(entry["post"])
        post["pending_post_id"] = entry.get("pending_post_id", "") if with_pending else ""
        return post

    def _live_post(self, post_id):
        entry = self._posts.get(post_id)
        if entry is None or entry["post"]["delete_at"]:
            return None
        return entry

    def _check_message(self, req, message, post_type=None):
        if not isinstance(message, str):
            return self._invalid_param(req, "message")
        limit = self._config["options"]["max_message_runes"]
        if len(message) > limit:  # str length counts code points, as Go's RuneCount
            return self._error_answer(
                req, 400, "model.post.is_valid.message_length.app_error",
                f"Invalid Message property length. Length is {len(message)}, max is {limit}.")
        if post_type and not post_type.startswith("custom_"):
            return self._error_answer(req, 400, "model.post.is_valid.type.app_error",
                                      "Invalid type.", f"type={post_type}")
        return None

    def _api_create_post(self, req, session, rec):
        body = req.json
        if not req.json_ok or not isinstance(body, dict):
            return self._invalid_param(req, "post")
        channel_id = body.get("channel_id")
        if not isinstance(channel_id, str) or not channel_id:
            return self._invalid_param(req, "channel_id")
        channel = self._config["channels"].get(channel_id)
        # Membership is only enforced for channels a test configured; an
        # unknown channel is open, so simple tests need no set-up.
        if channel is not None and session.user_id not in channel["members"]:
            return self._permission_error(req, session, "create_post")

        pending = body.get("pending_post_id") or ""
        if pending:
            hit = self._pending.get(pending)
            if hit and hit["expires_at"] > time.time():
                if hit["user_id"] != session.user_id:
                    return self._error_answer(
                        req, 400, "api.post.deduplicate_create_post.failed_to_get",
                        "Failed to fetch original post after deduplicating a client repeating the same request.",
                        "rejecting duplicate post from a different user")
                existing = self._live_post(hit["post_id"])
                if existing is not None:
                    rec["post_id"] = hit["post_id"]
                    return _Answer.json(201, self._public_post(existing, with_pending=True))

        post_type = body.get("type") or ""
        message = body.get("message", "")
        bad = self._check_message(req, message, post_type)
        if bad:
            return bad
        props = body.get("props") or {}
        if not isinstance(props, dict):
            return self._invalid_param(req, "props")
        root_id = body.get("root_id") or ""
        if root_id:
            root = self._posts.get(root_id)
            # The stub cannot know posts made elsewhere, so only a root it
            # knows to be wrong is refused.
            if root is not None and (root["post"]["channel_id"] != channel_id
                                     or root["post"]["delete_at"]):
                return self._error_answer(req, 400, "api.post.create_post.root_id.app_error",
                                          "Invalid RootId parameter.")

        props = copy.deepcopy(props)
        if session.user.get("is_bot"):
            props["from_bot"] = "true"  # the server marks every bot post
        t = _now_ms()
        post = {
            "id": new_id(), "create_at": t, "update_at": t, "edit_at": 0, "delete_at": 0,
            "is_pinned": False, "user_id": session.user_id, "channel_id": channel_id,
            "root_id": root_id, "original_id": "", "message": message, "type": post_type,
            "props": props, "hashtags": "", "file_ids": list(body.get("file_ids") or []),
            "pending_post_id": "", "reply_count": 0, "last_reply_at": 0,
            "participants": None, "metadata": {},
        }
        entry = {"post": post, "pending_post_id": pending, "history": [], "edits": 0, "updates": 0}
        self._posts[post["id"]] = entry
        if pending:
            self._pending[pending] = {
                "post_id": post["id"], "user_id": session.user_id,
                "expires_at": time.time() + float(self._config["options"]["pending_ttl_s"]),
            }
        rec["post_id"] = post["id"]
        self._save()
        return _Answer.json(201, self._public_post(entry, with_pending=True))

    def _api_get_post(self, req, session, rec, post_id):
        entry = self._live_post(post_id)
        if entry is None:
            return self._error_answer(req, 404, "app.post.get.app_error", "Unable to get the post.")
        return _Answer.json(200, self._public_post(entry))

    def _editable(self, req, session, post_id):
        """(entry, None) or (None, error answer) for PUT/patch/DELETE."""
        entry = self._live_post(post_id)
        if entry is None:
            if int(self._config["options"]["unknown_post_status"]) == 404:
                return None, self._error_answer(req, 404, "app.post.get.app_error",
                                                "Unable to get the post.")
            return None, self._permission_error(req, session, "edit_post")
        if entry["post"]["user_id"] != session.user_id and not session.is_admin():
            return None, self._permission_error(req, session, "edit_others_posts")
        return entry, None

    def _apply_update(self, entry, message=None, props=None, is_pinned=None,
                      has_reactions=None, file_ids=None):
        post = entry["post"]
        t = _now_ms()
        if message is not None and message != post["message"]:
            # Only a changed message sets edit_at (the "(edited)" label).
            entry["history"].append(post["message"])
            entry["edits"] += 1
            post["message"] = message
            post["edit_at"] = t
        if props is not None:
            post["props"] = copy.deepcopy(props)
        if is_pinned is not None:
            post["is_pinned"] = bool(is_pinned)
        if has_reactions is not None:
            post["has_reactions"] = bool(has_reactions)
        if file_ids is not None:
            post["file_ids"] = list(file_ids)
        post["update_at"] = max(t, post["update_at"] + 1)
        entry["updates"] += 1
        self._save()

    def _api_update_post(self, req, session, rec, post_id):
        body = req.json
        if not req.json_ok or not isinstance(body, dict):
            return self._invalid_param(req, "post")
        if body.get("id") != post_id:
            # The server insists the body names the post of the URL.
            return self._error_answer(req, 400, "api.context.invalid_param.app_error",
                                      "Invalid or missing id in request body.")
        entry, err = self._editable(req, session, post_id)
        if err:
            return err
        message = body.get("message", "")
        bad = self._check_message(req, message)
        if bad:
            return bad
        props = body.get("props") or {}
        if not isinstance(props, dict):
            return self._invalid_param(req, "props")
        # A full update: fields left out are cleared, as on the server.
        self._apply_update(entry, message=message, props=props,
                           is_pinned=body.get("is_pinned", False),
                           has_reactions=body.get("has_reactions", False),
                           file_ids=body.get("file_ids") if "file_ids" in body else None)
        rec["post_id"] = post_id
        return _Answer.json(200, self._public_post(entry))

    def _api_patch_post(self, req, session, rec, post_id):
        body = req.json
        if not req.json_ok or not isinstance(body, dict):
            return self._invalid_param(req, "post")
        entry, err = self._editable(req, session, post_id)
        if err:
            return err
        if "message" in body:
            bad = self._check_message(req, body["message"])
            if bad:
                return bad
        if "props" in body and not isinstance(body["props"], dict):
            return self._invalid_param(req, "props")
        self._apply_update(entry, message=body.get("message"), props=body.get("props"),
                           is_pinned=body.get("is_pinned"), has_reactions=body.get("has_reactions"),
                           file_ids=body.get("file_ids"))
        rec["post_id"] = post_id
        return _Answer.json(200, self._public_post(entry))

    def _api_delete_post(self, req, session, rec, post_id):
        entry, err = self._editable(req, session, post_id)
        if err:
            return err
        t = _now_ms()
        entry["post"]["delete_at"] = t
        entry["post"]["update_at"] = max(t, entry["post"]["update_at"] + 1)
        rec["post_id"] = post_id
        self._save()
        return _Answer.json(200, {"status": "OK"})

    def _api_direct_channel(self, req, session, rec):
        ids = req.json
        if (not req.json_ok or not isinstance(ids, list) or len(ids) != 2
                or not all(isinstance(i, str) and i for i in ids)):
            return self._invalid_param(req, "user_ids")
        if session.user_id not in ids and not session.is_admin():
            return self._permission_error(req, session, "manage_system")
        a, b = sorted(ids)
        channel_id = derived_id("direct", a, b)
        channel = self._config["channels"].get(channel_id)
        if channel is None:
            t = _now_ms()
            channel = {"id": channel_id, "type": "D", "team_id": "", "name": f"{a}__{b}",
                       "display_name": "", "create_at": t, "creator_id": session.user_id,
                       "members": {a: "channel_user", b: "channel_user"}}
            self._config["channels"][channel_id] = channel
            self._save()
        return _Answer.json(201, self._public_channel(channel))

    @staticmethod
    def _public_channel(ch):
        t = ch.get("create_at", 0)
        return {
            "id": ch["id"], "create_at": t, "update_at": t, "delete_at": 0,
            "team_id": ch.get("team_id", ""), "type": ch["type"],
            "display_name": ch.get("display_name", ""), "name": ch.get("name", ch["id"]),
            "header": "", "purpose": "", "last_post_at": 0, "total_msg_count": 0,
            "extra_update_at": 0, "creator_id": ch.get("creator_id", ""),
        }

    def _api_channel_member(self, req, session, rec, channel_id, user_id):
        if user_id == "me":
            user_id = session.user_id
        channel = self._config["channels"].get(channel_id)
        caller_is_member = channel is not None and session.user_id in channel["members"]
        if not caller_is_member and not session.is_admin():
            status = int(self._config["options"]["nonmember_status"])
            if status != 404:
                return self._permission_error(req, session, "read_channel")
        if channel is None or user_id not in channel["members"]:
            return self._error_answer(req, 404, "app.channel.get_member.missing.app_error",
                                      "No channel member found for that user ID and channel ID.")
        roles = channel["members"][user_id]
        return _Answer.json(200, {
            "channel_id": channel_id, "user_id": user_id, "roles": roles,
            "last_viewed_at": 0, "msg_count": 0, "mention_count": 0,
            "notify_props": {"desktop": "default", "email": "default",
                             "mark_unread": "all", "push": "default"},
            "last_update_at": channel.get("create_at", 0),
            "scheme_guest": False, "scheme_user": True,
            "scheme_admin": "channel_admin" in roles.split(), "explicit_roles": "",
        })

    def _api_channel_posts(self, req, session, rec, channel_id):
        """GET /channels/{id}/posts: a PostList, as the server's non-CRT path makes it.

        ?since=<ms>: every post of the channel (replies too, deleted ones too,
        so clients learn of deletions) whose update_at is after since, at
        most 1000, plus the roots of those replies; newest first.  Otherwise
        ?page=&per_page= (60, at most 200) over the live posts, newest first.
        """
        channel = self._config["channels"].get(channel_id)
        if channel is not None and session.user_id not in channel["members"] \
                and not session.is_admin():
            return self._permission_error(req, session, "read_channel")
        args = req.args
        in_channel = [e["post"] for e in self._posts.values()
                      if e["post"]["channel_id"] == channel_id]
        if "since" in args:
            try:
                since = int(args["since"])
            except ValueError:
                return self._error_answer(req, 400, "api.context.invalid_url_param.app_error",
                                          "Invalid or missing since parameter in request URL.")
            picked = sorted((p for p in in_channel if p["update_at"] > since),
                            key=lambda p: p["update_at"])[:1000]
            ids = {p["id"] for p in picked}
            for p in list(picked):
                root = self._posts.get(p["root_id"]) if p["root_id"] else None
                if root is not None and root["post"]["id"] not in ids:
                    ids.add(root["post"]["id"])
                    picked.append(root["post"])
        else:
            try:
                page = int(args.get("page", 0) or 0)
                per_page = min(int(args.get("per_page", 60) or 60), 200)
            except ValueError:
                return self._error_answer(req, 400, "api.context.invalid_url_param.app_error",
                                          "Invalid or missing page parameter in request URL.")
            live = sorted((p for p in in_channel if not p["delete_at"]),
                          key=lambda p: p["create_at"], reverse=True)
            picked = live[page * per_page:(page + 1) * per_page]
        picked.sort(key=lambda p: p["create_at"], reverse=True)
        posts = {}
        for p in picked:
            item = copy.deepcopy(p)
            item["pending_post_id"] = ""
            posts[p["id"]] = item
        return _Answer.json(200, {"order": [p["id"] for p in picked], "posts": posts,
                                  "next_post_id": "", "prev_post_id": "", "has_next": False})

    # -- control API -------------------------------------------------------

    def _control(self, method, name, payload=None, query=None):
        """In-process control: the same dispatcher the HTTP API uses.

        Follow-up actions (closing or reopening the listener) run before
        returning, so set_down("refuse") / set_up() take effect at once.
        """
        status, obj, actions = self.control(method, name, payload or {}, query or {})
        for action in actions:
            action()
        if status >= 400:
            raise ValueError(f"mmstub control {method} {name}: {obj.get('error')}")
        return obj

    def control(self, method, name, payload, query):
        """Returns (status, JSON object, actions to run once answered)."""
        key = (method, name)
        handlers = {
            ("GET", "health"): self._c_health,
            ("GET", "requests"): self._c_requests,
            ("GET", "posts"): self._c_posts,
            ("GET", "config"): self._c_config,
            ("POST", "reset"): self._c_reset,
            ("POST", "users"): self._c_users,
            ("POST", "tokens"): self._c_tokens,
            ("POST", "tokens/expire"): self._c_token_expire,
            ("POST", "tokens/revoke"): self._c_token_revoke,
            ("POST", "channels"): self._c_channels,
            ("POST", "members"): self._c_members,
            ("POST", "plugin"): self._c_plugin,
            ("POST", "ratelimit"): self._c_ratelimit,
            ("POST", "options"): self._c_options,
            ("GET", "faults"): self._c_faults_get,
            ("POST", "faults"): self._c_faults_add,
            ("DELETE", "faults"): self._c_faults_clear,
            ("POST", "down"): self._c_down,
        }
        handler = handlers.get(key)
        if handler is None:
            return 404, {"error": f"no control endpoint {method} /_stub/{name}"}, []
        if not isinstance(payload, dict):
            return 400, {"error": "body must be a JSON object"}, []
        try:
            with self._lock:
                result = handler(payload, query)
        except (KeyError, TypeError, ValueError, re.error) as e:
            return 400, {"error": f"{type(e).__name__}: {e}"}, []
        if isinstance(result, tuple):
            return 200, result[0], result[1]
        return 200, result, []

    def _c_health(self, p, q):
        return {"ok": True, "url": self.url, "pid": os.getpid(), "down": dict(self._down),
                "requests": len(self._requests), "posts": len(self._posts)}

    def _c_requests(self, p, q):
        since = int(q.get("since", 0) or 0)
        method, path = q.get("method"), q.get("path")
        out = []
        for rec in self._requests[since:]:
            if method and not re.fullmatch(method, rec["method"], re.IGNORECASE):
                continue
            if path and not re.search(path, rec["path"]):
                continue
            out.append(copy.deepcopy(rec))
        return {"requests": out, "next": len(self._requests)}

    def _c_posts(self, p, q):
        channel_id = q.get("channel_id")
        history = q.get("history") in ("1", "true")
        out = []
        for entry in self._posts.values():
            post = entry["post"]
            if channel_id and post["channel_id"] != channel_id:
                continue
            item = copy.deepcopy(post)
            item["pending_post_id"] = entry.get("pending_post_id", "")
            item["edits"] = entry["edits"]
            item["updates"] = entry["updates"]
            if history:
                item["history"] = list(entry["history"])
            out.append(item)
        out.sort(key=lambda x: x["create_at"])
        return {"posts": out}

    def _c_config(self, p, q):
        return copy.deepcopy(self._config)

    def _c_reset(self, p, q):
        was_refusing = self._down["mode"] == "refuse"
        self._down_gen += 1  # forget any pending "back up" timer
        if not p.get("keep_config"):
            self._config = self._default_config()
        self._reset_runtime()
        self._save()
        return {"ok": True}, [self._reopen] if was_refusing else []

    def _c_users(self, p, q):
        username = p["username"]
        user_id = p.get("id") or derived_id("user", username)
        user = self._make_user(user_id, username, p.get("roles", "system_user"), p.get("is_bot", False))
        self._config["users"][user_id] = user
        if p.get("token"):
            self._put_token(p["token"], user_id, p)
        self._save()
        return copy.deepcopy(user)

    def _put_token(self, token, user_id, p):
        expires_at = p.get("expires_at")
        if p.get("ttl_s") is not None:
            expires_at = time.time() + float(p["ttl_s"])
        self._config["tokens"][token] = {"user_id": user_id, "expires_at": expires_at}

    def _c_tokens(self, p, q):
        if p["user_id"] not in self._config["users"]:
            raise ValueError(f"unknown user {p['user_id']}; add it with /_stub/users first")
        self._put_token(p["token"], p["user_id"], p)
        self._save()
        return {"ok": True}

    def _c_token_expire(self, p, q):
        self._config["tokens"][p["token"]]["expires_at"] = time.time() - 1
        self._save()
        return {"ok": True}

    def _c_token_revoke(self, p, q):
        self._config["tokens"].pop(p["token"], None)
        self._save()
        return {"ok": True}

    def _c_channels(self, p, q):
        channel_id = p["id"]
        if not re.fullmatch(r"[A-Za-z0-9]+", channel_id):
            raise ValueError("channel ids are [A-Za-z0-9]+ as on Mattermost")
        if p.get("type", "O") not in ("O", "P", "D", "G"):
            raise ValueError("type must be O, P, D or G")
        old = self._config["channels"].get(channel_id, {})
        members = dict(old.get("members", {}))
        for uid in p.get("members", []):
            members[uid] = "channel_user"
        self._config["channels"][channel_id] = {
            "id": channel_id, "type": p.get("type", "O"), "team_id": p.get("team_id", ""),
            "name": p.get("name") or channel_id, "display_name": p.get("name") or channel_id,
            "create_at": old.get("create_at", _now_ms()), "creator_id": "", "members": members,
        }
        self._save()
        return self._config["channels"][channel_id]

    def _c_members(self, p, q):
        channel_id, user_id = p["channel_id"], p["user_id"]
        if channel_id not in self._config["channels"]:
            self._c_channels({"id": channel_id}, q)
        members = self._config["channels"][channel_id]["members"]
        if p.get("remove"):
            members.pop(user_id, None)
        else:
            members[user_id] = p.get("roles", "channel_user")
        self._save()
        return {"ok": True, "members": sorted(members)}

    def _c_plugin(self, p, q):
        plugin = self._config["plugin"]
        for key in ("enabled", "version", "plugins_enabled"):
            if key in p:
                plugin[key] = p[key]
        self._save()
        return dict(plugin)

    def _c_ratelimit(self, p, q):
        per_sec = float(p.get("per_sec", 0))
        burst = int(p.get("burst", 100))
        if per_sec < 0 or burst < 0:
            raise ValueError("per_sec and burst must be >= 0")
        self._config["rate_limit"] = {"per_sec": per_sec, "burst": burst}
        self._limiter = _RateLimiter(per_sec, burst)
        self._save()
        return dict(self._config["rate_limit"])

    def _c_options(self, p, q):
        unknown = set(p) - set(_DEFAULT_OPTIONS)
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}")
        self._config["options"].update(p)
        self._save()
        return dict(self._config["options"])

    def _c_faults_get(self, p, q):
        return {"faults": copy.deepcopy(self._faults)}

    def _c_faults_add(self, p, q):
        for key in ("method", "path"):
            if p.get(key):
                re.compile(p[key])
        drop = p.get("drop") or False
        if drop not in (True, False, "reset"):
            raise ValueError('drop must be true, false or "reset"')
        status = p.get("status")
        if status is not None and not 100 <= int(status) <= 599:
            raise ValueError("status must be an HTTP status")
        self._fault_seq += 1
        rule = {
            "id": self._fault_seq, "status": int(status) if status else None,
            "delay_s": float(p.get("delay_s") or 0), "drop": drop,
            "process": bool(p.get("process")), "count": int(p.get("count", 1)),
            "method": p.get("method"), "path": p.get("path"),
            "retry_after": p.get("retry_after", 1), "body": p.get("body"), "hits": 0,
        }
        if rule["count"] == 0 or rule["count"] < -1:
            raise ValueError("count must be >= 1, or -1 for until cleared")
        self._faults.append(rule)
        return {"id": rule["id"]}

    def _c_faults_clear(self, p, q):
        self._faults.clear()
        return {"ok": True}

    def _c_down(self, p, q):
        mode = p.get("mode", "status")
        if mode not in ("status", "drop", "reset", "refuse", "off"):
            raise ValueError("mode must be status, drop, reset, refuse or off")
        for_s = p.get("for_s")
        self._down_gen += 1
        gen = self._down_gen
        was_refusing = self._down["mode"] == "refuse"
        self._down = {"mode": mode, "status": int(p.get("status", 503)),
                      "until": time.time() + float(for_s) if for_s is not None else None}
        actions = []
        if mode == "refuse" and not was_refusing:
            actions.append(self._refuse)
        elif mode != "refuse" and was_refusing:
            actions.append(self._reopen)
        elif mode in ("drop", "reset"):
            # Like a crashed server: idle pooled connections close now, not
            # only when their next request arrives.
            upto = self._conn_seq
            actions.append(lambda: self._kill_connections(upto))
        if for_s is not None and mode != "off":
            actions.append(lambda: self._schedule_up(gen, float(for_s)))
        return {"ok": True, "mode": mode}, actions

    def _schedule_up(self, gen, delay):
        def up():
            if self._stop_evt.wait(delay):
                return
            with self._lock:
                if gen != self._down_gen:
                    return  # a later set_down superseded this one
                refusing = self._down["mode"] == "refuse"
                self._down = {"mode": "off", "status": 503, "until": None}
                self._down_gen += 1
            if refusing:
                try:
                    self._reopen()
                except Exception:  # a thread's death is silent: say it
                    traceback.print_exc()
                    raise
        threading.Thread(target=up, name="mmstub-up", daemon=True).start()

    def _reopen(self):
        if not self._stop_evt.is_set():
            with self._lock:
                listening = self._server is not None
            if not listening:
                self._open_listener()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), which
        # can stall for seconds on a machine without DNS; it is not needed.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        # Clients vanishing mid-answer is what the fault tests provoke; keep
        # stderr for real bugs.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so keep-alive works: livestatus pools libcurl connections and
    # the tests check reuse through the recorded conn_id.
    protocol_version = "HTTP/1.1"
    server_version = "mmstub"

    def version_string(self):
        return self.server_version

    def setup(self):
        stub = self.server.stub
        self.timeout = float(stub._config["options"]["idle_timeout_s"])
        super().setup()
        # Go's server sets TCP_NODELAY too; without it a small answer can sit
        # out the client's 40 ms delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn_id = stub._register_conn(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.stub._unregister_conn(self.connection)

    def log_message(self, fmt, *args):
        if self.server.stub.verbose:
            sys.stderr.write("mmstub: " + (fmt % args) + "\n")

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("connection closed inside a chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            raise ValueError("bad Content-Length")
        data = self.rfile.read(length)
        if len(data) != length:
            raise ConnectionError("connection closed inside the body")
        return data

    def _dispatch(self):
        stub = self.server.stub
        try:
            body = self._read_body()
        except ValueError as e:
            self.close_connection = True
            self._send(_Answer.text(400, f"bad request body: {e}\n"))
            return
        split = urlsplit(self.path)
        if split.path == "/_stub" or split.path.startswith("/_stub/"):
            self._control(stub, split.path[len("/_stub/"):].strip("/"), split.query, body)
            return
        answer = stub.serve_api(self.conn_id, self.command, split.path, split.query,
                                self.headers, body)
        if isinstance(answer, _Drop):
            self._drop(answer.reset)
        else:
            self._send(answer)

    def _control(self, stub, name, query, body):
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError as e:
            self._send(_Answer.json(400, {"error": f"bad JSON: {e}"}))
            return
        q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        status, obj, actions = stub.control(self.command, name, payload, q)
        self._send(_Answer.json(status, obj))
        if actions:
            # Closing the listener from a handler of that listener must not
            # wait on it; run the follow-ups from a fresh thread.
            def run():
                for action in actions:
                    action()
            threading.Thread(target=run, name="mmstub-control", daemon=True).start()

    def _send(self, answer):
        headers = {
            "Server": self.version_string(),
            "Date": self.date_time_string(),
            **answer.headers,
            "Content-Type": answer.ctype,
            "Content-Length": str(len(answer.body)),
        }
        if self.close_connection:
            headers["Connection"] = "close"
        elif self.request_version == "HTTP/1.0":
            headers["Connection"] = "keep-alive"
        reason = http.client.responses.get(answer.status, "")
        head = f"{self.protocol_version} {answer.status} {reason}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.log_request(answer.status)
        try:
            # One write for head and body: a small answer leaves in one segment.
            self.wfile.write(head.encode("latin-1") + answer.body)
        except OSError:
            self.close_connection = True

    def _drop(self, reset):
        self.close_connection = True
        try:
            if reset:
                # SO_LINGER 0 turns close() into an RST, the "connection reset
                # by peer" a crashing proxy produces.  rfile holds a reference
                # that would defer the real close, so release it first.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.rfile.close()
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class StubClient(_Controls):
    """The control verbs over HTTP, for a stub in another process."""

    def __init__(self, url, timeout=5.0):
        split = urlsplit(url)
        self.url = url.rstrip("/")
        self._host, self._port = split.hostname, split.port
        self._timeout = timeout

    def _control(self, method, name, payload=None, query=None):
        path = "/_stub/" + name
        if query:
            path += "?" + urlencode(query)
        body = json.dumps(payload or {}).encode() if method != "GET" else None
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = json.loads(resp.read() or b"{}")
        finally:
            conn.close()
        if resp.status >= 400:
            raise ValueError(f"mmstub control {method} {name}: {data.get('error')}")
        return data


class StubProcess:
    """Runs tests/mmstub.py as a subprocess and waits for its port file."""

    def __init__(self, workdir, state_file=None, extra_args=(), timeout=5.0):
        self.port_file = os.path.join(workdir, f"mmstub-{os.getpid()}-{new_id()[:6]}.port")
        args = [sys.executable, os.path.abspath(__file__), "--port", "0",
                "--port-file", self.port_file, *extra_args]
        if state_file:
            args += ["--state-file", state_file]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"mmstub exited with {self.proc.returncode} before listening")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError("mmstub did not write its port file")
            time.sleep(0.01)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = StubClient(self.url)

    def stop(self, timeout=5.0):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._cleanup()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._cleanup()

    def _cleanup(self):
        try:
            os.unlink(self.port_file)
        except FileNotFoundError:
            pass


def _write_port_file(path, port):
    # Written via rename so a reader never sees a half-written number.
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".mmstub-port-", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Recording Mattermost REST API stand-in for tests.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the listening port here (atomically)")
    ap.add_argument("--state-file", help="keep posts and configuration here across restarts")
    ap.add_argument("--bot-token", default=DEFAULT_BOT_TOKEN)
    ap.add_argument("--bot-user-id", default=DEFAULT_BOT_ID)
    ap.add_argument("--plugin-enabled", action="store_true",
                    help=f"list {PLUGIN_ID} in /api/v4/plugins/webapp from the start")
    ap.add_argument("--rate-limit", type=float, default=None, metavar="PER_SEC",
                    help="enforce Mattermost's rate limit at this many requests/s")
    ap.add_argument("--burst", type=int, default=100)
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args(argv)

    stub = MMStub(host=args.host, port=args.port, state_file=args.state_file,
                  bot_token=args.bot_token, bot_user_id=args.bot_user_id, verbose=args.verbose)
    if args.plugin_enabled:
        stub.set_plugin(enabled=True)
    if args.rate_limit is not None:
        stub.set_rate_limit(args.rate_limit, args.burst)
    stub.start()
    if args.port_file:
        _write_port_file(args.port_file, stub.port)
    print(f"mmstub: listening on {stub.url}", file=sys.stderr, flush=True)

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    stub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
