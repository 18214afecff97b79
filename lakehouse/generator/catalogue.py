"""The shop's product catalogue: categories, prices and a long-tail popularity.

A handful of products get most views (Zipf-like), which is what makes recommendation and
"top products" marts interesting; consumable categories are the ones smart homes re-order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

#: category -> (share of the catalogue, median price in EUR, price spread (sigma of log), search terms)
CATEGORIES: dict[str, tuple[float, float, float, tuple[str, ...]]] = {
    "electronics": (
        0.14,
        89.0,
        0.9,
        ("headphones", "usb charger", "bluetooth speaker", "monitor", "keyboard"),
    ),
    "kitchen": (0.12, 29.0, 0.7, ("kettle", "frying pan", "knife set", "toaster", "blender")),
    "home_decor": (0.10, 24.0, 0.7, ("cushion", "lamp", "vase", "picture frame", "rug")),
    "garden": (0.07, 34.0, 0.8, ("garden hose", "plant pot", "seeds", "lawn mower", "shears")),
    "toys": (0.09, 22.0, 0.7, ("lego", "puzzle", "board game", "doll", "rc car")),
    "books": (0.11, 14.0, 0.4, ("novel", "cookbook", "travel guide", "biography", "kids book")),
    "fashion": (0.12, 39.0, 0.7, ("sneakers", "jacket", "t-shirt", "scarf", "jeans")),
    "beauty": (0.08, 18.0, 0.6, ("shampoo", "face cream", "perfume", "lipstick", "razor")),
    "sports": (0.08, 42.0, 0.8, ("yoga mat", "dumbbells", "running shoes", "water bottle", "bike light")),
    "coffee_pods": (0.03, 7.5, 0.25, ("coffee pods", "espresso capsules", "decaf pods", "coffee capsules")),
    "detergent": (0.03, 11.0, 0.3, ("detergent", "washing powder", "dishwasher tabs", "laundry liquid")),
    "air_filters": (0.005, 24.0, 0.3, ("air filter", "hvac filter", "heater filter")),
    "batteries": (0.005, 8.0, 0.3, ("batteries", "aa batteries", "aaa batteries", "cr2032")),
}
CATEGORY_NAMES: tuple[str, ...] = tuple(CATEGORIES)
CONSUMABLES: tuple[str, ...] = ("coffee_pods", "detergent", "air_filters", "batteries")
#: Units in one pack of a consumable (pods, doses, filters, cells).
PACK_UNITS: dict[str, int] = {"coffee_pods": 30, "detergent": 40, "air_filters": 2, "batteries": 8}
SEARCH_TERMS: tuple[tuple[str, ...], ...] = tuple(v[3] for v in CATEGORIES.values())
BARGAIN_PREFIXES = ("cheap ", "sale ", "discount ", "best price ", "")


@dataclass(frozen=True)
class Catalogue:
    """Products as parallel arrays (index = product number)."""

    product_ids: list[str]
    category: np.ndarray  # int index into CATEGORY_NAMES
    price_eur: np.ndarray
    popularity: np.ndarray  # probabilities summing to 1
    cat_start: np.ndarray  # first product index of each category (products are grouped by category)
    cat_count: np.ndarray
    cat_rank_probs: list[np.ndarray]  # Zipf probabilities within each category, by rank
    cat_rank_order: list[np.ndarray]  # product indices of each category, most popular first

    @property
    def size(self) -> int:
        return len(self.product_ids)

    def frame(self) -> pl.DataFrame:
        """The catalogue as a table (written to the truth folder)."""
        return pl.DataFrame(
            {
                "product_id": self.product_ids,
                "category": [CATEGORY_NAMES[c] for c in self.category],
                "price_eur": self.price_eur,
                "popularity": self.popularity,
            }
        )

    def sample_in_category(self, rng: np.random.Generator, cats: np.ndarray) -> np.ndarray:
        """One product per requested category, Zipf-distributed by within-category rank."""
        out = np.empty(len(cats), dtype=np.int64)
        for c in np.unique(cats):
            where = np.flatnonzero(cats == c)
            ranks = rng.choice(len(self.cat_rank_probs[c]), size=len(where), p=self.cat_rank_probs[c])
            out[where] = self.cat_rank_order[c][ranks]
        return out


def build_catalogue(rng: np.random.Generator, n_products: int = 1500, zipf_s: float = 1.07) -> Catalogue:
    """A catalogue of ``n_products`` with log-normal prices per category and Zipf popularity."""
    shares = np.array([v[0] for v in CATEGORIES.values()])
    counts = np.maximum(6, np.round(shares / shares.sum() * n_products)).astype(np.int64)
    category = np.repeat(np.arange(len(CATEGORIES)), counts)
    n = len(category)
    medians = np.array([v[1] for v in CATEGORIES.values()])[category]
    sigmas = np.array([v[2] for v in CATEGORIES.values()])[category]
    raw = medians * np.exp(rng.normal(0.0, sigmas))
    # Shops price at .99 / .49 endings.
    price = np.maximum(0.99, np.floor(raw) + rng.choice([0.49, 0.99], size=n))
    # Global popularity: a random rank per product, weight 1/rank^s (the long tail).
    rank = rng.permutation(n) + 1
    weight = 1.0 / rank**zipf_s
    popularity = weight / weight.sum()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_probs, rank_order = [], []
    for c in range(len(CATEGORIES)):
        members = np.arange(starts[c], starts[c] + counts[c])
        order = members[np.argsort(-popularity[members], kind="stable")]
        w = 1.0 / np.arange(1, len(order) + 1) ** zipf_s
        rank_order.append(order)
        rank_probs.append(w / w.sum())
    return Catalogue(
        product_ids=[f"sku-{i:05d}" for i in range(n)],
        category=category,
        price_eur=np.round(price, 2),
        popularity=popularity,
        cat_start=starts,
        cat_count=counts,
        cat_rank_probs=rank_probs,
        cat_rank_order=rank_order,
    )
