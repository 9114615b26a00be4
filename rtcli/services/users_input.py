"""The Users API's request parameters, checked, and its response models.

Kept apart from the use cases (services/users.py) so that each stays short: this module knows
Appwrite's parameter rules and models, that one the transactions and events.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError

from rtcli import ids, protocol
from rtcli.core import formats
from rtcli.core.records import UserRecord
from rtcli.errors import AppwriteError, invalid
from rtcli.services import hashes

_PHONE = re.compile(r"^\+[1-9][0-9]{5,14}$")
_LABEL = re.compile(r"^[A-Za-z0-9]{1,36}$")
_HEX = re.compile(r"^[0-9a-fA-F]{16,256}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
MAX_LABELS = 1000
MAX_PREFS = 65_000
# An imported argon2 or bcrypt hash names its own costs: bounded, so a sign-in cannot take the
# server's memory or seconds of CPU.
ARGON2_MAX_MEMORY_KIB = 256 * 1024
ARGON2_MAX_TIME = 16
# Its work is memory × passes: at most libsodium's "moderate" level (256 MiB, 3 passes), about a
# second of CPU here; 256 MiB × 16 passes was five.
ARGON2_MAX_WORK_KIB = 256 * 1024 * 3
ARGON2_MAX_LANES = 16
BCRYPT_MAX_COST = 13  # 0.6 s a check here; each step doubles it


def user_id(value: Any) -> str:
    uid = ids.resolve_id(value)
    if uid is None:
        raise invalid("Invalid `userId` param: Parameter must contain at most 36 chars. Valid chars are a-z, "
                      "A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
    return uid


def email(value: Any, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not formats.is_email(value.strip(), formats.ACCOUNT_EMAIL_MAX):
        raise invalid("Invalid `email` param: Value must be a valid email address")
    return value.strip().lower()


def phone(value: Any, param: str = "phone") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _PHONE.match(value):
        raise invalid(f"Invalid `{param}` param: Phone number must start with a '+' and can have a maximum of "
                      "fifteen digits.")
    return value


def name(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 128:
        raise invalid("Invalid `name` param: Value must be a valid string and at most 128 chars")
    return value


def password(value: Any) -> str:
    if not isinstance(value, str) or not 8 <= len(value) <= 256:
        raise invalid("Invalid `password` param: Password must be between 8 and 256 characters long.")
    return value


def boolean(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise invalid(f"Invalid `{key}` param: Value must be a valid boolean")
    return value


def labels(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_LABELS:
        raise invalid(f"Invalid `labels` param: Value must be an array of at most {MAX_LABELS} labels.")
    for label in value:
        if not isinstance(label, str) or not _LABEL.match(label):
            raise invalid("Invalid `labels` param: each label must be 1-36 alphanumeric characters (a-z, A-Z, 0-9).")
    return list(dict.fromkeys(value))


def prefs(value: Any) -> dict[str, Any]:
    """A user's or a team's preferences: a JSON object under 64 KB."""
    return json_object(value, "prefs", MAX_PREFS)


def json_object(value: Any, param: str, max_bytes: int) -> dict[str, Any]:
    """A JSON object a client gives to be kept and sent on (prefs, metadata): at most
    ``max_bytes`` encoded, nested no deeper than row data may be, storable (``json_problem``).
    Checked without recursion: a value nested thousands deep is a 400, not a 500."""
    def refuse(problem: str) -> AppwriteError:
        return invalid(f"Invalid `{param}` param: Value must be a JSON object under {max_bytes // 1000} KB, "
                       f"nested at most {protocol.MAX_JSON_DEPTH} levels ({problem}).")

    if not isinstance(value, dict):
        raise refuse("not an object")
    if problem := protocol.json_problem(value):
        raise refuse(problem)
    if len(protocol.dumps(value)) > max_bytes:
        raise refuse(f"over {max_bytes:,} bytes")
    return value


def bounded_int(body: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise invalid(f"Invalid `{key}` param: Value must be a valid range between {lo:,} and {hi:,}")
    return value


# --- imported hashes -------------------------------------------------------------------------------


def _hash_string(body: dict[str, Any]) -> str:
    value = body.get("password")
    if not isinstance(value, str) or not value or len(value) > 512:
        raise invalid("Invalid `password` param: the password hash must be a non-empty string of at most 512 chars.")
    return value


def _base64(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value or len(value) > 1024 or not _BASE64.match(value):
        raise invalid(f"Invalid `{key}` param: Value must be a base64 string.")
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        raise invalid(f"Invalid `{key}` param: Value must be a base64 string.") from None
    return value


def imported_hash(kind: hashes.Algorithm, body: dict[str, Any]) -> hashes.PasswordHash:
    """The stored hash of a user imported with ``kind``, its format and costs checked."""
    value = _hash_string(body)
    A = hashes.Algorithm
    if kind is A.ARGON2:
        try:
            p = extract_parameters(value)
        except (InvalidHashError, ValueError):
            raise invalid("Invalid `password` param: not an argon2 hash ($argon2id$v=19$m=…,t=…,p=…$salt$hash).") from None
        if p.memory_cost > ARGON2_MAX_MEMORY_KIB or p.time_cost > ARGON2_MAX_TIME or \
                p.memory_cost * p.time_cost > ARGON2_MAX_WORK_KIB or p.parallelism > ARGON2_MAX_LANES:
            raise invalid(f"Invalid `password` param: argon2 costs are limited to m={ARGON2_MAX_MEMORY_KIB}, "
                          f"t={ARGON2_MAX_TIME}, m×t={ARGON2_MAX_WORK_KIB} and p={ARGON2_MAX_LANES}.")
        return hashes.PasswordHash(value, kind)
    if kind is A.BCRYPT or (kind is A.PHPASS and value.startswith("$2")):
        m = re.match(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$", value)
        if not m or int(m.group(1)) > BCRYPT_MAX_COST:
            raise invalid(f"Invalid `password` param: not a bcrypt hash ($2y$NN$…) of cost at most {BCRYPT_MAX_COST}.")
        return hashes.PasswordHash(value, kind)
    if kind is A.PHPASS:
        if not re.match(r"^\$[PH]\$[./A-Za-z0-9]{31}$", value) or \
                not 7 <= hashes.PHPASS_ALPHABET.find(value[3]) <= hashes.PHPASS_MAX_LOG2:
            raise invalid("Invalid `password` param: not a phpass hash ($P$ or $H$, at most 2^16 rounds).")
        return hashes.PasswordHash(value, kind)
    if kind in (A.MD5, A.SHA):
        if not _HEX.match(value):
            raise invalid("Invalid `password` param: the hash must be hexadecimal.")
        options = {}
        if kind is A.SHA:
            version = body.get("passwordVersion") or "sha3-512"
            if version not in hashes.SHA_VERSIONS:
                raise invalid("Invalid `passwordVersion` param: one of " + ", ".join(hashes.SHA_VERSIONS) + ".")
            options = {"version": version}
        return hashes.PasswordHash(value.lower(), kind, options)
    if kind is A.SCRYPT:
        salt = body.get("passwordSalt")
        if not isinstance(salt, str) or not salt or len(salt) > 256:
            raise invalid("Invalid `passwordSalt` param: Value must be a non-empty string of at most 256 chars.")
        cost = [body.get(k) for k in ("passwordCpu", "passwordMemory", "passwordParallel", "passwordLength")]
        problem = hashes.scrypt_options(*cost)
        if problem:
            raise invalid(f"Invalid scrypt params: {problem}.")
        if not _HEX.match(value):
            raise invalid("Invalid `password` param: the scrypt hash must be hexadecimal.")
        return hashes.PasswordHash(value.lower(), kind, {"salt": salt, "cpu": cost[0], "memory": cost[1],
                                                         "parallel": cost[2], "length": cost[3]})
    if kind is A.SCRYPT_MODIFIED:
        _base64(body, "password")
        return hashes.PasswordHash(value, kind, {"salt": _base64(body, "passwordSalt"),
                                                 "separator": _base64(body, "passwordSaltSeparator"),
                                                 "signer_key": _base64(body, "passwordSignerKey")})
    raise AssertionError(kind)


# --- models ----------------------------------------------------------------------------------------


def account_payload(u: UserRecord) -> dict[str, Any]:
    """The user as its own account sees it (events on the ``account`` channel: no password hash)."""
    return {
        "$id": u.id, "$createdAt": u.created_at, "$updatedAt": u.updated_at, "name": u.name,
        "registration": u.registration, "status": u.status, "labels": u.labels, "passwordUpdate": u.password_update,
        "email": u.email or "", "phone": u.phone or "", "emailVerification": u.email_verification,
        "emailCanonical": (u.email or "").lower(), "emailIsFree": False, "emailIsDisposable": False,
        "emailIsCorporate": False, "emailIsCanonical": True, "phoneVerification": u.phone_verification,
        "mfa": False, "prefs": u.prefs or {}, "targets": [], "accessedAt": u.accessed_at,
        "impersonator": False, "impersonatorUserId": "",
    }


def user_model(u: UserRecord) -> dict[str, Any]:
    """Appwrite's User model, as an API key sees it: with the stored hash and its algorithm."""
    stored = hashes.PasswordHash(u.password_hash, hashes.Algorithm(u.hash), u.hash_options)
    return {**account_payload(u), "password": u.password_hash or "", "hash": u.hash,
            "hashOptions": stored.public_options()}
