"""One UTC day of shop behaviour: sessions, funnels, re-orders, refunds and bot bursts.

Each day is simulated as arrays: a Poisson number of sessions per person (daily and weekly
cycles, churn decay, new-visitor arrivals), then pages per session, page pings per page, cart
actions per product page and the checkout at the end of a session. Events are ordered by a
(session, order key) sort and timed by a cumulative sum of gaps, so there is no Python loop
over events; loops run over a handful of zones or categories only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from lakehouse.contracts.clickstream import EVENT_TYPES
from lakehouse.generator.catalogue import SEARCH_TERMS, Catalogue
from lakehouse.generator.ids import day_rng
from lakehouse.generator.population import (
    BARGAIN,
    EXPERIMENT_UPLIFT,
    NEVER,
    NEW_VISITOR,
    PARAMS,
    Population,
)
from lakehouse.generator.timekeeping import (
    US_PER_HOUR,
    US_PER_SECOND,
    WEB_HOURS,
    WEEKDAY_FACTOR,
    day_start_us,
    is_rest_day,
    zone_offsets,
)

ET = {name: i for i, name in enumerate(EVENT_TYPES)}
PAGE_VIEW, PRODUCT_VIEW, PAGE_PING, SEARCH = (
    ET["page_view"],
    ET["product_view"],
    ET["page_ping"],
    ET["search"],
)
ADD_TO_CART, REMOVE_FROM_CART, WISHLIST = ET["add_to_cart"], ET["remove_from_cart"], ET["add_to_wishlist"]
CHECKOUT, PURCHASE, REFUND = ET["checkout_started"], ET["purchase"], ET["refund"]
# page_url kinds
URL_HOME, URL_CATEGORY, URL_SEARCH, URL_PRODUCT, URL_CART, URL_CHECKOUT, URL_CONFIRMATION, URL_NONE = range(8)
TERM_OFFSET = np.concatenate([[0], np.cumsum([len(t) for t in SEARCH_TERMS])[:-1]])
TERM_COUNT = np.array([len(t) for t in SEARCH_TERMS])
ALL_TERMS: tuple[str, ...] = tuple(t for terms in SEARCH_TERMS for t in terms)
_INF_KEY = np.int64(1) << 60
_CHECKOUT_KEY = 20_000_000


@dataclass
class Reorders:
    """Consumable purchases the smart homes ask their shoppers to make on one day."""

    user: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    t_us: np.ndarray
    home: np.ndarray
    category: np.ndarray

    @staticmethod
    def empty() -> Reorders:
        z = np.zeros(0, dtype=np.int64)
        return Reorders(z, z, z, z, z, z)


@dataclass
class Refunds:
    """Purchase lines to be refunded on a later day (kept until that day is simulated)."""

    user: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    order_no: np.ndarray


@dataclass
class DayStats:
    """Per-day truth tallies (summed into the manifest and the experiment truth)."""

    sessions: int = 0
    bot_events: int = 0
    checkouts: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.int64))
    purchases: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.int64))
    #: (home, user, category, product, order number, ordered at us, quantity) of each shop re-order
    reorder_orders: list[tuple[int, int, int, int, int, int, int]] = field(default_factory=list)


@dataclass
class ShopState:
    """What carries over from day to day in the shop simulation."""

    next_order: int = 1
    refunds_due: dict[int, list[Refunds]] = field(default_factory=dict)
    sessions_per_user: np.ndarray | None = None
    last_session_day: np.ndarray | None = None
    first_session_day: np.ndarray | None = None


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner index, position within owner) for ``counts[i]`` items owned by ``i``."""
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(len(owner)) - starts[owner]
    return owner, pos


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs``."""
    cum = np.cumsum(probs, axis=1)
    return (rng.random(len(probs))[:, None] > cum).sum(axis=1).clip(0, probs.shape[1] - 1)


def _products(rng: np.random.Generator, cat: Catalogue, persona: np.ndarray, fav: np.ndarray) -> np.ndarray:
    """Products people look at: the global long tail, their favourite category, bargains."""
    n = len(persona)
    out = rng.choice(cat.size, size=n, p=cat.popularity)
    in_fav = rng.random(n) < 0.45
    if in_fav.any():
        out[in_fav] = cat.sample_in_category(rng, fav[in_fav])
    bargain = (persona == BARGAIN) & (rng.random(n) < 0.6)
    if bargain.any():
        alt = rng.choice(cat.size, size=int(bargain.sum()), p=cat.popularity)
        cur = out[bargain]
        out[bargain] = np.where(cat.price_eur[alt] < cat.price_eur[cur], alt, cur)
    return out


def _session_starts(rng: np.random.Generator, zones: np.ndarray, date: dt.date) -> np.ndarray:
    """Start instants (UTC us) following each zone's local daily rhythm."""
    rest = is_rest_day(date)
    weights = WEB_HOURS[rest]
    offsets = zone_offsets(date)
    hour = np.empty(len(zones), dtype=np.int64)
    for z in np.unique(zones):
        where = np.flatnonzero(zones == z)
        local = (np.arange(24) + offsets[z] // 60) % 24
        p = weights[local]
        hour[where] = rng.choice(24, size=len(where), p=p / p.sum())
    return day_start_us(date) + hour * US_PER_HOUR + rng.integers(0, US_PER_HOUR, size=len(zones))


def _gaps_seconds(
    rng: np.random.Generator,
    etype: np.ndarray,
    page_seconds: np.ndarray,
    first_of_session: np.ndarray,
    first_purchase_line: np.ndarray,
) -> np.ndarray:
    """Seconds before each event; always well under the 30-minute session timeout."""
    n = len(etype)
    page = rng.lognormal(np.log(page_seconds), 0.8).clip(2.0, 1200.0)
    ping = (10.0 + rng.normal(0, 1.5, n)).clip(5.0, 30.0)
    gap = np.select(
        [
            np.isin(etype, [PAGE_VIEW, PRODUCT_VIEW, SEARCH]),
            etype == PAGE_PING,
            np.isin(etype, [ADD_TO_CART, WISHLIST]),
            etype == REMOVE_FROM_CART,
            etype == CHECKOUT,
            (etype == PURCHASE) & first_purchase_line,
        ],
        [
            page,
            ping,
            rng.uniform(3, 20, n),
            rng.uniform(5, 60, n),
            rng.uniform(10, 90, n),
            rng.uniform(30, 240, n),
        ],
        default=rng.uniform(0.005, 0.05, n),
    )
    return np.where(first_of_session, 0.0, gap)


_COLUMNS = {
    "t_us": pl.Int64,
    "dev": pl.Int64,
    "user": pl.Int64,
    "logged": pl.Boolean,
    "etype": pl.Int8,
    "url_kind": pl.Int8,
    "product": pl.Int64,
    "cat": pl.Int16,
    "term": pl.Int32,
    "prefix": pl.Int8,
    "qty": pl.Int32,
    "order_no": pl.Int64,
    "scroll": pl.Float64,
    "engaged": pl.Float64,
    "sess": pl.Int64,
    "first_in_session": pl.Boolean,
    "server": pl.Boolean,
    "ref_kind": pl.Int8,
}


def _frame(**cols: np.ndarray) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    data = {}
    for name, dtype in _COLUMNS.items():
        value = cols.get(name)
        if value is None:
            default = {pl.Boolean: False, pl.Float64: np.nan}.get(dtype, -1)
            value = np.full(n, default)
        data[name] = pl.Series(name, value).cast(dtype)
    return pl.DataFrame(data)


def simulate_day(
    day: int, date: dt.date, pop: Population, cat: Catalogue, state: ShopState, reorders: Reorders, seed: int
) -> tuple[pl.DataFrame, DayStats]:
    """All events that truly happen on UTC ``date`` (index ``day``), in true UTC time.

    Returns one row per event with ids as integers (rendered to text later) and the day's
    truth tallies. Mutates ``state`` (order numbers, refunds due later, device logins).
    """
    rng = day_rng(seed, day, 1)
    stats = DayStats()
    n = pop.n_users
    if state.sessions_per_user is None:
        state.sessions_per_user = np.zeros(n, dtype=np.int64)
        state.last_session_day = np.full(n, -1, dtype=np.int64)
        state.first_session_day = np.full(n, NEVER, dtype=np.int64)

    # --- sessions -------------------------------------------------------------------------
    persona = pop.persona
    since = day - pop.arrival_day
    # New visitors arrive on their day (about one session), then mostly drift away.
    arrival_factor = np.where(
        persona == NEW_VISITOR,
        np.where(since < 0, 0.0, 0.15 + 0.85 * np.exp(-np.maximum(since, 0) / 10.0)),
        1.0,
    )
    churn = pop.churn_factor(day)
    lam = (
        PARAMS.sessions_per_day[persona]
        * pop.activity
        * churn
        * arrival_factor
        * WEEKDAY_FACTOR[date.weekday()]
    )
    lam = np.where((persona == NEW_VISITOR) & (since == 0), 1.0, lam)
    n_sess = rng.poisson(lam)
    s_user, _ = _segments(n_sess)
    S = len(s_user)
    stats.sessions = S
    s_persona = persona[s_user]
    s_churn = churn[s_user]
    pick = np.minimum(
        pop.dev_count[s_user] - 1, (rng.random(S) ** 1.8 * pop.dev_count[s_user]).astype(np.int64)
    )
    s_dev = pop.dev_start[s_user] + pick
    s_start = _session_starts(rng, pop.zone[s_user], date)

    # --- pages ----------------------------------------------------------------------------
    pages_mean = PARAMS.pages_mean[s_persona] * (0.45 + 0.55 * s_churn)
    n_pages = 1 + rng.poisson(np.maximum(0.2, pages_mean - 1.0))
    p_sess, p_pos = _segments(n_pages)
    P = len(p_sess)
    p_persona = s_persona[p_sess]
    kind = _pick(rng, PARAMS.page_kind_probs[p_persona])  # 0 page_view, 1 search, 2 product_view
    kind[p_pos == 0] = 0
    focus = _products(rng, cat, p_persona, pop.fav_category[s_user[p_sess]])
    p_cat = cat.category[focus]
    p_etype = np.array([PAGE_VIEW, SEARCH, PRODUCT_VIEW])[kind]
    landing_home = rng.random(P) < 0.5
    p_url = np.select(
        [kind == 2, kind == 1, (kind == 0) & (p_pos == 0) & landing_home],
        [URL_PRODUCT, URL_SEARCH, URL_HOME],
        default=URL_CATEGORY,
    )
    p_term = TERM_OFFSET[p_cat] + (rng.random(P) * TERM_COUNT[p_cat]).astype(np.int64)
    p_prefix = np.where(p_persona == BARGAIN, rng.integers(0, 4, P), 4)
    p_key = p_pos * 1000

    # page pings while reading (content explorers read long and scroll deep)
    pingable = kind != 1
    n_pings = np.where(pingable, rng.poisson(PARAMS.pings_mean[p_persona]), 0).clip(0, 40)
    g_page, g_k = _segments(n_pings)
    G = len(g_page)
    step = rng.uniform(5.0, 35.0, G)
    csum = np.cumsum(step)
    first_ping = (np.cumsum(n_pings) - n_pings)[g_page]
    scroll = np.round(np.minimum(100.0, 10.0 + csum - (csum[first_ping] - step[first_ping])), 0)
    engaged = np.round(rng.uniform(4.0, 10.0, G), 1)

    # product-page actions
    is_product = kind == 2
    p_sess_churn = s_churn[p_sess]
    carted = is_product & (rng.random(P) < PARAMS.p_cart[p_persona])
    wished = is_product & ~carted & (rng.random(P) < PARAMS.p_wishlist[p_persona])
    c_page = np.flatnonzero(carted)
    c_qty = rng.choice([1, 2, 3], size=len(c_page), p=[0.85, 0.11, 0.04])
    w_page = np.flatnonzero(wished)

    # end of session: removals, checkout, purchase
    c_sess = p_sess[c_page]
    removed = rng.random(len(c_page)) < PARAMS.p_remove[p_persona[c_page]] * (2.0 - p_sess_churn[c_page])
    remaining = np.bincount(c_sess[~removed], minlength=S)
    variant = pop.variant[s_user]
    p_checkout = PARAMS.p_checkout[s_persona] * (0.35 + 0.65 * s_churn)
    checkout = (remaining > 0) & (rng.random(S) < p_checkout)
    uplift = np.where(variant == 1, EXPERIMENT_UPLIFT, 1.0)
    buy = checkout & (rng.random(S) < PARAMS.p_buy[s_persona] * (0.6 + 0.4 * s_churn) * uplift)
    enrolled = variant >= 0
    stats.checkouts = np.bincount(variant[checkout & enrolled], minlength=2)
    stats.purchases = np.bincount(variant[buy & enrolled], minlength=2)
    order_no = np.full(S, -1, dtype=np.int64)
    order_no[buy] = state.next_order + np.arange(int(buy.sum()))
    state.next_order += int(buy.sum())
    bought_line = ~removed & buy[c_sess]
    line_no = np.arange(len(c_page))

    sess_col = np.concatenate(
        [
            p_sess,
            p_sess[g_page],
            c_sess,
            p_sess[w_page],
            c_sess[removed],
            np.flatnonzero(checkout),
            c_sess[bought_line],
        ]
    )
    key = np.concatenate(
        [
            p_key,
            p_key[g_page] + 1 + g_k,
            p_key[c_page] + 950,
            p_key[w_page] + 960,
            10_000_000 + line_no[removed],
            np.full(int(checkout.sum()), _CHECKOUT_KEY),
            30_000_000 + line_no[bought_line],
        ]
    )
    page_of = np.concatenate(
        [
            np.arange(P),
            g_page,
            c_page,
            w_page,
            c_page[removed],
            np.full(int(checkout.sum()), -1),
            c_page[bought_line],
        ]
    )
    etype = np.concatenate(
        [
            p_etype,
            np.full(G, PAGE_PING),
            np.full(len(c_page), ADD_TO_CART),
            np.full(len(w_page), WISHLIST),
            np.full(int(removed.sum()), REMOVE_FROM_CART),
            np.full(int(checkout.sum()), CHECKOUT),
            np.full(int(bought_line.sum()), PURCHASE),
        ]
    )
    url = np.concatenate(
        [
            p_url,
            p_url[g_page],
            np.full(len(c_page), URL_PRODUCT),
            np.full(len(w_page), URL_PRODUCT),
            np.full(int(removed.sum()), URL_CART),
            np.full(int(checkout.sum()), URL_CHECKOUT),
            np.full(int(bought_line.sum()), URL_CONFIRMATION),
        ]
    )
    qty = np.concatenate(
        [
            np.full(P + G, -1),
            c_qty,
            np.full(len(w_page), -1),
            c_qty[removed],
            np.full(int(checkout.sum()), -1),
            c_qty[bought_line],
        ]
    )
    has_product = np.isin(etype, [PRODUCT_VIEW, ADD_TO_CART, WISHLIST, REMOVE_FROM_CART, PURCHASE]) | (
        (etype == PAGE_PING) & (url == URL_PRODUCT)
    )
    safe_page = np.maximum(page_of, 0)
    product = np.where(has_product, focus[safe_page], -1)
    ev_cat = np.where(has_product | (url == URL_CATEGORY) | (etype == SEARCH), p_cat[safe_page], -1)
    term = np.where(etype == SEARCH, p_term[safe_page], -1)
    prefix = np.where(etype == SEARCH, p_prefix[safe_page], -1)
    ev_scroll = np.concatenate([np.full(P, np.nan), scroll, np.full(len(etype) - P - G, np.nan)])
    ev_engaged = np.concatenate([np.full(P, np.nan), engaged, np.full(len(etype) - P - G, np.nan)])
    ev_order = np.where(etype == PURCHASE, order_no[sess_col], -1)

    order = np.lexsort((key, sess_col))
    sess_col, key, etype, url, qty, product, ev_cat, term, prefix, ev_scroll, ev_engaged, ev_order = (
        a[order]
        for a in (
            sess_col,
            key,
            etype,
            url,
            qty,
            product,
            ev_cat,
            term,
            prefix,
            ev_scroll,
            ev_engaged,
            ev_order,
        )
    )
    first = np.ones(len(sess_col), dtype=bool)
    first[1:] = sess_col[1:] != sess_col[:-1]
    first_line = (etype == PURCHASE) & np.concatenate([[True], etype[:-1] != PURCHASE])
    gaps = _gaps_seconds(rng, etype, PARAMS.page_seconds[s_persona[sess_col]], first, first_line)
    csum_us = np.cumsum((gaps * US_PER_SECOND).astype(np.int64))
    sess_base = csum_us[np.flatnonzero(first)]
    t_us = s_start[sess_col] + csum_us - sess_base[np.cumsum(first) - 1]

    # anonymous first, user id from the login on (planned login day, or logging in to check out)
    dl = pop.dev_login_day[s_dev]
    login_key = np.where(
        dl < day, -1, np.where(dl == day, (rng.random(S) * n_pages).astype(np.int64) * 1000, _INF_KEY)
    )
    login_key = np.where(checkout, np.minimum(login_key, _CHECKOUT_KEY), login_key)
    logged = key >= login_key[sess_col]
    did_login = login_key < _INF_KEY
    np.minimum.at(pop.dev_login_day, s_dev[did_login], day)

    refs = rng.choice(5, size=S, p=[0.35, 0.35, 0.1, 0.12, 0.08])
    organic = _frame(
        t_us=t_us,
        dev=s_dev[sess_col],
        user=s_user[sess_col],
        logged=logged,
        etype=etype,
        url_kind=url,
        product=product,
        cat=ev_cat,
        term=term,
        prefix=prefix,
        qty=qty,
        order_no=ev_order,
        scroll=ev_scroll,
        engaged=ev_engaged,
        sess=sess_col,
        first_in_session=first,
        ref_kind=np.where(first, refs[sess_col], -1),
    )

    # per-user activity truth
    active = np.unique(s_user)
    state.sessions_per_user += np.bincount(s_user, minlength=n)
    state.last_session_day[active] = day
    state.first_session_day[active] = np.minimum(state.first_session_day[active], day)

    frames = [organic]
    frames.append(_reorder_events(reorders, pop, cat, state, S, stats))
    frames.append(_refund_events(rng, day, date, pop, cat, state))
    bots = _bot_events(rng, date, pop, cat)
    stats.bot_events = bots.height
    frames.append(bots)
    _schedule_refunds(rng, day, pop, state, organic)
    return pl.concat(frames, how="vertical"), stats


def _reorder_events(
    r: Reorders, pop: Population, cat: Catalogue, state: ShopState, first_sess: int, stats: DayStats
) -> pl.DataFrame:
    """A household's shopper re-orders a consumable: search, product page, cart, checkout, buy."""
    k = len(r.user)
    if k == 0:
        return _frame(t_us=np.zeros(0, dtype=np.int64))
    steps = np.array([PAGE_VIEW, SEARCH, PRODUCT_VIEW, ADD_TO_CART, CHECKOUT, PURCHASE])
    urls = np.array([URL_HOME, URL_SEARCH, URL_PRODUCT, URL_PRODUCT, URL_CHECKOUT, URL_CONFIRMATION])
    offsets_s = np.array([0, 18, 41, 63, 95, 160])
    owner = np.repeat(np.arange(k), len(steps))
    j = np.tile(np.arange(len(steps)), k)
    orders = state.next_order + np.arange(k)
    state.next_order += k
    for i in range(k):
        stats.reorder_orders.append(
            (
                int(r.home[i]),
                int(r.user[i]),
                int(r.category[i]),
                int(r.product[i]),
                int(orders[i]),
                int(r.t_us[i]),
                int(r.quantity[i]),
            )
        )
    et = steps[j]
    prod = np.where(np.isin(et, [PRODUCT_VIEW, ADD_TO_CART, PURCHASE]), r.product[owner], -1)
    cats = np.where(et == PAGE_VIEW, -1, r.category[owner])
    term = np.where(et == SEARCH, TERM_OFFSET[r.category[owner]], -1)
    return _frame(
        t_us=r.t_us[owner] + offsets_s[j] * US_PER_SECOND,
        dev=pop.dev_start[r.user][owner],
        user=r.user[owner],
        logged=np.ones(len(owner), dtype=bool),
        etype=et,
        url_kind=urls[j],
        product=prod,
        cat=cats,
        term=term,
        prefix=np.where(et == SEARCH, 4, -1),
        qty=np.where(np.isin(et, [ADD_TO_CART, PURCHASE]), r.quantity[owner], -1),
        order_no=np.where(et == PURCHASE, orders[owner], -1),
        sess=first_sess + owner,
        first_in_session=j == 0,
        ref_kind=np.where(j == 0, 0, -1),
    )


def _schedule_refunds(
    rng: np.random.Generator, day: int, pop: Population, state: ShopState, organic: pl.DataFrame
) -> None:
    """Some purchase lines come back 3 to 14 days later."""
    bought = organic.filter(pl.col("etype") == PURCHASE).select("user", "product", "qty", "order_no")
    if bought.height == 0:
        return
    users = bought["user"].to_numpy()
    chosen = rng.random(bought.height) < PARAMS.p_refund[pop.persona[users]]
    due = day + rng.integers(3, 15, size=bought.height)
    for d in np.unique(due[chosen]):
        m = chosen & (due == d)
        state.refunds_due.setdefault(int(d), []).append(
            Refunds(
                users[m],
                bought["product"].to_numpy()[m],
                bought["qty"].to_numpy()[m],
                bought["order_no"].to_numpy()[m],
            )
        )


def _refund_events(
    rng: np.random.Generator, day: int, date: dt.date, pop: Population, cat: Catalogue, state: ShopState
) -> pl.DataFrame:
    """Refunds are sent by the shop's server (no browser context, UTC timestamps)."""
    due = state.refunds_due.pop(day, [])
    if not due:
        return _frame(t_us=np.zeros(0, dtype=np.int64))
    user = np.concatenate([r.user for r in due])
    product = np.concatenate([r.product for r in due])
    k = len(user)
    t = day_start_us(date) + rng.integers(8 * US_PER_HOUR, 20 * US_PER_HOUR, size=k)
    return _frame(
        t_us=t,
        dev=pop.dev_start[user],
        user=user,
        logged=np.ones(k, dtype=bool),
        etype=np.full(k, REFUND),
        url_kind=np.full(k, URL_NONE),
        product=product,
        qty=np.concatenate([r.quantity for r in due]),
        order_no=np.concatenate([r.order_no for r in due]),
        cat=cat.category[product],
        server=np.ones(k, dtype=bool),
        sess=np.full(k, -1),
    )


def _bot_events(rng: np.random.Generator, date: dt.date, pop: Population, cat: Catalogue) -> pl.DataFrame:
    """Crawlers and scrapers: bursts of rapid, repeated product and category page hits."""
    bots = pop.bot_devices
    active = bots[rng.random(len(bots)) < 0.5]
    if len(active) == 0:
        return _frame(t_us=np.zeros(0, dtype=np.int64))
    steps = rng.poisson(60, size=len(active)) + 10
    b_owner, b_pos = _segments(steps)
    repeats = rng.choice([1, 2, 3, 4], size=len(b_owner), p=[0.45, 0.25, 0.2, 0.1])
    e_step, _ = _segments(repeats)
    owner = b_owner[e_step]
    start_product = rng.integers(0, cat.size, size=len(active))
    product = (start_product[owner] + b_pos[e_step]) % cat.size
    is_category = rng.random(len(b_owner)) < 0.1
    et = np.where(is_category[e_step], PAGE_VIEW, PRODUCT_VIEW)
    gap = rng.exponential(0.35, size=len(owner))
    start = day_start_us(date) + rng.integers(0, 23 * US_PER_HOUR, size=len(active))
    csum = np.cumsum((gap * US_PER_SECOND).astype(np.int64))
    first_idx = np.cumsum(np.bincount(owner, minlength=len(active))) - np.bincount(
        owner, minlength=len(active)
    )
    t = start[owner] + csum - csum[first_idx][owner]
    return _frame(
        t_us=t,
        dev=active[owner],
        user=np.full(len(owner), -1),
        etype=et,
        url_kind=np.where(et == PAGE_VIEW, URL_CATEGORY, URL_PRODUCT),
        product=np.where(et == PRODUCT_VIEW, product, -1),
        cat=cat.category[product],
        sess=np.full(len(owner), -1),
    )
