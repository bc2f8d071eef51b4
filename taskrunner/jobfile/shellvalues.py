"""Matrix values in a shell string: data, never code, in every quoting context.

A ``{x}`` placeholder in a ``run`` string is replaced according to where it
stands, found by a scan of the shell syntax around it (``shellscan``, which
fails closed: a placeholder whose context it cannot prove is refused with
``UnsafePlaceholder`` when the file is loaded):

- unquoted (also inside ``$(…)``): the value as one single-quoted word
  (``quote``; a plain value such as ``data.log`` stays as it is, so the
  command may still run without a shell);
- inside ``"…"`` or an unquoted heredoc body: ``${TASKRUNNER_MATRIX_x}``;
- inside ``'…'``: ``'"${TASKRUNNER_MATRIX_x}"'`` (close, expand quoted, reopen);
- inside backticks: ``"${TASKRUNNER_MATRIX_x}"`` (backslashes are special there);
- inside a quoted heredoc (``<<'EOF'``): the heredoc is made unquoted, its
  own text escaped (``$``, backticks, backslashes) so it still means the
  same, and the value is a reference as above.

The values referenced this way are put in the job's environment as
``TASKRUNNER_MATRIX_<variable>``: the shell expands a variable's text but
never interprets it again, so ``$(…)``, backticks, quotes, backslashes, globs
and newlines in a value all arrive as themselves.

    >>> import re
    >>> fill = lambda text, v: ShellTemplate(text, re.compile(r"\\{(x)\\}")).fill({"x": v})
    >>> fill("echo {x}", "a b")
    ("echo 'a b'", {})
    >>> fill('echo "{x}"', "$(touch PWN)")
    ('echo "${TASKRUNNER_MATRIX_x}"', {'TASKRUNNER_MATRIX_x': '$(touch PWN)'})
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from .shellscan import Quoted, UnsafePlaceholder, scan

__all__ = ["ENV_PREFIX", "ShellTemplate", "UnsafePlaceholder", "env_name"]

ENV_PREFIX = "TASKRUNNER_MATRIX_"
#: The variable behind each replacement form (``{x.}`` and so on, see
#: ``matrix``). Prefixes differ before the variable's name, so no two
#: placeholders of different variables share one.
_FORM_PREFIX = {"": ENV_PREFIX, ".": "TASKRUNNER_NOEXT_", "/": "TASKRUNNER_BASENAME_",
                "//": "TASKRUNNER_DIRNAME_", "/.": "TASKRUNNER_BASENOEXT_"}
#: Placeholders whose value the worker sets in the job's environment itself.
_RUNTIME = {"%": "TASKRUNNER_SLOT"}


def env_name(key: str) -> str:
    """The environment variable a placeholder's value travels in.

    >>> env_name("x"), env_name("x/."), env_name("#"), env_name("%")
    ('TASKRUNNER_MATRIX_x', 'TASKRUNNER_BASENOEXT_x', 'TASKRUNNER_SEQ', 'TASKRUNNER_SLOT')
    """
    if key in _RUNTIME:
        return _RUNTIME[key]
    if key == "#":
        return "TASKRUNNER_SEQ"
    name = key.rstrip("./")
    return _FORM_PREFIX[key[len(name):]] + name

#: Values left unquoted: no character here means anything to sh or bash in a
#: word (``shlex.quote``'s set without ``,`` and ``=``: bash's brace expansion
#: splits ``{a,{x}}`` at a comma; ``A=1`` first on a line is an assignment).
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_@%+:./-]+")


def quote(value: str) -> str:
    """``value`` as one shell word (as it is when nothing in it is special).

    >>> print(quote("data.log"), quote("a,b"), quote("it's"))
    data.log 'a,b' 'it'"'"'s'

    """
    if _PLAIN_WORD.fullmatch(value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


class ShellTemplate:
    """A shell string scanned once, filled for each combination of values:
    the scan depends only on the text (a million-job matrix scans its
    command once, not a million times)."""

    def __init__(self, text: str, pattern: re.Pattern[str]) -> None:
        parts, self._references = scan(text, pattern, env_name)
        self._parts: list[str] = []
        for part in parts:  # adjacent literal text joined
            if self._parts and type(part) is str and type(self._parts[-1]) is str:
                self._parts[-1] += part
            elif part or type(part) is Quoted:  # an empty literal is left out; Quoted("") is {}
                self._parts.append(part)

    def fill(self, values: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        """The text with ``values`` in place, and the environment variables it refers to."""
        text = "".join(quote(values[part]) if type(part) is Quoted else part for part in self._parts)
        return text, {variable: values[name] for variable, name in self._references.items()}

    @property
    def references(self) -> dict[str, str]:
        """The environment variables the text refers to: variable -> placeholder name."""
        return dict(self._references)

    @property
    def words(self) -> tuple[str, ...]:
        """The placeholders whose value goes in as one quoted word (``quote``)."""
        return tuple(str(part) for part in self._parts if type(part) is Quoted)

    def as_format(self, slot: Callable[[str], str]) -> str:
        """The text as a ``str.format`` string: its own braces doubled, and
        ``{<slot(name)>}`` where placeholder ``name``'s value goes in as a
        word; the caller puts the quoted word (``quote``) in that slot.

        >>> ShellTemplate("awk '{print}' {x}", re.compile(r"\\{(x)\\}")).as_format(lambda name: "w" + name)
        "awk '{{print}}' {wx}"
        """
        return "".join("{" + slot(part) + "}" if type(part) is Quoted else part.replace("{", "{{").replace("}", "}}")
                       for part in self._parts)
