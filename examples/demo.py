"""`make demo`: the main job end to end on the bundled example networks.

Runs the search and the verifier on each example network and prints the verified programs.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    from synth.cli import main as cli

    codes = []
    for name, extra in [("mod_add_113", []), ("bitwise_8", []), ("abs_diff", []),
                        ("max_raw", []), ("noisy_add", ["--min-agreement", "0.95"])]:
        print(f"\n=== {name} ===", flush=True)
        codes.append(cli(["run", str(HERE / name / "spec.json"), "--workers", "1", *extra]))
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
