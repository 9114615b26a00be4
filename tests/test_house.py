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


# Names of documents that live outside this repository, and section marks that point into them.
_OUTSIDE = re.compile(r"PROTOCOL\.md|STYLE\.md|\bpitfall \d|\.\./shared/|steering repo")


def test_repository_refers_to_nothing_outside_it():
    offenders = []
    for base in ("rtcli", "tests", "scripts", "docs", "examples"):
        for path in (ROOT / base).rglob("*"):
            if "node_modules" in path.parts or not path.is_file() or path.suffix not in {".py", ".md", ".mjs", ".js", ".html", ".toml"}:
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if _OUTSIDE.search(line) and path.name != "test_house.py":
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    readme = (ROOT / "README.md").read_text()
    offenders += [f"README.md: {m.group(0)}" for m in _OUTSIDE.finditer(readme)]
    assert not offenders, "\n".join(offenders)


def test_no_installed_packages_are_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    offenders = [p for p in tracked.stdout.splitlines() if "node_modules" in p.split("/")]
    assert not offenders, f"installed packages (or links to them) are tracked: {offenders}"
