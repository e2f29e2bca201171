"""The network as the teacher of active automata learning: membership answers in batches, cached.

`Teacher(oracle, budget)` answers words (tuples of letter indices over the sequence oracle's
`letters`): `answers(words)` sends the words it has not seen to the network together, grouped by
length (`SequenceOracle.query_words`), and remembers every answer. `Budget` carries the deadline
and the cancel event: every batch checks it first and raises `Stopped` with the StopReason.

`NetworkSUL` is what AALpy's L* talks to. AALpy asks one word at a time and reads only the last
output of a query for DFAs and Moore machines (observation table cells without prefixes,
counterexample processing by Rivest-Schapire); so a query answers the word's own answer in last
place. On a miss the SUL asks the word's one-letter extensions and siblings in the same batch,
the rows L* is about to fill. The empty word has no answer (a network reads at least one step):
L* is given `empty` for it, and the search decides the start state's output afterwards.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

from aalpy.base import SUL

from synth.outcome import StopReason

Word = tuple[int, ...]


class Stopped(Exception):
    def __init__(self, reason: StopReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass
class Budget:
    deadline: float | None          # time.monotonic() value, or None
    cancel: threading.Event | None

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Stopped(StopReason.CANCELLED)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Stopped(StopReason.TIME)


class Teacher:
    def __init__(self, oracle: Any, budget: Budget) -> None:
        self.oracle = oracle
        self.budget = budget
        self.alphabet = len(oracle.letters)
        self.known: dict[Word, Any] = {}
        self.asked = 0          # words sent to the network

    def answers(self, words: Sequence[Word]) -> list[Any]:
        todo = list(dict.fromkeys(w for w in words if w not in self.known))
        if todo:
            self.budget.check()
            for w, a in zip(todo, self.oracle.query_words(todo)):
                self.known[w] = a
            self.asked += len(todo)
        return [self.known[w] for w in words]

    def answer(self, word: Word) -> Any:
        if word not in self.known:
            near = [word[:-1] + (a,) for a in range(self.alphabet)] + [word + (a,) for a in range(self.alphabet)]
            self.answers([word, *near])
        return self.known[word]


class NetworkSUL(SUL):
    """AALpy's system under learning, answering from the teacher (see the module docstring)."""

    def __init__(self, teacher: Teacher, empty: Any) -> None:
        super().__init__()
        self.teacher = teacher
        self.empty = empty

    def query(self, word: tuple) -> list:
        self.num_queries += 1
        if not word:
            return [self.empty]
        self.num_steps += len(word)
        return [None] * (len(word) - 1) + [self.teacher.answer(tuple(word))]

    def pre(self) -> None:  # queries are whole words: nothing to reset
        pass

    def post(self) -> None:
        pass

    def step(self, letter: Any) -> Any:
        raise NotImplementedError("NetworkSUL answers whole words (query), not steps")
