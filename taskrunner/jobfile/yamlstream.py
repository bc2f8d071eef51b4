"""A job file's YAML composed one job at a time.

PyYAML composes a whole document into a node tree before anything reads it:
for a file that lists 100,000 jobs one by one that tree took some 175 MB (two
position marks and a dict per node), far more than the jobs made from it.
``compose_top`` composes the top-level mapping key by key and, when its last
key is ``jobs`` holding a list, hands out the list's items one at a time
(PyYAML's own Python composer over the C parser's events), so each job's
nodes can be read and dropped before the next is composed.

Whether ``jobs`` is the last key is known only at the end of the list. If
another key follows (``workers: 4`` after the jobs), the jobs were read
without it: the items' iterator raises ``ReadWhole`` and the caller reads the
file again, whole (``compose_whole``), as before.

    >>> root, items = compose_top(StreamLoader("defaults: {retries: 1}\\njobs:\\n  - {name: a}\\n  - {name: b}\\n"))
    >>> [key.value for key, _ in root.value], [item.value[0][1].value for item in items]
    (['defaults', 'jobs'], ['a', 'b'])
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.events import (
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from .yamlnodes import Loader

__all__ = ["ReadWhole", "StreamLoader", "compose_top", "compose_whole", "streamed_items"]


class ReadWhole(Exception):
    """A top-level key follows the jobs: read the file again, whole."""


class StreamLoader(Loader):
    """``Loader`` that can also compose one node at a time (the C parser's
    events, PyYAML's Python composer), and that notes the line of the first
    plain scalar YAML 1.1 would read otherwise."""

    # (Typed loosely: PyYAML's stubs know these only as Composer's.)
    compose_node: Any = Composer.compose_node
    compose_sequence_node: Any = Composer.compose_sequence_node
    compose_mapping_node: Any = Composer.compose_mapping_node

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.anchors: dict[str, yaml.Node] = {}
        #: The 0-based line of ``yaml11_spelling``'s first use, when composed here.
        self.yaml11_line: int | None = None

    def compose_scalar_node(self, anchor: str | None) -> yaml.ScalarNode:
        node: yaml.ScalarNode = Composer.compose_scalar_node(self, anchor)  # type: ignore[arg-type]
        if self.yaml11_spelling is not None and self.yaml11_line is None:
            self.yaml11_line = node.start_mark.line
        return node


def compose_whole(loader: Any) -> yaml.Node | None:
    """The document's root node, the whole tree composed at once (C speed)."""
    return loader.get_single_node()  # type: ignore[no-any-return]


def compose_top(loader: Any) -> tuple[yaml.Node | None, Iterator[yaml.Node]]:
    """The root node (None for an empty file) and the jobs' item nodes to
    compose one by one. Where they are streamed, the root's ``jobs`` value
    is an empty ``SequenceNode`` standing for the list (``streamed_items``
    says whether it has any); otherwise the root is whole and the iterator empty."""
    loader.get_event()  # the stream's start
    if loader.check_event(StreamEndEvent):
        loader.get_event()
        return None, iter(())
    document = loader.get_event()
    if not loader.check_event(MappingStartEvent):
        return _rest_of_document(loader, document, loader.compose_node(None, None)), iter(())
    start = loader.get_event()
    root = yaml.MappingNode(loader.DEFAULT_MAPPING_TAG, [], start.start_mark, None, flow_style=start.flow_style)
    if start.anchor is not None:
        loader.anchors[start.anchor] = root
    while not loader.check_event(MappingEndEvent):
        key = loader.compose_node(root, None)
        if isinstance(key, yaml.ScalarNode) and key.value == "jobs" and loader.check_event(SequenceStartEvent):
            items = loader.get_event()
            stand_in = _StreamedList(loader.DEFAULT_SEQUENCE_TAG, [], items.start_mark, None)
            stand_in.has_items = not loader.check_event(SequenceEndEvent)
            root.value.append((key, stand_in))
            return root, _items(loader, document, root)
        root.value.append((key, loader.compose_node(root, key)))
    loader.get_event()
    return _rest_of_document(loader, document, root), iter(())


class _StreamedList(yaml.SequenceNode):
    """The ``jobs`` list, its items composed later."""

    has_items = False


def streamed_items(node: yaml.Node) -> bool | None:
    """For the ``jobs`` stand-in: whether the list has items; None for any other node."""
    return node.has_items if isinstance(node, _StreamedList) else None


def _items(loader: Any, document: Any, root: yaml.Node) -> Iterator[yaml.Node]:
    while not loader.check_event(SequenceEndEvent):
        yield loader.compose_node(None, None)
    loader.get_event()
    if not loader.check_event(MappingEndEvent):
        raise ReadWhole
    loader.get_event()
    _rest_of_document(loader, document, root)


def _rest_of_document(loader: Any, document: Any, root: yaml.Node) -> yaml.Node:
    """Read past the document's end; refuse a second document, as ``get_single_node`` does."""
    if loader.check_event(DocumentEndEvent):
        loader.get_event()
    if not loader.check_event(StreamEndEvent):
        event = loader.get_event()
        raise ComposerError("expected a single document in the stream", document.start_mark,
                            "but found another document", event.start_mark)
    loader.get_event()
    return root
