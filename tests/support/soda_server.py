"""A small local Socrata (SODA 2.1) server for the fetcher's tests: `/resource/<id>.json`
answers `$limit`, `$offset`, `$order=:id` and `$where=:updated_at >= '...'` over rows held
in memory, records every request (its parameters and app token), and can be told to fail
the next requests with a status, as a portal under load does. Nothing reaches the network."""

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class SodaRequest:
    resource: str
    params: dict[str, str]
    token: str | None


@dataclass
class FakeSoda:
    # resource id -> rows; each row may carry `:updated_at` (ISO 8601, compared as text).
    datasets: dict[str, list[dict]] = field(default_factory=dict)
    requests: list[SodaRequest] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer the next requests with
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeSoda":
        soda = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                parsed = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                match = re.fullmatch(r"/resource/([a-z0-9]{4}-[a-z0-9]{4})\.json", parsed.path)
                soda.requests.append(
                    SodaRequest(
                        match.group(1) if match else parsed.path, params, self.headers.get("X-App-Token")
                    )
                )
                if soda.fail_next:
                    self._send(soda.fail_next.pop(0), {"error": True, "message": "try again"})
                    return
                if match is None or match.group(1) not in soda.datasets:
                    self._send(404, {"error": True, "message": "dataset not found"})
                    return
                self._send(200, soda.rows(match.group(1), params))

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def rows(self, resource: str, params: dict[str, str]) -> list[dict]:
        rows = list(self.datasets[resource])
        where = params.get("$where", "")
        since = re.fullmatch(r":updated_at >= '([^']+)'", where)
        if where and since is None:
            raise ValueError(f"the fake server does not understand $where={where}")
        if since:
            rows = [r for r in rows if r.get(":updated_at", "") >= since.group(1)]
        if params.get("$order") == ":id":
            rows.sort(key=lambda r: r[":id"])
        offset, limit = int(params.get("$offset", 0)), int(params.get("$limit", 1000))
        # The API leaves out system fields unless asked, and empty fields always.
        return [
            {k: v for k, v in r.items() if not k.startswith(":") and v not in ("", None)}
            for r in rows[offset : offset + limit]
        ]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
