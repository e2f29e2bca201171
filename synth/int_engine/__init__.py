"""The int/bool fast path: bottom-up enumeration of integer and boolean programs.

This is the engine of the `int` search family (synth/search.py): value banks of int64/bool rows
over a sample of points, observational equivalence by 64-bit fingerprints, numba kernels for large
levels, and sharding over Ray. It assumes throughout that a value is an integer (or boolean)
vector compared with `==`; other kinds of networks (reals, rules, state, automata) get search
families of their own beside it rather than generalising it.

- `engine`: `Enumerator` (grows the banks one size level at a time) and the `Executor` protocol.
- `enumerate`: plans a level's work items and evaluates them with numpy.
- `bank`: the value banks, fingerprints and what a process found.
- `kernels`: numba kernels generated per operator and cached on disk.
- `distributed`: `make_executor`, `start_ray`, the Ray executor.
- `cluster`: joining a Ray cluster by address (checks, token, `ComputeError`).
- `memory`: allocator tuning for large banks.
"""
