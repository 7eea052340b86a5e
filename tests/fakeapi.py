"""A fake Anthropic API on 127.0.0.1 for the real `anthropic` SDK: the Messages API (forced tool
calls) and the Message Batches API as the real one answers them where the client depends on it:
prompt caching (a prefix up to the last `cache_control` breakpoint is written on first use and
read after, only when it reaches the model's minimum cacheable length), `strict` tool schemas
checked, error bodies in the API's shape; with scripted failures (any status with the API's error body
and an optional message, 429 + retry-after, 500, 529,
dropped connections, resets mid-body, replies that never come, bodies that are not JSON, a tool
call under another name, oversized answers, malformed tool input), latency and rate-limit headers.

Tests start it in a thread and point ANTHROPIC_BASE_URL at `server.url`; it counts requests in
flight and records arrival times so tests can check the orchestrator's limits from outside."""

from __future__ import annotations

import datetime
import itertools
import json
import re
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import hashlib
from typing import Any, Callable, Dict, List, Optional, Tuple


ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


# The shortest prefix each model caches, in tokens (Anthropic's prompt-caching documentation),
# by the longest model-name prefix; kept apart from asyncreview's own table on purpose.
MINIMUM_CACHEABLE = {
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-6": 2048,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
DEFAULT_MINIMUM_CACHEABLE = 1024


def minimum_cacheable(model: str) -> int:
    best = max((prefix for prefix in MINIMUM_CACHEABLE if model.startswith(prefix)), key=len, default=None)
    return MINIMUM_CACHEABLE[best] if best else DEFAULT_MINIMUM_CACHEABLE


def tokens(text: str) -> int:
    return len(text) // 4


def prompt_parts(body: Dict[str, Any]) -> List[Tuple[str, bool]]:
    """The prompt in the order the API caches it (tools, system, messages), as (text, whether a
    cache_control breakpoint ends it)."""
    parts = []
    for tool in body.get("tools") or []:
        parts.append((json.dumps({k: v for k, v in tool.items() if k != "cache_control"}), "cache_control" in tool))
    system = body.get("system") or []
    for block in [{"text": system}] if isinstance(system, str) else system:
        parts.append((block.get("text", ""), "cache_control" in block))
    for message in body.get("messages") or []:
        content = message.get("content")
        for block in [{"text": content}] if isinstance(content, str) else content or []:
            parts.append((block.get("text", json.dumps(block)), "cache_control" in block))
    return parts


def strict_schema_problem(schema: Any, where: str = "input_schema") -> Optional[str]:
    """What a `strict` tool's schema breaks: every object closed (additionalProperties false)
    and every property required."""
    if not isinstance(schema, dict):
        return f"{where}: not a schema"
    if schema.get("type") == "object":
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return f"{where}: additionalProperties must be false"
        if sorted(schema.get("required") or []) != sorted(properties):
            return f"{where}: every property must be required"
        for name, child in properties.items():
            problem = strict_schema_problem(child, f"{where}.{name}")
            if problem:
                return problem
    if schema.get("type") == "array":
        return strict_schema_problem(schema.get("items"), f"{where}[]")
    return None


def error_body(kind: str, message: str) -> Dict[str, Any]:
    """The API's error shape."""
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": f"req_fake_{abs(hash(message)) % 10**8}"}


def finding_document(body: Dict[str, Any]) -> Dict[str, Any]:
    """The JSON document the client quoted between <findings> and </findings>."""
    content = body["messages"][0]["content"]
    if isinstance(content, list):
        content = "".join(block.get("text", "") for block in content)
    match = re.search(r"<findings>\n(.*)\n</findings>", content, re.S)
    return json.loads(match.group(1)) if match else {}


def default_review(body: Dict[str, Any]) -> Dict[str, Any]:
    """Deterministic stand-in for the model, one review per finding id: a `FAKE:refute` /
    `FAKE:uncertain` marker in a function's code picks the verdict of its findings, otherwise a
    finding is confirmed at its default severity, or at the one a `FAKE:regrade-warning` marker
    names."""
    reviews = []
    for function in finding_document(body).get("functions", []):
        code = function.get("enclosing_code", {}).get("text", "")
        verdict = "confirmed"
        if "FAKE:refute" in code:
            verdict = "false_positive"
        elif "FAKE:uncertain" in code:
            verdict = "uncertain"
        regrade = re.search(r"FAKE:regrade-(\w+)", code)
        for finding in function.get("findings", []):
            reviews.append({
                "id": finding.get("id"),
                "verdict": verdict,
                "severity": regrade.group(1).upper() if regrade else finding.get("default_severity", "WARNING"),
                "explanation": f"fake review of {finding.get('rule')} at line {finding.get('line')}",
                "suggested_fix": "",
                "fix_edits": [],
            })
    return {"reviews": reviews}


def only_function(body: Dict[str, Any]) -> Dict[str, Any]:
    """The one function a request carries, with the file's entries beside its own."""
    document = finding_document(body)
    (function,) = document["functions"]
    return dict({key: value for key, value in document.items() if key != "functions"}, **function)


def single(review: Dict[str, Any], finding_id: str = "F1") -> Dict[str, Any]:
    """A scripted answer of one review, in the tool's shape."""
    return {"reviews": [dict(review, id=finding_id)]}


class FakeAnthropic:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency = 0.0
        self.script: List[Dict[str, Any]] = []  # consumed one per /v1/messages request
        self.always: Optional[Dict[str, Any]] = None  # used when the script is empty
        self.responder: Callable[[Dict[str, Any]], Any] = default_review
        self.extra_text: Optional[str] = None  # a text block before the tool call
        self.rate_headers: Dict[str, str] = {}
        self.batch_polls_before_end = 1  # read at every poll: a test may end a batch later
        self.batch_outcome = "succeeded"  # or errored / canceled / expired: every request of new batches
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: List[float] = []
        self.clock: Callable[[], float] = time.monotonic  # what `arrivals` are read from
        self.bodies: List[Dict[str, Any]] = []
        self.raw_requests: List[bytes] = []
        self.api_keys: set = set()
        self.headers: List[Dict[str, str]] = []
        self.paths: List[str] = []
        self.batches: Dict[str, Dict[str, Any]] = {}
        self.prompt_cache: Dict[str, str] = {}  # prefix digest -> "writing" until its first reply, then "ready"
        self.usages: List[Dict[str, int]] = []  # the usage of every message answered
        self._ids = itertools.count(1)
        self.released = threading.Event()  # ends every "hang" when the server stops
        self.httpd: Optional[ThreadingHTTPServer] = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "FakeAnthropic":
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.released.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    @property
    def message_requests(self) -> int:
        return len(self.arrivals)

    # -- replies -------------------------------------------------------------------------------

    def message(self, body: Dict[str, Any], tool_input: Any, arrival: Optional[Tuple[Optional[str], bool]] = None) -> Dict[str, Any]:
        content: List[Dict[str, Any]] = []
        if self.extra_text is not None:
            content.append({"type": "text", "text": self.extra_text})
        if tool_input is not None:
            tool = body.get("tool_choice", {}).get("name", "record_review")
            content.append({"type": "tool_use", "id": f"toolu_{next(self._ids)}", "name": tool, "input": tool_input})
        usage = self.usage(body, tool_input, arrival)
        return {
            "id": f"msg_{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "fake"),
            "content": content,
            "stop_reason": "tool_use" if tool_input is not None else "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }

    def batch_result(self, params: Dict[str, Any]) -> Dict[str, Any]:
        """One request's result, shaped as the API gives it for each outcome."""
        if self.batch_outcome == "succeeded":
            return {"type": "succeeded", "message": self.message(params, self.responder(params))}
        if self.batch_outcome == "errored":
            error = {"type": "invalid_request_error", "message": "fake: request failed validation"}
            return {"type": "errored", "error": {"type": "error", "error": error}}
        return {"type": self.batch_outcome}

    def forget_batch(self, batch_id: str) -> None:
        """As if the batch were deleted (or belonged to another key): 404 from now on."""
        with self.lock:
            del self.batches[batch_id]

    def prefix(self, body: Dict[str, Any]) -> Tuple[Optional[str], int]:
        """The digest and size of the cacheable prefix (up to the last breakpoint), or (None, 0)
        when there is none or it is under the model's minimum."""
        parts = prompt_parts(body)
        last = max((index for index, (_, marked) in enumerate(parts) if marked), default=None)
        if last is None:
            return None, 0
        prefix = "".join(text for text, _ in parts[: last + 1])
        if tokens(prefix) < minimum_cacheable(body.get("model", "")):
            return None, 0
        return hashlib.sha256((body.get("model", "") + "\0" + prefix).encode()).hexdigest(), tokens(prefix)

    def arrive(self, body: Dict[str, Any]) -> Tuple[Optional[str], bool]:
        """At a request's arrival: (prefix digest, whether it reads the prefix). A prefix is read
        only once the request that wrote it was answered; until then every arrival writes it."""
        digest, _ = self.prefix(body)
        if digest is None:
            return None, False
        with self.lock:
            return digest, self.prompt_cache.setdefault(digest, "writing") == "ready"

    def usage(self, body: Dict[str, Any], tool_input: Any, arrival: Optional[Tuple[Optional[str], bool]] = None) -> Dict[str, int]:
        """Input tokens split as the API bills them (cache writes, cache reads, the rest);
        output tokens follow the answer's size."""
        digest, reads = arrival if arrival is not None else self.arrive(body)
        size = self.prefix(body)[1] if digest else 0
        total = tokens("".join(text for text, _ in prompt_parts(body)))
        usage = {
            "input_tokens": total - size,
            "output_tokens": 10 + (tokens(json.dumps(tool_input)) if tool_input is not None else 0),
            "cache_creation_input_tokens": 0 if reads else size,
            "cache_read_input_tokens": size if reads else 0,
        }
        with self.lock:
            if digest:
                self.prompt_cache[digest] = "ready"
            self.usages.append(usage)
        return usage

    def batch_object(self, batch_id: str) -> Dict[str, Any]:
        batch = self.batches[batch_id]
        ended = batch["polls"] >= self.batch_polls_before_end
        now = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for result in batch["results"]:
            counts[result["result"]["type"] if ended else "processing"] += 1
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": now,
            "expires_at": now,
            "ended_at": now if ended else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch_id}/results" if ended else None,
        }


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeAnthropic
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body waits for the
    # client's delayed ACK (40 ms on Linux) on a kept-alive connection: a stall no real API has.
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, payload: Any, headers: Optional[Dict[str, str]] = None, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self._leave()  # before the reply goes out: the client may send its next request at once
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _leave(self) -> None:
        """This request stops counting as in flight (once)."""
        if getattr(self, "counted", False):
            self.counted = False
            with self.server_fake.lock:
                self.server_fake.in_flight -= 1

    def _body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _record_key(self) -> None:
        with self.server_fake.lock:
            self.server_fake.headers.append(dict(self.headers.items()))
        # Older SDKs send x-api-key, newer ones `Authorization: Bearer <key>`.
        key = self.headers.get("x-api-key") or (self.headers.get("authorization") or "").replace("Bearer ", "", 1)
        if key:
            with self.server_fake.lock:
                self.server_fake.api_keys.add(key)

    def do_POST(self) -> None:
        fake = self.server_fake
        raw = self._body()
        self._record_key()
        path = self.path.split("?")[0]
        with fake.lock:
            fake.paths.append(path)
        if path == "/v1/messages":
            return self._messages(raw)
        if path == "/v1/messages/batches":
            body = json.loads(raw)
            batch_id = f"msgbatch_{next(fake._ids)}"
            results = []
            for request in body["requests"]:
                results.append({"custom_id": request["custom_id"], "result": fake.batch_result(request["params"])})
            with fake.lock:
                fake.batches[batch_id] = {"polls": 0, "results": results, "requests": body["requests"]}
            return self._send(200, fake.batch_object(batch_id))
        self._send(404, error_body("not_found_error", path))

    def do_GET(self) -> None:
        fake = self.server_fake
        self._record_key()
        path = self.path.split("?")[0]
        with fake.lock:
            fake.paths.append(path)
        match = re.fullmatch(r"/v1/messages/batches/([^/]+)(/results)?", path)
        if not match or match.group(1) not in fake.batches:
            return self._send(404, error_body("not_found_error", path))
        batch_id = match.group(1)
        if match.group(2):
            lines = "\n".join(json.dumps(r) for r in fake.batches[batch_id]["results"]) + "\n"
            return self._send(200, lines.encode(), content_type="application/binary")
        with fake.lock:
            fake.batches[batch_id]["polls"] += 1
        self._send(200, fake.batch_object(batch_id))

    def _messages(self, raw: bytes) -> None:
        fake = self.server_fake
        with fake.lock:
            self.counted = True
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
            fake.arrivals.append(fake.clock())
            fake.raw_requests.append(raw)
            action = fake.script.pop(0) if fake.script else fake.always
        try:
            body = json.loads(raw)
            with fake.lock:
                fake.bodies.append(body)
            problem = next((strict_schema_problem(t.get("input_schema")) for t in body.get("tools") or [] if t.get("strict")), None)
            if problem:
                return self._send(400, error_body("invalid_request_error", f"tools.0.custom.{problem}"))
            arrival = fake.arrive(body)
            delay = (action or {}).get("latency", fake.latency)
            if delay:
                time.sleep(delay)
            kind = (action or {}).get("kind")
            if kind == "status":
                status = action["status"]
                message = action.get("message", f"fake {status}")
                return self._send(status, error_body(ERROR_TYPES.get(status, "api_error"), message), action.get("headers"))
            if kind == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if kind == "hang":  # accept the request, never answer (until the server stops)
                fake.released.wait()
                self.close_connection = True
                return
            tool_input = action["input"] if kind == "malformed" else fake.responder(body)
            headers = dict(fake.rate_headers)
            headers.update((action or {}).get("headers", {}))
            message = fake.message(body, tool_input, arrival)
            if kind == "wrong_tool":
                for block in message["content"]:
                    if block["type"] == "tool_use":
                        block["name"] = "approve_everything"
            if kind == "oversized":
                for block in message["content"]:
                    if block["type"] == "tool_use":
                        for review in block["input"]["reviews"]:
                            review["explanation"] = "x" * action.get("size", 2_000_000)
            if kind == "reset":  # headers and half the body, then a TCP reset
                self._leave()
                data = json.dumps(message).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if kind == "not_json":
                return self._send(200, b'{"id": "msg_1", "type": "message", "content": [{"type": "tool_u', headers)
            self._send(200, message, headers)
        finally:
            self._leave()
