"""Segment-style ``track`` / ``page`` calls mapped onto the clickstream contract.

Shops that already instrument with Segment's analytics.js (or a compatible tracker such as
RudderStack or Jitsu) can point it at the collector unchanged. The mapping follows the Segment
E-commerce spec event names; ``Order Completed`` / ``Order Refunded`` carry a ``products`` list and
become one event per product (one purchase event is one order line in our contract), with event
ids ``<messageId>:<i>`` so a re-sent call de-duplicates exactly like the original.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Segment E-commerce spec event names -> contract event types.
SEGMENT_EVENTS: dict[str, str] = {
    "Product Viewed": "product_view",
    "Product Clicked": "product_view",
    "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Product Added to Wishlist": "add_to_wishlist",
    "Products Searched": "search",
    "Checkout Started": "checkout_started",
    "Order Completed": "purchase",
    "Order Refunded": "refund",
    "Page Viewed": "page_view",
    "Page Ping": "page_ping",
}
SEGMENT_TYPES = ("track", "page")
_LINE_EVENTS = ("purchase", "refund")


def is_segment(item: Mapping[str, Any]) -> bool:
    """A Segment call names its kind in ``type`` and its id in ``messageId``."""
    return item.get("type") in SEGMENT_TYPES or "messageId" in item


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _event_type(item: Mapping[str, Any]) -> Any:
    if item.get("type") == "page":
        return "page_view"
    name = item.get("event")
    if not isinstance(name, str):
        return name
    return SEGMENT_EVENTS.get(name, re.sub(r"[\s-]+", "_", name.strip()).lower())


def _consent(item: Mapping[str, Any], category: str) -> Any:
    prefs = _get(item, "context", "consent", "categoryPreferences")
    if not isinstance(prefs, Mapping):
        return None
    wanted = {category, category.replace("z", "s")}
    return next((v for k, v in prefs.items() if str(k).lower() in wanted), None)


def map_segment(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Contract records for one Segment call (one, or one per product of an order)."""
    props = item.get("properties") if isinstance(item.get("properties"), Mapping) else {}
    ctx_page = _get(item, "context", "page") or {}
    event_type = _event_type(item)
    base: dict[str, Any] = {
        "event_id": item.get("messageId"),
        "event_type": event_type,
        "user_id": item.get("userId"),
        "anonymous_id": item.get("anonymousId"),
        "occurred_at": _first(item.get("originalTimestamp"), item.get("timestamp")),
        "page_url": _first(_get(ctx_page, "url"), props.get("url")),
        "referrer": _first(_get(ctx_page, "referrer"), props.get("referrer")),
        "product_id": _first(props.get("product_id"), props.get("productId"), props.get("sku")),
        "category": props.get("category"),
        "price": props.get("price"),
        "quantity": props.get("quantity"),
        "currency": props.get("currency"),
        "order_id": _first(props.get("order_id"), props.get("orderId")),
        "search_query": props.get("query"),
        "scroll_depth_pct": props.get("scroll_depth_pct"),
        "engaged_seconds": props.get("engaged_seconds"),
        "device_type": _get(item, "context", "device", "type"),
        "user_agent": _get(item, "context", "userAgent"),
        "country": _get(item, "context", "location", "country"),
        "consent_analytics": _consent(item, "analytics"),
        "consent_personalization": _consent(item, "personalization"),
        "experiment_id": props.get("experiment_id"),
        "variant": _first(props.get("variation_name"), props.get("variant")),
    }
    products = props.get("products")
    if event_type not in _LINE_EVENTS or not isinstance(products, list) or not products:
        return [base]
    lines = []
    for i, product in enumerate(products):
        p = product if isinstance(product, Mapping) else {}
        line = dict(base)
        line["event_id"] = f"{base['event_id']}:{i}" if base["event_id"] is not None else None
        line["product_id"] = _first(p.get("product_id"), p.get("productId"), p.get("sku"))
        line["category"] = p.get("category")
        line["price"] = p.get("price")
        line["quantity"] = p.get("quantity")
        lines.append(line)
    return lines
