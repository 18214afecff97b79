"""The consent table: consent changes a user records outside the event stream, applied at landing.

Events carry their own consent flags (what the device's consent banner said). A person can also
change consent elsewhere (account settings, a support request, the consent-management platform),
which the operator exports to the consent table::

    landing/consent/*.csv      (any number of files; all are read, in name order)

    user_id,consent_analytics,consent_personalization,effective_at
    u000042,false,true,2026-02-01T09:30:00Z
    u000077,true,false,2026-02-03T00:00:00+01:00

* ``user_id``: the RAW user id, as in the events (landing pseudonymises it; the table itself is
  read only here and is rewritten by erasure);
* ``consent_analytics`` / ``consent_personalization``: ``true``/``false`` (also 1/0, yes/no);
* ``effective_at``: ISO-8601 timestamp with an offset or ``Z``; the change applies to events
  that OCCURRED at or after it.

Semantics: for each event the latest row of its user with ``effective_at <= occurred_at`` is
found (an as-of join), and each flag becomes ``event flag AND table flag``: the table can
withdraw consent an event claims, never grant consent the event's own banner did not. Landing
reads the table once per run, so a change takes effect from the next landing run, for every
event that run lands (late events that occurred before the change keep their own flags).
Effects downstream: analytics withdrawn -> landing nulls ``user_id`` and ``anonymous_id`` (the
event is kept only without identifiers); personalisation withdrawn -> the landed flag is false,
and dbt's ``mart_interaction_matrix`` / ``dim_users.latest_consent_personalization`` (latest
event wins) exclude the user from recommender training and give them non-personalised
recommendations.

The latest event only speaks for a person who is still tracked: once analytics consent is
withdrawn their new events carry no identifier, so their last IDENTIFIED event may still say
"personalise". Landing therefore also keeps a pseudonymised copy of the table in bronze
(:data:`SNAPSHOT_TABLE`, rewritten only when it changes) and the recommender's training and
scoring drop everyone whose current row withdraws personalisation
(:func:`withdrawn_personalisation`).

Limitation: the table is keyed by user id, so events of a not-logged-in device (no ``user_id``)
keep the device banner's flags.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from lakehouse.config import DataPaths

CONSENT_DIR = "consent"
#: Bronze table with the consent table's rows, ``user_id`` pseudonymised (no raw id in bronze).
SNAPSHOT_TABLE = "consent_changes"
FLAGS = ("consent_analytics", "consent_personalization")
COLUMNS = ("user_id", *FLAGS, "effective_at")
_ROW = "__consent_row"
_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")


class ConsentTableError(ValueError):
    """A consent file that cannot be applied (names the file and what to fix)."""


def _flag(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars().str.to_lowercase()
    return pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False).alias(column)


def read_consent_file(path: Path) -> pl.DataFrame:
    """One consent CSV, typed: user_id str, two bools, effective_at datetime[us, UTC]."""
    raw = pl.read_csv(path, infer_schema=False)
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ConsentTableError(
            f"{path}: missing column(s) {missing}; the header must be {','.join(COLUMNS)}"
        )
    typed = raw.select(
        pl.col("user_id").str.strip_chars(),
        *(_flag(c) for c in FLAGS),
        pl.col("effective_at")
        .str.strip_chars()
        .str.to_datetime(time_zone="UTC", time_unit="us", strict=False)
        .alias("effective_at"),
    )
    bad = typed.with_row_index("line", offset=2).filter(
        pl.any_horizontal(pl.col(c).is_null() for c in COLUMNS)
    )
    if bad.height:
        raise ConsentTableError(
            f"{path}: line(s) {bad['line'].head(5).to_list()} have an empty user_id, a flag that is not "
            "true/false, or an effective_at that is not an ISO-8601 timestamp with offset"
        )
    return typed


def load_consent(landing: Path) -> pl.DataFrame | None:
    """Every consent file under ``landing/consent/`` (None when there is none).

    Rows of later files win over earlier ones at the same (user, effective_at).
    """
    folder = Path(landing) / CONSENT_DIR
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        return None
    frames = [read_consent_file(f).with_columns(pl.lit(i).alias("_file")) for i, f in enumerate(files)]
    return (
        pl.concat(frames)
        .sort("user_id", "effective_at", "_file")
        .unique(["user_id", "effective_at"], keep="last", maintain_order=True)
        .drop("_file")
    )


def apply_consent(
    events: pl.DataFrame, consent: pl.DataFrame | None, time_column: str = "occurred_at"
) -> pl.DataFrame:
    """Lower each event's consent flags to what the consent table says at the event's time.

    ``events``: the validated clickstream frame BEFORE pseudonymisation (raw ``user_id``, bool
    flags, ``occurred_at`` datetime[us, UTC]); returned with the same rows, order and columns,
    only ``consent_analytics`` / ``consent_personalization`` changed. Vectorised: one as-of join.
    """
    if consent is None or consent.height == 0 or events.height == 0:
        return events
    ordered = events.with_row_index(_ROW)
    known = ordered.filter(pl.col("user_id").is_not_null() & pl.col(time_column).is_not_null())
    if known.height == 0:
        return events
    table = consent.select(
        "user_id",
        pl.col("effective_at").cast(known.schema[time_column]),
        *(pl.col(c).alias(f"__t_{c}") for c in FLAGS),
    ).sort("effective_at")
    matched = (
        known.select(_ROW, "user_id", time_column)
        .sort(time_column)
        .join_asof(
            table,
            left_on=time_column,
            right_on="effective_at",
            by="user_id",
            strategy="backward",
            check_sortedness=False,
        )
    )
    merged = ordered.join(matched.select(_ROW, *(f"__t_{c}" for c in FLAGS)), on=_ROW, how="left")
    return (
        merged.sort(_ROW)
        .with_columns((pl.col(c) & pl.col(f"__t_{c}").fill_null(True)).alias(c) for c in FLAGS)
        .select(events.columns)
    )


def write_consent_snapshot(paths: DataPaths, key: str, consent: pl.DataFrame | None) -> int | None:
    """Keep ``bronze/consent_changes`` equal to the consent table, pseudonymised; returns the new
    Delta version, or None when nothing changed (re-runs with the same table write nothing)."""
    from lakehouse import storage
    from lakehouse.pseudonymise import pseudonymise_columns

    table = paths.table("bronze", SNAPSHOT_TABLE)
    if consent is None and not storage.table_exists(table):
        return None
    rows = (consent if consent is not None else pl.DataFrame(schema=_SNAPSHOT_SCHEMA)).select(COLUMNS)
    rows = pseudonymise_columns(rows.cast(_SNAPSHOT_SCHEMA), ["user_id"], key)  # type: ignore[arg-type]
    rows = rows.cast(_SNAPSHOT_SCHEMA).sort(COLUMNS)  # type: ignore[arg-type]
    if storage.table_exists(table):
        current = storage.read_frame(table)
        if current.cast(_SNAPSHOT_SCHEMA).sort(COLUMNS).equals(rows):  # type: ignore[arg-type]
            return None
    storage.replace_table(table, rows)
    return storage.table_version(table)


def withdrawn_personalisation(paths: DataPaths, as_of: dt.datetime | None = None) -> pl.DataFrame:
    """``user_id`` (pseudonyms) whose latest consent row at ``as_of`` (default now) withdraws
    personalisation: excluded from recommender training, given non-personalised recommendations."""
    from lakehouse import storage

    rows = storage.read_frame(paths.table("bronze", SNAPSHOT_TABLE), _SNAPSHOT_SCHEMA)
    moment = as_of or dt.datetime.now(dt.UTC)
    return (
        rows.filter(pl.col("effective_at") <= moment)
        .sort("effective_at")
        .group_by("user_id")
        .agg(pl.col("consent_personalization").last())
        .filter(~pl.col("consent_personalization"))
        .select("user_id")
        .sort("user_id")
    )


_SNAPSHOT_SCHEMA = {
    "user_id": pl.String,
    "consent_analytics": pl.Boolean,
    "consent_personalization": pl.Boolean,
    "effective_at": pl.Datetime("us", "UTC"),
}
