"""A strict YAML loader for mapping files.

Mapping files are full of country codes and ids, and YAML 1.1 (PyYAML's default) silently turns
``NO`` (Norway), ``ON``, ``yes`` into booleans and ``2010-12-01`` into dates. That would break a
country map without any error, so this loader follows YAML 1.2's core schema for booleans (only
``true``/``false``), keeps dates as text, and refuses duplicate keys (which PyYAML would
otherwise resolve by keeping the last one, hiding a typo).
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class DuplicateKeyError(yaml.YAMLError):
    """The same key appears twice in one mapping node."""

    def __init__(self, key: object, line: int) -> None:
        self.key = key
        self.line = line
        super().__init__(f"key {key!r} appears twice (second time on line {line})")


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise DuplicateKeyError(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# Drop YAML 1.1's bool (yes/no/on/off) and timestamp resolvers; add YAML 1.2 booleans back.
_StrictLoader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """Parse one YAML document with the strict rules above."""
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: builds plain data only
