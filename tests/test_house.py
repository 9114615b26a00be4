"""The house rules that a reader relies on, checked by the test command itself: the linter and
the type checker pass (configured in pyproject.toml), no module grows past 500 lines, and the
repository refers to nothing outside it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_passes():
    result = _run("ruff", "check", "rtcli", "tests", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes():
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "rtcli").rglob("*.py")))
def test_module_under_500_lines(path):
    lines = (ROOT / path).read_text().count("\n")
    assert lines <= 500, f"{path} has {lines} lines: split it by responsibility"


# A Markdown document named in the tree (a name ending in .md) must be one the repository has: a reader
# cannot follow a reference to a document that lives somewhere else.
_DOC_NAME = re.compile(r"\b[A-Za-z_-]+\.md\b")


def test_repository_refers_to_nothing_outside_it():
    have = {p.name for p in ROOT.rglob("*.md") if "node_modules" not in p.parts}
    offenders = []
    paths = [ROOT / "README.md"]
    for base in ("rtcli", "tests", "scripts", "docs", "examples"):
        paths += [p for p in (ROOT / base).rglob("*") if p.is_file() and "node_modules" not in p.parts
                  and p.suffix in {".py", ".md", ".mjs", ".js", ".html", ".toml"}]
    for path in paths:
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            missing = [m for m in _DOC_NAME.findall(line) if m not in have]
            if missing:
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {', '.join(missing)}")
    assert not offenders, "\n".join(offenders)


def test_no_installed_packages_are_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    offenders = [p for p in tracked.stdout.splitlines() if "node_modules" in p.split("/")]
    assert not offenders, f"installed packages (or links to them) are tracked: {offenders}"
