"""What programs are: typed ASTs in grammar-defined DSLs, with numpy, Python and Z3 meanings.

`import dsl` stays cheap: it imports numpy and lark, never torch, ray or z3 (Z3 is imported when a
Z3 term is first built, by `dsl.smt`).
"""

from dsl.ast import App, Const, Node, Var, const, size, variables
from dsl.errors import DSLError, NetsynthError
from dsl.evaluate import Evaluation, evaluate
from dsl.export import compile_python, python_expression, to_python
from dsl.language import DSL, get_dsl
from dsl.ops import Operator
from dsl.types import BOOL, INT, Type

__all__ = [
    "App", "BOOL", "Const", "DSL", "DSLError", "Evaluation", "INT", "NetsynthError", "Node",
    "Operator", "Type", "Var", "compile_python", "const", "evaluate", "get_dsl",
    "python_expression", "size", "to_python", "variables",
]
