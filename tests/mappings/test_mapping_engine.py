"""The mapping engine on small hand-written exports: CSV quirks, DST, value maps, skip rules,
melting, JSON lines, and streaming across block and chunk boundaries."""

from __future__ import annotations

import gzip
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from lakehouse.contracts import CONTRACTS, validate_frame
from lakehouse.mappings import MappedChunk, SourceMapping, load_mapping, readers


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.write_bytes(textwrap.dedent(text).lstrip("\n").replace("\n", newline).encode("utf-8"))
    return path


def mapping(tmp_path: Path, body: str) -> SourceMapping:
    return load_mapping(write(tmp_path / "mapping.yaml", body))


def run(m: SourceMapping, path: Path, chunk_rows: int = 200_000) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    chunks: list[MappedChunk] = list(m.read(path, chunk_rows=chunk_rows))
    return (
        pl.concat([c.records for c in chunks]) if chunks else pl.DataFrame(),
        pl.concat([c.rejected for c in chunks]) if chunks else pl.DataFrame(),
        sum(c.skipped for c in chunks),
    )


ORDERS = """
name: shop_orders
contract: clickstream
timestamp: {format: "%d/%m/%Y %H:%M", timezone: Europe/London}
skip:
  - reason: test orders
    when: {any: [{column: note, matches: "(?i)^test"}, {column: qty, equals: "0"}]}
fields:
  event_id: {hash: [order, sku], prefix: "o-"}
  event_type:
    column: kind
    map: {buy: purchase, return: refund}
    unmapped: reject
  anonymous_id: {concat: ["order:", {column: order}]}
  user_id: {column: customer, cast: integer}
  occurred_at: {column: when}
  received_at: {column: when}
  order_id: {column: order}
  product_id: {column: sku}
  price: {column: price, cast: number, scale: 0.01}
  quantity: {column: qty, cast: integer, abs: true}
  currency: EUR
  consent_analytics: true
  consent_personalization: {column: consent, cast: boolean}
"""


def test_quoted_newlines_crlf_and_line_numbers(tmp_path: Path) -> None:
    m = mapping(tmp_path, ORDERS)
    data = write(
        tmp_path / "orders.csv",
        '''
        order,sku,note,kind,customer,when,price,qty,consent
        1,A,"two
        lines, with comma",buy,17.0,01/12/2010 08:26,250,2,yes
        2,B,"say ""hi""",return,,01/12/2010 09:00,100,-1,no
        3,C,plain,buy,5,01/12/2010 10:00,100,1,true
        ''',
        newline="\r\n",
    )
    records, rejected, skipped = run(m, data)
    assert rejected.height == 0 and skipped == 0
    assert records["_source_line"].to_list() == [2, 4, 5]
    assert records["_raw"][0] == '1,A,"two\r\nlines, with comma",buy,17.0,01/12/2010 08:26,250,2,yes'
    assert records["_raw"][1] == '2,B,"say ""hi""",return,,01/12/2010 09:00,100,-1,no'
    assert records["event_type"].to_list() == ["purchase", "refund", "purchase"]
    assert records["user_id"].to_list() == ["17", None, "5"]
    assert records["anonymous_id"].to_list() == ["order:1", "order:2", "order:3"]
    assert records["price"].to_list() == [2.5, 1.0, 1.0]
    assert records["quantity"].to_list() == [2, 1, 1]
    assert records["consent_personalization"].to_list() == [True, False, True]
    assert records["occurred_at"][0] == "2010-12-01T08:26:00+00:00"
    valid = validate_frame(CONTRACTS["clickstream"], records).collect()
    assert valid["_reasons"].list.len().sum() == 0


def test_streaming_across_tiny_blocks_matches_one_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = mapping(tmp_path, ORDERS)
    lines = ["order,sku,note,kind,customer,when,price,qty,consent"]
    for i in range(40):
        note = f'"note {i}\nsecond line, {i}"' if i % 3 == 0 else f"n{i}"
        lines.append(f"{i},S{i},{note},buy,{i},01/12/2010 08:{i:02d},100,1,true")
    data = tmp_path / "orders.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    whole, _, _ = run(m, data)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 97)  # blocks end inside quoted fields
    streamed_chunks = list(m.read(data, chunk_rows=4))
    streamed = pl.concat([c.records for c in streamed_chunks])
    assert len(streamed_chunks) > 10 and max(c.records.height for c in streamed_chunks) <= 4
    assert whole.height == 40
    assert streamed.equals(whole)
    expected_lines, line = [], 2
    for i in range(40):
        expected_lines.append(line)
        line += 2 if i % 3 == 0 else 1
    assert whole["_source_line"].to_list() == expected_lines


def test_rejects_name_the_line_and_the_problem(tmp_path: Path) -> None:
    m = mapping(tmp_path, ORDERS)
    data = write(
        tmp_path / "orders.csv",
        """
        order,sku,note,kind,customer,when,price,qty,consent
        1,A,ok,buy,17,01/12/2010 08:26,250,2,yes
        2,B,ok,buy,17,01/12/2010 08:26,abc,2,yes
        3,C,ok,buy,17,01/12/2010 08:26,250,2,yes,EXTRA
        4,D,ok,swap,17,2010-12-01,250,2.5,yes

        5,E,test order,buy,17,01/12/2010 08:26,250,2,yes
        6,F,ok,buy,17,01/12/2010 08:26,250,0,yes
        7,G,"never closed,buy,17,01/12/2010 08:26,250,2,yes
        """,
    )
    records, rejected, skipped = run(m, data)
    assert records["_source_line"].to_list() == [2]
    assert skipped == 2  # lines 7 and 8: declared skips, not rejects; the blank line 6 is no record
    reasons = dict(zip(rejected["_source_line"], rejected["reason"], strict=True))
    assert set(reasons) == {3, 4, 5, 9}
    assert "cast_failed[price]: column price value 'abc' is not a number" in reasons[3]
    assert reasons[4] == "wrong_field_count[record]: expected 9 fields as in the header, found 10"
    assert "unmapped_value[event_type]: column kind value 'swap'" in reasons[5]
    assert "bad_timestamp[when]: '2010-12-01' does not match the format '%d/%m/%Y %H:%M'" in reasons[5]
    assert "cast_failed[quantity]: column qty value '2.5' is not an integer" in reasons[5]
    assert "quoted field is never closed" in reasons[9]
    assert (
        rejected.filter(pl.col("_source_line") == 4)["_raw"].item()
        == "3,C,ok,buy,17,01/12/2010 08:26,250,2,yes,EXTRA"
    )
    assert records.height + rejected.height + skipped == 7  # data records (the blank line is not one)


DST = """
name: dst_check
contract: clickstream
timestamp: {format: "%Y-%m-%d %H:%M:%S", timezone: Europe/London, ambiguous: AMBIGUOUS}
fields:
  event_id: {column: id}
  event_type: page_view
  anonymous_id: a-1
  occurred_at: {column: t}
  received_at: {column: t}
  page_url: https://shop.example/
  consent_analytics: true
  consent_personalization: false
"""


@pytest.mark.parametrize(
    ("policy", "ambiguous_value"),
    [("earliest", "2011-10-30T01:30:00+01:00"), ("latest", "2011-10-30T01:30:00+00:00"), ("reject", None)],
)
def test_naive_local_times_follow_dst(tmp_path: Path, policy: str, ambiguous_value: str | None) -> None:
    m = mapping(tmp_path, DST.replace("AMBIGUOUS", policy))
    data = write(
        tmp_path / "t.csv",
        """
        id,t
        winter,2011-01-15 12:00:00
        summer,2011-07-01 10:00:00
        gap,2011-03-27 01:30:00
        twice,2011-10-30 01:30:00
        """,
    )
    records, rejected, _ = run(m, data)
    got = dict(zip(records["event_id"], records["occurred_at"], strict=True))
    assert got["winter"] == "2011-01-15T12:00:00+00:00"
    assert got["summer"] == "2011-07-01T10:00:00+01:00"
    reasons = dict(zip(rejected["_source_line"], rejected["reason"], strict=True))
    assert "does not exist in Europe/London" in reasons[4]
    if ambiguous_value is None:
        assert "happened twice" in reasons[5]
    else:
        assert got["twice"] == ambiguous_value
    typed = validate_frame(CONTRACTS["clickstream"], records).collect()
    summer = typed.filter(pl.col("event_id") == "summer")
    assert summer["occurred_at"].item() == datetime(2011, 7, 1, 9, 0, tzinfo=UTC)
    assert summer["tz_offset_minutes"].item() == 60


def test_value_map_policies_and_conditions(tmp_path: Path) -> None:
    m = mapping(
        tmp_path,
        """
        name: conditions
        contract: clickstream
        skip:
          - reason: internal traffic
            when: {all: [{column: ip, starts_with: "10."}, {not: {column: page, in: [/checkout]}}]}
          - reason: bots
            when: {column: score, gt: 0.9}
        fields:
          event_id: {column: id}
          event_type: page_view
          anonymous_id: {column: cookie}
          occurred_at: {column: ts}
          received_at: {column: ts}
          page_url: {concat: ["https://shop.example", {column: page}]}
          device_type: {column: device, map: {Phone: mobile, PC: desktop}, default: other}
          country: {column: cc, map: {UK: GB}, unmapped: keep}
          category: {column: page, map: {/checkout: checkout}}
          referrer:
            when:
              - {if: {column: ref, is_empty: true}, then: null}
              - {if: {column: ref, ends_with: ".google.com"}, then: "https://www.google.com/"}
            else: {column: ref}
          consent_analytics: true
          consent_personalization: true
        """,
    )
    data = write(
        tmp_path / "v.csv",
        """
        id,cookie,ts,page,device,cc,ip,score,ref
        e1,c1,2026-01-05T10:00:00+01:00,/checkout,Phone,UK,10.0.0.1,0.1,
        e2,c2,2026-01-05T10:00:00Z,/home,Fridge,DE,10.0.0.2,0.1,www.google.com
        e3,c3,2026-01-05 10:00:00+02:00,/home,PC,FR,8.8.8.8,0.95,x
        e4,c4,2026-01-05T10:00:00.250+01:00,/p/1,,,192.168.0.1,,https://news.example/
        """,
    )
    records, rejected, skipped = run(m, data)
    assert rejected.height == 0 and skipped == 2  # e2 (internal, not checkout) and e3 (bot score)
    rows = {r["event_id"]: r for r in records.iter_rows(named=True)}
    assert set(rows) == {"e1", "e4"}
    assert (rows["e1"]["device_type"], rows["e1"]["country"], rows["e1"]["category"]) == (
        "mobile",
        "GB",
        "checkout",
    )
    assert (rows["e4"]["device_type"], rows["e4"]["country"], rows["e4"]["category"]) == ("other", None, None)
    assert rows["e1"]["page_url"] == "https://shop.example/checkout" and rows["e1"]["referrer"] is None
    assert rows["e4"]["referrer"] == "https://news.example/"
    assert rows["e4"]["occurred_at"] == "2026-01-05T10:00:00.250+01:00"  # iso8601 with offset passes through
    typed = validate_frame(CONTRACTS["clickstream"], records).collect()
    assert typed["_reasons"].list.len().sum() == 0


def test_jsonl_export_with_nested_keys_and_epoch_times(tmp_path: Path) -> None:
    m = mapping(
        tmp_path,
        """
        name: app_events
        contract: clickstream
        source: {format: jsonl}
        timestamp: {format: epoch_ms}
        identifiers: [order_id]
        fields:
          event_id: {column: messageId}
          event_type:
            column: event
            map: {"Product Viewed": product_view, "Order Completed": purchase}
          user_id: {column: userId}
          anonymous_id: {column: anonymousId}
          occurred_at: {column: timestamp}
          received_at: {column: receivedAt, format: iso8601}
          product_id: {column: properties.product_id}
          price: {column: properties.price}
          quantity: {column: properties.quantity}
          currency: {column: properties.currency}
          order_id: {column: properties.order_id}
          device_type: {column: context.device.type}
          consent_analytics: {column: consent.analytics}
          consent_personalization: {column: consent.personalization}
        """,
    )
    assert m.file_glob == "*.jsonl"
    assert m.identifiers == ("user_id", "anonymous_id", "order_id")
    assert m.identifier_source_columns["anonymous_id"] == ["anonymousId"]
    lines = [
        '{"messageId": "m1", "event": "Product Viewed", "userId": null, "anonymousId": "a1", "timestamp": 1767607200000,'
        ' "receivedAt": "2026-01-05T10:00:01Z", "properties": {"product_id": "sku-1"}, "context": {"device": {"type": "mobile"}},'
        ' "consent": {"analytics": true, "personalization": false}}',
        "",
        '{"messageId": "m2", "event": "Order Completed", "userId": "u7", "anonymousId": "a1", "timestamp": 1767607260500,'
        ' "receivedAt": "2026-01-05T10:01:01Z", "properties": {"product_id": "sku-1", "price": 12.5, "quantity": 2,'
        ' "currency": "EUR", "order_id": "o-1"}, "consent": {"analytics": true, "personalization": true}}',
        '{"messageId": "m3", "event": "Product Viewed", "anonymousId": "a2", "timestamp": "soon"}',
        "not json at all",
    ]
    data = tmp_path / "events.jsonl.gz"
    with gzip.open(data, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    records, rejected, skipped = run(m, data)
    assert skipped == 0
    assert records["_source_line"].to_list() == [1, 3]
    assert records["_raw"][1] == lines[2]
    assert records["occurred_at"].to_list() == ["2026-01-05T10:00:00+00:00", "2026-01-05T10:01:00.500+00:00"]
    assert records["price"].to_list() == [None, 12.5] and records["quantity"].to_list() == [None, 2]
    assert records["event_type"].to_list() == ["product_view", "purchase"]
    assert records["device_type"].to_list() == ["mobile", None]
    assert records["consent_personalization"].to_list() == [False, True]
    reasons = dict(zip(rejected["_source_line"], rejected["reason"], strict=True))
    assert set(reasons) == {4, 5}
    assert "bad_timestamp[timestamp]: 'soon' is not a epoch_ms number" in reasons[4]
    assert reasons[5] == "bad_json[record]: the line is not a JSON object"
    typed = validate_frame(CONTRACTS["clickstream"], records).collect()
    assert typed["_reasons"].list.len().sum() == 0


def test_headerless_csv_with_preamble_and_melt(tmp_path: Path) -> None:
    m = mapping(
        tmp_path,
        """
        name: plug_log
        contract: sensors
        source: {delimiter: ";", skip_lines: 2, header: false, column_names: [stamp, plug_dW, temp, spare]}
        timestamp: {format: "%d.%m.%Y %H:%M", timezone: Europe/Berlin}
        melt:
          defaults: {room: kitchen, device_id: "smart_plug-{column}"}
          columns:
            plug_dW: {sensor_type: power, unit: W, scale: 0.1}
            temp: {sensor_type: temperature, unit: C, device_id: thermostat-00a1b2}
          ignore: [spare]
          empty: skip
        fields:
          reading_id: {hash: [stamp, _melt_column]}
          home_id: h-1
          occurred_at: {column: stamp}
        """,
    )
    data = write(
        tmp_path / "log.csv",
        """
        exported by PlugApp v2
        ; generated 2026-01-05
        05.01.2026 07:10;1234;21,5;x
        05.01.2026 07:20;;20.5;x
        05.01.2026 07:30;99;warm;x
        """,
    )
    records, rejected, skipped = run(m, data)
    assert skipped == 1  # the empty plug cell on line 4
    assert records.select("_source_line", "device_id", "value").rows() == [
        (3, "smart_plug-plug_dW", 123.4),
        (4, "thermostat-00a1b2", 20.5),
        (5, "smart_plug-plug_dW", 9.9),
    ]
    reasons = dict(zip(rejected["_source_line"], rejected["reason"], strict=True))
    assert reasons == {
        3: "cast_failed[value]: column temp value '21,5' is not a number",
        5: "cast_failed[value]: column temp value 'warm' is not a number",
    }
    assert records.height + rejected.height + skipped == 3 * 2  # lines x melted columns
    assert records["occurred_at"][0] == "2026-01-05T07:10:00+01:00"
    assert records["reading_id"].n_unique() == 3
    typed = validate_frame(CONTRACTS["sensors"], records).collect()
    assert typed["_reasons"].list.len().sum() == 0


def test_wrong_field_count_in_a_melted_log_rejects_each_reading(tmp_path: Path) -> None:
    m = mapping(
        tmp_path,
        """
        name: wide
        contract: sensors
        timestamp: {format: "%Y-%m-%d %H:%M", timezone: UTC}
        melt:
          defaults: {sensor_type: temperature, unit: C, room: hall, device_id: "thermostat-{column}"}
          columns: {a: {}, b: {}}
        fields:
          reading_id: {hash: [t, _melt_column]}
          home_id: h-1
          occurred_at: {column: t}
        """,
    )
    data = write(tmp_path / "w.csv", "t,a,b\n2026-01-05 07:10,1,2\n2026-01-05 07:20,1\n")
    records, rejected, skipped = run(m, data)
    assert records.height == 2 and skipped == 0
    assert rejected["reason"].to_list() == [
        "wrong_field_count[record]: expected 3 fields as in the header, found 2 (reading a)",
        "wrong_field_count[record]: expected 3 fields as in the header, found 2 (reading b)",
    ]
    assert (rejected["_source_line"] == 3).all()


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    m = mapping(tmp_path, DST.replace("AMBIGUOUS", "earliest"))
    assert list(m.read(write(tmp_path / "e.csv", ""))) == []
    header_only = list(m.read(write(tmp_path / "h.csv", "id,t\n")))
    assert header_only == []
