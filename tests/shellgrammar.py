"""A generator of shell templates whose meaning is known without a shell.

Each generated piece is a ``Frag``: its text (with ``{x}`` placeholders),
what it means (literal strings and ``X``, the value), and whether it uses
only constructs the scanner is meant to understand (``plain``). A construct
that dash and bash read differently sets ``refuse_at``: a template holding
one before a placeholder has to be refused.

The differential test (``test_shell_differential``) fills each template
with a hostile value, runs it under dash and bash (as ``sh``) and compares
what arrives with what the template means.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

X = object()  # where the value goes, in a Frag's meaning


@dataclass(frozen=True)
class Frag:
    text: str
    meaning: tuple[object, ...]
    plain: bool = True
    #: where in ``text`` the first construct stands that the shells read differently: it
    #: must be refused if a placeholder follows
    refuse_at: int | None = None
    #: what it prints differs between shells (or is an error): only "nothing ran" is known
    meaningless: bool = False

    def __add__(self, other: Frag) -> Frag:
        refuse_at = self.refuse_at
        if refuse_at is None and other.refuse_at is not None:
            refuse_at = len(self.text) + other.refuse_at
        return Frag(self.text + other.text, self.meaning + other.meaning, self.plain and other.plain, refuse_at,
                    self.meaningless or other.meaningless)

    def must_be_refused(self) -> bool:
        return self.refuse_at is not None and "{x}" in self.text[self.refuse_at:]


def lit(text: str, meaning: str | None = None, plain: bool = True) -> Frag:
    return Frag(text, (text if meaning is None else meaning,), plain)


PH = Frag("{x}", (X,))


def join(frags: list[Frag]) -> Frag:
    out = Frag("", ())
    for frag in frags:
        out = out + frag
    return out


def strip_newlines(frag: Frag, text: str, plain: bool = True) -> Frag:
    """``text`` (a command substitution around ``frag``'s output) means what
    ``frag`` prints without trailing newlines: only known once the value is."""
    return Frag(text, (_Stripped(frag),), plain and frag.plain, None if frag.refuse_at is None else 2 + frag.refuse_at,
                frag.meaningless)


class _Stripped:
    def __init__(self, frag: Frag) -> None:
        self.frag = frag

    def render(self, value: str) -> str:
        return expected(self.frag, value).rstrip("\n")


def expected(frag: Frag, value: str) -> str:
    parts = []
    for part in frag.meaning:
        if part is X:
            parts.append(value)
        elif isinstance(part, _Stripped):
            parts.append(part.render(value))
        else:
            parts.append(str(part))
    return "".join(parts)


class Grammar:
    """Templates from a seeded random source; ``depth`` bounds nesting."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def choice(self, options: list[object]) -> object:
        return self.random.choice(options)

    # Words: one argument, as printf '[%s]' shows it.

    def word(self, depth: int) -> Frag:
        parts = [self.part(depth, first=True)]
        for _ in range(self.random.randrange(3)):
            parts.append(self.part(depth, first=False))
        return join(parts)

    def part(self, depth: int, first: bool) -> Frag:
        kinds = ["lit", "ph", "sq", "dq", "dq", "ph"]
        if depth > 0:
            kinds += ["cmd", "arith", "bq", "param", "hash"]
        kind = self.choice(kinds)
        if kind == "lit" or (kind == "hash" and first):
            return lit(str(self.choice(["a", "b.c", "x-y", "d/e", "k=v", "1", "@", "%", "+"])))
        if kind == "hash":  # a '#' inside a word is not a comment
            return lit("#")
        if kind == "ph":
            return PH
        if kind == "sq":
            return self.single_quoted()
        if kind == "dq":
            return self.double_quoted(depth)
        if kind == "cmd":  # unquoted: its output is split, so it prints a plain word
            return lit("$(printf %s ab)", "ab")
        if kind == "arith":
            return self.arithmetic()
        if kind == "bq":
            return lit("`printf %s cd`", "cd")
        return lit(*self.choice([("${u:-ab}", "ab"), ("${#u}", "0"), ("${u:-#x}", "#x")]))  # type: ignore[misc]

    def single_quoted(self) -> Frag:
        inner = [lit(str(self.choice(["a", '"', "$HOME", "`x`", "\\", "#", " ", "\n", "{", "}", "$(", ")", "*"])))
                 for _ in range(self.random.randrange(3))]
        inner.insert(self.random.randrange(len(inner) + 1), PH)
        return lit("'", "") + join(inner) + lit("'", "")

    def double_quoted(self, depth: int) -> Frag:
        inner: list[Frag] = []
        for _ in range(self.random.randrange(1, 4)):
            kind = self.choice(["lit", "esc", "ph", "ph"] + (["cmd", "cmd", "arith", "param", "bq"] if depth else []))
            if kind == "lit":
                inner.append(lit(str(self.choice(["a", " ", "'", "#", "\n", "(", ")", "{", "}", ";", "*", "~"]))))
            elif kind == "esc":
                inner.append(lit(*self.choice([("\\$", "$"), ('\\"', '"'), ("\\\\", "\\"), ("\\`", "`")])))  # type: ignore[misc]
            elif kind == "ph":
                inner.append(PH)
            elif kind == "cmd":
                inner.append(self.substitution(depth - 1))
            elif kind == "arith":
                inner.append(self.arithmetic())
            elif kind == "param":
                inner.append(self.parameter())
            else:
                inner.append(self.backticks())
        return lit('"', "") + join(inner) + lit('"', "")

    def substitution(self, depth: int) -> Frag:
        """``$( … )`` inside double quotes: what its command prints."""
        command = self.inner_command(depth)
        # $(( is arithmetic to bash when it can be: a group right after $( is not plain.
        frag = strip_newlines(command, "$(" + command.text + ")")
        if command.text.startswith("("):
            frag = Frag(frag.text, frag.meaning, False, frag.refuse_at, meaningless=True)
        return frag

    def inner_command(self, depth: int) -> Frag:
        printed = self.word(depth)
        body = lit("printf %s ", "") + printed
        kind = self.choice(["plain", "plain", "pipe", "group", "subshell", "case", "comment", "heredoc", "if"])
        if kind == "pipe":
            return body + lit(" | cat", "")
        if kind == "group":
            return lit("{ ", "") + body + lit("; }", "")
        if kind == "subshell":
            return lit("(", "") + body + lit(")", "")
        if kind == "if":
            return lit("if true; then ", "") + body + lit("; fi", "")
        if kind == "case":  # its ) is not the end of $( )
            return Frag("case k in k) ", (), plain=False) + body + lit(";; esac", "")
        if kind == "comment":
            return Frag("true # ) ' \" `\n", (), plain=False) + body
        if kind == "heredoc":
            return Frag("cat <<EOF\nhd\nEOF\n", ("hd\n",), plain=False) + body
        return body

    def backticks(self) -> Frag:
        if self.random.random() < 0.5:
            return strip_newlines(PH, "`printf %s {x}`")
        return lit("`printf %s ef`", "ef")

    def arithmetic(self) -> Frag:
        return lit(*self.choice([("$((1<<3))", "8"), ("$(( (2+3)*2 ))", "10"), ("$((7%4))", "3")]))  # type: ignore[misc]

    def parameter(self) -> Frag:
        return lit(*self.choice([("${u:-a b}", "a b"), ("${#u}", "0"), ("${u:-#x}", "#x"), ("${u}", "")]))  # type: ignore[misc]

    # Statements: each prints lines, in order.

    def statement(self, depth: int) -> Frag:
        kind = self.choice(["probe", "probe", "probe", "wrap", "heredoc", "confuser", "comment"])
        if kind == "wrap" and depth > 0:
            inner = self.statement(depth - 1)
            left, right = self.choice([("if true; then ", "; fi"), ("{ ", "; }"), ("( ", " )"), ("true && ", ""),
                                       ("case k in k) ", ";; esac"), ("for i in 1; do ", "; done")])  # type: ignore[misc]
            pipe = self.random.random() < 0.2
            return lit(left, "") + inner + lit(right + (" | cat" if pipe else ""), "")
        if kind == "heredoc":
            return self.heredoc()
        if kind == "confuser":
            return self.confuser()
        if kind == "comment":
            return lit(str(self.choice(["# don't ) stop {x}", "# \"$(", "true # `"])) + "\n:", "")
        return self.probe(depth)

    def probe(self, depth: int) -> Frag:
        words = [self.word(depth) for _ in range(self.random.randrange(1, 3))]
        out = lit("printf '[%s]\\n'", "")
        for word in words:
            out = out + lit(self.choice([" ", " \\\n  "]), "") + Frag("", ("[",)) + word + Frag("", ("]\n",))  # type: ignore[operator]
        # printf repeats its format for each argument: each word is one line.
        return out

    def heredoc(self) -> Frag:
        lines = [join([lit(str(self.choice(["a ", "b", "'", '"', "#", "(", ")"]))), PH]) + lit("\n")
                 for _ in range(self.random.randrange(1, 3))]
        kind = self.choice(["quoted", "plain", "tabs"])
        if kind == "quoted":
            special = lit("$HOME `x` \\ ")
            return lit("cat <<'EOF'\n", "") + special + join(lines) + lit("EOF\n:", "")
        if kind == "tabs":
            return lit("cat <<-EOF\n", "") + join([lit("\t", "") + line for line in lines]) + lit("\tEOF\n:", "")
        return lit("cat <<EOF\n", "") + join(lines) + lit("EOF\n:", "")

    def confuser(self) -> Frag:
        """Statements the scanner has misread before (the issue's list)."""
        options: list[Frag] = [
            lit("x=$((1<<20)); printf '[%s]\\n' \"$x\"", "[1048576]\n"),
            lit(": $(( 1 << 2 ))", ""),
            lit("printf '[%s]\\n' $(echo a)#'\n", "[a#\n") + PH + lit("'", "]\n"),
            Frag("printf '[%s]\\n' \"${u:-a #'b'}\"", ("[a #'b']\n",), plain=False),
            Frag("printf '[%s]\\n' ${u:-a #'b'}", ("[a]\n[#b]\n",), plain=False),
            Frag("printf '[%s]\\n' `echo a #'`", ("[a]\n",), plain=False, refuse_at=0, meaningless=True),
            Frag("printf '[%s]\\n' $'a\\'b'", ("[a'b]\n",), plain=False, refuse_at=0, meaningless=True),
            Frag("cat <<<x", ("x\n",), plain=False, refuse_at=0, meaningless=True),
            Frag("n=\"$(case k in k) printf %s ", (), plain=False) + PH + Frag(";; esac)\"; printf '[%s]\\n' \"$n\"",
                                                                             ("[", _Stripped(PH), "]\n")),
            # a line continuation makes the same keyword
            Frag("n=\"$(ca\\\nse k in k) printf %s ", (), plain=False) + PH
            + Frag(";; esac)\"; printf '[%s]\\n' \"$n\"", ("[", _Stripped(PH), "]\n")),
        ]
        return options[self.random.randrange(len(options))]

    def template(self) -> Frag:
        statements = [self.statement(2) for _ in range(self.random.randrange(1, 4))]
        out = statements[0]
        for statement in statements[1:]:
            out = out + lit(str(self.choice(["\n", "; ", " && "])), "") + statement
        return out
