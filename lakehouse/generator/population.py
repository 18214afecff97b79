"""Who visits the shop: personas, devices, consent, the A/B experiment, churners and bots.

Everything about a person that does not change day to day is drawn once here, as parallel
numpy arrays, so the daily simulation is array lookups. The planted truths (persona, churn
date, variant, bot flag) are exactly what the tests and the ML evaluation compare against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lakehouse.generator.catalogue import CATEGORIES
from lakehouse.generator.ids import unique_hex
from lakehouse.generator.timekeeping import ZONE_WEIGHTS, ZONES

PERSONAS: tuple[str, ...] = (
    "frequent_buyer",
    "cart_abandoner",
    "content_explorer",
    "new_visitor",
    "bargain_hunter",
)
FREQUENT, ABANDONER, EXPLORER, NEW_VISITOR, BARGAIN = range(5)
PERSONA_MIX = np.array([0.14, 0.20, 0.20, 0.30, 0.16])


@dataclass(frozen=True)
class PersonaParams:
    """Per-persona behaviour, one array entry per persona (indexed by persona code).

    Funnel probabilities are chosen so personas differ where analysts look: frequent buyers
    convert, cart abandoners fill carts and leave, content explorers read (many page pings,
    deep scroll), bargain hunters search and wishlist, new visitors bounce.
    """

    sessions_per_day: np.ndarray
    pages_mean: np.ndarray
    page_kind_probs: np.ndarray  # [persona, (page_view, search, product_view)]
    pings_mean: np.ndarray
    p_cart: np.ndarray
    p_wishlist: np.ndarray
    p_remove: np.ndarray
    p_checkout: np.ndarray
    p_buy: np.ndarray
    p_refund: np.ndarray
    page_seconds: np.ndarray  # median seconds between pages


PARAMS = PersonaParams(
    sessions_per_day=np.array([0.40, 0.30, 0.45, 0.30, 0.35]),
    pages_mean=np.array([6.0, 7.0, 11.0, 3.5, 9.0]),
    page_kind_probs=np.array(
        [[0.20, 0.15, 0.65], [0.20, 0.10, 0.70], [0.55, 0.10, 0.35], [0.45, 0.15, 0.40], [0.20, 0.35, 0.45]]
    ),
    pings_mean=np.array([0.8, 1.0, 3.0, 0.5, 1.0]),
    p_cart=np.array([0.22, 0.30, 0.03, 0.05, 0.10]),
    p_wishlist=np.array([0.02, 0.04, 0.08, 0.01, 0.12]),
    p_remove=np.array([0.05, 0.30, 0.10, 0.10, 0.20]),
    p_checkout=np.array([0.80, 0.35, 0.45, 0.35, 0.55]),
    p_buy=np.array([0.72, 0.32, 0.50, 0.40, 0.60]),
    p_refund=np.array([0.04, 0.08, 0.05, 0.06, 0.10]),
    page_seconds=np.array([30.0, 35.0, 70.0, 25.0, 40.0]),
)

EXPERIMENT_ID = "exp-checkout-button"
#: True multiplicative effect of the treatment on P(purchase | checkout_started).
EXPERIMENT_UPLIFT = 1.25
VARIANTS: tuple[str, ...] = ("control", "treatment")
NEVER = 1_000_000  # a day index that never comes
LINKED_SHARE = 0.7  # share of smart homes whose household shops in the clickstream

DEVICE_TYPES = ("desktop", "mobile", "tablet", "other")
DESKTOP, MOBILE, TABLET, OTHER = range(4)
USER_AGENTS: tuple[tuple[str, ...], ...] = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    ),
)
BOT_AGENTS: tuple[str, ...] = (
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "curl/8.5.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
ALL_AGENTS: tuple[str, ...] = (*USER_AGENTS[0], *USER_AGENTS[1], *USER_AGENTS[2], *BOT_AGENTS)
_AGENT_BASE = np.array([0, len(USER_AGENTS[0]), len(USER_AGENTS[0]) + len(USER_AGENTS[1])])


@dataclass
class Population:
    """People and their devices; bots are devices without a person (``dev_user == -1``)."""

    user_ids: list[str]
    persona: np.ndarray
    zone: np.ndarray
    arrival_day: np.ndarray
    activity: np.ndarray  # person-level multiplier of the session rate (heavy and light users)
    is_churner: np.ndarray
    churn_day: np.ndarray  # first day without any session (NEVER if not a churner)
    decay_start: np.ndarray
    consent_analytics: np.ndarray
    consent_personalization: np.ndarray
    variant: np.ndarray  # -1 not enrolled, 0 control, 1 treatment
    fav_category: np.ndarray
    dev_start: np.ndarray  # first device index of each user
    dev_count: np.ndarray
    home_of_user: np.ndarray  # home index or -1
    # devices (humans first, then bots)
    anonymous_ids: list[str]
    dev_user: np.ndarray
    dev_type: np.ndarray
    dev_agent: np.ndarray  # index into ALL_AGENTS
    dev_zone: np.ndarray
    dev_skew_us: np.ndarray
    dev_login_day: np.ndarray  # mutable: first day the device carries the user id (NEVER = not yet)
    bot_devices: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def churn_factor(self, day: int) -> np.ndarray:
        """How active each user still is on ``day`` (1 normally; decays to ~0.15, then 0, for churners)."""
        span = np.maximum(1, self.churn_day - self.decay_start)
        progress = np.clip((day - self.decay_start) / span, 0.0, 1.0)
        factor = 1.0 - 0.85 * progress
        return np.where(day >= self.churn_day, 0.0, factor)


def build_population(rng: np.random.Generator, users: int, days: int, homes: int) -> Population:
    """Draw ``users`` people (and their devices and a few bots) for a window of ``days`` days.

    About 70% of the ``homes`` get a shopper: a person picked among
    registered, consenting, non-churning people living in whole-hour time zones, and kept out
    of the experiment so re-orders do not blur its effect.
    """
    n = users
    persona = rng.choice(len(PERSONAS), size=n, p=PERSONA_MIX)
    zone = rng.choice(len(ZONES), size=n, p=ZONE_WEIGHTS)
    is_new = persona == NEW_VISITOR
    arrival = np.where(is_new, rng.integers(0, max(1, days), size=n), 0)
    activity = rng.gamma(2.0, 0.5, size=n)

    # Planted churners: activity fades over ~3 weeks, then stops well before the end.
    is_churner = (~is_new) & (rng.random(n) < 0.18)
    low, high = max(2, int(days * 0.25)), max(3, int(days * 0.75))
    churn_day = np.where(is_churner, rng.integers(low, high, size=n), 1_000_000)
    decay_len = np.minimum(21, np.maximum(1, churn_day - 1))
    decay_start = np.where(is_churner, churn_day - decay_len, 1_000_000)

    no_analytics = rng.random(n) < 0.05
    no_personal = np.where(no_analytics, rng.random(n) < 0.6, rng.random(n) < 0.03)
    fav_shares = np.array([v[0] for v in CATEGORIES.values()])
    fav_category = rng.choice(len(CATEGORIES), size=n, p=fav_shares / fav_shares.sum())

    dev_count = rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1])
    dev_start = np.concatenate([[0], np.cumsum(dev_count)[:-1]]).astype(np.int64)
    n_dev = int(dev_count.sum())
    dev_user = np.repeat(np.arange(n), dev_count)
    first = np.zeros(n_dev, dtype=bool)
    first[dev_start] = True
    dev_type = np.where(
        first,
        rng.choice(3, size=n_dev, p=[0.35, 0.55, 0.10]),
        rng.choice(3, size=n_dev, p=[0.45, 0.35, 0.20]),
    )
    pool_size = np.array([len(p) for p in USER_AGENTS])[dev_type]
    dev_agent = _AGENT_BASE[dev_type] + (rng.random(n_dev) * pool_size).astype(np.int64)
    dev_zone = zone[dev_user]
    skewed = rng.random(n_dev) < 0.08
    skew_minutes = rng.uniform(1.0, 10.0, size=n_dev) * rng.choice([-1, 1], size=n_dev)
    dev_skew_us = np.where(skewed, (skew_minutes * 60e6).astype(np.int64), 0)

    # Login: most existing customers are logged in on their main device from the start; others
    # browse anonymously first. New visitors register (if ever) some days after arriving.
    u_arrival = arrival[dev_user]
    registered_early = rng.random(n_dev) < 0.85
    later = u_arrival + rng.integers(0, max(1, int(days * 0.6)), size=n_dev)
    new_login = np.where(rng.random(n_dev) < 0.35, u_arrival + rng.integers(1, 11, size=n_dev), NEVER)
    dev_login = np.where(
        is_new[dev_user],
        new_login,
        np.where(first & registered_early, -1, later),
    ).astype(np.int64)

    eligible = np.flatnonzero(
        (persona != NEW_VISITOR)
        & ~is_churner
        & ~no_analytics
        & ~no_personal
        & np.array([ZONES[z].whole_hour for z in zone])
        & (dev_login[dev_start] < 0)
    )
    linked = min(round(LINKED_SHARE * homes), len(eligible))
    shoppers = rng.permutation(eligible)[:linked]
    home_of_user = np.full(n, -1, dtype=np.int64)
    home_of_user[shoppers] = rng.choice(homes, size=linked, replace=False) if linked else []
    # Experiment: 85% of people enrolled, variants balanced within each persona (stratified), so a
    # plain comparison of the two groups is not skewed by an unlucky persona mix.
    enrolled = (home_of_user < 0) & (rng.random(n) < 0.85)
    variant = np.full(n, -1, dtype=np.int64)
    for p in range(len(PERSONAS)):
        members = rng.permutation(np.flatnonzero(enrolled & (persona == p)))
        variant[members] = (np.arange(len(members)) + int(rng.integers(0, 2))) % 2

    n_bots = max(2, round(users / 500))
    bot_zone = rng.choice([0, 10], size=n_bots)  # crawlers run from data centres in Germany or the US
    bot_agent = len(ALL_AGENTS) - len(BOT_AGENTS) + np.arange(n_bots) % len(BOT_AGENTS)
    taken: set[str] = set()
    anon = [f"a-{h}" for h in unique_hex(rng, n_dev + n_bots, 6, taken)]

    return Population(
        user_ids=[f"u{i:06d}" for i in range(n)],
        persona=persona,
        zone=zone,
        arrival_day=arrival,
        activity=activity,
        is_churner=is_churner,
        churn_day=churn_day,
        decay_start=decay_start,
        consent_analytics=~no_analytics,
        consent_personalization=~no_personal,
        variant=variant,
        fav_category=fav_category,
        dev_start=dev_start,
        dev_count=dev_count,
        home_of_user=home_of_user,
        anonymous_ids=anon,
        dev_user=np.concatenate([dev_user, np.full(n_bots, -1)]),
        dev_type=np.concatenate([dev_type, np.full(n_bots, OTHER)]),
        dev_agent=np.concatenate([dev_agent, bot_agent]),
        dev_zone=np.concatenate([dev_zone, bot_zone]),
        dev_skew_us=np.concatenate([dev_skew_us, np.zeros(n_bots, dtype=np.int64)]),
        dev_login_day=np.concatenate([dev_login, np.full(n_bots, NEVER)]),
        bot_devices=np.arange(n_dev, n_dev + n_bots),
    )
