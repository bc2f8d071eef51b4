"""Make-format dependency files (``gcc -MMD -MF x.d``, as ninja reads them):
the prerequisites they list.

    >>> prerequisites("x.o: x.c inc/a\\\\ b.h \\\\\\n  inc/c.h\\ninc/c.h:\\n")
    ['x.c', 'inc/a b.h', 'inc/c.h']
"""

from __future__ import annotations

import re

__all__ = ["MAX_DEPFILE_BYTES", "prerequisites", "read_prerequisites"]

#: A dependency file larger than this is not read (it cannot be one a
#: compiler wrote; the job then is not up to date).
MAX_DEPFILE_BYTES = 16 << 20

#: A rule's colon: followed by blank or the end of the line (``C:\\x`` has none).
_RULE = re.compile(r":(?=\s|$)")


def prerequisites(text: str) -> list[str]:
    """The prerequisites of every rule in ``text``, in order, each once."""
    text = text.replace("\\\r\n", " ").replace("\\\n", " ")
    found: dict[str, None] = {}
    for line in text.splitlines():
        rule = _RULE.search(_unescaped_positions(line))
        if rule is None:
            continue
        for word in _words(line[rule.end():]):
            found.setdefault(word)
    return list(found)


def read_prerequisites(path: str) -> list[str] | None:
    """The prerequisites the dependency file at ``path`` lists; None if it is
    missing, unreadable or too large (then nothing is known: not up to date)."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_DEPFILE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_DEPFILE_BYTES:
        return None
    return prerequisites(data.decode("utf-8", "surrogateescape"))


def _unescaped_positions(line: str) -> str:
    """``line`` with escaped characters blanked out (same length), so an
    escaped colon or blank never looks like a rule's colon."""
    return re.sub(r"\\.", "__", line)


def _words(text: str) -> list[str]:
    words, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char if char in " \t#:\\" else "\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char.isspace():
            if current:
                words.append("".join(current).replace("$$", "$"))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current).replace("$$", "$"))
    return words
