"""The clickstream collector (``beacon serve collector``): HTTP in, durable landing files out.

Contract of the service (what a tracker may rely on):

* ``POST /v1/events``: one event (a JSON object), a JSON array of events, or ``{"events": [...]}``,
  in Beacon's clickstream contract; ``POST /v1/track``, ``/v1/page`` (one Segment call) and
  ``/v1/batch`` (``{"batch": [...]}``) accept Segment-style calls, mapped by :mod:`.segment`.
  Bodies may be gzip (``Content-Encoding: gzip``).
* The answer comes only AFTER the whole request is durably in ``landing/clickstream/<today>/``
  (temp file, fsync, rename, fsync dir: :mod:`.durable`). ``200``: every event valid; ``207``:
  stored, some events invalid; both mean "stored, do not resend". Each event gets
  ``{"index", "event_id", "status": "accepted"|"rejected", "errors": [...]}``. Invalid events are
  written too (same file), so landing quarantines them with reason, file and line: nothing a
  sender sent is silently dropped. Any other status (4xx/5xx, no answer) means nothing was
  acknowledged: resend (event ids make a resend harmless).
* ``received_at`` is always set by the collector (UTC): it is the receiving time by definition.
* Limits: body size (``413``), events per request (``413``), a per-client token bucket (``429`` with
  ``Retry-After``). CORS is open to the configured origins for browser trackers. ``GET /health``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from lakehouse.contracts import CLICKSTREAM, REASONS_COLUMN, validate_frame
from lakehouse.contracts.model import parse_reason
from lakehouse.realtime.durable import write_clickstream_batch
from lakehouse.realtime.logs import json_logger
from lakehouse.realtime.segment import is_segment, map_segment

INDEX = "_index"


@dataclass(frozen=True)
class CollectorSettings:
    """What an operator tunes; the defaults suit one shop on one small machine."""

    landing: Path
    max_body_bytes: int = 1_000_000
    max_events: int = 1_000
    rate_per_second: float = 200.0  # requests per client per second (sustained)
    rate_burst: int = 400
    cors_origins: tuple[str, ...] = ("*",)


class TokenBucket:
    """Per-client request rate limit (client = remote address), thread-safe, in memory.

    In memory is enough: the limit protects this process's disk and CPU, not a global quota.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when allowed, else the seconds until the next request would be."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._state[client] = (tokens - 1, now)
                return 0.0
            self._state[client] = (tokens, now)
            return (1 - tokens) / self.rate


class RequestError(Exception):
    """A request refused as a whole (nothing stored)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _text(value: Any) -> str | None:
    """The text validate_record would see for a value (booleans as true/false)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def normalise(items: list[Any], received_at: str) -> tuple[list[Any], list[int]]:
    """Contract records to store (Segment calls mapped, ``received_at`` stamped) and, for each,
    the index of the request item it came from. Non-objects are kept as they are (landing
    quarantines them as "not an object")."""
    records: list[Any] = []
    origin: list[int] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            records.append(item)
            origin.append(i)
            continue
        mapped = map_segment(item) if is_segment(item) else [dict(item)]
        for rec in mapped:
            rec["received_at"] = received_at
            records.append(rec)
            origin.append(i)
    return records, origin


def validate(records: list[Any]) -> list[list[str]]:
    """Reasons per record (empty list = valid), one vectorised contract pass over the request."""
    objects = [i for i, r in enumerate(records) if isinstance(r, Mapping)]
    reasons: list[list[str]] = [
        [] if isinstance(r, Mapping) else ["malformed_json[line]: valid JSON but not an object ({...})"]
        for r in records
    ]
    if not objects:
        return reasons
    frame = pl.DataFrame(
        {
            INDEX: objects,
            **{n: [_text(records[i].get(n)) for i in objects] for n in CLICKSTREAM.names},
        },
        schema={INDEX: pl.Int64, **{n: pl.String for n in CLICKSTREAM.names}},
    )
    checked = validate_frame(CLICKSTREAM, frame).select(INDEX, REASONS_COLUMN).collect()
    for idx, why in checked.iter_rows():
        reasons[idx] = list(why)
    return reasons


def _items(body: Any, path: str) -> list[Any]:
    if path == "/v1/batch":
        if not isinstance(body, Mapping) or not isinstance(body.get("batch"), list):
            raise RequestError(400, 'a Segment batch is {"batch": [...]}')
        return list(body["batch"])
    if path in ("/v1/track", "/v1/page"):
        if not isinstance(body, Mapping):
            raise RequestError(400, "a Segment call is one JSON object")
        return [{"type": path.rsplit("/", 1)[1], **body}]
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping) and isinstance(body.get("events"), list):
        return list(body["events"])
    if isinstance(body, Mapping):
        return [body]
    raise RequestError(400, 'send one event object, an array of events, or {"events": [...]}')


@dataclass
class Collector:
    """The request handling, apart from HTTP so it is testable and reusable (e.g. by a queue consumer)."""

    settings: CollectorSettings
    stats: dict[str, int] = field(default_factory=lambda: {"requests": 0, "events": 0, "rejected": 0})
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self, items: list[Any]) -> tuple[int, dict[str, Any]]:
        """Validate, write durably, and only then build the answer."""
        if not items:
            raise RequestError(400, "no events in the request")
        now = dt.datetime.now(dt.UTC)
        received_at = now.isoformat(timespec="microseconds").replace("+00:00", "Z")
        records, origin = normalise(items, received_at)
        if len(records) > self.settings.max_events:
            raise RequestError(
                413, f"{len(records)} events in one request; the limit is {self.settings.max_events}"
            )
        reasons = validate(records)
        path = write_clickstream_batch(self.settings.landing, records, now)
        results = [
            {
                "index": origin[i],
                "event_id": rec.get("event_id") if isinstance(rec, Mapping) else None,
                "status": "rejected" if reasons[i] else "accepted",
                "errors": [
                    {"code": v.code, "field": v.field, "message": v.message}
                    for v in map(parse_reason, reasons[i])
                ],
            }
            for i, rec in enumerate(records)
        ]
        rejected = sum(1 for r in reasons if r)
        with self._lock:
            self.stats["requests"] += 1
            self.stats["events"] += len(records)
            self.stats["rejected"] += rejected
        body = {
            "stored": True,
            "accepted": len(records) - rejected,
            "rejected": rejected,
            "received_at": received_at,
            "file": path.relative_to(self.settings.landing).as_posix(),
            "results": results,
        }
        return (207 if rejected else 200), body


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"body of {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"body over the limit of {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = d.decompress(data, limit + 1)
        except zlib.error as exc:
            raise RequestError(400, f"body is not valid gzip ({exc})") from exc
        if len(data) > limit or d.unconsumed_tail:
            raise RequestError(413, f"decompressed body over the limit of {limit} bytes")
    return data


def create_app(settings: CollectorSettings) -> FastAPI:
    """The FastAPI application (``uvicorn`` serves it; tests may call it in process)."""
    app = FastAPI(title="Beacon collector", version="1")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["POST", "GET", "OPTIONS"],
        allow_headers=["content-type", "content-encoding", "authorization"],
        max_age=600,
    )
    collector = Collector(settings)
    bucket = TokenBucket(settings.rate_per_second, settings.rate_burst)
    log = json_logger("beacon.collector")
    started = time.time()

    async def ingest(request: Request) -> JSONResponse:
        t0 = time.perf_counter()
        client = request.client.host if request.client else "unknown"
        status, body, events = 500, {"stored": False, "error": "internal error"}, 0
        try:
            wait = bucket.take(client)
            if wait:
                status, body = 429, {"stored": False, "error": "rate limit exceeded, retry later"}
                return JSONResponse(body, status, headers={"Retry-After": str(max(1, round(wait)))})
            raw = await _read_body(request, settings.max_body_bytes)
            try:
                parsed = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise RequestError(400, f"body is not JSON ({exc.__class__.__name__}: {exc})") from exc
            items = _items(parsed, request.url.path)
            events = len(items)
            status, body = await run_in_threadpool(collector.store, items)
            return JSONResponse(body, status)
        except RequestError as exc:
            status, body = exc.status, {"stored": False, "error": str(exc)}
            return JSONResponse(body, status)
        except Exception:
            log.exception("request failed", extra={"path": request.url.path})
            return JSONResponse(body, status)
        finally:
            log.info(
                "ingest",
                extra={
                    "path": request.url.path,
                    "status": status,
                    "events": events,
                    "accepted": body.get("accepted", 0),
                    "rejected": body.get("rejected", 0),
                    "file": body.get("file"),
                    "ms": round((time.perf_counter() - t0) * 1000, 2),
                },
            )

    for route in ("/v1/events", "/v1/track", "/v1/page", "/v1/batch"):
        app.add_api_route(route, ingest, methods=["POST"])

    @app.get("/health")
    def health() -> dict[str, Any]:
        writable = settings.landing.exists() or settings.landing.parent.exists()
        return {
            "status": "ok" if writable else "degraded",
            "landing": str(settings.landing),
            "uptime_s": round(time.time() - started, 1),
            **collector.stats,
        }

    return app


def gzip_body(payload: Any) -> bytes:
    """A gzip JSON body (what a tracker batching events would send)."""
    return gzip.compress(json.dumps(payload).encode())
