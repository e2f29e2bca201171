"""The decision-rule family (issue 17): rules over real inputs whose boundaries are located by
asking the network. `run(spec, oracle, options=...) -> synth.outcome.FamilyResult`."""

from synth.rules.search import check_spec, run

__all__ = ["check_spec", "run"]
