"""When a shell string can be executed without a shell.

``run: "gzip -k data.log"`` means exactly ``["gzip", "-k", "data.log"]`` to
``/bin/sh``: plain words, nothing to expand. Executing those words directly
saves starting a shell per job (about a third of the cost of a tiny command
here). This is done only where the result is the same as through ``sh -c``:

- every character is a letter, digit, blank or one of ``_-./:=@%+,`` (no
  quotes, ``$``, globs, ``~``, redirections, separators, comments, escapes);
- the first word is not an assignment (``A=1 cmd``) and not a shell keyword
  or built-in (``cd``, ``exit``, ``echo``, ``test``...), except ``true`` and
  ``false``, whose programs behave the same;
- the program is found (on the job's ``PATH``); otherwise the shell runs the
  string, so a missing command fails the way users know (``sh: 1: x: not
  found``, exit 127).

One visible difference remains: a command killed by a signal is reported as
such (``killed by signal SIGKILL``), not as the shell's exit status 137.

>>> direct_argv("gzip -k data.log", {"PATH": "/usr/bin:/bin"})[1]
['gzip', '-k', 'data.log']
>>> direct_argv("echo $HOME", {}) is None, direct_argv("cd /tmp", {}) is None
(True, True)
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence

__all__ = ["SHELL_WORDS", "direct_argv", "runs_words_alike"]

_PLAIN = re.compile(r"[A-Za-z0-9_\-./:=@%+, \t]+")

# POSIX special and regular built-ins, reserved words, and common bash/dash
# built-ins: their meaning inside a shell differs from a program's (or there
# is no program). ``true`` and ``false`` are left out on purpose.
SHELL_WORDS = frozenset(
    ["!", "{", "}", "[[", "]]", "case", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in", "select", "then", "time", "until", "while", ".", ":", "[", "alias", "bg", "break", "builtin", "caller", "cd", "command", "compgen", "complete", "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit", "export", "fc", "fg", "getopts", "hash", "help", "history", "jobs", "kill", "let", "local", "logout", "mapfile", "newgrp", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "set", "shift", "shopt", "source", "suspend", "test", "times", "trap", "type", "typeset", "ulimit", "umask", "unalias", "unset", "wait"]
)


def direct_argv(command: str, env: Mapping[str, str]) -> tuple[str, list[str]] | None:
    """``(program path, argv)`` if ``command`` can run without a shell, else None.

    ``argv[0]`` is the first word as written, as a shell would pass it.
    ``env`` is the environment the command gets (its ``PATH`` is searched).
    """
    if not _PLAIN.fullmatch(command):
        return None
    words = command.split()
    if not words or "=" in words[0] or words[0] in SHELL_WORDS:
        return None
    if "/" in words[0]:
        # A relative path means the job's folder, which is not ours: leave it to the shell.
        found = words[0] if os.path.isabs(words[0]) and _executable(words[0]) else None
    else:
        found = _which(words[0], env.get("PATH", os.defpath))
    return None if found is None else (found, words)


#: Shells that run plain words as ``/bin/sh`` does, and options that change
#: nothing for them (strict mode: ``-e``, ``-u``, ``-x``, ``-o pipefail``).
_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ksh", "mksh", "zsh"})
_HARMLESS = re.compile(r"-[euxo]*c?|pipefail|errexit|nounset|xtrace")


def runs_words_alike(shell: Sequence[str] | None) -> bool:
    """Whether plain words run under ``shell`` exactly as executed directly
    (then the direct path may skip the shell). A login shell (``-l``), an
    rc file or another program may change what a word means: not skipped.

    >>> runs_words_alike(None), runs_words_alike(("bash", "-euo", "pipefail", "-c")), runs_words_alike(("bash", "-lc"))
    (True, True, False)
    """
    if shell is None:
        return True
    return (os.path.basename(shell[0]) in _POSIX_SHELLS
            and all(_HARMLESS.fullmatch(option) for option in shell[1:]))


_found: dict[tuple[str, str], str] = {}


def _which(name: str, path: str) -> str | None:
    """``shutil.which``, remembering hits (a search stats every PATH folder,
    which cost more than a third of spawning ``true``); a hit is checked again
    with one ``access()``, misses are never remembered (a job may install it)."""
    known = _found.get((name, path))
    if known is not None and os.access(known, os.X_OK):
        return known
    found = shutil.which(name, path=path)
    if found is not None:
        _found[name, path] = found
    return found


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)
