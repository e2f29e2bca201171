"""The seven Tomita grammars over {0, 1} (../shared/benchmarks/tomita.md): membership, reference
texts for specs, and the minimal complete DFA's state count (with the sink, the empty word accepted).

Tomita 3 is read as Tomita stated it: no odd-length run of 1s *immediately* followed by an
odd-length run of 0s (runs maximal; a run at the end of the word counts as it stands). That is the
language of the 5-state DFA every extraction paper reports.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable


def _runs(w: str) -> list[tuple[str, int]]:
    return [(ch, len(list(group))) for ch, group in itertools.groupby(w)]


def _tomita3(w: str) -> bool:
    runs = _runs(w)
    return not any(a == "1" and n % 2 and b == "0" and m % 2 for (a, n), (b, m) in zip(runs, runs[1:]))


@dataclass(frozen=True)
class Grammar:
    number: int
    accepts: Callable[[str], bool]
    reference: str     # what the spec's "reference" says: a regular expression or a lambda
    states: int        # the minimal complete DFA, sink included


GRAMMARS = {
    1: Grammar(1, lambda w: "0" not in w, "1*", 2),
    2: Grammar(2, lambda w: w == "10" * (len(w) // 2), "(10)*", 3),
    3: Grammar(3, _tomita3, "(0|1(0(00)*01)*1)*(1(0(00)*01)*(0(00)*0)?)?", 5),  # greenery, from its DFA
    4: Grammar(4, lambda w: "000" not in w, "(1|01|001)*(|0|00)", 4),
    5: Grammar(5, lambda w: w.count("0") % 2 == 0 and w.count("1") % 2 == 0,
               "lambda w: w.count('0') % 2 == 0 and w.count('1') % 2 == 0", 4),
    6: Grammar(6, lambda w: (w.count("0") - w.count("1")) % 3 == 0,
               "lambda w: (w.count('0') - w.count('1')) % 3 == 0", 3),
    7: Grammar(7, lambda w: w.count("10") <= 1, "0*1*0*1*", 5),
}

# The minimal complete DFAs, written out: (transitions[state] = (after 0, after 1), accepting
# states); state 0 starts. Checked against the predicates by `check_references`.
DFAS = {
    1: (((1, 0), (1, 1)), {0}),
    2: (((2, 1), (0, 2), (2, 2)), {0}),
    3: (((0, 1), (2, 0), (3, 4), (2, 1), (4, 4)), {0, 1, 3}),
    4: (((1, 0), (2, 0), (3, 0), (3, 3)), {0, 1, 2}),
    5: (((1, 2), (0, 3), (3, 0), (2, 1)), {0}),
    6: (((1, 2), (2, 0), (0, 1)), {0}),
    7: (((0, 1), (2, 1), (2, 3), (4, 3), (4, 4)), {0, 1, 2, 3}),
}


def dfa_accepts(number: int, w: str) -> bool:
    transitions, accepting = DFAS[number]
    state = 0
    for c in w:
        state = transitions[state][int(c)]
    return state in accepting


def check_references() -> None:
    """Each regex reference and each DFA accepts exactly what its predicate does on every word up
    to length 12, and each DFA has the table's state count."""
    for g in GRAMMARS.values():
        assert len(DFAS[g.number][0]) == g.states, g.number
        for n in range(13):
            for letters in itertools.product("01", repeat=n):
                w = "".join(letters)
                assert dfa_accepts(g.number, w) == g.accepts(w), (g.number, w)
        if g.reference.startswith("lambda"):
            continue
        pattern = re.compile(g.reference)
        for n in range(13):
            for letters in itertools.product("01", repeat=n):
                w = "".join(letters)
                assert bool(pattern.fullmatch(w)) == g.accepts(w), (g.number, w)


if __name__ == "__main__":
    check_references()
    print("regular expressions and DFAs agree with the predicates up to length 12")
