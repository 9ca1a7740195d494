"""A small OpenAI-compatible chat endpoint on loopback, for tests: it answers correctly,
slowly, with garbage, outside the schema, with 429 or with 500, as the test asks, and
remembers every request and the most requests it had in flight at once."""

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeModel:
    """`mode`: "ok" (answer with `answer(request)`), "slow" (the same after `delay`
    seconds), "garbage" (prose, not JSON), "429", "500", "400" (a refusal whose text
    echoes the request), "302" (a redirect to another address)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.answer: Callable[[dict], dict] = lambda request: {}
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "FakeModel":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, request: dict) -> tuple[int, dict]:
        if self.mode == "429":
            return 429, {"error": {"message": "rate limited", "type": "rate_limit_error"}}
        if self.mode == "500":
            return 500, {"error": {"message": "boom", "type": "server_error"}}
        if self.mode == "400":
            return 400, {
                "error": {"message": f"Cannot answer: {json.dumps(request)}", "type": "invalid_request_error"}
            }
        if self.mode == "302":
            return 302, {}
        if self.mode == "slow":
            time.sleep(self.delay)
        content = (
            "Sure! It looks like a pothole to me."
            if self.mode == "garbage"
            else json.dumps(self.answer(request))
        )
        return 200, {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with fake._lock:
                    fake.requests.append(body)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    status, payload = fake._reply(body)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    if status == 302:
                        self.send_header("Location", "http://elsewhere.test/v1/chat/completions")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): nothing to answer

        return Handler
