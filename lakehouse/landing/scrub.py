"""Pseudonymise identifiers inside raw payloads before they reach the quarantine table.

Quarantine keeps the raw line so a person can see what was wrong, but the raw line carries the
very identifiers landing pseudonymises everywhere else. Three vectorised scrubbers cover the
cases: key/value pairs in JSON text (also in truncated lines, where the value may be cut
short), fields at known positions in CSV lines, and literal values already parsed out of a
record. Each replaces the identifier by its HMAC pseudonym, so a quarantined row can still be
tied to the landed rows of the same person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb
import polars as pl

from lakehouse.pseudonymise import pseudonymise_columns

# "user_id": "u123"  |  "user_id": "u12<end of truncated line>  |  "user_id": 123
_VALUE = r'\s*:\s*(?:"(?:[^"\\]|\\.)*(?:"|$)|[^,}\]\s"]+)'
DEFAULT_KEYS = ("user_id", "anonymous_id", "home_id")


def _pair_pattern(keys: Sequence[str]) -> str:
    return '"(?:' + "|".join(re.escape(k) for k in keys) + ')"' + _VALUE


def _hash_values(values: pl.Series, key: str) -> pl.Series:
    frame = pseudonymise_columns(pl.DataFrame({"v": values.cast(pl.String)}), ["v"], key)
    return frame["v"]


def scrub_json_pairs(raw: pl.Series, key: str, keys: Sequence[str] = DEFAULT_KEYS) -> pl.Series:
    """Replace the value of every identifier key (``user_id``, ``anonymous_id``, ``home_id`` by
    default) in JSON text, including a value cut short by a truncated line."""
    if raw.len() == 0 or not keys:
        return raw
    matches = (
        pl.DataFrame({"m": raw.str.extract_all(_pair_pattern(keys))})
        .explode("m")
        .drop_nulls()
        .unique(maintain_order=True)
    )
    if matches.height == 0:
        return raw
    parts = matches.with_columns(
        pl.col("m").str.extract(r'^("(?:[^"\\]|\\.)*"\s*:\s*)', 1).alias("prefix"),
        pl.col("m").str.replace(r'^"(?:[^"\\]|\\.)*"\s*:\s*', "").alias("value"),
    ).with_columns(
        pl.col("value").str.starts_with('"').alias("quoted"),
        ((pl.col("value").str.len_chars() > 1) & pl.col("value").str.ends_with('"')).alias("closed"),
    )
    parts = parts.with_columns(
        pl.when(pl.col("quoted"))
        .then(pl.col("value").str.strip_prefix('"').str.strip_suffix('"'))
        .otherwise(pl.col("value"))
        .alias("inner")
    )
    parts = parts.with_columns(
        pl.when(pl.col("quoted").not_() & (pl.col("inner") == "null"))
        .then(None)
        .otherwise(pl.col("inner"))
        .alias("inner")
    )
    hashed = _hash_values(parts["inner"], key)
    parts = parts.with_columns(hashed.alias("hash")).with_columns(
        pl.when(pl.col("hash").is_null())
        .then(pl.col("m"))
        .otherwise(
            pl.concat_str(
                pl.col("prefix"),
                pl.lit('"'),
                pl.col("hash"),
                pl.when(pl.col("closed") | pl.col("quoted").not_()).then(pl.lit('"')).otherwise(pl.lit("")),
            )
        )
        .alias("replacement")
    )
    # Longest match first so a value that is a prefix of another is not replaced inside it.
    parts = parts.sort(pl.col("m").str.len_chars(), descending=True)
    return raw.str.replace_many(parts["m"].to_list(), parts["replacement"].to_list())


def scrub_csv_positions(
    raw: pl.Series, positions: Sequence[int], key: str, separator: str = ","
) -> pl.Series:
    """Replace the fields at ``positions`` (0-based) of CSV lines by their pseudonyms.

    Identifier fields never contain the separator, so splitting on it finds them even in lines
    that are otherwise malformed (too few or too many fields).
    """
    if raw.len() == 0 or not positions:
        return raw
    frame = pl.DataFrame({"parts": raw.str.split(separator)})
    for pos in sorted(set(positions)):
        token = pl.col("parts").list.get(pos, null_on_oob=True)
        frame = frame.with_columns(token.str.strip_chars().str.strip_chars('"').alias("_tok"))
        hashed = _hash_values(frame["_tok"], key)
        frame = frame.with_columns(
            pl.when(pl.col("_tok").is_null() | (pl.col("_tok") == ""))
            .then(pl.col("parts"))
            .otherwise(
                pl.concat_list(
                    pl.col("parts").list.slice(0, pos),
                    pl.concat_list(hashed.alias("_h")),
                    pl.col("parts").list.slice(pos + 1),
                )
            )
            .alias("parts")
        )
    return frame.select(pl.col("parts").list.join(separator))["parts"]


def scrub_known_values(
    frame: pl.DataFrame, text_cols: Sequence[str], id_cols: Sequence[str], key: str
) -> pl.DataFrame:
    """In each row, replace the literal raw identifier values of ``id_cols`` inside ``text_cols``.

    Used for records that parsed but failed their contract: the raw id values are known, so
    they are found wherever they occur in the payload (any format) and in the reason text.
    """
    ids = [c for c in id_cols if c in frame.columns]
    if frame.height == 0 or not ids:
        return frame
    hashed = pseudonymise_columns(frame.select(ids), ids, key)
    work = frame.select(text_cols).with_columns(
        *[frame[c].cast(pl.String).alias(f"__raw_{c}") for c in ids],
        *[hashed[c].alias(f"__h_{c}") for c in ids],
    )
    con = duckdb.connect()
    try:
        con.register("w", work.to_arrow())
        exprs = []
        for t in text_cols:
            e = f'"{t}"'
            # Longer values first: an id that is a prefix of another must not cut it in two.
            for c in ids:
                e = (
                    f'CASE WHEN "__raw_{c}" IS NULL OR length("__raw_{c}") = 0 THEN {e} '
                    f'ELSE replace({e}, "__raw_{c}", "__h_{c}") END'
                )
            exprs.append(f'{e} AS "{t}"')
        out = con.sql(f"SELECT {', '.join(exprs)} FROM w").pl()
    finally:
        con.close()
    return frame.with_columns([out[t].alias(t) for t in text_cols])


_SEP = "\x1f"


def csv_tokens(
    raw: pl.Series, positions: Sequence[int], delimiter: str = ",", quote: str = '"'
) -> pl.DataFrame:
    """The fields at ``positions`` of CSV lines, quote-aware (a quoted field may hold the delimiter).

    Quoted segments are found by a regex and their delimiters swapped for a control character
    (through a replace-many over the distinct segments, no per-row Python), then lines are split.
    """
    q = quote.replace("\\", "\\\\")
    pattern = f"{q}(?:[^{q}]|{q}{q})*{q}"
    segments = (
        pl.DataFrame({"s": raw.str.extract_all(pattern)})
        .explode("s")
        .drop_nulls()
        .unique()
        .filter(pl.col("s").str.contains(delimiter, literal=True))
    )
    protected = raw
    if segments.height:
        protected = raw.str.replace_many(
            segments["s"].to_list(), segments["s"].str.replace_all(delimiter, _SEP, literal=True).to_list()
        )
    parts = protected.str.split(delimiter)
    return pl.DataFrame(
        {
            f"__tok_{p}": parts.list.get(p, null_on_oob=True)
            .str.replace_all(_SEP, delimiter, literal=True)
            .str.strip_chars()
            .str.strip_chars(quote)
            for p in positions
        }
    )


def scrub_csv_values(
    frame: pl.DataFrame,
    text_cols: Sequence[str],
    raw_col: str,
    positions: Sequence[int],
    key: str,
    delimiter: str = ",",
    quote: str = '"',
) -> pl.DataFrame:
    """Pseudonymise the identifier fields at ``positions`` of each CSV line wherever their values
    occur in ``text_cols`` (the raw line itself and e.g. a reason that quotes the value)."""
    if frame.height == 0 or not positions:
        return frame
    tokens = csv_tokens(frame[raw_col], positions, delimiter, quote)
    work = scrub_known_values(frame.hstack(tokens), text_cols, tokens.columns, key)
    return work.drop(tokens.columns)
