"""Bronze suites, derived from the data contracts (``lakehouse.contracts``), never retyped.

Columns and types come from the bronze schema (contract fields, offset, partition, lineage);
not-null from the contract's ``required`` flags (identifiers are nulled at landing for events
without analytics consent, so for them "required" means "present whenever consent was given");
closed sets from ``allowed``; per-event-type required fields from ``REQUIRED_BY_TYPE``; sensor
ranges from :mod:`expectations.ranges` keyed by the contract's units.

Relations across columns (event time against arrival and landing time, partition against
event time) are computed here as derived ``_chk_*`` columns in one vectorised polars pass and
asserted with plain GX column expectations, so their observed values (hours, days) show up in
the check metadata and the Data Docs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from expectations.model import Expectation, Severity, Suite, When, check_infos
from expectations.ranges import BINARY_VALUES, PHYSICAL_RANGES
from expectations.settings import LANDING_CLOCK_TOLERANCE_MINUTES, clock_ahead_hours, late_arrival_days
from lakehouse.contracts import Contract
from lakehouse.contracts.clickstream import REQUIRED_BY_TYPE
from lakehouse.contracts.sensors import BINARY_TYPES
from lakehouse.landing.schemas import IDENTIFIERS, LEDGER_TABLE, PARTITION_COLUMN, TABLES, bronze_schema

E = Severity.ERROR
#: bronze table name -> contract name ("clickstream_events" -> "clickstream")
CONTRACT_OF_TABLE: dict[str, str] = {table: name for name, (_, table) in TABLES.items()}
PSEUDONYM_REGEX = r"^[0-9a-f]{64}$"
LINEAGE_KEYS = ("_source_file", "_source_line")

# derived columns (added by prepare_bronze_frame)
ARRIVAL_LAG_DAYS = "_chk_arrival_lag_days"
AHEAD_OF_LANDING_HOURS = "_chk_occurred_ahead_of_landing_hours"
RECEIVED_AHEAD_MINUTES = "_chk_received_ahead_of_landing_minutes"
PARTITION_OK = "_chk_event_date_matches_occurred_at"
HAS_CONSENT = "_chk_has_analytics_consent"


def _pandas_type(dtype: pl.DataType) -> str:
    """The GX (pandas) type name a column of ``dtype`` has after :func:`expectations.frames.to_pandas`."""
    if dtype == pl.String:
        return "str"
    if isinstance(dtype, pl.Datetime):
        # tz-aware columns are pandas Timestamps; a naive one (np.datetime64) fails the check
        return "Timestamp" if dtype.time_zone else "datetime64"
    if dtype == pl.Date:
        return "datetime64"
    if dtype == pl.Boolean:
        return "bool"
    return str(dtype).lower()  # Int32 -> int32, Float64 -> float64


def derived_columns(contract_name: str) -> list[str]:
    """The ``_chk_*`` columns :func:`prepare_bronze_frame` adds for a contract."""
    cols = [ARRIVAL_LAG_DAYS, AHEAD_OF_LANDING_HOURS, PARTITION_OK]
    if contract_name == "clickstream":
        cols += [RECEIVED_AHEAD_MINUTES, HAS_CONSENT]
    return cols


def _schema_expectations(contract_name: str, contract: Contract) -> list[Expectation]:
    schema = bronze_schema(contract)
    exps = [
        Expectation(
            "columns",
            "schema_matches_contract",
            "ExpectTableColumnsToMatchSet",
            {"column_set": [*schema.names(), *derived_columns(contract_name)], "exact_match": True},
            "bronze holds exactly the contract's columns plus offset, partition and lineage",
        )
    ]
    exps += [
        Expectation(
            f"type:{name}",
            "schema_matches_contract",
            "ExpectColumnValuesToBeOfType",
            {"column": name, "type_": _pandas_type(dtype)},
            f"{name} is stored as {dtype} as the contract and bronze schema say",
        )
        for name, dtype in schema.items()
    ]
    return exps


def _not_null_expectations(contract_name: str, contract: Contract) -> list[Expectation]:
    consent_nulled = set(IDENTIFIERS[contract_name]) if contract_name == "clickstream" else set()
    exps: list[Expectation] = []
    for f in contract.fields:
        if not f.required:
            continue
        where = (When(HAS_CONSENT, "==", True),) if f.name in consent_nulled else ()
        exps.append(
            Expectation(
                f"not_null:{f.name}",
                "keys_not_null",
                "ExpectColumnValuesToNotBeNull",
                {"column": f.name},
                f"{f.name} is required by the contract"
                + (" (nulled only for events without analytics consent)" if where else ""),
                where=where,
            )
        )
    for name in (PARTITION_COLUMN, *LINEAGE_KEYS, "_landed_at", "_landing_run_id"):
        exps.append(
            Expectation(
                f"not_null:{name}",
                "keys_not_null",
                "ExpectColumnValuesToNotBeNull",
                {"column": name},
                "partition and lineage columns trace every row back to its file and landing run",
            )
        )
    return exps


def _allowed_expectations(contract: Contract) -> list[Expectation]:
    return [
        Expectation(
            f"in_set:{f.name}",
            "allowed_values",
            "ExpectColumnValuesToBeInSet",
            {"column": f.name, "value_set": list(f.allowed)},
            f"{f.name} is one of the contract's values",
        )
        for f in contract.fields
        if f.allowed
    ]


def _key_expectation(contract: Contract) -> Expectation:
    return Expectation(
        f"unique:{contract.key}",
        "key_unique_per_partition",
        "ExpectCompoundColumnsToBeUnique",
        {"column_list": [PARTITION_COLUMN, contract.key]},
        f"{contract.key} is unique within each {PARTITION_COLUMN} partition (landing de-duplicates re-deliveries)",
    )


def _time_expectations(contract_name: str) -> list[Expectation]:
    lag = late_arrival_days()
    ahead = clock_ahead_hours()
    exps = [
        Expectation(
            "arrival_within_late_window",
            "timestamps_plausible",
            "ExpectColumnValuesToBeBetween",
            {"column": ARRIVAL_LAG_DAYS, "min_value": -1, "max_value": lag},
            f"rows arrive at most {lag} days (dbt lookback_days) after the UTC day they occurred, and at "
            "most one day before it (clock skew): later rows are missed by incremental marts",
        ),
        Expectation(
            "not_in_future_of_landing",
            "timestamps_plausible",
            "ExpectColumnValuesToBeBetween",
            {"column": AHEAD_OF_LANDING_HOURS, "max_value": ahead},
            f"occurred_at is at most {ahead:g} h (contract MAX_CLOCK_AHEAD) after Beacon landed the row",
        ),
        Expectation(
            "partition_matches_event_time",
            "timestamps_plausible",
            "ExpectColumnValuesToBeInSet",
            {"column": PARTITION_OK, "value_set": [True]},
            f"{PARTITION_COLUMN} is the UTC date of occurred_at, or partition pruning returns wrong rows",
        ),
    ]
    if contract_name == "clickstream":
        exps.append(
            Expectation(
                "received_not_after_landing",
                "timestamps_plausible",
                "ExpectColumnValuesToBeBetween",
                {"column": RECEIVED_AHEAD_MINUTES, "max_value": LANDING_CLOCK_TOLERANCE_MINUTES},
                "the collector received every event before Beacon landed it (clock tolerance "
                f"{LANDING_CLOCK_TOLERANCE_MINUTES:g} min)",
            )
        )
    return exps


def _identifier_expectations(contract_name: str) -> list[Expectation]:
    exps = [
        Expectation(
            f"pseudonym:{name}",
            "identifiers_pseudonymised",
            "ExpectColumnValuesToMatchRegex",
            {"column": name, "regex": PSEUDONYM_REGEX},
            f"{name} holds an HMAC-SHA256 pseudonym (64 hex), never a raw identifier",
        )
        for name in IDENTIFIERS[contract_name]
    ]
    if contract_name == "clickstream":
        exps += [
            Expectation(
                f"null_without_consent:{name}",
                "identifiers_pseudonymised",
                "ExpectColumnValuesToBeNull",
                {"column": name},
                f"{name} is dropped for events without analytics consent",
                where=(When(HAS_CONSENT, "==", False),),
            )
            for name in IDENTIFIERS[contract_name]
        ]
    return exps


def _clickstream_value_expectations() -> list[Expectation]:
    by_field: dict[str, list[str]] = {}
    for event_type, names in REQUIRED_BY_TYPE.items():
        for name in names:
            by_field.setdefault(name, []).append(event_type)
    exps = [
        Expectation(
            f"required_for_type:{name}",
            "required_by_event_type",
            "ExpectColumnValuesToNotBeNull",
            {"column": name},
            f"{', '.join(types)} events carry {name} (contract REQUIRED_BY_TYPE)",
            where=(When("event_type", "in", types),),
        )
        for name, types in by_field.items()
    ]
    exps += [
        Expectation(
            "price_not_negative",
            "amounts_valid",
            "ExpectColumnValuesToBeBetween",
            {"column": "price", "min_value": 0},
            "unit prices are never negative (a refund is its own event type)",
        ),
        Expectation(
            "quantity_positive",
            "amounts_valid",
            "ExpectColumnValuesToBeBetween",
            {"column": "quantity", "min_value": 1},
            "cart, purchase and refund lines move at least one unit",
            where=(When("event_type", "in", by_field["quantity"]),),
        ),
        Expectation(
            "scroll_depth_percent",
            "amounts_valid",
            "ExpectColumnValuesToBeBetween",
            {"column": "scroll_depth_pct", "min_value": 0, "max_value": 100},
            "scroll depth is a percentage",
        ),
        Expectation(
            "engaged_seconds_not_negative",
            "amounts_valid",
            "ExpectColumnValuesToBeBetween",
            {"column": "engaged_seconds", "min_value": 0},
            "engaged time is never negative",
        ),
    ]
    return exps


def _sensor_value_expectations() -> list[Expectation]:
    exps: list[Expectation] = []
    for (sensor_type, unit), (low, high) in PHYSICAL_RANGES.items():
        where = (When("sensor_type", "==", sensor_type), When("unit", "==", unit))
        if sensor_type in BINARY_TYPES:
            exps.append(
                Expectation(
                    f"binary:{sensor_type}",
                    "sensor_values_physical",
                    "ExpectColumnValuesToBeInSet",
                    {"column": "value", "value_set": list(BINARY_VALUES)},
                    f"{sensor_type} is a binary sensor: 0 or 1",
                    where=where,
                )
            )
            continue
        kwargs: dict[str, object] = {"column": "value"}
        if low is not None:
            kwargs["min_value"] = low
        if high is not None:
            kwargs["max_value"] = high
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        exps.append(
            Expectation(
                f"range:{sensor_type}:{unit}",
                "sensor_values_physical",
                "ExpectColumnValuesToBeBetween",
                kwargs,
                f"{sensor_type} in {unit} is physically within {lo}..{hi}",
                where=where,
            )
        )
    return exps


def bronze_suite(table: str) -> Suite:
    """The blocking suite of a bronze table (``clickstream_events`` or ``sensor_readings``)."""
    contract_name = CONTRACT_OF_TABLE[table]
    contract = TABLES[contract_name][0]
    exps = [
        *_schema_expectations(contract_name, contract),
        *_not_null_expectations(contract_name, contract),
        *_allowed_expectations(contract),
        _key_expectation(contract),
        *_time_expectations(contract_name),
        *_identifier_expectations(contract_name),
    ]
    checks = [
        ("schema_matches_contract", E, "columns and types are exactly the contract's bronze schema"),
        ("keys_not_null", E, "required contract fields, partition and lineage are never null"),
        ("allowed_values", E, "closed-set fields (event_type, sensor_type, unit, ...) hold allowed values"),
        ("key_unique_per_partition", E, f"{contract.key} is unique per {PARTITION_COLUMN} partition"),
        (
            "timestamps_plausible",
            E,
            "event time is not in the future of landing nor older than the late window",
        ),
        ("identifiers_pseudonymised", E, "identifiers are pseudonyms, and absent without consent"),
    ]
    if contract_name == "clickstream":
        exps += _clickstream_value_expectations()
        checks += [
            ("required_by_event_type", E, "each event type carries the fields it needs"),
            ("amounts_valid", E, "prices not negative, quantities positive, percentages in range"),
        ]
    else:
        exps += _sensor_value_expectations()
        checks += [("sensor_values_physical", E, "sensor values within physical ranges per type and unit")]
    return Suite(
        name=f"bronze_{table}",
        description=f"Bronze {table}: contract {contract.name} as landed (blocking).",
        expectations=tuple(exps),
        checks=check_infos(*checks),
        key_columns=(PARTITION_COLUMN, contract.key, *LINEAGE_KEYS),
        meta={"table": table, "contract": contract.name},
    )


_NATIVE_DELIVERY = r"^(?:clickstream|sensors)/(\d{4}-\d{2}-\d{2})/"


def _days_between(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days()


def prepare_bronze_frame(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Add the derived ``_chk_*`` columns the time and consent expectations assert on.

    Missing source columns give null derived columns (the schema check reports the missing
    column; nulls make no other expectation fail for the wrong reason).
    """
    contract_name = CONTRACT_OF_TABLE[table]
    cols = set(frame.columns)

    def have(*names: str) -> bool:
        return all(n in cols for n in names)

    null_f, null_b = pl.lit(None, pl.Float64), pl.lit(None, pl.Boolean)
    occurred_date = pl.col("occurred_at").dt.date()
    if contract_name == "clickstream":
        arrival = (
            _days_between(pl.col("received_at").dt.date(), pl.col(PARTITION_COLUMN)).cast(pl.Float64)
            if have("received_at", PARTITION_COLUMN)
            else null_f
        )
    else:
        # sensors carry no receive time: the delivery day is the landing folder's date (native
        # sources); imports carry history of any age and are not bound by the late window.
        delivery = pl.col("_source_file").str.extract(_NATIVE_DELIVERY, 1).str.to_date(strict=False)
        arrival = (
            _days_between(delivery, pl.col(PARTITION_COLUMN)).cast(pl.Float64)
            if have("_source_file", PARTITION_COLUMN)
            else null_f
        )
    derived = [
        arrival.alias(ARRIVAL_LAG_DAYS),
        (
            ((pl.col("occurred_at") - pl.col("_landed_at")).dt.total_microseconds() / 3.6e9)
            if have("occurred_at", "_landed_at")
            else null_f
        ).alias(AHEAD_OF_LANDING_HOURS),
        (
            (occurred_date == pl.col(PARTITION_COLUMN)) if have("occurred_at", PARTITION_COLUMN) else null_b
        ).alias(PARTITION_OK),
    ]
    if contract_name == "clickstream":
        derived += [
            (
                ((pl.col("received_at") - pl.col("_landed_at")).dt.total_microseconds() / 6e7)
                if have("received_at", "_landed_at")
                else null_f
            ).alias(RECEIVED_AHEAD_MINUTES),
            (pl.col("consent_analytics").fill_null(False) if have("consent_analytics") else null_b)
            .cast(pl.Boolean)
            .alias(HAS_CONSENT),
        ]
    return frame.with_columns(derived)


#: At most this many rows per GX batch (whole event_date partitions; a partition larger than this
#: is one batch on its own). Bounds memory when a range run validates weeks of deliveries.
MAX_BATCH_ROWS = 500_000


def delivery_days(window: tuple[dt.date, dt.date] | None) -> list[dt.date] | None:
    """Every day of the half-open window ``[start, end)``; None (the whole table) for None."""
    if window is None:
        return None
    start, end = window
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


def touched_partitions(root: Path, table: str, days: Sequence[dt.date] | None) -> list[dt.date]:
    """The ``event_date`` partitions holding rows landed from the files delivered on ``days``.

    Per the landing ledger; late events put a delivery's rows into older partitions, which are
    validated whole (so per-partition key uniqueness sees the earlier deliveries too). None: every
    partition of the table.
    """
    from lakehouse import storage

    path = root / "delta" / "bronze" / table
    if not storage.table_exists(path):
        return []
    if days is None:
        files = pl.from_arrow(storage.active_files(path))
        assert isinstance(files, pl.DataFrame)
        column = f"partition.{PARTITION_COLUMN}"
        if files.height == 0 or column not in files.columns:
            return []
        return sorted(files[column].cast(pl.Date).unique().drop_nulls().to_list())
    ledger_path = root / "delta" / "bronze" / LEDGER_TABLE
    if not days or not storage.table_exists(ledger_path):
        return []
    sources = storage.read_table(
        ledger_path,
        columns=["source_file"],
        filters=[
            ("delivery_date", "in", list(days)),
            ("table_name", "=", table),
            ("status", "=", "landed"),
        ],
    )["source_file"].to_pylist()
    if not sources:
        return []
    touched = storage.read_table(path, columns=[PARTITION_COLUMN], filters=[("_source_file", "in", sources)])
    return sorted(d for d in set(touched[PARTITION_COLUMN].to_pylist()) if d is not None)


def partition_batches(root: Path, table: str, partitions: Sequence[dt.date]) -> list[list[dt.date]]:
    """``partitions`` grouped into batches of at most :data:`MAX_BATCH_ROWS` rows (Delta file stats)."""
    from lakehouse import storage

    if not partitions:
        return []
    files = pl.from_arrow(storage.active_files(root / "delta" / "bronze" / table))
    assert isinstance(files, pl.DataFrame)
    rows = dict(
        files.group_by(pl.col(f"partition.{PARTITION_COLUMN}").cast(pl.Date).alias("p"))
        .agg(pl.col("num_records").sum())
        .iter_rows()
    )
    batches: list[list[dt.date]] = [[]]
    size = 0
    for p in sorted(partitions):
        n = int(rows.get(p) or 0)
        if batches[-1] and size + n > MAX_BATCH_ROWS:
            batches.append([])
            size = 0
        batches[-1].append(p)
        size += n
    return batches


def load_bronze_batches(
    root: Path, table: str, days: Sequence[dt.date] | None
) -> Iterator[tuple[list[dt.date], pl.DataFrame]]:
    """(partitions, rows) batches of what a check over delivery ``days`` (None: the whole table) reads."""
    path = root / "delta" / "bronze" / table
    for batch in partition_batches(root, table, touched_partitions(root, table, days)):
        yield batch, _read(path, [(PARTITION_COLUMN, "in", batch)])


def empty_bronze_frame(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=bronze_schema(TABLES[CONTRACT_OF_TABLE[table]][0]))


def load_bronze_delivery(root: Path, table: str, delivery_date: dt.date | None) -> pl.DataFrame:
    """Every row a check of ONE delivery day (or the whole table when None) looks at, in one frame.

    The rows landed from that day's files (per the landing ledger) may fall into several
    ``event_date`` partitions (late events); every partition they touched is read whole.
    """
    days = None if delivery_date is None else [delivery_date]
    frames = [frame for _, frame in load_bronze_batches(root, table, days)]
    return pl.concat(frames) if frames else empty_bronze_frame(table)


def _read(path: Path, filters: list[tuple[str, str, object]] | None = None) -> pl.DataFrame:
    from lakehouse import storage

    frame = pl.from_arrow(storage.read_table(path, filters=filters))
    assert isinstance(frame, pl.DataFrame)
    return frame
