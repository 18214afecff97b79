"""Polars/Arrow frames to the pandas frames GX validates, with types that keep their width.

Arrow's default pandas conversion turns a nullable int32 into float64 and strings into
objects, which would make every type expectation meaningless. Mapping to pandas' nullable
extension types keeps int32 as int32, float64 as float64, bool as bool and strings as ``str``;
UTC timestamps become tz-aware datetimes (a naive one would not pass as ``Timestamp``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd


def _types_mapper() -> dict[pa.DataType, object]:
    import pandas as pd

    return {
        pa.string(): pd.StringDtype(),
        pa.large_string(): pd.StringDtype(),
        pa.string_view(): pd.StringDtype(),
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.float32(): pd.Float32Dtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }


def to_pandas(frame: pl.DataFrame | pa.Table) -> pd.DataFrame:
    """The frame as pandas with width-preserving nullable dtypes and a 0..n-1 index.

    The positional index matters: GX reports failing rows by index, and the runner maps those
    positions back to the polars frame for the failing-row sample.
    """
    table = frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame
    mapper = _types_mapper()
    return table.to_pandas(types_mapper=mapper.get, date_as_object=False)
