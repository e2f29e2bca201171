"""Equivalence queries answered by a counterexample hunt, and the network probed on long words.

`Hunt(teacher, max_len, seed=...)` is an AALpy equivalence oracle: `find_cex(hypothesis)` compares
the hypothesis with the network on, in turn,
1. `every`: every word of 1..`exhaustive` letters (the longest such that at most EVERY_WORDS
   words are asked, and at most `max_len`);
2. `w-method`: the W-method to `depth` extra letters: each state's access word, then up to `depth`
   letters, then each word of the hypothesis's characterization set (AALpy's), kept to words of
   at most `max_len` letters (at most W_WORDS of them, drawn at random when more);
3. `random`: RANDOM_WORDS random words of 1..`max_len` letters, half uniform letters, half a
   random state's access word followed by random letters (random walks through the hypothesis);
and returns the shortest word where they differ, or None. Each stage's words go to the network in
one batch (cached by the teacher). `checked` holds every word a hunt compared, for the agreement.

The automaton is learned for the spec's lengths 1..`max_len`, the lengths the network was trained
on. `departures(automaton, teacher, max_len)` then asks words of 2 to 5 times `max_len` letters
(LONG_WORDS random ones per length factor) and says at which lengths the network and its
automaton part: the network's behaviour beyond its training lengths, reported, not learned.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import numpy as np
from aalpy.base import Oracle

from dsl.automaton import Automaton
from synth.automata.teacher import Teacher, Word

EVERY_WORDS = 2**14
W_WORDS = 2**15
RANDOM_WORDS = 4000
LONG_WORDS = 500
LONG_FACTORS = (2, 3, 4, 5)


def exhaustive_length(alphabet: int, max_len: int) -> int:
    total, n = 0, 0
    while n < max_len and total + alphabet ** (n + 1) <= EVERY_WORDS:
        n += 1
        total += alphabet ** n
    return max(n, 1)


class Hunt(Oracle):
    def __init__(self, teacher: Teacher, max_len: int, *, to_automaton: Callable[[Any], Automaton],
                 seed: int = 0, depth: int = 2, stage: Callable[[str], None] | None = None) -> None:
        super().__init__(list(range(teacher.alphabet)), None)
        self.teacher = teacher
        self.max_len = max_len
        self.exhaustive = exhaustive_length(teacher.alphabet, max_len)
        self.depth = depth
        self.to_automaton = to_automaton
        self.rng = np.random.default_rng(seed)
        self.stage = stage or (lambda name: None)
        self.rounds = 0
        self.checked: set[Word] = set()
        self.last_agreement = 0.0   # of the hypothesis on the words of the last stage compared
        self.converged = False      # the last hypothesis survived the whole hunt

    def find_cex(self, hypothesis: Any) -> tuple | None:
        self.rounds += 1
        dfa = self.to_automaton(hypothesis)
        for name, words in (("every", self.every_word), ("w-method", lambda: self._w_method(hypothesis, dfa)),
                            ("random", lambda: self._random(dfa))):
            self.stage(name)
            found = self.compare(dfa, words())
            if found is not None:
                self.converged = False
                return found
        self.converged = True
        return None

    def compare(self, dfa: Automaton, words: list[Word]) -> Word | None:
        """The shortest (then first) word where the network and `dfa` answer differently."""
        net = self.teacher.answers(words)
        self.checked.update(words)
        differ = [w for w, a in zip(words, net) if dfa.run(w) != a]
        self.last_agreement = 1 - len(differ) / len(words) if words else 1.0
        return min(differ, key=len) if differ else None

    def agreement(self, dfa: Automaton) -> tuple[float, int]:
        """The fraction of every checked word the automaton answers as the network, and how many."""
        words = list(self.checked)
        if not words:
            return 1.0, 0
        net = self.teacher.answers(words)
        same = sum(dfa.run(w) == a for w, a in zip(words, net))
        return same / len(words), len(words)

    def every_word(self) -> list[Word]:
        k = self.teacher.alphabet
        return [w for n in range(1, self.exhaustive + 1) for w in itertools.product(range(k), repeat=n)]

    def _w_method(self, hypothesis: Any, dfa: Automaton) -> list[Word]:
        hypothesis.compute_prefixes()
        access = [tuple(s.prefix) for s in hypothesis.states]
        try:
            suffixes = [tuple(w) for w in hypothesis.compute_characterization_set(raise_warning=False)] or [()]
        except Exception:  # AALpy raises on hypotheses it deems not minimal: use the letters
            suffixes = [(a,) for a in range(self.teacher.alphabet)]
        k = self.teacher.alphabet
        middles = [m for n in range(self.depth + 1) for m in itertools.product(range(k), repeat=n)]
        words = {p + m + s for p in access for m in middles for s in suffixes}
        words = [w for w in words if 0 < len(w) <= self.max_len and len(w) > self.exhaustive]
        if len(words) > W_WORDS:
            words = [words[i] for i in self.rng.choice(len(words), W_WORDS, replace=False)]
        return sorted(words, key=lambda w: (len(w), w))

    def _random(self, dfa: Automaton) -> list[Word]:
        k, words = self.teacher.alphabet, []
        access = _access_words(dfa)
        for j in range(RANDOM_WORDS):
            n = int(self.rng.integers(1, self.max_len + 1))
            head = access[int(self.rng.integers(0, len(access)))] if j % 2 else ()
            head = head[:n]
            words.append(head + tuple(self.rng.integers(0, k, n - len(head)).tolist()))
        return words


def _access_words(dfa: Automaton) -> list[Word]:
    """A shortest word reaching each state (breadth-first over the letters)."""
    access: dict[int, Word] = {dfa.initial: ()}
    frontier = [dfa.initial]
    while frontier:
        nxt = []
        for q in frontier:
            for a, r in enumerate(dfa.transitions[q]):
                if r not in access:
                    access[r] = access[q] + (a,)
                    nxt.append(r)
        frontier = nxt
    return list(access.values())


def departures(dfa: Automaton, teacher: Teacher, max_len: int, *, seed: int = 0) -> dict[str, Any]:
    """The network against its automaton on random words of 2..5 times `max_len` letters: words
    asked and differing per length, the lengths where they part, and one differing word."""
    rng = np.random.default_rng(seed)
    rows, example = [], None
    for factor in LONG_FACTORS:
        n = factor * max_len
        words = [tuple(rng.integers(0, teacher.alphabet, n).tolist()) for _ in range(LONG_WORDS)]
        net = teacher.answers(words)
        differ = [w for w, a in zip(words, net) if dfa.run(w) != a]
        rows.append({"length": n, "words": len(words), "differ": len(differ)})
        if differ and example is None:
            example = {"word": list(differ[0]), "network": _plain(net[words.index(differ[0])]),
                       "automaton": _plain(dfa.run(differ[0]))}
    lengths = [r["length"] for r in rows if r["differ"]]
    return {"checked": rows, "lengths": lengths, "first": lengths[0] if lengths else None, "example": example}


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v
