"""Line splitting inflates gzip in Rust without losing, merging or inventing a line."""

from __future__ import annotations

import gzip

import pytest

from lakehouse.landing.readers import RAW, split_lines


@pytest.mark.parametrize("gzipped", [False, True])
def test_every_physical_line_is_kept_in_order(gzipped: bool) -> None:
    text = b'{"a": 1}\r\n\n  \nb\x00c\n\xff\xfe broken utf8\nlast without newline'
    data = gzip.compress(text) if gzipped else text
    lines = split_lines(data)
    assert lines["_source_line"].to_list() == [1, 2, 3, 4, 5, 6]
    assert lines[RAW].to_list() == [
        '{"a": 1}',
        "",
        "  ",
        "b\x00c",
        "\ufffd\ufffd broken utf8",
        "last without newline",
    ]


def test_multi_member_gzip_and_empty_inputs() -> None:
    assert split_lines(gzip.compress(b"a\n") + gzip.compress(b"b\nc\n"))[RAW].to_list() == ["a", "b", "c"]
    assert split_lines(gzip.compress(b"")).height == 0 and split_lines(b"").height == 0


@pytest.mark.parametrize("damage", ["truncated", "crc", "size"])
def test_damaged_gzip_is_refused_not_read_in_part(damage: str) -> None:
    data = bytearray(gzip.compress(b'{"event_id": "e1"}\n' * 5000))
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[-6 if damage == "crc" else -2] ^= 0xFF
    with pytest.raises(ValueError, match="gzip stream is corrupt or truncated"):
        split_lines(bytes(data))
