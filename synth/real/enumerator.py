"""Bottom-up enumeration of formulas without fitted constants, judged up to an affine map.

Formulas grow by size (nodes) from the leaves (the variables, 1, 2 and pi) through unary
functions, integer powers and the four operations. Two formulas with the same values on the
sample (rounded to a relative 1e-9, by a hash of the rounded vector) are one: only the first
(smallest) is kept. Each new formula e is scored against each target t by 1 - corr(e, t)^2, the
relative squared error of the best affine fit a * e + b; the best few are returned.
"""

from __future__ import annotations

import heapq
import time
from typing import Sequence

import numpy as np

from dsl.ast import App, Const, Node
from dsl.real import literal
from dsl.types import INT, REAL
from synth.real import terms

UNARY = ("sqrt", "exp", "log", "sin", "cos", "asin", "acos", "atan", "tan", "tanh")
NUMPY = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos,
         "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "tan": np.tan,
         "tanh": np.tanh}
POWERS = (2, 3)
#: Formulas examined per size level at most (a level is cut short beyond this).
LEVEL_CAP = 120_000
#: New formulas kept per level at most (30,000 value vectors of 300 points: 72 MB).
LEVEL_KEEP = 30_000
#: Right-hand rows combined with one left-hand formula at a time (bounds temporaries).
CHUNK = 2048


class Bank:
    """The distinct formulas found so far, by size: (node, values) rows and a set of value keys."""

    def __init__(self) -> None:
        self.levels: dict[int, list[tuple[Node, np.ndarray]]] = {}
        self.keys: set[bytes] = set()

    def add(self, size: int, node: Node, values: np.ndarray) -> bool:
        key = _key(values)
        if key in self.keys:
            return False
        self.keys.add(key)
        self.levels.setdefault(size, []).append((node, values))
        return True


def _key(values: np.ndarray) -> bytes:
    m = float(np.max(np.abs(values)))
    if m == 0:
        return b"zero"
    e = np.floor(np.log2(m))
    return np.round(values * 2.0 ** (-e) * 1e9).astype(np.int64).tobytes() + int(e).to_bytes(4, "little", signed=True)


def grow(X: np.ndarray, names: Sequence[str], *, max_size: int, late=lambda: False):
    """The distinct formulas by size, bottom-up: yields (size, nodes, values (m, n)) for each
    level from 1 to `max_size`, or until `late()`; each level is cut short at LEVEL_CAP formulas
    examined and LEVEL_KEEP kept."""
    n = len(X)
    bank = Bank()
    leaves: list[tuple[Node, np.ndarray]] = [(terms.var(v), X[:, i].astype(np.float64)) for i, v in enumerate(names)]
    leaves += [(literal(1.0), np.ones(n)), (literal(2.0), np.full(n, 2.0)),
               (App("pi", (), REAL), np.full(n, np.pi))]
    for node, values in leaves:
        bank.add(1, node, values)
    yield 1, [nd for nd, _ in bank.levels[1]], np.stack([v for _, v in bank.levels[1]])

    for size in range(2, max_size + 1):
        if late():
            return
        new_nodes: list[Node] = []
        new_values: list[np.ndarray] = []
        examined = 0

        def offer(make, V: np.ndarray, rows=None) -> None:
            """Keep the rows of V that are finite, not constant and new; make(j) builds row j's node."""
            ok = np.all(np.isfinite(V), axis=1)
            ok &= np.ptp(np.where(ok[:, None], V, 0), axis=1) > 1e-12 * (np.max(np.abs(np.where(ok[:, None], V, 0)), axis=1) + 1e-300)
            if rows is not None:
                ok &= rows
            idx = np.flatnonzero(ok)
            if not idx.size or len(new_nodes) >= LEVEL_KEEP:
                return
            W = V[idx]
            m = np.max(np.abs(W), axis=1)
            e = np.floor(np.log2(m))
            K = np.round(W * (2.0 ** -e)[:, None] * 1e9).astype(np.int64)
            for r, j in enumerate(idx):
                key = K[r].tobytes() + int(e[r]).to_bytes(4, "little", signed=True)
                if key not in bank.keys:
                    bank.keys.add(key)
                    node = make(int(j))
                    bank.levels.setdefault(size, []).append((node, V[j]))
                    new_nodes.append(node)
                    new_values.append(V[j])

        with np.errstate(all="ignore"):
            # The four operations first, then powers, then functions: the level is cut short at
            # LEVEL_KEEP, and laws are mostly products and quotients (u * sin(v) / w must not
            # wait behind every function of every function).
            for s1 in range(1, size - 1):
                s2 = size - 1 - s1
                left, right = bank.levels.get(s1, []), bank.levels.get(s2, [])
                if not left or not right:
                    continue
                right_const = np.array([isinstance(nd, Const) for nd, _ in right])
                for start in range(0, len(right), CHUNK):
                    R = np.stack([v for _, v in right[start:start + CHUNK]])
                    positions = np.arange(start, start + len(R))
                    for i, (a, va) in enumerate(left):
                        if late() or examined > LEVEL_CAP or len(new_nodes) >= LEVEL_KEEP:
                            break
                        examined += 4 * len(R)
                        a_const = isinstance(a, Const)
                        for op, fn in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                                       ("div", np.divide)):
                            rows = ~right_const[start:start + len(R)] if a_const else None
                            if op in ("add", "mul") and s1 >= s2:
                                if s1 > s2:
                                    continue
                                order = positions >= i
                                rows = order if rows is None else rows & order
                            offer(lambda j, op=op, a=a, start=start: App(op, (a, right[start + j][0]), REAL),
                                  fn(va, R), rows)
            below2 = bank.levels.get(size - 2, [])
            if below2:
                B2 = np.stack([v for _, v in below2])
                allowed = np.array([not (isinstance(nd, App) and nd.op == "pow") for nd, _ in below2])
                for p in POWERS:
                    offer(lambda j, p=p: App("pow", (below2[j][0], Const(p, INT)), REAL), B2 ** p, allowed)
            below = bank.levels.get(size - 1, [])
            if below:
                B = np.stack([v for _, v in below])
                for op in UNARY:
                    allowed = np.array([not _redundant(op, nd) for nd, _ in below])
                    offer(lambda j, op=op: App(op, (below[j][0],), REAL), NUMPY[op](B), allowed)
        # Fewest functions first: the next levels combine this one chunk by chunk.
        if size in bank.levels:
            bank.levels[size].sort(key=lambda row: _functions(row[0]))
        if new_nodes:
            yield size, new_nodes, np.stack(new_values)


def enumerate_skeletons(X: np.ndarray, names: Sequence[str], targets: Sequence[np.ndarray], *,
                        deadline: float, max_size: int = 9, keep: int = 12,
                        stop_at: float = 0.0, cancel=None) -> list[tuple[int, float, Node, np.ndarray]]:
    """The `keep` best (target index, score, formula, values) over formulas up to `max_size`
    nodes; stops early once a formula scores at most `stop_at` (and its level is done), at the
    deadline, or when `cancel` (a threading.Event) is set."""
    def late() -> bool:
        return time.monotonic() > deadline or (cancel is not None and cancel.is_set())
    n = len(X)
    T = np.stack(targets)                                   # (k, n), each normalised
    # The best `keep` of each size (heaps of (-score, ...)): a small formula near the noise floor
    # must not be crowded out by larger approximants that follow the network's error a little
    # better.
    levels: dict[int, list[tuple[float, int, int, Node, np.ndarray]]] = {}
    counter = [0]

    def consider(size: int, nodes: list[Node], values: np.ndarray) -> None:
        best = levels.setdefault(size, [])
        with np.errstate(over="ignore", invalid="ignore"):  # huge values score NaN, sorted last
            mean = values.mean(axis=1, keepdims=True)
            std = values.std(axis=1, keepdims=True)
            z = (values - mean) / np.where(std > 0, std, 1)
            corr = z @ T.T / n                              # (m, k)
            score = 1 - corr ** 2
        ti = np.argmin(score, axis=1)
        s = score[np.arange(len(nodes)), ti]
        for j in np.argsort(s)[:keep]:
            if not np.isfinite(s[j]):       # values that overflow: no score (and NaN would
                break                       # break the heap's order)
            counter[0] += 1
            item = (-float(s[j]), counter[0], int(ti[j]), nodes[j], values[j])
            if len(best) < keep:
                heapq.heappush(best, item)
            elif item[0] > best[0][0]:
                heapq.heapreplace(best, item)

    def done() -> bool:
        return late() or any(b and -max(b)[0] <= stop_at for b in levels.values())

    for size, nodes, values in grow(X, names, max_size=max_size, late=done):
        if size == 1:   # the variables only (constants score nothing)
            nodes, values = nodes[:len(names)], values[:len(names)]
        consider(size, nodes, values)
    ranked = sorted((item for b in levels.values() for item in b), key=lambda t: -t[0])
    return [(ti, -negscore, node, values) for negscore, _, ti, node, values in ranked]


def _functions(node: Node) -> int:
    """How many function applications (sin, exp, sqrt...) a formula has."""
    if not isinstance(node, App):
        return 0
    return (node.op in NUMPY) + sum(_functions(a) for a in node.args)


def _redundant(op: str, node: Node) -> bool:
    """Compositions that undo each other or repeat (exp(log x), log(exp x), sqrt(sqrt x))."""
    if not isinstance(node, App):
        return isinstance(node, Const)
    inverse = {"exp": "log", "log": "exp", "sin": "asin", "asin": "sin", "cos": "acos",
               "acos": "cos", "tan": "atan", "atan": "tan"}
    return inverse.get(op) == node.op
