"""docs/compatibility.md cannot drift from the SDK or the server.

- Every service of the installed Python SDK is in the document: a section listing each of its
  methods with the route it calls, or a row of "Services rtcli does not offer".
- A method marked supported (or differs) is called somewhere in tests/compat_python, which runs
  it against a real server; a method marked not offered answers ``general_not_implemented``.
- The totals line counts the rows.

To add a service: move its row from "Services rtcli does not offer" to a section of its own (the
failing test prints the rows to paste), mark what works, and call it from a test in this folder
through ``sdk.<service>`` (or a variable named after the service).
"""

from __future__ import annotations

import ast
import pkgutil
import re
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import appwrite
import appwrite.services
import pytest
from appwrite.exception import AppwriteException

from tests.compat_python.sdk_methods import SdkMethod, methods_of, placeholder_args, service_class

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"
SUITE = Path(__file__).resolve().parent
STATES = ("supported", "differs", "not offered")
_SECTION = re.compile(r"^## .* \(`(\w+)`\)\s*$")
_ROW = re.compile(r"^\| `(\w+)` \| `(\w+) ([^`]+)` \| (supported|differs|not offered) \|(.*)\|\s*$")
_SERVICE_ROW = re.compile(r"^\| `(\w+)` \| (\d+) \| (.+) \|\s*$")
_TOTALS = re.compile(r"\*\*(\d+) supported, (\d+) differ, (\d+) not offered\*\* of (\d+) methods")


@dataclass(frozen=True)
class Row:
    service: str
    method: str
    http: str
    path: str
    state: str
    notes: str


@dataclass(frozen=True)
class Doc:
    rows: dict[str, list[Row]]  # service -> its rows, in document order
    absent: dict[str, tuple[int, str]]  # service rtcli does not offer -> (methods, why)
    totals: tuple[int, ...] | None


@cache
def doc() -> Doc:
    rows: dict[str, list[Row]] = {}
    absent: dict[str, tuple[int, str]] = {}
    section: str | None = None
    text = DOC.read_text()
    for line in text.splitlines():
        if line.startswith("## "):
            m = _SECTION.match(line)
            section = m.group(1) if m else None
            if section:
                rows.setdefault(section, [])
            continue
        if section and (m := _ROW.match(line)):
            rows[section].append(Row(section, m.group(1), m.group(2), m.group(3), m.group(4), m.group(5).strip()))
        elif section is None and (m := _SERVICE_ROW.match(line)):
            absent[m.group(1)] = (int(m.group(2)), m.group(3).strip())
    totals = _TOTALS.search(text)
    return Doc(rows, absent, tuple(int(x) for x in totals.groups()) if totals else None)


def sdk_services() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(appwrite.services.__path__))


@cache
def sdk_methods(service: str) -> tuple[SdkMethod, ...]:
    return tuple(methods_of(service))


def _row_text(m: SdkMethod) -> str:
    return f"| `{m.name}` | `{m.route}` | not offered | why |"


def test_every_sdk_service_is_in_the_document():
    d = doc()
    assert not set(d.rows) & set(d.absent), "a service is both detailed and listed as not offered"
    missing = set(sdk_services()) - set(d.rows) - set(d.absent)
    assert not missing, f"services of appwrite {appwrite.__name__} missing from {DOC.name}: {sorted(missing)}"
    stale = (set(d.rows) | set(d.absent)) - set(sdk_services())
    assert not stale, f"{DOC.name} lists services the SDK does not have: {sorted(stale)}"


@pytest.mark.parametrize("service", sorted(doc().rows))
def test_section_lists_every_method_with_its_route(service):
    listed = {r.method: r for r in doc().rows[service]}
    methods = {m.name: m for m in sdk_methods(service)}
    missing = [_row_text(methods[n]) for n in sorted(set(methods) - set(listed))]
    assert not missing, f"add these rows to the `{service}` section of {DOC.name}:\n" + "\n".join(missing)
    stale = sorted(set(listed) - set(methods))
    assert not stale, f"the `{service}` section lists methods the SDK does not have: {stale}"
    wrong = [f"{n}: {listed[n].http} {listed[n].path} -> {m.route}" for n, m in methods.items()
             if (listed[n].http, listed[n].path) != (m.http, m.path)]
    assert not wrong, "routes differ from the SDK's:\n" + "\n".join(wrong)
    for r in listed.values():
        assert r.state == "supported" or r.notes, f"{service}.{r.method} is {r.state}: say how or why in its notes"


@pytest.mark.parametrize("service", sorted(doc().absent))
def test_services_not_offered_count_their_methods(service):
    count, why = doc().absent[service]
    assert count == len(sdk_methods(service)) and why


def test_totals_add_up():
    d = doc()
    rows = [r for rs in d.rows.values() for r in rs]
    counted = (sum(r.state == "supported" for r in rows), sum(r.state == "differs" for r in rows),
               sum(r.state == "not offered" for r in rows) + sum(n for n, _ in d.absent.values()))
    assert d.totals == (*counted, sum(counted)), f"the totals line should read: {counted} of {sum(counted)} methods"


def _suite_calls() -> set[tuple[str, str]]:
    """(service, method) of every call ``<x>.<service>.<method>(…)`` or ``<service>.<method>(…)``
    in the suite's tests."""
    calls = set()
    for path in SUITE.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
                if name:
                    calls.add((name, node.func.attr))
    return calls


def test_supported_methods_are_exercised_by_the_suite():
    calls = _suite_calls()
    unexercised = [f"{r.service}.{r.method}" for rs in doc().rows.values() for r in rs
                   if r.state != "not offered" and (r.service, r.method) not in calls]
    assert not unexercised, f"marked supported in {DOC.name} but called by no test in {SUITE.name}: {unexercised}"


def _not_offered() -> list[tuple[str, str]]:
    d = doc()
    out = [(r.service, r.method) for rs in d.rows.values() for r in rs if r.state == "not offered"]
    out += [(s, m.name) for s in d.absent for m in sdk_methods(s)]
    return sorted(out)


def test_methods_not_offered_answer_not_implemented(admin):
    """Each one, called through the SDK with an API key, gets Appwrite's general_not_implemented:
    never a 404 route, never a 500."""
    wrong = []
    for service, name in _not_offered():
        cls = service_class(service)
        func = getattr(cls, name)
        try:
            with warnings.catch_warnings(record=True):
                getattr(cls(admin.client), name)(**placeholder_args(func))
        except AppwriteException as e:
            if e.code == 405 and e.type == "general_not_implemented" and "rtcli does not offer" in e.message:
                continue
            wrong.append(f"{service}.{name}: {e.code} {e.type} {e.message[:80]}")
        else:
            wrong.append(f"{service}.{name}: succeeded, so mark it supported")
    assert not wrong, f"{len(wrong)} methods marked not offered answer otherwise:\n" + "\n".join(wrong)
