"""Every class of mapping mistake is refused with a message naming the file, the key and the problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lakehouse.mappings import MappingError, load_mapping, shipped_mapping, shipped_names

BASE = """
name: my_export
contract: clickstream
timestamp: {format: "%Y-%m-%d %H:%M:%S", timezone: Europe/London}
fields:
  event_id: {hash: [InvoiceNo, _source_line]}
  event_type:
    when:
      - {if: {column: InvoiceNo, starts_with: C}, then: refund}
    else: purchase
  anonymous_id: {concat: ["invoice:", {column: InvoiceNo}]}
  occurred_at: {column: InvoiceDate}
  received_at: {column: InvoiceDate}
  order_id: {column: InvoiceNo}
  product_id: {column: StockCode}
  price: {column: UnitPrice, cast: number}
  quantity: {column: Quantity, cast: integer, abs: true}
  currency: GBP
  country: {column: Country, map: {United Kingdom: GB, Norway: NO}}
  consent_analytics: true
  consent_personalization: true
"""


def write_mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken_mapping.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> MappingError:
    path = write_mapping(tmp_path, text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    err = info.value
    assert str(path) in str(err) and err.file == str(path)
    assert " -> " in str(err)  # says what to do
    return err


def test_base_mapping_is_valid_and_yaml_one_point_two(tmp_path: Path) -> None:
    m = load_mapping(write_mapping(tmp_path, BASE))
    country = m.spec.fields["country"]
    assert country.mapping == {"United Kingdom": "GB", "Norway": "NO"}  # NO stays Norway, not False


CASES = [
    ("unknown top-level key", BASE + "colour: red\n", "colour", "unknown key 'colour'"),
    ("typo suggests the key", BASE.replace("timestamp:", "timestmp:"), "timestmp", "unknown key 'timestmp'"),
    (
        "missing required key",
        BASE.replace("contract: clickstream\n", ""),
        "contract",
        "required key is missing",
    ),
    (
        "unknown contract",
        BASE.replace("contract: clickstream", "contract: orders"),
        "contract",
        "unknown contract 'orders'",
    ),
    (
        "unknown contract field",
        BASE + "  prise: {column: UnitPrice}\n",
        "fields.prise",
        "'prise' is not a field of the clickstream_event contract",
    ),
    (
        "required field not mapped",
        BASE.replace('  anonymous_id: {concat: ["invoice:", {column: InvoiceNo}]}\n', ""),
        "fields.anonymous_id",
        "required by the clickstream_event contract but not mapped",
    ),
    (
        "unknown cast",
        BASE.replace("cast: number", "cast: float"),
        "fields.price.cast",
        "unknown cast 'float'",
    ),
    (
        "cast that cannot fill the field",
        BASE.replace("cast: number", "cast: timestamp"),
        "fields.price.cast",
        "a timestamp cannot fill this number field",
    ),
    (
        "bad timestamp directive",
        BASE.replace("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %Q"),
        "timestamp.format",
        "is not a usable timestamp format",
    ),
    (
        "timestamp format without a day",
        BASE.replace("%Y-%m-%d %H:%M:%S", "%H:%M:%S"),
        "timestamp.format",
        "does not spell out a full date and hour",
    ),
    (
        "naive format without timezone",
        BASE.replace(", timezone: Europe/London", ""),
        "timestamp.timezone",
        "timezone is required",
    ),
    (
        "unknown timezone",
        BASE.replace("Europe/London", "BST"),
        "timestamp.timezone",
        "unknown timezone 'BST'",
    ),
    (
        "value map outside the allowed set",
        BASE.replace("then: refund}", "then: refund}\n    else: {column: Kind, map: {A: buy}}").replace(
            "    else: purchase\n", ""
        ),
        "fields.event_type.else.map.A",
        "maps to 'buy', which the contract does not allow",
    ),
    (
        "constant outside the allowed set",
        BASE.replace("else: purchase", "else: order"),
        "fields.event_type.else",
        "value 'order' is not allowed by the contract",
    ),
    (
        "condition with two tests",
        BASE.replace("starts_with: C}", "starts_with: C, ends_with: X}"),
        "fields.event_type.when[0].if",
        "a condition needs exactly one test, found 2",
    ),
    (
        "unknown condition test",
        BASE.replace("starts_with: C}", "startswith: C}"),
        "fields.event_type.when[0].if.startswith",
        "unknown key 'startswith'",
    ),
    (
        "bad regular expression",
        BASE.replace("starts_with: C}", 'matches: "(C"}'),
        "fields.event_type.when[0].if.matches",
        "is not a valid regular expression",
    ),
    (
        "abs on text",
        BASE.replace("cast: integer, abs: true", "cast: string, abs: true"),
        "fields.quantity.abs",
        "abs needs a numeric value",
    ),
    (
        "cast that cannot fill an integer",
        BASE.replace("cast: integer, abs: true", "cast: boolean"),
        "fields.quantity.cast",
        "a boolean cannot fill this integer field",
    ),
    (
        "negate on text",
        BASE.replace("product_id: {column: StockCode}", "product_id: {column: StockCode, negate: true}"),
        "fields.product_id.negate",
        "negate needs a numeric value",
    ),
    (
        "hash nested in a value",
        BASE.replace("order_id: {column: InvoiceNo}", "order_id: {concat: [a, {hash: [x]}]}"),
        "fields.order_id.concat[1].hash",
        "hash can only be a field's whole value",
    ),
    (
        "melt outside the sensors contract",
        BASE + "melt: {columns: {T1: {sensor_type: temperature, unit: C, room: k, device_id: d}}}\n",
        "melt",
        "only applies to the sensors contract",
    ),
    (
        "identifier that is not a field",
        BASE + "identifiers: [email]\n",
        "identifiers[0]",
        "'email' is not a field of the clickstream contract",
    ),
    ("duplicate key", BASE + "  currency: EUR\n", "currency", "key appears twice"),
    ("invalid YAML", BASE + "  price: [unclosed\n", "(top level)", "not valid YAML at line"),
    (
        "unknown encoding",
        BASE + "source: {encoding: klingon}\n",
        "source.encoding",
        "unknown encoding 'klingon'",
    ),
    (
        "headerless CSV without names",
        BASE + "source: {header: false}\n",
        "source.column_names",
        "required when 'header: false'",
    ),
]


@pytest.mark.parametrize(("text", "key", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mapping_errors_name_file_key_and_problem(tmp_path: Path, text: str, key: str, problem: str) -> None:
    err = refused(tmp_path, text)
    assert err.key == key, str(err)
    assert problem in err.problem, str(err)
    assert f": {key}: " in str(err)


SENSOR = """
name: wide_log
contract: sensors
timestamp: {format: "%Y-%m-%d %H:%M", timezone: Europe/Brussels}
melt:
  defaults: {room: hall, device_id: "thermostat-{column}"}
  columns:
    T1: {sensor_type: temperature, unit: C}
fields:
  reading_id: {hash: [date, _melt_column]}
  home_id: h-1
  occurred_at: {column: date}
"""


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (
            SENSOR.replace("unit: C}", "unit: F}"),
            "melt.columns.T1.unit",
            "unit 'F' does not fit sensor type temperature",
        ),
        (
            SENSOR.replace("sensor_type: temperature", "sensor_type: temp"),
            "melt.columns.T1.sensor_type",
            "unknown sensor type 'temp'",
        ),
        (
            SENSOR.replace("  home_id: h-1\n", "  home_id: h-1\n  room: {column: where}\n"),
            "fields.room",
            "'room' is filled by melt",
        ),
        (SENSOR.replace("room: hall, ", ""), "melt.columns.T1.room", "required key is missing"),
    ],
)
def test_melt_errors(tmp_path: Path, text: str, key: str, problem: str) -> None:
    err = refused(tmp_path, text)
    assert err.key == key and problem in err.problem, str(err)


def test_column_missing_from_the_data_file_names_the_mapping_key(tmp_path: Path) -> None:
    m = load_mapping(write_mapping(tmp_path, BASE.replace("{column: UnitPrice", "{column: Unit_Price")))
    data = tmp_path / "export.csv"
    data.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n1,A,1,2010-12-01 08:00:00,1.0,EIRE\n"
    )
    with pytest.raises(MappingError) as info:
        next(iter(m.read(data)))
    err = info.value
    assert err.key == "fields.price.column"
    assert "column 'Unit_Price' is not in data file export.csv" in err.problem
    assert "did you mean 'UnitPrice'?" in err.hint
    assert "broken_mapping.yaml" in str(err)


def test_unaccounted_column_in_a_melted_file_is_refused(tmp_path: Path) -> None:
    m = load_mapping(write_mapping(tmp_path, SENSOR))
    data = tmp_path / "log.csv"
    data.write_text("date,T1,T2\n2026-01-05 07:10,20.5,19.0\n")
    with pytest.raises(MappingError) as info:
        list(m.read(data))
    assert info.value.key == "melt.ignore" and "neither melted nor read nor ignored: T2" in info.value.problem


def test_wrong_encoding_is_a_mapping_error_with_the_line(tmp_path: Path) -> None:
    m = load_mapping(write_mapping(tmp_path, BASE))
    data = tmp_path / "latin.csv"
    data.write_bytes(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n1,A,1,2010-12-01 08:00:00,1.0,Réunion\n".encode(
            "latin-1"
        )
    )
    with pytest.raises(MappingError) as info:
        list(m.read(data))
    assert info.value.key == "source.encoding" and "first bad byte on line 2" in info.value.problem


def test_shipped_mappings_are_listed_and_unknown_names_refused() -> None:
    assert shipped_names() == ["uci_appliances_energy", "uci_online_retail"]
    assert shipped_mapping("uci_online_retail").contract == "clickstream"
    assert shipped_mapping("uci_appliances_energy").file_glob == "*.csv"
    with pytest.raises(KeyError, match="uci_online_retail"):
        shipped_mapping("nope")
