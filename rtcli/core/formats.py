"""Email and URL checks that take time linear in their input, bounded in length first.

A regular expression such as ``[^@]+@[^@]+\\.[^@]+`` backtracks: its two domain parts overlap
(a dot is also "not @"), so a long string of dots that fails at the end costs quadratic time,
seconds of event loop for a 30 KB value. These checks look at each character a fixed number of
times and refuse anything past the length Appwrite gives the same field, before looking at it.
"""

from __future__ import annotations

EMAIL_MAX = 254  # an email column (Appwrite: RFC 5321's longest path)
ACCOUNT_EMAIL_MAX = 320  # an account's email (Appwrite's users collection)
URL_MAX = 2000  # a url column (Appwrite)

_SCHEME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SCHEME_REST = _SCHEME_FIRST | frozenset("0123456789+.-")


def _has_space(value: str) -> bool:
    return any(c.isspace() for c in value)


def is_email(value: str, max_length: int = EMAIL_MAX) -> bool:
    """``local@domain.tld``: one ``@``, no whitespace, a dot inside the domain."""
    if len(value) > max_length or _has_space(value):
        return False
    local, at, domain = value.partition("@")
    return bool(at) and bool(local) and "@" not in domain and "." in domain[1:-1]


def is_url(value: str, max_length: int = URL_MAX) -> bool:
    """``scheme://host…``: a scheme of letters, digits, ``+.-`` (a letter first), a non-empty
    host, no whitespace."""
    if len(value) > max_length or _has_space(value):
        return False
    scheme, sep, rest = value.partition("://")
    return (bool(sep) and bool(scheme) and scheme[0] in _SCHEME_FIRST
            and all(c in _SCHEME_REST for c in scheme) and bool(rest) and rest[0] not in "/?#")
