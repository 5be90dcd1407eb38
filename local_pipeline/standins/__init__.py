"""Local stand-ins for AWS services moto does not model usefully (Bedrock, Translate).

Each speaks its service's real wire protocol over HTTP on 127.0.0.1, so the pipeline's
own boto3 clients (pointed at it with an endpoint URL) send exactly what they would send
to AWS. Every request is recorded, and its SigV4 signing scope is checked, so tests
assert on what the code asked for: the service, the operation, the body.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Answer", "RecordedRequest", "StandIn", "serving"]

# AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/bedrock/aws4_request, ...
_SIGNING_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    region: str | None  # from the SigV4 credential scope
    signing_service: str | None

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # JSON-ready data
    headers: dict[str, str] = field(default_factory=dict)


class StandIn:
    """Subclasses set ``signing_service`` and implement ``answer``."""

    signing_service = ""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not serving")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, request: RecordedRequest) -> Answer:
        raise NotImplementedError

    def _handle(self, request: RecordedRequest) -> Answer:
        with self._lock:
            self.requests.append(request)
        if request.signing_service != self.signing_service:
            # What AWS says to a request signed for another service.
            return Answer(
                403,
                {
                    "message": f"Credential should be scoped to correct service: "
                    f"'{self.signing_service}'."
                },
                {"x-amzn-ErrorType": "InvalidSignatureException"},
            )
        return self.answer(request)

    def start(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                scope = _SIGNING_SCOPE.search(headers.get("authorization", ""))
                request = RecordedRequest(
                    method="POST",
                    path=self.path,
                    headers=headers,
                    body=body,
                    region=scope.group(1) if scope else None,
                    signing_service=scope.group(2) if scope else None,
                )
                answer = stand_in._handle(request)
                payload = json.dumps(answer.body).encode("utf-8")
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return  # requests are recorded, not printed

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def serving(stand_in: StandIn) -> Iterator[StandIn]:
    stand_in.start()
    try:
        yield stand_in
    finally:
        stand_in.stop()
