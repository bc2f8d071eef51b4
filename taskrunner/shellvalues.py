"""Matrix values in a shell string: data, never code, in every quoting context.

A ``{x}`` placeholder in a ``run`` string is replaced according to where it
stands, found by a small scan of the shell syntax around it:

- unquoted (also inside ``$(…)``): the value as one single-quoted word
  (``shlex.quote``; a plain value such as ``data.log`` stays as it is, so the
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
import shlex
from collections.abc import Mapping

__all__ = ["ENV_PREFIX", "ShellTemplate", "env_name"]

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

_WORD_START = frozenset(" \t\n;&|()")
_DELIMITER_END = frozenset(" \t\n;&|<>()")
#: What an unquoted heredoc would expand: escaped to stay literal.
_HEREDOC_SPECIAL = re.compile(r"[$`\\]")


class _Quoted(str):
    """In a compiled template: the place of a value quoted as one shell word
    (the str is the placeholder's name)."""


class _Scan:
    """One pass over a shell string; ``out`` collects the rewritten text, with
    a ``_Quoted`` where a value goes in as a quoted word, and ``references``
    the environment variables (and the placeholders whose values they carry)
    that the text refers to. Nothing here depends on the values."""

    def __init__(self, text: str, pattern: re.Pattern[str]) -> None:
        self.text = text
        self.pattern = pattern
        self.out: list[str] = []
        self.references: dict[str, str] = {}
        # Innermost context last: "top", "cmd" (inside $( ), and inside each
        # ( ) nested in it, so that its ) closes the right one), "bq", "dq", "sq".
        self.stack: list[str] = ["top"]
        self.heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, quoted, strip tabs)

    def reference(self, name: str) -> str:
        variable = env_name(name)
        if name not in _RUNTIME:
            self.references[variable] = name
        return "${" + variable + "}"

    def placeholder(self, name: str, context: str) -> str:
        if context in ("top", "cmd"):
            # The slot is a number the worker sets: no quoting needed.
            return self.reference(name) if name in _RUNTIME else _Quoted(name)
        if context == "dq":
            return self.reference(name)
        if context == "sq":
            return "'\"" + self.reference(name) + "\"'"
        return '"' + self.reference(name) + '"'  # bq

    def run(self) -> list[str]:
        text, i = self.text, 0
        while i < len(text):
            context = self.stack[-1]
            found = self.pattern.match(text, i)
            if found:
                self.out.append(self.placeholder(found[1], context))
                i = found.end()
                continue
            i = self.step(i, context)
        return self.out

    def step(self, i: int, context: str) -> int:
        """Copy the syntax at ``i`` (one character or a token), update the
        context; return the next position."""
        text, char = self.text, self.text[i]
        if context == "sq":
            if char == "'":
                self.stack.pop()
            self.out.append(char)
            return i + 1
        if char == "\\":
            self.out.append(text[i : i + 2])
            return i + 2
        if (context == "dq" and char == '"') or (context == "bq" and char == "`"):
            self.stack.pop()
        elif text.startswith("$(", i):
            self.stack.append("cmd")
            self.out.append("$(")
            return i + 2
        elif char == "`":
            self.stack.append("bq")
        elif context != "dq":
            return self.unquoted(i, context)
        self.out.append(char)
        return i + 1

    def unquoted(self, i: int, context: str) -> int:
        text, char = self.text, self.text[i]
        if char == "'":
            self.stack.append("sq")
        elif char == '"':
            self.stack.append("dq")
        elif context == "cmd" and char == "(":
            self.stack.append("cmd")
        elif context == "cmd" and char == ")":
            self.stack.pop()
        elif char == "#" and (i == 0 or text[i - 1] in _WORD_START):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            self.out.append(text[i:end])
            return end
        elif text.startswith("<<", i) and not text.startswith("<<<", i):
            return self.heredoc_operator(i)
        elif char == "\n" and self.heredocs:
            self.out.append(char)
            return self.heredoc_bodies(i + 1)
        self.out.append(char)
        return i + 1

    def heredoc_operator(self, i: int) -> int:
        """``<<[-] WORD``: copy it as written and queue its body."""
        text = self.text
        j = i + 2
        strip_tabs = text.startswith("-", j)
        j += strip_tabs
        while j < len(text) and text[j] in " \t":
            j += 1
        start = j
        while j < len(text) and text[j] not in _DELIMITER_END:
            j += 1
        word = text[start:j]
        quoted = any(q in word for q in "'\"\\")
        delimiter = re.sub(r"['\"\\]", "", word)
        self.heredocs.append((delimiter, quoted, strip_tabs))
        # A quoted heredoc becomes an unquoted one whose text is escaped (see
        # body_line): values then arrive by expansion, like everywhere else.
        self.out.append(text[i:start] + delimiter if quoted else text[i:j])
        return j

    def heredoc_bodies(self, i: int) -> int:
        """The bodies of the queued heredocs, line by line, from ``i``."""
        text = self.text
        for delimiter, quoted, strip_tabs in self.heredocs:
            while i < len(text):
                end = text.find("\n", i)
                end = len(text) if end < 0 else end + 1
                line, i = text[i:end], end
                bare = line.rstrip("\n")
                if (bare.lstrip("\t") if strip_tabs else bare) == delimiter:
                    self.out.append(line)
                    break
                self.out.append(self.body_line(line, quoted))
        self.heredocs.clear()
        return i

    def body_line(self, line: str, quoted: bool) -> str:
        if not quoted:
            return self.pattern.sub(lambda found: self.reference(found[1]), line)
        # The heredoc was quoted (nothing expanded) and is now unquoted: its
        # own text keeps its meaning with $, ` and \ escaped, and values are
        # references. (Written into the text, a value could end the heredoc
        # early, and dash drops some UTF-8 bytes of literal heredoc text.)
        parts, last = [], 0
        for found in self.pattern.finditer(line):
            parts += [_HEREDOC_SPECIAL.sub(r"\\\g<0>", line[last : found.start()]), self.reference(found[1])]
            last = found.end()
        parts.append(_HEREDOC_SPECIAL.sub(r"\\\g<0>", line[last:]))
        return "".join(parts)


class ShellTemplate:
    """A shell string scanned once, filled for each combination of values:
    the scan depends only on the text (a million-job matrix scans its
    command once, not a million times)."""

    def __init__(self, text: str, pattern: re.Pattern[str]) -> None:
        scan = _Scan(text, pattern)
        self._parts: list[str] = []
        for part in scan.run():  # adjacent literal text joined
            if self._parts and type(part) is str and type(self._parts[-1]) is str:
                self._parts[-1] += part
            else:
                self._parts.append(part)
        self._references = scan.references

    def fill(self, values: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        """The text with ``values`` in place, and the environment variables it refers to."""
        text = "".join(shlex.quote(values[part]) if type(part) is _Quoted else part for part in self._parts)
        return text, {variable: values[name] for variable, name in self._references.items()}

