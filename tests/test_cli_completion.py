"""`netsynth completion SHELL`: the shell code it prints makes a real bash complete netsynth's
commands and options (the completion function that bash registers is called as bash would)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def complete(line: str) -> list[str]:
    """What bash offers for `line` (the cursor at its end), through the registered function."""
    words = line.split(" ")
    script = f'''
set -e
eval "$(netsynth completion bash)"
fn=$(complete -p netsynth | sed -E 's/.*-F ([^ ]+).*/\\1/')
COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}
"$fn" netsynth "{words[-1]}" "{words[-2]}"
printf '%s\\n' "${{COMPREPLY[@]}}"
'''
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return [w.strip() for w in out.stdout.splitlines() if w.strip()]


def test_bash_completes_commands_and_options() -> None:
    assert complete("netsynth ru") == ["run"]
    assert "compare" in complete("netsynth co") and "completion" in complete("netsynth co")
    assert complete("netsynth run --time") == ["--timeout"]
    assert complete("netsynth completion z") == ["zsh"]


def test_an_unknown_shell_is_bad_input() -> None:
    out = subprocess.run([str(BIN / "netsynth"), "completion", "tcsh"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert "invalid choice: 'tcsh'" in out.stderr and "bash" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_other_shells_get_their_own_code(shell: str) -> None:
    out = subprocess.run([str(BIN / "netsynth"), "completion", shell], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "netsynth" in out.stdout
    assert ("compdef" in out.stdout) if shell == "zsh" else ("complete" in out.stdout)
