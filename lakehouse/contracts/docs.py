"""Render the contracts as Markdown (``docs/contracts.md``), so the docs cannot drift from the code.

``python -m lakehouse.contracts.docs > docs/contracts.md`` regenerates it; a test fails when the
committed file differs from what the code renders.
"""

from __future__ import annotations

import polars as pl

from lakehouse.contracts import CONTRACTS
from lakehouse.contracts.clickstream import REQUIRED_BY_TYPE
from lakehouse.contracts.model import Contract, _type_name
from lakehouse.contracts.sensors import UNITS


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def render_contract(contract: Contract) -> str:
    lines = [
        f"## `{contract.name}`",
        "",
        contract.description,
        "",
        f"Key: `{contract.key}` (duplicates are re-deliveries and are dropped at landing). "
        f"Event time: `{contract.time_field}`. Names follow: {contract.spec_name}.",
        "",
        "| field | type | required | allowed values | spec name | example | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in contract.fields:
        allowed = ", ".join(f.allowed) if f.allowed else ""
        dtype = "timestamp (UTC)" if f.dtype == pl.Datetime("us", "UTC") else _type_name(f)
        lines.append(
            f"| `{f.name}` | {dtype} | {'yes' if f.required else ''} | {_cell(allowed)} | {_cell(f.spec)} "
            f"| {_cell(f.example)} | {_cell(f.description)} |"
        )
    lines += ["", "Rules across fields (a record breaking any is quarantined with the reason):", ""]
    for r in contract.rules:
        text = r.doc or (r.message if isinstance(r.message, str) else "")
        lines.append(f"- `{r.code}[{r.field}]`: {text}")
    return "\n".join(lines)


def render() -> str:
    parts = [
        "# Beacon data contracts",
        "",
        "Generated from `lakehouse/contracts/` by `make docs`; do not edit by hand.",
        "",
        "Every record is validated by the same code at landing (vectorised) and one at a time "
        "(`lakehouse.contracts.validate_record`). A violation reads `code[field]: message` and names the value.",
        "Codes: `missing_field`, `wrong_type`, `not_allowed`, `out_of_range`, `bad_format`, `incomplete_pair`, "
        "`impossible_timestamp`, `unit_mismatch`. Timestamps must carry an explicit UTC offset; keys outside the "
        "contract are ignored.",
        "",
    ]
    for contract in CONTRACTS.values():
        parts += [render_contract(contract), ""]
    parts += ["### Fields each event type must carry", "", "| event_type | required fields |", "|---|---|"]
    parts += [f"| `{t}` | {', '.join(f'`{n}`' for n in names)} |" for t, names in REQUIRED_BY_TYPE.items()]
    parts += ["", "### Units per sensor type", "", "| sensor_type | units |", "|---|---|"]
    parts += [f"| `{t}` | {', '.join(units)} |" for t, units in UNITS.items()]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(render(), end="")
