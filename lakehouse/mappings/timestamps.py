"""Source timestamps to ISO-8601 text with an explicit UTC offset.

Exports usually write naive local times ("2010-12-01 08:26:00" in a London shop). The contract
refuses naive times (whose local time?), so the mapping declares the source's IANA timezone and
this module localises each value in that zone, DST included: in summer London is +01:00, in
winter +00:00. The output keeps the local wall time and its offset (not UTC), so landing still
knows the local hour a person acted at (``tz_offset_minutes``).

Two DST edge cases get explicit handling rather than a silent guess: a wall time that never
happened (the spring-forward gap) is a mapping reject, and a wall time that happened twice (the
autumn fall-back hour) resolves by the mapping's ``ambiguous`` policy (earliest, latest, reject).
"""

from __future__ import annotations

import polars as pl

from lakehouse.contracts.model import parse_timestamp
from lakehouse.mappings.spec import TimestampSpec

#: What every mapped timestamp looks like: 2010-12-01T08:26:00+00:00 (fractions only when present).
ISO_OUT = "%Y-%m-%dT%H:%M:%S%.f%:z"
_OFFSET = r"(Z|[+-]\d{2}:?\d{2})$"
_NAIVE_ISO = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")


def _localise(naive: pl.Expr, spec: TimestampSpec, text: pl.Expr, what: str) -> tuple[pl.Expr, pl.Expr]:
    assert spec.timezone is not None
    tz = spec.timezone
    if spec.ambiguous == "reject":
        aware = naive.dt.replace_time_zone(tz, ambiguous="null", non_existent="null")
    else:
        aware = naive.dt.replace_time_zone(tz, ambiguous=spec.ambiguous, non_existent="null")
    earliest = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    error = (
        pl.when(text.is_not_null() & naive.is_null())
        .then(
            pl.format(
                "bad_timestamp[{}]: '{}' does not match the format '{}'",
                pl.lit(what),
                text,
                pl.lit(spec.format),
            )
        )
        .when(naive.is_not_null() & earliest.is_null())
        .then(
            pl.format(
                "bad_timestamp[{}]: local time '{}' does not exist in {} (clocks moved forward)",
                pl.lit(what),
                text,
                pl.lit(tz),
            )
        )
        .when(naive.is_not_null() & aware.is_null())
        .then(
            pl.format(
                "bad_timestamp[{}]: local time '{}' happened twice in {} (clocks moved back); "
                "ambiguous: reject",
                pl.lit(what),
                text,
                pl.lit(tz),
            )
        )
    )
    return aware.dt.strftime(ISO_OUT), error


def timestamp_value(text: pl.Expr, spec: TimestampSpec, what: str) -> tuple[pl.Expr, pl.Expr]:
    """(ISO-8601 text with offset, error text or null) for trimmed source text (null when empty).

    ``what`` names the source column in error messages.
    """
    fmt = spec.format
    if fmt in ("epoch_s", "epoch_ms"):
        factor = 1_000_000 if fmt == "epoch_s" else 1_000
        micros = (text.cast(pl.Float64, strict=False) * factor).round(0).cast(pl.Int64, strict=False)
        value = pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC").dt.strftime(ISO_OUT)
        error = pl.when(text.is_not_null() & micros.is_null()).then(
            pl.format("bad_timestamp[{}]: '{}' is not a {} number", pl.lit(what), text, pl.lit(fmt))
        )
        return value, error
    if fmt == "iso8601":
        has_offset = text.str.contains(_OFFSET)
        valid = parse_timestamp(text).is_not_null()
        if spec.timezone is None:
            error = pl.when(text.is_not_null() & ~valid).then(
                pl.format("bad_timestamp[{}]: '{}' is not ISO-8601 with a UTC offset", pl.lit(what), text)
            )
            return pl.when(valid).then(text), error
        normalised = text.str.replace(" ", "T")
        naive = pl.coalesce([normalised.str.to_datetime(f, strict=False, time_unit="us") for f in _NAIVE_ISO])
        local, local_error = _localise(
            pl.when(~has_offset).then(naive), spec, pl.when(~has_offset).then(text), what
        )
        value = pl.when(has_offset).then(pl.when(valid).then(text)).otherwise(local)
        error = (
            pl.when(has_offset & ~valid)
            .then(pl.format("bad_timestamp[{}]: '{}' is not ISO-8601 with a UTC offset", pl.lit(what), text))
            .otherwise(local_error)
        )
        return value, error
    if "%z" in fmt or "%:z" in fmt:
        parsed = text.str.to_datetime(fmt, strict=False, time_unit="us")
        error = pl.when(text.is_not_null() & parsed.is_null()).then(
            pl.format(
                "bad_timestamp[{}]: '{}' does not match the format '{}'", pl.lit(what), text, pl.lit(fmt)
            )
        )
        return parsed.dt.convert_time_zone("UTC").dt.strftime(ISO_OUT), error
    naive = text.str.to_datetime(fmt, strict=False, time_unit="us")
    return _localise(naive, spec, text, what)
