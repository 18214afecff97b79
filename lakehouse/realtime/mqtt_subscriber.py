"""Sensor readings over MQTT (``beacon serve mqtt``): QoS 1 in, durable micro-batches out, then PUBACK.

Why nothing acknowledged is lost:

* QoS 1 with a persistent session (fixed client id, ``clean_session=False``): the broker keeps
  the subscription and queues readings while the subscriber is down, and re-sends every
  reading the subscriber has not acknowledged when it comes back.
* Manual acknowledgement (paho 2.x ``manual_ack=True``): a reading is acknowledged with
  ``client.ack(mid, qos)`` only after the micro-batch holding it is durably in
  ``landing/sensors/<today>/`` (:mod:`.durable`). A crash before that means the broker re-sends
  it; a crash after the write but before the PUBACK means a duplicate file line, which landing
  removes by ``reading_id``.
* After a reconnect, readings of the previous connection are still written but not acknowledged
  (their packet ids belong to the old connection): the broker re-sends them, landing de-duplicates.

Messages: topic ``beacon/<home_id>/<room>/<sensor_type>`` (pattern configurable; topic levels fill
contract fields), payload a JSON object with the remaining contract fields (``reading_id``,
``device_id``, ``value``, ``unit``, ``occurred_at``, optional ``user_id``). A payload that is not a JSON
object is still written (topic fields only) so landing quarantines it with its reasons.

Broker settings that matter (Mosquitto): ``persistence true`` (sessions and queued readings survive
a broker restart), ``max_queued_messages`` large enough for the longest subscriber outage (the
broker DROPS readings beyond it), and ``max_inflight_messages`` = this subscriber's ``max_inflight``
(the broker sends no more unacknowledged readings than that, so the subscriber flushes when it has
that many pending instead of waiting for its timer).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lakehouse.realtime.durable import write_sensor_batch
from lakehouse.realtime.logs import json_logger

DEFAULT_PATTERN = "beacon/{home_id}/{room}/{sensor_type}"
_FIELD = re.compile(r"^\{(\w+)\}$")


def topic_filter(pattern: str) -> str:
    """The subscription filter of a topic pattern (each ``{field}`` level becomes ``+``)."""
    return "/".join("+" if _FIELD.match(level) else level for level in pattern.split("/"))


def parse_topic(pattern: str, topic: str) -> dict[str, str] | None:
    """Contract fields named by the pattern's levels, or None when the topic does not match."""
    levels, parts = pattern.split("/"), topic.split("/")
    if len(levels) != len(parts):
        return None
    out: dict[str, str] = {}
    for level, part in zip(levels, parts, strict=True):
        m = _FIELD.match(level)
        if m:
            out[m.group(1)] = part
        elif level != part:
            return None
    return out


def reading_from_message(pattern: str, topic: str, payload: bytes) -> tuple[dict[str, Any], str | None]:
    """A reading (topic fields + payload fields) and a problem description when the message is bad."""
    fields = parse_topic(pattern, topic) or {}
    try:
        body = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return fields, "payload is not JSON"
    if not isinstance(body, Mapping):
        return fields, "payload is not a JSON object"
    # Topic levels are the routing truth (ACLs are per topic): they win over the payload.
    return {**body, **fields}, None


@dataclass(frozen=True)
class MqttSettings:
    """Broker, session and batching settings."""

    landing: Path
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    pattern: str = DEFAULT_PATTERN
    client_id: str = "beacon-sensors"
    keepalive: int = 30
    flush_seconds: float = 1.0  # the longest a reading waits before it is written and acknowledged
    max_inflight: int = 20  # flush at this many pending readings (match the broker's max_inflight_messages)


@dataclass
class _Pending:
    reading: dict[str, Any]
    mid: int
    qos: int
    generation: int


@dataclass
class SensorSubscriber:
    """Subscribe, buffer, write durably, acknowledge; :meth:`run` until ``stop`` is set."""

    settings: MqttSettings
    stop: threading.Event = field(default_factory=threading.Event)
    stats: dict[str, int] = field(
        default_factory=lambda: {"received": 0, "written": 0, "acked": 0, "files": 0, "bad": 0}
    )

    def __post_init__(self) -> None:
        self.log = json_logger("beacon.mqtt")
        self._lock = threading.Condition()
        self._pending: list[_Pending] = []
        self._generation = 0
        self._connected = False
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.settings.username:
            self.client.username_pw_set(self.settings.username, self.settings.password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # ------------------------------------------------------------------ paho callbacks (network thread)
    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.log.error("connect refused", extra={"reason": str(reason)})
            return
        with self._lock:
            self._generation += 1
            self._connected = True
        self.log.info(
            "connected",
            extra={"session_present": bool(flags.session_present), "generation": self._generation},
        )
        # Re-subscribing is idempotent and covers a broker that lost the session.
        client.subscribe(topic_filter(self.settings.pattern), qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[Any], _p: Any) -> None:
        self.log.info("subscribed", extra={"filter": topic_filter(self.settings.pattern)})

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._lock:
            self._connected = False
        self.log.warning("disconnected", extra={"reason": str(reason)})

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        reading, problem = reading_from_message(self.settings.pattern, msg.topic, msg.payload)
        if problem:
            self.log.warning("bad message kept for quarantine", extra={"problem": problem})
        with self._lock:
            self._pending.append(_Pending(reading, msg.mid, msg.qos, self._generation))
            self.stats["received"] += 1
            self.stats["bad"] += problem is not None
            if len(self._pending) >= self.settings.max_inflight:
                self._lock.notify()

    # ------------------------------------------------------------------ batching (main thread)
    def flush(self) -> int:
        """Write pending readings durably, then acknowledge those of the current connection."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return 0
        path = write_sensor_batch(self.settings.landing, [p.reading for p in batch])
        acked = 0
        with self._lock:
            generation, connected = self._generation, self._connected
        if connected:
            for p in batch:
                if p.qos > 0 and p.generation == generation:
                    self.client.ack(p.mid, p.qos)
                    acked += 1
        self.stats["written"] += len(batch)
        self.stats["acked"] += acked
        self.stats["files"] += 1
        self.log.info(
            "batch written",
            extra={
                "file": path.relative_to(self.settings.landing).as_posix(),
                "readings": len(batch),
                "acked": acked,
            },
        )
        return len(batch)

    def run(self) -> None:
        """Connect (retrying until the broker is up), then flush on size or age until stopped."""
        s = self.settings
        self.client.connect_async(s.host, s.port, keepalive=s.keepalive)
        self.client.loop_start()
        try:
            while not self.stop.is_set():
                with self._lock:
                    self._lock.wait_for(
                        lambda: self.stop.is_set() or len(self._pending) >= s.max_inflight,
                        timeout=s.flush_seconds,
                    )
                self.flush()
            self.flush()
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            self.log.info("stopped", extra=dict(self.stats))


def wait_for(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds passed (tests, benches)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
