"""Where a key sits in a YAML document, so that messages about config files can name the line."""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def line_of(root: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """1-based line of the key (or list item) at `path` in a composed YAML tree (`yaml.compose`).

    Walks mapping keys (str parts) and sequence items (int parts); where the path leaves the document,
    the line of the nearest existing parent is returned, and None for an empty document.
    """
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    node, line = value_node, key_node.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
