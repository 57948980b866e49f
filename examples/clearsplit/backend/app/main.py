"""`python -m app.main`: the API on $PORT (default 8000)."""

import json
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import VERSION
from .api import groups

EXPENSES = re.compile(r"^/v1/groups/([a-z0-9-]+)/expenses$")
SETTLEMENTS = re.compile(r"^/v1/groups/([a-z0-9-]+)/settlements$")


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {"status": "ok", "version": VERSION})
        elif m := SETTLEMENTS.match(self.path):
            self._send(200, groups.settlements(m[1]))
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        m = EXPENSES.match(self.path)
        if not m:
            self._send(404, {"detail": "Not Found"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            self._send(201, groups.add_expense(m[1], json.loads(self.rfile.read(length))))
        except (ValueError, json.JSONDecodeError) as e:
            self._send(422, {"detail": str(e)})


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    print(f"clearsplit-api {VERSION} on :{port}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
