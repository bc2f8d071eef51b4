""""Did you mean ...?" for a key, a job name, a glob or a tag that matches nothing.

    >>> did_you_mean("rnu", ["run", "call"]), did_you_mean("zzz", ["run"])
    (" (did you mean 'run'?)", '')
    >>> did_you_mean("compres-*", ["compress-a.log", "stats"], glob=True)
    " (did you mean 'compress*'?)"
"""

from __future__ import annotations

import difflib
import fnmatch
import itertools
import re
from collections.abc import Iterable

__all__ = ["MAX_CHOICES", "did_you_mean"]

#: Names compared at most: a suggestion is a courtesy, not a reason for a
#: million-job file's typo to take seconds to report.
MAX_CHOICES = 20_000
_WILDCARD = re.compile(r"[*?\[]")


def did_you_mean(word: str, choices: Iterable[str], *, glob: bool = False) -> str:
    """`` (did you mean 'x'?)`` naming the choice closest to ``word``, or ``""``.

    With ``glob``, ``word`` is a pattern: the suggestion is the pattern with
    its literal head replaced by the closest head of a choice, and it matches
    at least one choice."""
    candidates = list(dict.fromkeys(itertools.islice(choices, MAX_CHOICES)))
    if glob and _WILDCARD.search(word):
        head_length = _WILDCARD.search(word).start()  # type: ignore[union-attr]
        rest = word[head_length:]
        heads = dict.fromkeys(choice[: max(head_length, 1)].rstrip("-_./ ") or choice for choice in candidates)
        patterns = [head + rest for head in heads]
        close = [p for p in difflib.get_close_matches(word, patterns, n=5)
                 if any(fnmatch.fnmatchcase(choice, p) for choice in candidates)]
    else:
        close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
