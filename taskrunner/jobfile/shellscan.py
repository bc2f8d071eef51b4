"""The shell-context scanner behind ``shellvalues``: where each placeholder
of a ``run`` string stands, as ``/bin/sh`` (dash or bash) will read it.

The scanner fails closed. It follows the part of the shell language it
fully understands and, at the first construct it does not (or that dash and
bash read differently), stops: if no placeholder comes at or after that
point, the rest is copied as written (it cannot change where an earlier
placeholder stands); otherwise ``UnsafePlaceholder`` names the first such
placeholder and the construct. Understood:

- words, blanks, newlines, ``;`` ``&`` ``|`` ``<`` ``>`` and ``( )`` groups;
  comments (``#`` at the start of a word, as the shell decides it);
- ``'…'``, ``"…"``, backslash escapes, ``\\``-newline after a blank;
- ``$name``, ``${name…}`` without quotes, braces, ``$`` or backslashes inside;
- ``$(…)`` nested to any depth (no ``case``, comment or here-document inside);
- ``$((…))`` arithmetic (no placeholder, quote or command inside);
- backticks holding plain words and placeholders only;
- here-documents ``<<WORD``, ``<<'WORD'``, ``<<"WORD"``, ``<<\\WORD`` (and
  ``<<-``) outside ``$(…)``, ending at their delimiter line.

Refused before a placeholder: ``$'…'``, ``$"…"``, ``$[…]``, ``((…))``,
``<<<``, ``<(…)``/``>(…)``, ``name=(…)`` and other ``(`` inside a word, a
placeholder right after ``$``, and anything left unclosed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["Quoted", "UnsafePlaceholder", "scan"]

#: Characters that end a word (and start a new one) outside quotes.
_METACHARS = frozenset(" \t\n;&|<>()")
_DELIMITER = re.compile(r"""(-?)[ \t]*(?:'([\w.-]+)'|"([\w.-]+)"|\\([\w.-]+)|([\w.-]+))(?=[ \t\n;&|<>()]|$)""", re.ASCII)
#: ``${…}`` as understood: no quotes, braces, backslashes; ``$`` only before a name.
_PARAMETER = re.compile(r"\$\{(?:[^'\"`\\{}$\n]|\$[A-Za-z0-9_])*\}")
#: ``$((…))`` as understood: names, numbers, operators, ``$name``, balanced parentheses (checked after).
_ARITHMETIC = re.compile(r"\$\(\((?:[A-Za-z0-9_ \t+\-*/%<>=!&|^~?:,()#]|\$[A-Za-z0-9_])*?\)\)")
#: What backticks may hold besides placeholders.
_BACKTICK_BODY = re.compile(r"(?:[A-Za-z0-9_ \t.,:=+\-/%@^~!?*\[\]|;&<>{}]|\$[A-Za-z0-9_])*", re.ASCII)
_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\(\)", re.ASCII)
#: What an unquoted here-document body would expand: escaped when a quoted one is made unquoted.
_HEREDOC_SPECIAL = re.compile(r"[$`\\]")


class UnsafePlaceholder(ValueError):
    """A placeholder whose quoting context the scanner cannot prove."""

    def __init__(self, placeholder: str, variable: str, why: str) -> None:
        super().__init__(f'cannot place {{{placeholder}}} safely in this command; use "${variable}" '
                         f"or put the command in a script ({why})")
        self.placeholder = placeholder


class Quoted(str):
    """In a scanned template: where a value goes in as one quoted word (the str is the placeholder's name)."""


class _Stop(Exception):
    """Nothing more to understand: the rest of the text holds no placeholder."""


class _Scan:
    """One pass over a shell string (see the module docstring)."""

    def __init__(self, text: str, pattern: re.Pattern[str], env_name: Callable[[str], str]) -> None:
        self.text, self.pattern, self.env_name = text, pattern, env_name
        self.out: list[str] = []
        #: environment variable -> the placeholder whose value it carries
        self.references: dict[str, str] = {}
        # Innermost last, with where it opened: "top"; "cmd" ($( and each ( in it); "dq"; "sq".
        self.stack: list[tuple[str, int]] = [("top", 0)]
        self.word_start = True  # outside quotes: a '#' here starts a comment
        self.word_begin = 0
        # (delimiter, quoted, strip tabs, index in out of the operator)
        self.heredocs: list[tuple[str, bool, bool, int]] = []

    def unsure(self, at: int, why: str) -> None:
        """The text from ``at`` is not understood: refuse if a placeholder is there."""
        found = self.pattern.search(self.text, at)
        if found:
            raise UnsafePlaceholder(found[1], self.env_name(found[1]), why)
        self.out.append(self.text[at:])
        raise _Stop

    def reference(self, name: str, context: str) -> str:
        """``name``'s variable expanded, written for ``context``: "dq" (in "…" or
        a here-document), "sq" (in '…'), "bq" (in backticks)."""
        variable = self.env_name(name)
        if name != "%":  # the slot's variable is set by the worker
            self.references[variable] = name
        return _expansion(variable, context)

    def run(self) -> list[str]:
        try:
            i = 0
            while i < len(self.text):
                i = self.step(i)
            if len(self.stack) > 1:
                self.unsure(self.stack[1][1], "a quote or $( is not closed")
        except _Stop:
            pass
        return self.out

    def step(self, i: int) -> int:
        context = self.stack[-1][0]
        found = self.pattern.match(self.text, i)
        if found:
            return self.placeholder(found, context)
        if self.heredocs and context != "top" and self.text[i] == "\n":
            self.unsure(i, "a line break inside quotes or $( ) while a here-document waits for its body")
        if context == "sq":
            if self.text[i] == "'":
                self.stack.pop()
            return self.copy(i, i + 1, False)
        if context == "dq":
            return self.double_quoted(i)
        return self.unquoted(i, context)

    def placeholder(self, found: re.Match[str], context: str) -> int:
        name = found[1]
        if context == "sq":
            self.out.append(self.reference(name, "sq"))
        elif context == "dq" or name == "%":  # the slot: a number the worker sets
            self.out.append(self.reference(name, "dq"))
        elif found.start() > 0 and self.text[found.start() - 1] == "~":  # ~{x}: no tilde expansion of the value
            self.out.append(self.reference(name, "bq"))
        else:
            self.out.append(Quoted(name))
        self.word_start = False
        return found.end()

    def copy(self, i: int, j: int, word_start: bool) -> int:
        self.out.append(self.text[i:j])
        self.word_start = word_start
        return j

    def escape(self, i: int) -> int:
        """A backslash: with a newline it joins lines (understood after a blank only)."""
        if self.text.startswith("\\\n", i):
            if i == 0 or self.text[i - 1] not in " \t":
                self.unsure(i, "a line continuation inside a word")
            return self.copy(i, i + 2, self.word_start)
        return self.copy(i, i + 2, False)

    def double_quoted(self, i: int) -> int:
        char = self.text[i]
        if char == "\\":
            return self.escape(i)
        if char == '"':
            self.stack.pop()
            return self.copy(i, i + 1, False)
        if char == "$":
            return self.dollar(i, "dq")
        if char == "`":
            return self.backticks(i)
        return self.copy(i, i + 1, False)

    def unquoted(self, i: int, context: str) -> int:
        text, char = self.text, self.text[i]
        if self.word_start and char not in _METACHARS:
            self.word_begin = i
        if char == "\\":
            return self.escape(i)
        if char == "'" or char == '"':
            self.stack.append(("sq" if char == "'" else "dq", i))
            return self.copy(i, i + 1, False)
        if char == "$":
            return self.dollar(i, context)
        if char == "`":
            return self.backticks(i)
        if char == "#" and self.word_start:
            if context != "top":
                self.unsure(i, "a comment inside $( )")
            end = text.find("\n", i)
            return self.copy(i, len(text) if end < 0 else end, True)
        if char == "\n":
            self.copy(i, i + 1, True)
            return self.heredoc_bodies(i + 1) if self.heredocs else i + 1
        if char == "<" or char == ">":
            return self.redirection(i, context)
        if char == "(":
            return self.open_paren(i, context)
        if char == ")":
            return self.close_paren(i, context)
        if context == "cmd" and self.word_start and re.match(r"case(?=[ \t\n;&|<>()]|$)", text[i:i + 5]):
            self.unsure(i, "a case inside $( ), whose ) the shells read differently")
        return self.copy(i, i + 1, char in _METACHARS)

    def redirection(self, i: int, context: str) -> int:
        text = self.text
        if text.startswith("<<<", i):
            self.unsure(i, "a here-string <<<, which dash reads as a here-document")
        if text.startswith("(", i + 1):
            self.unsure(i, "a process substitution")
        if text.startswith("<<", i):
            if context != "top":
                self.unsure(i, "a here-document inside $( )")
            return self.heredoc_operator(i)
        return self.copy(i, i + 1, True)

    def open_paren(self, i: int, context: str) -> int:
        text = self.text
        if not self.word_start:
            if not _FUNCTION_NAME.fullmatch(text, self.word_begin, i + 2):
                self.unsure(i, "a ( inside a word")
            return self.copy(i, i + 2, True)  # name(): a function definition
        if text.startswith("((", i):
            self.unsure(i, "a (( )), arithmetic in bash and nested groups in dash")
        if context == "cmd":
            self.stack.append(("cmd", i))
        return self.copy(i, i + 1, True)

    def close_paren(self, i: int, context: str) -> int:
        if context != "cmd":
            return self.copy(i, i + 1, True)
        _, opened = self.stack.pop()
        # The ) of a $( ) continues the word; that of a ( ) group ends it.
        return self.copy(i, i + 1, not self.text.startswith("$(", opened))

    def dollar(self, i: int, context: str) -> int:
        text = self.text
        after = text[i + 1 : i + 2]
        if self.pattern.match(text, i + 1):
            self.unsure(i, "a placeholder right after $")
        if text.startswith("$((", i):
            end = _arithmetic_end(text, i)
            if end is None:
                self.unsure(i, "an arithmetic $(( )) with quotes, commands or placeholders")
            return self.copy(i, end or i, False)
        if after == "(":
            self.stack.append(("cmd", i))
            return self.copy(i, i + 2, True)
        if after == "{":
            parameter = _PARAMETER.match(text, i)
            if not parameter:
                self.unsure(i, "a ${ } holding quotes, braces or placeholders")
            assert parameter is not None
            return self.copy(i, parameter.end(), False)
        if context != "dq" and after in ("'", '"'):
            self.unsure(i, f"a ${after}…{after} string, which dash and bash read differently")
        if after == "[":
            self.unsure(i, "a $[ ], arithmetic in bash only")
        return self.copy(i, i + 1, False)

    def backticks(self, i: int) -> int:
        end = self.text.find("`", i + 1)
        if end < 0:
            self.unsure(i, "a backtick is not closed")
        places = list(self.pattern.finditer(self.text, i + 1, end))
        literals = self.pattern.sub("", self.text[i + 1 : end])
        if not _BACKTICK_BODY.fullmatch(literals) or any(self.text[place.start() - 1] == "$" for place in places):
            self.unsure(i, "backticks holding quotes, escapes or nested commands")
        at = i
        for place in places:
            self.out += [self.text[at : place.start()], self.reference(place[1], "bq")]
            at = place.end()
        return self.copy(at, end + 1, False)

    def heredoc_operator(self, i: int) -> int:
        """``<<[-] WORD``: copied as written; its body is read after the next newline."""
        found = _DELIMITER.match(self.text, i + 2)
        if not found:
            self.unsure(i, "a here-document whose delimiter is not a plain word")
        assert found is not None
        delimiter = found[2] or found[3] or found[4] or found[5]
        self.heredocs.append((delimiter, not found[5], bool(found[1]), len(self.out)))
        return self.copy(i, found.end(), False)

    def heredoc_bodies(self, i: int) -> int:
        """The bodies of the pending here-documents, from ``i``."""
        for delimiter, quoted, strip_tabs, operator in self.heredocs:
            start, lines = i, []
            while True:
                if i >= len(self.text):
                    self.unsure(start, "a here-document without its delimiter line")
                end = self.text.find("\n", i)
                end = len(self.text) if end < 0 else end + 1
                line, i = self.text[i:end], end
                bare = line.rstrip("\n").lstrip("\t") if strip_tabs else line.rstrip("\n")
                if bare == delimiter:
                    break
                if bare.startswith(delimiter):
                    self.unsure(start, "a here-document line that starts like its delimiter")
                lines.append(line)
            self.heredoc_body("".join(lines), quoted, operator, start)
            self.out.append(line)
        self.heredocs.clear()
        self.word_start = True
        return i

    def heredoc_body(self, body: str, quoted: bool, operator: int, start: int) -> None:
        places = list(self.pattern.finditer(body))
        if not places:
            self.out.append(body)
            return
        if quoted:
            # Made unquoted, with its own text escaped to mean the same, so that
            # values arrive by expansion (written into the text, a value could
            # end the here-document early).
            written = self.out[operator]
            self.out[operator] = written[:2] + re.sub(r"['\"\\]", "", written[2:])
        else:
            why = _unprovable_heredoc(body, places)
            if why:
                self.unsure(start, why)
        at = 0
        for place in places:
            self.out += [_heredoc_text(body[at : place.start()], quoted), self.reference(place[1], "dq")]
            at = place.end()
        self.out.append(_heredoc_text(body[at:], quoted))


def _unprovable_heredoc(body: str, places: list[re.Match[str]]) -> str | None:
    """Why placeholders in an unquoted here-document cannot be proven, or None."""
    if "`" in body or "$(" in body or "$[" in body or re.search(r"\\\n|\$\{[^}]*\{", body):
        return "a here-document holding commands or ${ } around placeholders"
    if any(place.start() > 0 and body[place.start() - 1] in "$\\" for place in places):
        return "a placeholder right after $ or \\ in a here-document"
    return None


def _heredoc_text(text: str, quoted: bool) -> str:
    """Text of a here-document body, escaped if the here-document was quoted (now it is not)."""
    return _HEREDOC_SPECIAL.sub(r"\\\g<0>", text) if quoted else text


def _arithmetic_end(text: str, i: int) -> int | None:
    """Where the ``$((…))`` at ``i`` ends, if it is arithmetic as understood."""
    found = _ARITHMETIC.match(text, i)
    return found.end() if found and _balanced(found[0][3:-2]) else None


def _expansion(variable: str, context: str) -> str:
    """``${variable}`` written to be one word in ``context`` (see ``_Scan.reference``)."""
    expansion = "${" + variable + "}"
    if context == "sq":
        return "'\"" + expansion + "\"'"
    return '"' + expansion + '"' if context == "bq" else expansion


def _balanced(body: str) -> bool:
    depth = 0
    for char in body:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return False
    return depth == 0


def scan(text: str, pattern: re.Pattern[str], env_name: Callable[[str], str]) -> tuple[list[str], dict[str, str]]:
    """``text`` rewritten: literal strings and ``Quoted`` parts (a value as one
    quoted word), and the environment variables the literal parts refer to
    (variable -> placeholder name). Raise ``UnsafePlaceholder`` where a
    placeholder's context cannot be proven. ``pattern``'s group 1 is a
    placeholder's name; ``env_name`` maps a name to its variable."""
    scanner = _Scan(text, pattern, env_name)
    return scanner.run(), scanner.references
