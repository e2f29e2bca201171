"""How programs are judged: `check(program, oracle, ...) -> Verification`.

Fidelity to the network (exhaustive or sampled), a Z3 proof or counterexample against the
reference on the training range (`Verdict`), a Hypothesis search beyond it, and speed and size
against the network. `import verifier` does not import z3, hypothesis, torch or onnxruntime.
"""

from verifier.equivalence import Counterexample, Equivalence, Verdict
from verifier.verify import Verification, check

__all__ = ["Counterexample", "Equivalence", "Verdict", "Verification", "check"]
