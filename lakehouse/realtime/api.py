"""Recommendation API (``beacon serve api``): champion recommendations, re-ranked by the last hour.

``GET /recommendations/{user_id}?k=10`` takes the RAW user id the shop knows and pseudonymises it
with the landing key (HMAC-SHA256), so the API joins the published tables without any raw id being
stored. Answer: ``user_id`` (as asked), ``model_version`` (always), ``source`` (``model``,
``model_reranked``, ``popular_in_category``, ``popular``), ``items`` (``item_id``, ``category``,
``score``) and ``publication`` (when the data was published).

Where the numbers come from, and why it is fast (a cached user is a dict lookup, no I/O):

* ``scores.user_recommendations`` of the PUBLISHED ``marts.duckdb`` (written by the champion model,
  each row carrying its model version), ``mart_product_funnel`` (item categories, popularity) and
  ``mart_category_preferences`` (a user's favourite categories), read once into memory through a
  read-only connection that is closed right away (a reader holding the file would block nothing,
  as publishing swaps files, but there is no reason to hold it). A watcher thread stats the file
  every second; publishing replaces it atomically (new inode), so a newly promoted champion's
  scores are served within about a second, without a restart.
* The last hour of bronze ``clickstream_events`` (users with personalisation consent only), re-read
  every ``recent_refresh_seconds``: categories the user interacted with weigh 3 for a cart add,
  2 for a wishlist add, 1 for a view; an item's score is ``1/rank + boost * share of the user's
  recent weight in its category``, so recent intent re-orders the model's list without replacing it.
* Cold start (user not scored): most bought items of the user's recent categories, else of their
  favourite categories, else overall.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
from fastapi import FastAPI, HTTPException, Query

from lakehouse import storage
from lakehouse.config import DataPaths
from lakehouse.pseudonymise import pseudonymise_value
from lakehouse.realtime.logs import json_logger

WEIGHTS = {"add_to_cart": 3.0, "add_to_wishlist": 2.0, "product_view": 1.0}
BOOST = 1.0
POPULAR_N = 200


@dataclass(frozen=True)
class ApiSettings:
    paths: DataPaths
    key: str
    recent_refresh_seconds: float = 30.0
    publication_check_seconds: float = 1.0
    recent_window_minutes: int = 60
    max_k: int = 100


@dataclass
class Snapshot:
    """One publication of ``marts.duckdb`` in memory."""

    signature: tuple[int, int, int] | None = None
    recs: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # user -> [(item, base score)]
    model_version: dict[str, str] = field(default_factory=dict)  # user -> version
    default_version: str = "none"
    category_of: dict[str, str] = field(default_factory=dict)
    popular: list[str] = field(default_factory=list)
    popular_by_category: dict[str, list[str]] = field(default_factory=dict)
    favourites: dict[str, list[str]] = field(default_factory=dict)
    published_at: str | None = None


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _grouped(frame: pl.DataFrame, key: str, value: str) -> dict[str, list[Any]]:
    """key -> list of values (order kept), built by polars then handed over as one dict."""
    if frame.height == 0:
        return {}
    g = frame.group_by(key, maintain_order=True).agg(pl.col(value))
    return dict(zip(g[key].to_list(), g[value].to_list(), strict=True))


def load_snapshot(marts: Path) -> Snapshot:
    """Read what the API serves from the published file (empty snapshot when there is none yet)."""
    sig = _signature(marts)
    if sig is None:
        return Snapshot()
    con = duckdb.connect(str(marts), read_only=True)
    try:
        tables = {
            r[0]
            for r in con.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables()").fetchall()
        }
        snap = Snapshot(signature=sig)
        if "scores.user_recommendations" in tables:
            recs = con.sql(
                "SELECT user_id, item_id, 1.0 / rank AS base, CAST(model_version AS VARCHAR) AS model_version "
                "FROM scores.user_recommendations ORDER BY user_id, rank"
            ).pl()
            pairs = recs.select("user_id", pl.struct("item_id", "base").alias("rec"))
            snap.recs = {
                u: [(r["item_id"], r["base"]) for r in rs]
                for u, rs in _grouped(pairs, "user_id", "rec").items()
            }
            versions = recs.group_by("user_id").agg(pl.col("model_version").first())
            snap.model_version = dict(
                zip(versions["user_id"].to_list(), versions["model_version"].to_list(), strict=True)
            )
            top = recs["model_version"].mode().sort()
            snap.default_version = str(top[-1]) if top.len() else "none"
        if "main.mart_product_funnel" in tables:
            funnel = con.sql(
                "SELECT product_id, category FROM main.mart_product_funnel "
                "ORDER BY purchase_lines DESC, views DESC, product_id"
            ).pl()
            snap.category_of = dict(
                zip(funnel["product_id"].to_list(), funnel["category"].to_list(), strict=True)
            )
            snap.popular = funnel["product_id"].head(POPULAR_N).to_list()
            by_cat = funnel.filter(pl.col("category").is_not_null()).with_columns(
                n=pl.int_range(pl.len()).over("category")
            )
            snap.popular_by_category = _grouped(
                by_cat.filter(pl.col("n") < POPULAR_N), "category", "product_id"
            )
        if "main.mart_category_preferences" in tables:
            prefs = con.sql(
                "SELECT user_id, category FROM main.mart_category_preferences "
                "WHERE category_rank <= 3 ORDER BY user_id, category_rank"
            ).pl()
            snap.favourites = _grouped(prefs, "user_id", "category")
        if "_beacon.publication" in tables:
            row = con.execute("SELECT CAST(max(published_at) AS VARCHAR) FROM _beacon.publication").fetchone()
            snap.published_at = row[0] if row else None
    finally:
        con.close()
    return snap


def load_recent(paths: DataPaths, now: dt.datetime, minutes: int) -> dict[str, dict[str, float]]:
    """user pseudonym -> {category: weight} over the last ``minutes`` of consenting users' events."""
    table = paths.table("bronze", "clickstream_events")
    if not storage.table_exists(table):
        return {}
    since = now.astimezone(dt.UTC) - dt.timedelta(minutes=minutes)
    flt = (
        (pads.field("event_date") >= pa.scalar(since.date()))
        & (pads.field("occurred_at") >= pa.scalar(since, pa.timestamp("us", "UTC")))
        & pads.field("user_id").is_valid()
        & pads.field("category").is_valid()
        & (pads.field("consent_personalization") == pa.scalar(True))
        & pads.field("event_type").isin(list(WEIGHTS))
    )
    ds = storage.arrow_dataset(table)
    ev = pl.from_arrow(ds.to_table(columns=["user_id", "event_type", "category"], filter=flt))
    assert isinstance(ev, pl.DataFrame)
    if ev.height == 0:
        return {}
    w = (
        ev.with_columns(w=pl.col("event_type").replace_strict(WEIGHTS, return_dtype=pl.Float64))
        .group_by("user_id", "category")
        .agg(pl.col("w").sum())
        .with_columns(share=pl.col("w") / pl.col("w").sum().over("user_id"))
        .sort("user_id", "share", "category", descending=[False, True, False])
    )
    pairs = w.select("user_id", pl.struct("category", "share").alias("cs"))
    return {u: {c["category"]: c["share"] for c in cs} for u, cs in _grouped(pairs, "user_id", "cs").items()}


class RecommendationService:
    """Holds the current snapshot and recent-interest index; refreshes both in background threads."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.log = json_logger("beacon.api")
        self.snapshot = load_snapshot(settings.paths.marts)
        self.recent: dict[str, dict[str, float]] = {}
        self.recent_loaded_at: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.refresh_recent()

    @lru_cache(maxsize=100_000)  # noqa: B019 (one service per process; the cache is the point)
    def pseudonym(self, raw: str) -> str:
        return pseudonymise_value(raw, self.settings.key)

    def refresh_recent(self) -> None:
        try:
            self.recent = load_recent(
                self.settings.paths, dt.datetime.now(dt.UTC), self.settings.recent_window_minutes
            )
            self.recent_loaded_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        except Exception:  # a torn read during a landing commit: keep the previous index
            self.log.exception("recent events refresh failed")

    def check_publication(self) -> bool:
        """Reload when the published file changed (a publish swaps in a new file)."""
        sig = _signature(self.settings.paths.marts)
        if sig == self.snapshot.signature:
            return False
        try:
            snap = load_snapshot(self.settings.paths.marts)
        except duckdb.Error:
            self.log.exception("publication reload failed; serving the previous one")
            return False
        self.snapshot = snap  # one reference swap: requests see the old or the new snapshot, whole
        self.log.info(
            "publication loaded", extra={"model_version": snap.default_version, "users": len(snap.recs)}
        )
        return True

    def _loop(self, every: float, fn: Any) -> None:
        while not self._stop.wait(every):
            fn()

    def start(self) -> None:
        for every, fn in (
            (self.settings.publication_check_seconds, self.check_publication),
            (self.settings.recent_refresh_seconds, self.refresh_recent),
        ):
            t = threading.Thread(target=self._loop, args=(every, fn), daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)

    def recommend(self, raw_user: str, k: int) -> dict[str, Any]:
        snap = self.snapshot
        user = self.pseudonym(raw_user)
        interest = self.recent.get(user, {})
        base = snap.recs.get(user)
        version = snap.model_version.get(user, snap.default_version)
        if base:
            if interest:
                scored = [
                    (item, b + BOOST * interest.get(snap.category_of.get(item, ""), 0.0)) for item, b in base
                ]
                scored.sort(key=lambda x: -x[1])
                source = "model_reranked"
            else:
                scored, source = list(base), "model"
        else:
            cats = list(interest) or snap.favourites.get(user, [])
            items: list[str] = []
            for c in cats:
                items.extend(i for i in snap.popular_by_category.get(c, [])[: k * 2] if i not in items)
            source = "popular_in_category" if items else "popular"
            if len(items) < k:
                items.extend(i for i in snap.popular[: k * 3] if i not in items)
            scored = [(item, 1.0 / (n + 1)) for n, item in enumerate(items)]
        return {
            "user_id": raw_user,
            "model_version": version,
            "source": source,
            "items": [
                {"item_id": i, "category": snap.category_of.get(i), "score": round(s, 6)}
                for i, s in scored[:k]
            ],
            "publication": snap.published_at,
        }


def create_app(settings: ApiSettings, start_threads: bool = True) -> FastAPI:
    service = RecommendationService(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_threads:
            service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(title="Beacon recommendations", version="1", lifespan=lifespan)
    app.state.service = service

    @app.get("/recommendations/{user_id}")
    async def recommendations(user_id: str, k: int = Query(10, ge=1)) -> dict[str, Any]:
        if k > settings.max_k:
            raise HTTPException(422, f"k must be <= {settings.max_k}")
        return service.recommend(user_id, k)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        snap = service.snapshot
        return {
            "status": "ok" if snap.signature is not None else "no_publication",
            "model_version": snap.default_version,
            "users_scored": len(snap.recs),
            "publication": snap.published_at,
            "recent_users": len(service.recent),
            "recent_loaded_at": service.recent_loaded_at,
            "pid": os.getpid(),
            "time": time.time(),
        }

    return app
