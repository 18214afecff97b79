"""What the recommender needs to know about items: their category and whether they are re-bought.

A kettle bought last week is a wasted recommendation; coffee pods bought last week are the best
one. Re-buyability is declared either per category (the default: Beacon's consumables) or per
item, because a shop's own catalogue may know better than its category tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ml.interactions import ITEM, as_polars

CATEGORY = "category"
#: Categories households re-order: buying one does not make it a bad recommendation later.
CONSUMABLE_CATEGORIES: frozenset[str] = frozenset({"coffee_pods", "detergent", "air_filters", "batteries"})


@dataclass(frozen=True)
class Catalogue:
    """Items with their category; ``rebuyable`` is a set of categories or an item -> bool map."""

    items: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            {ITEM: [], CATEGORY: []}, schema={ITEM: pl.String, CATEGORY: pl.String}
        )
    )
    rebuyable: frozenset[str] | Mapping[str, bool] = CONSUMABLE_CATEGORIES

    @classmethod
    def from_table(
        cls,
        table: Any,
        *,
        item: str = ITEM,
        category: str = CATEGORY,
        rebuyable: Iterable[str] | Mapping[str, bool] = CONSUMABLE_CATEGORIES,
    ) -> Catalogue:
        """From any table with an item and a category column (polars, pandas, Arrow)."""
        frame = as_polars(table).select(
            pl.col(item).cast(pl.String).alias(ITEM), pl.col(category).cast(pl.String).alias(CATEGORY)
        )
        frame = frame.drop_nulls(ITEM).unique(ITEM, keep="first").sort(ITEM)
        rb = dict(rebuyable) if isinstance(rebuyable, Mapping) else frozenset(rebuyable)
        return cls(items=frame, rebuyable=rb)

    def rebuyable_items(self) -> pl.DataFrame:
        """One column ``item_id``: the items it is fine to recommend again after a purchase."""
        if isinstance(self.rebuyable, Mapping):
            flags = pl.DataFrame(
                {ITEM: list(self.rebuyable.keys()), "_rb": list(self.rebuyable.values())},
                schema={ITEM: pl.String, "_rb": pl.Boolean},
            )
            return flags.filter(pl.col("_rb")).select(ITEM)
        return self.items.filter(pl.col(CATEGORY).is_in(sorted(self.rebuyable))).select(ITEM)
