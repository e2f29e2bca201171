"""What the oracle reveals about an integer function before the search: constants worth having
as literals (`literals`), and structure that splits the function into parts searched apart
(`separability`, `decompose`). Only numpy at import; every probe queries the oracle in batches.

The helpers that only read a network's outputs along an axis (`literals.slices`) are not
int-specific: a real-valued family may reuse them.
"""
