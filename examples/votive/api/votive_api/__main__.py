"""`python -m votive_api`: serves the API on $PORT (default 8000)."""

import json
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import VERSION
from .store import Store

STORE = Store(os.environ.get("VOTIVE_DB", "/data/votive.db"))
VOTE = re.compile(r"^/api/polls/(\d+)/votes$")
CLOSE = re.compile(r"^/api/polls/(\d+)/close$")


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self) -> dict:
        length = int(self.headers.get("Content-Length", "0"))
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/api/healthz":
            self._send(200, {"status": "ok", "version": VERSION})
        elif path == "/api/polls":
            closed = {"closed=true": True, "closed=false": False}.get(query)
            self._send(200, STORE.polls(closed))
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        try:
            if self.path == "/api/polls":
                self._send(201, STORE.create(str(self._json().get("question", ""))))
            elif m := VOTE.match(self.path):
                STORE.vote(int(m[1]), str(self._json().get("choice", "")))
                self._send(204, {})
            elif m := CLOSE.match(self.path):
                STORE.close(int(m[1]))
                self._send(204, {})
            else:
                self._send(404, {"error": "not found"})
        except ValueError as e:
            self._send(422, {"error": str(e)})
        except KeyError:
            self._send(404, {"error": "no open poll with this id"})


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    print(f"votive-api {VERSION} listening on :{port}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
