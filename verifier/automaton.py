"""`check(automaton, oracle, spec)`: an automaton judged against its network and its reference.

- Fidelity: the network against the automaton on every word of the spec's lengths when there are
  at most EVERY_WORDS, else on every word up to the longest length that fits plus RANDOM_WORDS
  random words of the spec's lengths (`exhaustive` says which). A disagreement's inputs are the
  word, one list of step values per input.
- Equivalence with the reference (`reference`, default the spec's): a DFA or a regular expression
  is compared exactly by product automaton on every word of at least min_len letters (EQUIVALENT or
  the shortest COUNTEREXAMPLE); a Python predicate is only evaluated, on every word up to a length
  and on random ones (COUNTEREXAMPLE, or UNKNOWN with what was checked: no proof).
- Generalisation: the automaton against the reference on `hypothesis_examples` random words of
  2..10 times the longest training length (for a DFA or regex reference, led by the product's
  shortest differing word of any length when there is one).
- Beyond the range: the network against the reference (`network_beyond`) and against the
  automaton (`follows`) on random words of every length from max_len + 1 to 2 * max_len, then
  3, 4 and 5 times max_len; `follows.note` names the lengths where the network departs.
- Speed: microseconds per word of the network, the vectorised automaton and the exported Python,
  on random words of max_len letters. Size: states, exported Python's length, the network's size.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from dsl.automaton import Automaton
from dsl.errors import DSLError
from verifier.equivalence import Counterexample, Equivalence, Verdict
from verifier.fidelity import Disagreement, Fidelity, wilson_lower
from verifier.generalisation import Generalisation, NetworkBeyond
from verifier.languages import Predicate, difference, reference_of, word_form
from verifier.speed import Size, Speed
from verifier.verify import Verification

EVERY_WORDS = 2**16
RANDOM_WORDS = 20_000
BEYOND_WORDS = 200        # random words per length beyond the training lengths
SPEED_WORDS = 4096


@dataclass(frozen=True)
class Departures:
    """The network against the automaton per length beyond the training lengths."""

    rows: tuple[tuple[int, int, int], ...]      # (length, words, words differing)
    examples: tuple[tuple[tuple[int, ...], Any, Any], ...]   # (word, network, automaton)

    @property
    def lengths(self) -> list[int]:
        return [n for n, _, differ in self.rows if differ]

    @property
    def agreement(self) -> float:
        total = sum(w for _, w, _ in self.rows)
        return 1 - sum(d for _, _, d in self.rows) / total if total else 1.0


def check(program: Automaton | Mapping[str, Any], oracle: Any, spec: Any = None, *, reference: Any = None,
          min_agreement: float = 1.0, seed: int = 0, timeout_ms: int = 10_000,
          hypothesis_examples: int = 200, max_disagreements: int = 20) -> Verification:
    """Judge `program` against `oracle`'s network and `reference` (text, an Automaton; default
    the spec's reference). DSLError for a program or reference that does not fit the spec."""
    spec = spec if spec is not None else oracle.spec
    automaton = program if isinstance(program, Automaton) else Automaton.from_dict(program, spec)
    letters = [tuple(int(v) for v in row) for row in oracle.letters.tolist()]
    if set(automaton.letters) != set(letters):
        raise DSLError(f"program.letters: expected the spec's steps {[list(a) for a in letters]}, "
                       f"got {[list(a) for a in automaton.letters]}")
    reference = spec.reference if reference is None else reference
    ref = reference_of(reference, automaton) if isinstance(reference, str) else reference
    rng = np.random.default_rng(seed)
    lo, hi = spec.sequence.min_len, spec.sequence.max_len
    return Verification(
        fidelity=fidelity(automaton, oracle, lo, hi, rng, max_disagreements=max_disagreements),
        equivalence=equivalence(automaton, ref, lo, hi, rng),
        generalisation=_generalisation(automaton, ref, hi, hypothesis_examples, rng),
        network_beyond=_network_vs(ref, automaton, oracle, hi, rng),
        follows=_follows(departures(automaton, oracle, hi, seed=seed)),
        speed=_speed(automaton, oracle, hi, rng),
        size=Size(automaton.size, len(automaton.to_python()), int(oracle.parameter_count),
                  None if oracle.model_bytes is None else int(oracle.model_bytes)),
        min_agreement=min_agreement)


def fidelity(automaton: Automaton, oracle: Any, lo: int, hi: int, rng: np.random.Generator, *,
             max_disagreements: int = 20) -> Fidelity:
    k = len(automaton.letters)
    top, total = lo - 1, 0
    while top < hi and total + k ** (top + 1) <= EVERY_WORDS:
        top += 1
        total += k ** top
    words = [w for n in range(lo, top + 1) for w in itertools.product(range(k), repeat=n)]
    exhaustive = top == hi
    if not exhaustive:
        words += _random_words(k, top + 1, hi, RANDOM_WORDS, rng)
    net = oracle.query_words(words)
    ours = [automaton.run(w) for w in words]
    differ = [j for j, (a, b) in enumerate(zip(net, ours)) if a != b]
    shown = [Disagreement(_inputs(automaton, words[j]), _plain(net[j]), _plain(ours[j]))
             for j in differ[:max_disagreements]]
    agree = len(words) - len(differ)
    return Fidelity(agree, len(words), exhaustive, wilson_lower(agree, len(words)), tuple(shown))


def equivalence(automaton: Automaton, ref: Automaton | Predicate | None, lo: int, hi: int,
                rng: np.random.Generator) -> Equivalence:
    if ref is None:
        return Equivalence(Verdict.NO_REFERENCE)
    if isinstance(ref, Automaton):
        word = difference(automaton, ref, lo)
        if word is None:
            return Equivalence(Verdict.EQUIVALENT)
        return Equivalence(Verdict.COUNTEREXAMPLE, _counterexample(automaton, word, ref.run(word)))
    k = len(automaton.letters)
    top = max(n for n in range(lo, hi + 1) if sum(k ** m for m in range(lo, n + 1)) <= EVERY_WORDS) \
        if k ** lo <= EVERY_WORDS else lo - 1
    words = [w for n in range(lo, top + 1) for w in itertools.product(range(k), repeat=n)]
    words += _random_words(k, lo, hi, RANDOM_WORDS if top < hi else 0, rng)
    for w in words:
        want = _call(ref, automaton, w)
        if automaton.run(w) != want:
            return Equivalence(Verdict.COUNTEREXAMPLE, _counterexample(automaton, w, want))
    scope = f"every word of {lo}..{top} steps" + (f" and {RANDOM_WORDS} random ones up to {hi}" if top < hi else "")
    return Equivalence(Verdict.UNKNOWN, reason=f"a predicate reference is evaluated, not proved: the automaton "
                                               f"agrees with it on {scope} ({len(words)} words)")


def departures(automaton: Automaton, oracle: Any, max_len: int, *, seed: int = 0,
               per_length: int = BEYOND_WORDS, examples: int = 5) -> Departures:
    """The network against `automaton` on `per_length` random words of each length max_len + 1 ..
    2 * max_len, then 3, 4 and 5 times max_len."""
    rng = np.random.default_rng(seed)
    k = len(automaton.letters)
    rows, found = [], []
    for n in _beyond_lengths(max_len):
        words = [tuple(rng.integers(0, k, n).tolist()) for _ in range(per_length)]
        net = oracle.query_words(words)
        differ = [(w, a) for w, a in zip(words, net) if automaton.run(w) != a]
        rows.append((n, len(words), len(differ)))
        found += [(w, _plain(a), _plain(automaton.run(w))) for w, a in differ[: max(0, examples - len(found))]]
    return Departures(tuple(rows), tuple(found))


def _beyond_lengths(max_len: int) -> list[int]:
    return list(range(max_len + 1, 2 * max_len + 1)) + [3 * max_len, 4 * max_len, 5 * max_len]


def _follows(dep: Departures) -> NetworkBeyond:
    words = sum(w for _, w, _ in dep.rows)
    lengths = dep.lengths
    checked = f"{dep.rows[0][0]}..{dep.rows[-1][0]}" if dep.rows else "none"
    if lengths:
        note = (f"the network departs from the automaton on {len(lengths)} of {len(dep.rows)} lengths checked "
                f"({checked}), first at length {lengths[0]}: {', '.join(map(str, lengths[:12]))}"
                + (" ..." if len(lengths) > 12 else ""))
    else:
        note = f"the network follows the automaton on every word checked of lengths {checked}"
    examples = tuple(((("word", list(w)),), net, ours) for w, net, ours in dep.examples)
    return NetworkBeyond(dep.agreement, words, note, examples)


def _network_vs(ref: Automaton | Predicate | None, automaton: Automaton, oracle: Any, max_len: int,
                rng: np.random.Generator) -> NetworkBeyond:
    if ref is None:
        return NetworkBeyond(None, note="no reference")
    k = len(automaton.letters)
    words = [tuple(rng.integers(0, k, n).tolist()) for n in _beyond_lengths(max_len) for _ in range(20)]
    net = oracle.query_words(words)
    truth = [ref.run(w) if isinstance(ref, Automaton) else _call(ref, automaton, w) for w in words]
    same = sum(a == b for a, b in zip(net, truth))
    return NetworkBeyond(same / len(words), len(words),
                         f"the network against the reference on {len(words)} random words of "
                         f"{max_len + 1}..{5 * max_len} steps")


def _generalisation(automaton: Automaton, ref: Any, max_len: int, examples: int,
                    rng: np.random.Generator) -> Generalisation | None:
    if ref is None:
        return None
    k = len(automaton.letters)
    words = _random_words(k, 2 * max_len, 10 * max_len, examples, rng)
    if isinstance(ref, Automaton):  # the product decides every length; the shortest word first
        found = difference(automaton, ref, 1)
        words = ([found] if found is not None else []) + words
    for w in words:
        want = ref.run(w) if isinstance(ref, Automaton) else _call(ref, automaton, w)
        if automaton.run(w) != want:
            return Generalisation(len(words), False, _counterexample(automaton, w, want))
    return Generalisation(len(words), True)


def _speed(automaton: Automaton, oracle: Any, max_len: int, rng: np.random.Generator) -> Speed:
    k = len(automaton.letters)
    codes = rng.integers(0, k, (SPEED_WORDS, max_len))
    steps = oracle.letters[codes]                                  # (n, T, D)
    columns = {name: steps[:, :, j] for j, name in enumerate(automaton.inputs)}
    x = oracle._encode(steps)
    net = _best(lambda: oracle.run_raw(x)) / SPEED_WORDS
    vec = _best(lambda: automaton.evaluate(columns)) / SPEED_WORDS
    namespace: dict[str, Any] = {}
    exec(automaton.to_python("f"), namespace)  # noqa: S102  (our own generated source)
    f = namespace["f"]
    words = [[tuple(s) if len(s) > 1 else s[0] for s in w.tolist()] for w in steps[:256]]
    py = _best(lambda: [f(w) for w in words]) / len(words)
    return Speed(net * 1e6, vec * 1e6, py * 1e6, SPEED_WORDS)


def _best(fn: Any, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-9)


def _random_words(k: int, lo: int, hi: int, n: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    lengths = rng.integers(lo, hi + 1, n) if hi >= lo else []
    return [tuple(rng.integers(0, k, int(t)).tolist()) for t in lengths]


def _call(ref: Predicate, automaton: Automaton, word: tuple[int, ...]) -> Any:
    form = word_form(automaton, word)
    try:
        value = ref(form)
    except Exception as e:
        raise DSLError(f"reference: the predicate raised {type(e).__name__}: {e} on {form!r:.60}") from None
    return bool(value) if isinstance(automaton.outputs[0], bool) else int(value)


def _inputs(automaton: Automaton, word: tuple[int, ...]) -> tuple[tuple[str, Any], ...]:
    """The word as inputs: each input with the list of its step values."""
    steps = [automaton.letters[a] for a in word]
    return tuple((name, [s[j] for s in steps]) for j, name in enumerate(automaton.inputs))


def _counterexample(automaton: Automaton, word: tuple[int, ...], reference: Any) -> Counterexample:
    return Counterexample(_inputs(automaton, word), _plain(automaton.run(word)), _plain(reference))


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v
