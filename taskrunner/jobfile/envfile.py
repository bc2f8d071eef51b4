"""``env_file``: ``KEY=VALUE`` lines, as docker-compose and python-dotenv read them.

Blank lines and ``#`` comments are skipped; ``export KEY=VALUE`` is
accepted; a value may be single-quoted (taken literally), double-quoted
(``\\n``, ``\\t``, ``\\"`` and ``\\\\`` escapes) or bare (a `` #`` starts a
comment, surrounding blanks are dropped). Nothing is expanded: ``$HOME``
stays ``$HOME``. A line that is none of these is an error naming its
line. (A small parser rather than python-dotenv: the format is a dozen
rules, and dotenv's expansion of ``${VAR}`` is not wanted here.)

    >>> parse_env_text('export A=1\\nB="two words" # comment\\nC=\\'$HOME\\'\\n', "x.env")
    {'A': '1', 'B': 'two words', 'C': '$HOME'}
"""

from __future__ import annotations

import re

__all__ = ["MAX_ENV_FILE", "parse_env_text", "read_env_file"]

#: An env file larger than this is refused (one given by mistake).
MAX_ENV_FILE = 1 << 20

_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def read_env_file(path: str) -> dict[str, str]:
    """The variables of the file at ``path``; ``ValueError`` naming the file
    (and line) if it cannot be read or a line is not ``KEY=VALUE``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_ENV_FILE + 1)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_ENV_FILE:
        raise ValueError(f"{path} is larger than {MAX_ENV_FILE:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not valid UTF-8") from None
    return parse_env_text(text, path)


def parse_env_text(text: str, path: str) -> dict[str, str]:
    """The variables of env-file ``text`` (``path`` names it in errors)."""
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = _LINE.fullmatch(line)
        value = _value(found[2]) if found else None
        if found is None or value is None:
            raise ValueError(f"{path}:{number}: not a KEY=VALUE line: {line.strip()[:80]!r}")
        if "\0" in value:
            raise ValueError(f"{path}:{number}: contains a NUL character")
        env[found[1]] = value
    return env


def _value(raw: str) -> str | None:
    if raw[:1] == "'":
        end = raw.find("'", 1)
        return raw[1:end] if end > 0 and _only_comment(raw[end + 1:]) else None
    if raw[:1] == '"':
        out, i = [], 1
        while i < len(raw):
            char = raw[i]
            if char == "\\" and i + 1 < len(raw):
                out.append(_ESCAPES.get(raw[i + 1], "\\" + raw[i + 1]))
                i += 2
            elif char == '"':
                return "".join(out) if _only_comment(raw[i + 1:]) else None
            else:
                out.append(char)
                i += 1
        return None  # no closing quote
    comment = re.search(r"\s#", raw)
    return (raw[:comment.start()] if comment else raw).strip()


def _only_comment(rest: str) -> bool:
    rest = rest.strip()
    return not rest or rest.startswith("#")
