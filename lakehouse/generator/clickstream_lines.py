"""Turn simulated events into the JSON lines a tracker collector receives, dirt included.

Real collectors see device clocks that are minutes off, local UTC offsets, mobile apps that
send yesterday's session when they get signal back, retried HTTP posts (the same event id
twice) and the occasional broken line. All of that is applied here, in polars expressions
over the whole day, and tallied so the truth manifest states exactly how much dirt there is.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from lakehouse.contracts.clickstream import CLICKSTREAM, EVENT_TYPES
from lakehouse.generator.catalogue import CATEGORY_NAMES, Catalogue
from lakehouse.generator.ids import day_rng, uuid4_strings
from lakehouse.generator.population import ALL_AGENTS, DEVICE_TYPES, EXPERIMENT_ID, VARIANTS, Population
from lakehouse.generator.sessions import (
    ALL_TERMS,
    PURCHASE,
    REFUND,
    URL_CART,
    URL_CATEGORY,
    URL_CHECKOUT,
    URL_CONFIRMATION,
    URL_HOME,
    URL_PRODUCT,
    URL_SEARCH,
)
from lakehouse.generator.timekeeping import (
    EUR_RATE,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_SECOND,
    ZONES,
    format_iso,
    offset_text,
    zone_offsets,
)

SHOP = "https://shop.example"
EXTERNAL_REFERRERS = (
    None,
    "https://www.google.com/",
    "https://www.facebook.com/",
    "https://newsletter.shop.example/",
    "https://www.instagram.com/",
)
BARGAIN_WORDS = ("cheap ", "sale ", "discount ", "best price ", "")
#: Target shares of the dirt (of events or lines); the manifest records what was drawn.
LATE_SESSION_SHARE = 0.05  # of mobile/tablet sessions, sent 1 h to 3 days late
DUPLICATE_SHARE = 0.015  # of events, delivered a second time
MALFORMED_SHARE = 0.005  # of lines
MALFORMED_KINDS = ("truncated_json", "wrong_type", "unknown_event_type", "missing_field", "bad_timestamp")
LATE_THRESHOLD_US = US_PER_HOUR
#: Events rendered at a time: bounds memory whatever the number of people.
CHUNK_EVENTS = 20_000


@dataclass
class LineStats:
    """Tallies of what went into the files (summed over days into the manifest)."""

    events: int = 0
    lines: int = 0
    duplicate_lines: int = 0
    late_events: int = 0
    no_consent_events: int = 0
    no_personalization_events: int = 0
    bot_events: int = 0
    events_by_type: dict[str, int] = field(default_factory=dict)
    malformed: dict[str, int] = field(default_factory=dict)
    dropped_after_window: int = 0


class Renderer:
    """Static lookups (ids, agents, prices) shared by every day's rendering."""

    def __init__(self, pop: Population, cat: Catalogue):
        self.pop = pop
        self.anon = pl.Series(pop.anonymous_ids)
        self.user_ids = pl.Series(pop.user_ids)
        self.product_ids = pl.Series(cat.product_ids)
        self.price_eur = cat.price_eur
        self.categories = pl.Series(list(CATEGORY_NAMES))
        self.terms = pl.Series(list(ALL_TERMS))
        self.agents = pl.Series(list(ALL_AGENTS))
        self.device_types = pl.Series(list(DEVICE_TYPES))
        self.countries = pl.Series([z.country for z in ZONES])
        self.currencies = pl.Series([z.currency for z in ZONES])
        self.rate = np.array([EUR_RATE[z.currency] for z in ZONES])

    def render(
        self, events: pl.DataFrame, day: int, date: dt.date, window_end_us: int, seed: int, stats: LineStats
    ) -> Iterator[pl.DataFrame]:
        """Lines of one simulated day, in chunks of whole sessions (memory does not grow with users).

        Yields frames with ``delivery_day`` (days since the epoch), ``sort_us`` (received_at) and
        ``line``; adds the day's tallies to ``stats``.
        """
        rng = day_rng(seed, day, 2)
        keep = pl.col("t_us") < window_end_us - US_PER_SECOND
        ev = events.filter(keep)
        stats.dropped_after_window += events.height - ev.height
        n = ev.height
        pop = self.pop
        dev = ev["dev"].to_numpy()
        user = ev["user"].to_numpy()
        is_bot = user < 0
        safe_user = np.maximum(user, 0)
        zone = np.where(is_bot, pop.dev_zone[dev], pop.zone[safe_user])
        server = ev["server"].to_numpy()
        t_us = ev["t_us"].to_numpy()
        sess = ev["sess"].to_numpy()

        # collector latency; some mobile sessions arrive hours or days late
        latency = (rng.lognormal(np.log(0.35), 0.9, n).clip(0.02, 30.0) * US_PER_SECOND).astype(np.int64)
        n_sess = int(sess.max()) + 1 if n and sess.max() >= 0 else 0
        late_sess = rng.random(n_sess) < LATE_SESSION_SHARE
        late_delay = rng.integers(US_PER_HOUR, 3 * US_PER_DAY, size=n_sess)
        mobile = np.isin(pop.dev_type[dev], [1, 2]) & ~server & ~is_bot & (sess >= 0)
        is_late = mobile & late_sess[np.maximum(sess, 0)] if n_sess else np.zeros(n, dtype=bool)
        delay = latency + (np.where(is_late, late_delay[np.maximum(sess, 0)], 0) if n_sess else 0)
        received = t_us + delay
        received = np.where(received >= window_end_us, t_us + latency, received)
        received = np.minimum(received, window_end_us - 1000)
        is_late = (received - t_us) > LATE_THRESHOLD_US

        consent_a = np.where(is_bot, True, pop.consent_analytics[safe_user])
        consent_p = np.where(is_bot, True, pop.consent_personalization[safe_user])
        stats.events += n
        stats.late_events += int(is_late.sum())
        stats.no_consent_events += int((~consent_a).sum())
        stats.no_personalization_events += int((~consent_p).sum())
        stats.bot_events += int(is_bot.sum())
        counts = np.bincount(ev["etype"].to_numpy(), minlength=len(EVENT_TYPES))
        for name, c in zip(EVENT_TYPES, counts, strict=True):
            stats.events_by_type[name] = stats.events_by_type.get(name, 0) + int(c)

        offsets = zone_offsets(date)
        day_suffixes = pl.Series([*(offset_text(int(m)) for m in offsets), "Z"], dtype=pl.String)
        columns = pl.DataFrame(
            {
                "occurred_us": t_us + np.where(server, 0, pop.dev_skew_us[dev]),
                "received_us": received,
                "offset_minutes": np.where(server, 0, offsets[zone]),
                "suffix_i": np.where(server, len(ZONES), zone),
                "zone": zone,
                "consent_a": consent_a,
                "consent_p": consent_p,
                "variant_i": np.where(is_bot, -1, pop.variant[safe_user]),
                "price_local": np.round(
                    self.price_eur[np.maximum(ev["product"].to_numpy(), 0)] * self.rate[zone], 2
                ),
                "agent_i": pop.dev_agent[dev],
                "dtype_i": pop.dev_type[dev],
                "uid_i": safe_user,
            }
        )
        # chunk boundaries fall between sessions (bots and refunds have no session to split)
        starts = np.flatnonzero(np.concatenate([[True], sess[1:] != sess[:-1]]) | (sess < 0))
        cuts = (
            np.unique(
                starts[
                    np.minimum(
                        np.searchsorted(starts, np.arange(CHUNK_EVENTS, n, CHUNK_EVENTS)), len(starts) - 1
                    )
                ]
            )
            if n
            else np.zeros(0, dtype=np.int64)
        )
        bounds = [0, *[int(c) for c in cuts if 0 < c < n], n]
        for lo, hi in itertools.pairwise(bounds):
            if hi > lo:
                yield self._chunk(
                    ev.slice(lo, hi - lo).hstack(columns.slice(lo, hi - lo)),
                    day_suffixes,
                    rng,
                    window_end_us,
                    stats,
                )

    def _chunk(
        self,
        part: pl.DataFrame,
        suffixes: pl.Series,
        rng: np.random.Generator,
        window_end_us: int,
        stats: LineStats,
    ) -> pl.DataFrame:
        n = part.height
        base = part.with_columns(
            event_id=uuid4_strings(rng, n),
            suffix=suffixes.gather(part["suffix_i"]),
            zone_country=self.countries.gather(part["zone"]),
            currency_s=self.currencies.gather(part["zone"]),
            anon=self.anon.gather(part["dev"]),
            uid=self.user_ids.gather(part["uid_i"]),
            agent=self.agents.gather(part["agent_i"]),
            dtype_s=self.device_types.gather(part["dtype_i"]),
        )
        base = _with_contract_columns(base, self)

        # re-deliveries: the same event id again, seconds later or in a later file
        dup = rng.random(n) < DUPLICATE_SHARE
        k = int(dup.sum())
        later = rng.random(k) < 0.3
        extra = np.where(
            later,
            rng.integers(US_PER_HOUR, 2 * US_PER_DAY, size=k),
            rng.integers(US_PER_SECOND, 300 * US_PER_SECOND, size=k),
        )
        first_received = base["received_us"].to_numpy()[dup]
        dup_received = first_received + extra
        dup_received = np.where(dup_received >= window_end_us, first_received + US_PER_SECOND, dup_received)
        dup_received = np.minimum(dup_received, window_end_us - 1)
        copies = base.filter(pl.Series(dup)).with_columns(received_us=pl.Series(dup_received, dtype=pl.Int64))
        rows = pl.concat(
            [base.with_columns(dup_flag=pl.Series(dup)), copies.with_columns(dup_flag=pl.lit(True))]
        )
        stats.duplicate_lines += k
        lines = rows.with_columns(
            received_at=format_iso(pl.col("received_us"), pl.lit(0), pl.lit("Z"))
        ).select(
            pl.struct([pl.col(name) for name in CLICKSTREAM.names]).struct.json_encode().alias("line"),
            pl.col("received_us").alias("sort_us"),
            (pl.col("received_us") // US_PER_DAY).cast(pl.Int32).alias("delivery_day"),
            pl.col("dup_flag"),
        )

        # a few broken lines (never one of a duplicated pair, so counts stay unambiguous)
        m = lines.height
        broken = (rng.random(m) < MALFORMED_SHARE / (1 - DUPLICATE_SHARE)) & ~lines["dup_flag"].to_numpy()
        kind = np.where(broken, rng.integers(0, len(MALFORMED_KINDS), size=m), -1)
        for i, name in enumerate(MALFORMED_KINDS):
            stats.malformed[name] = stats.malformed.get(name, 0) + int((kind == i).sum())
        stats.lines += m
        # Only the few broken lines go through the (slow) text surgery.
        lines = lines.with_columns(kind=pl.Series(kind), cut=pl.Series(rng.uniform(0.2, 0.9, size=m)))
        broken_rows = _break_lines(lines.filter(pl.col("kind") >= 0))
        return pl.concat([lines.filter(pl.col("kind") < 0), broken_rows]).select(
            "delivery_day", "sort_us", "line"
        )


def _break_lines(rows: pl.DataFrame) -> pl.DataFrame:
    """Damage lines the ways real pipelines see them damaged (kind indexes MALFORMED_KINDS)."""
    line = pl.col("line")
    kind = pl.col("kind")
    return rows.with_columns(
        line=pl.when(kind == 0)
        .then(line.str.slice(0, (line.str.len_chars() * pl.col("cut")).cast(pl.Int64)))
        .when(kind == 1)
        .then(line.str.replace(r'"consent_analytics":(true|false)', '"consent_analytics":"maybe"'))
        .when(kind == 2)
        .then(line.str.replace(r'"event_type":"[a-z_]+"', '"event_type":"video_play"'))
        .when(kind == 3)
        .then(line.str.replace(r'"anonymous_id":"[^"]*",', ""))
        .when(kind == 4)
        .then(line.str.replace(r'"occurred_at":"[^"]*"', '"occurred_at":"yesterday evening"'))
        .otherwise(line)
    )


def _with_contract_columns(df: pl.DataFrame, r: Renderer) -> pl.DataFrame:
    """Every clickstream contract field as the tracker would send it."""
    etype = pl.col("etype")
    url_kind = pl.col("url_kind")
    product_id = pl.when(pl.col("product") >= 0).then(pl.lit(r.product_ids).gather(pl.col("product").clip(0)))
    category = pl.when(pl.col("cat") >= 0).then(pl.lit(r.categories).gather(pl.col("cat").clip(0)))
    query = pl.when(pl.col("term") >= 0).then(
        pl.concat_str(
            [
                pl.lit(pl.Series(list(BARGAIN_WORDS))).gather(
                    pl.col("prefix").clip(0, len(BARGAIN_WORDS) - 1)
                ),
                pl.lit(r.terms).gather(pl.col("term").clip(0)),
            ]
        )
    )
    page_url = (
        pl.when(url_kind == URL_HOME)
        .then(pl.lit(SHOP + "/"))
        .when(url_kind == URL_CATEGORY)
        .then(pl.concat_str([pl.lit(SHOP + "/c/"), category]))
        .when(url_kind == URL_SEARCH)
        .then(pl.concat_str([pl.lit(SHOP + "/search?q="), query.str.replace_all(" ", "+")]))
        .when(url_kind == URL_PRODUCT)
        .then(pl.concat_str([pl.lit(SHOP + "/p/"), product_id]))
        .when(url_kind == URL_CART)
        .then(pl.lit(SHOP + "/cart"))
        .when(url_kind == URL_CHECKOUT)
        .then(pl.lit(SHOP + "/checkout"))
        .when(url_kind == URL_CONFIRMATION)
        .then(pl.lit(SHOP + "/checkout/confirmation"))
    )
    priced = etype.is_in([1, 4, 5, 6, 8, 9])  # product_view, carts, wishlist, purchase, refund
    with_qty = etype.is_in([4, 5, PURCHASE, REFUND])
    df = df.with_columns(
        page_url=page_url,
        product_id=product_id,
        category=category,
        search_query=query,
        is_page=etype.is_in([0, 1, 3]),
    )
    # Referrer: external for a session's first page, else the previous page of the session;
    # pings and cart actions inherit the referrer of the page they happen on.
    prev_page = pl.when(pl.col("is_page")).then(pl.col("page_url")).shift(1).forward_fill()
    external = pl.lit(pl.Series(list(EXTERNAL_REFERRERS), dtype=pl.String)).gather(pl.col("ref_kind").clip(0))
    # "" marks a direct visit so that filling forward stops at each session's first page.
    referrer = (
        pl.when(pl.col("first_in_session"))
        .then(external.fill_null(""))
        .when(pl.col("is_page"))
        .then(prev_page.fill_null(""))
    )
    filled = pl.when(pl.col("sess") >= 0).then(referrer.forward_fill())
    df = df.with_columns(referrer=pl.when(filled != "").then(filled))
    return df.with_columns(
        event_type=pl.lit(pl.Series(list(EVENT_TYPES))).gather(etype.cast(pl.Int64)),
        user_id=pl.when(pl.col("logged") & (pl.col("user") >= 0)).then(pl.col("uid")),
        anonymous_id=pl.col("anon"),
        occurred_at=format_iso(pl.col("occurred_us"), pl.col("offset_minutes"), pl.col("suffix")),
        price=pl.when(priced).then(pl.col("price_local")),
        quantity=pl.when(with_qty & (pl.col("qty") > 0)).then(pl.col("qty")),
        currency=pl.when(priced).then(pl.col("currency_s")),
        order_id=pl.when(pl.col("order_no") >= 0).then(
            pl.concat_str([pl.lit("o-"), pl.col("order_no").cast(pl.String).str.zfill(7)])
        ),
        scroll_depth_pct=pl.col("scroll").fill_nan(None),
        engaged_seconds=pl.col("engaged").fill_nan(None),
        device_type=pl.when(~pl.col("server")).then(pl.col("dtype_s")),
        user_agent=pl.when(~pl.col("server")).then(pl.col("agent")),
        country=pl.col("zone_country"),
        consent_analytics=pl.col("consent_a"),
        consent_personalization=pl.col("consent_p"),
        experiment_id=pl.when(pl.col("variant_i") >= 0).then(pl.lit(EXPERIMENT_ID)),
        variant=pl.when(pl.col("variant_i") >= 0).then(
            pl.lit(pl.Series(list(VARIANTS))).gather(pl.col("variant_i").clip(0))
        ),
    )
