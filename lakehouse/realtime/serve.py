"""``beacon serve collector|mqtt|api``: the near-real-time servers.

``register_serve(subparsers)`` adds the ``serve`` command group to the ``beacon`` parser and sets
``serve_func`` on the parsed arguments, so ``lakehouse.cli`` needs two lines to offer it. The same
parser runs standalone as ``python -m lakehouse.realtime.serve <server> ...`` (what the tests use).
Every option also reads an environment variable (shown in ``--help``) for container deployments.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from lakehouse.config import paths


def _env(name: str, default: Any) -> Any:
    return os.environ.get(name, default)


def register_serve(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``serve`` (with ``collector``, ``mqtt``, ``api``) to an ``add_subparsers()`` object."""
    serve = subparsers.add_parser("serve", help="run a near-real-time server (collector, mqtt, api)")
    servers = serve.add_subparsers(dest="server", required=True)

    col = servers.add_parser("collector", help="HTTP clickstream collector writing durable landing files")
    col.add_argument("--host", default=_env("BEACON_COLLECTOR_HOST", "127.0.0.1"))
    col.add_argument("--port", type=int, default=int(_env("BEACON_COLLECTOR_PORT", "8800")))
    col.add_argument("--max-body-bytes", type=int, default=int(_env("BEACON_COLLECTOR_MAX_BODY", "1000000")))
    col.add_argument("--max-events", type=int, default=int(_env("BEACON_COLLECTOR_MAX_EVENTS", "1000")))
    col.add_argument(
        "--rate",
        type=float,
        default=float(_env("BEACON_COLLECTOR_RATE", "200")),
        help="requests/s per client",
    )
    col.add_argument("--burst", type=int, default=int(_env("BEACON_COLLECTOR_BURST", "400")))
    col.add_argument(
        "--cors-origins",
        default=_env("BEACON_COLLECTOR_CORS", "*"),
        help="comma-separated origins allowed by CORS (default *)",
    )
    col.set_defaults(serve_func=_collector)

    mq = servers.add_parser("mqtt", help="MQTT subscriber writing sensor micro-batches (QoS 1, manual ack)")
    mq.add_argument("--host", default=_env("BEACON_MQTT_HOST", "127.0.0.1"))
    mq.add_argument("--port", type=int, default=int(_env("BEACON_MQTT_PORT", "1883")))
    mq.add_argument("--username", default=_env("BEACON_MQTT_USERNAME", None))
    mq.add_argument(
        "--password-env",
        default="BEACON_MQTT_PASSWORD",
        help="name of the environment variable holding the password (never a command-line secret)",
    )
    mq.add_argument(
        "--pattern",
        default=_env("BEACON_MQTT_PATTERN", "beacon/{home_id}/{room}/{sensor_type}"),
        help="topic pattern; {field} levels fill contract fields",
    )
    mq.add_argument("--client-id", default=_env("BEACON_MQTT_CLIENT_ID", "beacon-sensors"))
    mq.add_argument("--flush-seconds", type=float, default=float(_env("BEACON_MQTT_FLUSH_SECONDS", "1.0")))
    mq.add_argument("--max-inflight", type=int, default=int(_env("BEACON_MQTT_MAX_INFLIGHT", "20")))
    mq.set_defaults(serve_func=_mqtt)

    api = servers.add_parser("api", help="recommendation API over the published marts.duckdb")
    api.add_argument("--host", default=_env("BEACON_API_HOST", "127.0.0.1"))
    api.add_argument("--port", type=int, default=int(_env("BEACON_API_PORT", "8801")))
    api.add_argument(
        "--recent-refresh-seconds",
        type=float,
        default=float(_env("BEACON_API_RECENT_REFRESH", "30")),
        help="how often the last hour of bronze events is re-read for re-ranking",
    )
    api.set_defaults(serve_func=_api)
    return serve


def _landing() -> Path:
    return paths().landing


def _collector(args: argparse.Namespace) -> int:
    import uvicorn

    from lakehouse.realtime.collector import CollectorSettings, create_app

    settings = CollectorSettings(
        landing=_landing(),
        max_body_bytes=args.max_body_bytes,
        max_events=args.max_events,
        rate_per_second=args.rate,
        rate_burst=args.burst,
        cors_origins=tuple(o.strip() for o in args.cors_origins.split(",") if o.strip()),
    )
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _mqtt(args: argparse.Namespace) -> int:
    from lakehouse.realtime.mqtt_subscriber import MqttSettings, SensorSubscriber

    sub = SensorSubscriber(
        MqttSettings(
            landing=_landing(),
            host=args.host,
            port=args.port,
            username=args.username,
            password=os.environ.get(args.password_env),
            pattern=args.pattern,
            client_id=args.client_id,
            flush_seconds=args.flush_seconds,
            max_inflight=args.max_inflight,
        )
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sub.stop.set())
    sub.run()
    return 0


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from lakehouse.pseudonymise import resolve_key
    from lakehouse.realtime.api import ApiSettings, create_app

    app = create_app(
        ApiSettings(paths=paths(), key=resolve_key(), recent_refresh_seconds=args.recent_refresh_seconds)
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="beacon")
    register_serve(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return int(args.serve_func(args))


if __name__ == "__main__":
    sys.exit(main())
