"""A small client of Superset's REST API (``/api/v1``): login, CSRF, JSON calls, listing, SQL Lab.

Why not Superset's Python API: it lives in another venv (conflicting pins), and the REST API is
what a user's own automation would call too. Authentication is a JWT from
``/api/v1/security/login`` plus the CSRF token Superset requires on writes (fetched once into
the same ``requests`` session, whose cookie it is bound to).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import requests


class SupersetAPIError(RuntimeError):
    """A REST call returned an error status; the message carries Superset's error body."""


class SupersetClient:
    """Logged-in session against one Superset server."""

    def __init__(self, base_url: str, username: str, password: str, *, timeout_s: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        token = self._call(
            "POST",
            "/api/v1/security/login",
            {"username": username, "password": password, "provider": "db", "refresh": True},
        )
        self.session.headers["Authorization"] = f"Bearer {token['access_token']}"
        csrf = self._call("GET", "/api/v1/security/csrf_token/")["result"]
        self.session.headers["X-CSRFToken"] = csrf
        self.session.headers["Referer"] = self.base_url

    def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        resp = self.session.request(
            method, self.base_url + path, json=payload, params=params, timeout=self.timeout_s
        )
        if resp.status_code >= 400:
            raise SupersetAPIError(f"{method} {path} -> {resp.status_code}: {resp.text[:2000]}")
        return resp.json() if resp.content else {}

    def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", path, payload)

    def put(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", path, payload)

    def delete(self, path: str) -> dict[str, Any]:
        return self._call("DELETE", path)

    def iter_all(self, resource: str, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every object of ``resource`` (``chart``, ``dataset`` ...), paging 100 at a time."""
        page = 0
        cols = f",columns:!({','.join(columns)})" if columns else ""
        while True:
            body = self.get(f"/api/v1/{resource}/", params={"q": f"(page:{page},page_size:100{cols})"})
            rows = body.get("result", [])
            yield from rows
            if len(rows) < 100:
                return
            page += 1

    def find(
        self, resource: str, field: str, value: str, columns: list[str] | None = None
    ) -> dict[str, Any] | None:
        """The one object whose ``field`` equals ``value`` (None if absent)."""
        cols = sorted({"id", field, *(columns or [])})
        matches = [o for o in self.iter_all(resource, cols) if o.get(field) == value]
        if len(matches) > 1:
            raise SupersetAPIError(f"{len(matches)} {resource}s have {field}={value!r}; expected one")
        return matches[0] if matches else None

    def chart_data(self, chart_id: int) -> list[dict[str, Any]]:
        """The chart's results as Superset computes them from its saved query context."""
        body = self.get(f"/api/v1/chart/{chart_id}/data/", params={"format": "json", "type": "full"})
        return body["result"]

    def sql(self, database_id: int, sql: str, schema: str = "main") -> dict[str, Any]:
        """Run ``sql`` synchronously in SQL Lab (as a user would) and return Superset's response."""
        return self.post(
            "/api/v1/sqllab/execute/",
            {
                "database_id": database_id,
                "sql": sql,
                "schema": schema,
                "runAsync": False,
                "client_id": uuid.uuid4().hex[:10],
                "tab": "beacon",
            },
        )


def dumps(obj: Any) -> str:
    """Superset stores ``params``, ``query_context``, ``json_metadata`` ... as JSON strings."""
    return json.dumps(obj, sort_keys=True)
