"""Names and values as printed: never raw, never altered.

A job name or an input value can hold anything a file name can: terminal
escapes (``\\x1b[2J`` clears the screen), newlines, bytes that are not UTF-8
(kept as surrogate escapes). Printed raw, they act on the terminal; stripped
(as ``click.echo`` does to escapes when piped), the printed text names a
different job. So such text is printed as a shell word that reads back as
exactly itself: ``$'x\\e[2Jy'`` (bash, zsh and ksh read it).

    >>> shell_word("data.log"), shell_word("my photo.jpg"), shell_word("x\\x1b[2Jy")
    ('data.log', "'my photo.jpg'", "$'x\\\\e[2Jy'")
    >>> shown("compress a.log"), shown("z\\udce9.log")
    ('compress a.log', "$'z\\\\xe9.log'")
"""

from __future__ import annotations

import re
import shlex

__all__ = ["duration_text", "plural", "printable", "shell_word", "shown"]

#: C0 and C1 controls, DEL, surrogate escapes (bytes that were not UTF-8),
#: and the Unicode line and paragraph separators a terminal may act on.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]")
#: C0 and C1 control characters and DEL (for ``printable``).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e", "\\": "\\\\", "'": "\\'"}


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    # Byte escapes read the same in every locale: a character's UTF-8 bytes,
    # a byte that was not UTF-8 (a surrogate escape) as that byte.
    return "".join(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogateescape"))


def shell_word(text: str) -> str:
    """``text`` as one shell word: ``shlex.quote`` when it is printable,
    else ANSI-C quoting (``$'...'``) with every unprintable character escaped."""
    if not _UNPRINTABLE.search(text):
        return shlex.quote(text)
    return "$'" + re.sub(r"[\\']|" + _UNPRINTABLE.pattern, lambda found: _escape(found[0]), text) + "'"


def shown(text: str) -> str:
    """``text`` for a line of output: as it is when printable, else as a shell word."""
    return text if not _UNPRINTABLE.search(text) else shell_word(text)


def printable(text: str) -> str:
    r"""``text`` with control characters shown as escapes, for a terminal
    (a job's stderr or error: not a name, so Python's escapes suffice).

    >>> printable("evil\x1b[2J\nname")
    'evil\\x1b[2J\\nname'
    """
    return _CONTROL.sub(lambda found: repr(found[0])[1:-1], text)


def plural(count: int, word: str) -> str:
    """``1 job``, ``2 jobs``, ``0 results``.

    >>> plural(1, "job"), plural(2, "result")
    ('1 job', '2 results')
    """
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def duration_text(seconds: float) -> str:
    """A duration as people read it: ``0.4s``, ``42s``, ``1m20s``, ``2h05m``.

    >>> duration_text(0.043), duration_text(0.43), duration_text(42.2), duration_text(80), duration_text(7500)
    ('43ms', '0.4s', '42s', '1m20s', '2h05m')
    """
    if seconds < 0.1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
