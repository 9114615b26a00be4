"""The linear-time email and URL checks agree with the patterns they replace on every short
input (where a backtracking pattern is cheap and obviously right), and stay fast on long ones."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcli.core import formats

# The patterns the checks replaced, anchored with fullmatch (``$`` also matched before a final
# newline, which was a bug of their own): the reference for what is valid.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#]+[^\s]*")
# The characters the patterns care about, so that most examples sit on a boundary.
TRICKY = st.text(alphabet=st.sampled_from("a@.:/ ?#1+-Z\n\té") | st.characters(), max_size=40)


@given(TRICKY)
def test_email_check_agrees_with_the_pattern(value):
    assert formats.is_email(value) == bool(EMAIL.fullmatch(value))


@given(TRICKY)
def test_url_check_agrees_with_the_pattern(value):
    assert formats.is_url(value) == bool(URL.fullmatch(value))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["a@", "a://", ""]), st.sampled_from(".@a:/"), st.integers(10_000, 200_000))
def test_long_values_are_refused_at_once(head, filler, n):
    value = head + filler * n + " "
    t = time.perf_counter()
    assert not formats.is_email(value) and not formats.is_url(value)
    assert not formats.is_email(value, max_length=10 ** 6) and not formats.is_url(value, max_length=10 ** 6)
    assert time.perf_counter() - t < 0.1  # linear even without the length bound


def test_bounds_are_appwrites():
    assert formats.is_email("a" * 242 + "@example.com") and not formats.is_email("a" * 243 + "@example.com")
    assert formats.is_email("a" * 308 + "@example.com", formats.ACCOUNT_EMAIL_MAX)
    url = "https://e.com/" + "a" * 1986
    assert len(url) == 2000 and formats.is_url(url) and not formats.is_url(url + "a")
