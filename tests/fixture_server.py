#!/usr/bin/env python3
"""A small real HTTP server for the browser tests (tests/browser.rs), on 127.0.0.1.

It serves the sandbox SDK and deliberately broken scripts for the loader tests, and a scripted
merchant backend for the hand-off tests, and it records every backend request so a test can assert
exactly what left the page (and that nothing did). Cross-origin from the test page, so it answers
CORS preflights. Stops by itself after --lifetime seconds.

  /sandbox/<file>              the repo's sandbox/ folder
  /loader/boot.js              scripts/boot.js as it is in the repo (no bundles: it only defines
                               <toss-billing-checkout>, for the element tests)
  /script/empty.js             a script that defines nothing
  /script/slow.js              answers after 5 s
  /script/flaky/<id>.js        404 the first time, the sandbox SDK after that
  /script/missing.js           404
  /backend/<id>/<plan>         POST: the hand-off; GET: the customerKey endpoint
     plans: ok | refuse (400 INVALID_CARD_NUMBER) | mismatch (403) | down<N> (503 N times, then ok)
            | slow (answers after 3 s) | garbage (200 with a body that is not the contract)
            | pending<N> (202 HANDOFF_PENDING, retryAfterMs 600, N times, then ok)
            | status408 | status409 | status425 | status429 (that status with a {code, message})
            | html502 (a proxy's HTML error page) | unreadable200 (200 with a body that is no JSON)
            | stall (headers, half a body, then nothing) | never (no answer at all)
            | emptycard (200 {"card": {}}) | partialcard (a card with some display fields)
  /heal/<id>                   from now on every POST of <id> answers ok, whatever its plan
                               (the backend is healthy again)
  /log/<id>                    JSON list of the backend requests recorded for <id>
"""
import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SANDBOX = os.path.join(ROOT, "sandbox")
LOCK = threading.Lock()
LOG = {}
HITS = {}
HEALED = set()
# How long `stall` and `never` keep a connection open without finishing (the page gives up first).
HOLD_SECONDS = 30

CARD = {"card": {"company": "현대", "number": "433012******123*", "cardType": "신용", "ownerType": "개인"}}
STATUS_CODES = {
    "status408": (408, "REQUEST_TIMEOUT"),
    "status409": (409, "IDEMPOTENT_REQUEST_PROCESSING"),
    "status425": (425, "TOO_EARLY"),
    "status429": (429, "RATE_LIMITED"),
}
PROXY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def cors(self):
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "content-type, accept, idempotency-key, x-csrf-token")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Cache-Control", "no-store")
        # The test runner's page is cross-origin isolated (COEP require-corp): scripts from here
        # load only with an explicit CORP header.
        self.send_header("Cross-Origin-Resource-Policy", "cross-origin")

    def answer(self, status, body=b"", content_type="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.cors()
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_OPTIONS(self):
        self.send_response(204)
        self.cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def hit(self, key):
        with LOCK:
            HITS[key] = HITS.get(key, 0) + 1
            return HITS[key]

    def serve_sandbox(self, name):
        path = os.path.join(SANDBOX, os.path.basename(name))
        if not os.path.isfile(path):
            return self.answer(404, {"code": "NOT_FOUND", "message": name})
        kind = "text/javascript" if path.endswith(".js") else "text/css" if path.endswith(".css") else "text/html"
        with open(path, "rb") as f:
            return self.answer(200, f.read(), kind)

    def do_GET(self):
        path = self.path.split("?")[0]
        parts = path.strip("/").split("/")
        if parts[0] == "sandbox" and len(parts) == 2:
            return self.serve_sandbox(parts[1])
        if path == "/loader/boot.js":
            with open(os.path.join(ROOT, "scripts", "boot.js"), "rb") as f:
                return self.answer(200, f.read(), "text/javascript")
        if path == "/script/empty.js":
            return self.answer(200, "/* defines nothing */", "text/javascript")
        if path == "/script/slow.js":
            time.sleep(5)
            return self.answer(200, "/* too late */", "text/javascript")
        if parts[:2] == ["script", "flaky"]:
            if self.hit(path) == 1:
                return self.answer(404, "not yet", "text/plain")
            return self.serve_sandbox("tosspayments-sandbox.js")
        if parts[0] == "heal" and len(parts) == 2:
            with LOCK:
                HEALED.add(parts[1])
            return self.answer(200, {})
        if parts[0] == "log" and len(parts) == 2:
            with LOCK:
                return self.answer(200, LOG.get(parts[1], []))
        if parts[0] == "backend" and len(parts) == 3:
            self.record(parts[1], None)
            if parts[2] == "down-customer":
                return self.answer(503, {"code": "UNAVAILABLE", "message": "down"})
            return self.answer(200, {"customerKey": "fixture-customer-" + parts[1][:20]})
        return self.answer(404, {"code": "NOT_FOUND", "message": path})

    def record(self, test_id, body):
        entry = {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        with LOCK:
            LOG.setdefault(test_id, []).append(entry)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] != "backend" or len(parts) != 3:
            return self.answer(404, {"code": "NOT_FOUND", "message": self.path})
        test_id, plan = parts[1], parts[2]
        try:
            body = json.loads(raw.decode() or "null")
        except ValueError:
            body = {"unparseable": raw.decode(errors="replace")}
        self.record(test_id, body)
        count = len(LOG[test_id])
        with LOCK:
            healed = test_id in HEALED
        if plan == "ok" or healed:
            return self.answer(200, CARD)
        if plan == "refuse":
            return self.answer(400, {"code": "INVALID_CARD_NUMBER", "message": "<b>raw</b> backend text"})
        if plan == "mismatch":
            return self.answer(403, {"code": "CUSTOMER_KEY_MISMATCH", "message": "not yours"})
        if plan.startswith("down"):
            if count <= int(plan[4:] or "1000"):
                return self.answer(503, {"code": "TOSS_UNAVAILABLE", "message": "try later"})
            return self.answer(200, CARD)
        if plan == "slow":
            time.sleep(3)
            return self.answer(200, CARD)
        if plan == "garbage":
            return self.answer(200, {"billingKey": "should-never-be-shown"})
        if plan.startswith("pending"):
            if count <= int(plan[7:] or "1000"):
                return self.answer(
                    202,
                    {"code": "HANDOFF_PENDING", "message": "still exchanging", "retryAfterMs": 600},
                    headers=[("Retry-After", "1")],
                )
            return self.answer(200, CARD)
        if plan in STATUS_CODES:
            status, code = STATUS_CODES[plan]
            return self.answer(status, {"code": code, "message": "not now"}, headers=[("Retry-After", "1")])
        if plan == "html502":
            return self.answer(502, PROXY_PAGE, "text/html")
        if plan == "unreadable200":
            return self.answer(200, "<html><body>OK</body></html>", "text/html")
        if plan == "emptycard":
            return self.answer(200, {"card": {}})
        if plan == "partialcard":
            return self.answer(200, {"card": {"number": "433012******123*", "ownerType": "법인", "company": ""}})
        if plan == "stall":
            # Headers and the start of a body, then nothing: only a timeout that covers the body
            # gets the page out of this.
            self.send_response(200)
            self.cors()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b'{"card": {"company": ')
            self.wfile.flush()
            time.sleep(HOLD_SECONDS)
            self.close_connection = True
            return None
        if plan == "never":
            time.sleep(HOLD_SECONDS)
            self.close_connection = True
            return None
        return self.answer(404, {"code": "NO_SUCH_PLAN", "message": plan})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--lifetime", type=int, default=1800)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    threading.Timer(args.lifetime, server.shutdown).start()
    print("fixture server on http://127.0.0.1:%d" % args.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
