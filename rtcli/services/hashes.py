"""Password hashes: rtcli's own (argon2id) and those the Users API imports from other systems.

A user created with an imported hash (bcrypt, MD5, SHA, scrypt, Firebase's modified scrypt,
phpass) signs in with the same password: verification dispatches on the user's ``hash``
algorithm and its options, as Appwrite's utopia-php/auth does. New passwords are always argon2id.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


class Algorithm(Enum):
    """Appwrite's hash names (``User.hash``)."""

    ARGON2 = "argon2"
    BCRYPT = "bcrypt"
    MD5 = "md5"
    SHA = "sha"
    SCRYPT = "scrypt"
    SCRYPT_MODIFIED = "scryptMod"
    PHPASS = "phpass"


SHA_VERSIONS = {"sha1": "sha1", "sha224": "sha224", "sha256": "sha256", "sha384": "sha384",
                "sha512/224": "sha512_224", "sha512/256": "sha512_256", "sha512": "sha512",
                "sha3-224": "sha3_224", "sha3-256": "sha3_256", "sha3-384": "sha3_384", "sha3-512": "sha3_512"}


@dataclass(frozen=True)
class PasswordHash:
    """A stored password: the hash string, its algorithm and the options needed to verify it."""

    value: str | None
    algorithm: Algorithm = Algorithm.ARGON2
    options: dict[str, Any] = field(default_factory=dict)

    def public_options(self) -> dict[str, Any]:
        """``User.hashOptions`` as the SDK models it (salts of plain scrypt and SHA versions stay inside)."""
        a, o = self.algorithm, self.options
        if a is Algorithm.ARGON2:
            return {"type": "argon2", "memoryCost": _hasher.memory_cost, "timeCost": _hasher.time_cost,
                    "threads": _hasher.parallelism}
        if a is Algorithm.SCRYPT:
            return {"type": "scrypt", "costCpu": o["cpu"], "costMemory": o["memory"],
                    "costParallel": o["parallel"], "length": o["length"]}
        if a is Algorithm.SCRYPT_MODIFIED:
            return {"type": "scryptMod", "salt": o["salt"], "saltSeparator": o["separator"],
                    "signerKey": o["signer_key"]}
        return {"type": a.value}


async def argon2(password: str) -> PasswordHash:
    return PasswordHash(await asyncio.to_thread(_hasher.hash, password))


async def verify(stored: PasswordHash, password: str) -> bool:
    """Does ``password`` match? Runs off the event loop: every algorithm here is slow on purpose."""
    if not stored.value:
        return False
    return await asyncio.to_thread(_verify, stored, password)


def _verify(stored: PasswordHash, password: str) -> bool:
    a, o, value = stored.algorithm, stored.options, stored.value or ""
    raw = password.encode()
    try:
        if a is Algorithm.ARGON2:
            return _hasher.verify(value, password)
        if a is Algorithm.BCRYPT or (a is Algorithm.PHPASS and value.startswith("$2")):
            return bcrypt.checkpw(raw, value.replace("$2y$", "$2b$", 1).encode())
        if a is Algorithm.MD5:
            return hmac.compare_digest(hashlib.md5(raw).hexdigest(), value)
        if a is Algorithm.SHA:
            return hmac.compare_digest(hashlib.new(SHA_VERSIONS[o.get("version") or "sha3-512"], raw).hexdigest(),
                                       value)
        if a is Algorithm.SCRYPT:
            got = hashlib.scrypt(raw, salt=o["salt"].encode(), n=o["cpu"], r=o["memory"], p=o["parallel"],
                                 dklen=o["length"], maxmem=SCRYPT_MAX_MEMORY).hex()
            return hmac.compare_digest(got, value)
        if a is Algorithm.SCRYPT_MODIFIED:
            return hmac.compare_digest(_scrypt_modified(raw, o), value)
        if a is Algorithm.PHPASS:
            return hmac.compare_digest(_phpass(raw, value), value)
    except (VerificationError, InvalidHashError, ValueError, KeyError):
        return False
    return False


# Scrypt parameters of an imported hash are bounded so that one sign-in cannot take the server's memory.
SCRYPT_MAX_MEMORY = 256 * 1024 * 1024


def scrypt_options(cpu: Any, memory: Any, parallel: Any, length: Any) -> str | None:
    """What is wrong with scrypt parameters, or None (n a power of two; memory 128*r*n bounded)."""
    for v in (cpu, memory, parallel, length):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            return "scrypt costs and length must be positive integers"
    # Its memory is 128 * r * n, its time that times p: both bounded.
    if cpu < 2 or cpu & (cpu - 1) or 128 * memory * cpu * 2 > SCRYPT_MAX_MEMORY or parallel > 16 or length > 1024 \
            or 128 * memory * cpu * parallel * 2 > SCRYPT_MAX_MEMORY:
        return ("passwordCpu must be a power of two, passwordParallel at most 16, passwordLength at most 1024, "
                f"and 128 * passwordMemory * passwordCpu * passwordParallel at most {SCRYPT_MAX_MEMORY // 2} bytes")
    return None


def _scrypt_modified(raw: bytes, o: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    salt = base64.b64decode(o["salt"]) + base64.b64decode(o["separator"])
    derived = hashlib.scrypt(raw, salt=salt, n=16384, r=8, p=1, dklen=64, maxmem=SCRYPT_MAX_MEMORY)
    enc = Cipher(algorithms.AES(derived[:32]), modes.CTR(b"\0" * 16)).encryptor()
    return base64.b64encode(enc.update(base64.b64decode(o["signer_key"])) + enc.finalize()).decode()


# phpass allows 2^30 rounds; an imported hash may ask for at most 2^16 (WordPress uses 2^8).
PHPASS_MAX_LOG2 = 16
PHPASS_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _phpass(raw: bytes, setting: str) -> str:
    """The portable phpass hash ($P$ / $H$, WordPress and phpBB) of ``raw`` with ``setting``'s salt."""
    if setting[:3] not in ("$P$", "$H$") or len(setting) < 12:
        return "*"
    count_log2 = PHPASS_ALPHABET.find(setting[3])
    if not 7 <= count_log2 <= PHPASS_MAX_LOG2:
        return "*"
    salt = setting[4:12].encode()
    digest = hashlib.md5(salt + raw).digest()
    for _ in range(1 << count_log2):
        digest = hashlib.md5(digest + raw).digest()
    return setting[:12] + _encode64(digest, 16)


def _encode64(data: bytes, count: int) -> str:
    out, i = [], 0
    while i < count:
        value = data[i]
        i += 1
        out.append(PHPASS_ALPHABET[value & 0x3F])
        if i < count:
            value |= data[i] << 8
        out.append(PHPASS_ALPHABET[(value >> 6) & 0x3F])
        if i >= count:
            break
        i += 1
        if i < count:
            value |= data[i] << 16
        out.append(PHPASS_ALPHABET[(value >> 12) & 0x3F])
        if i >= count:
            break
        i += 1
        out.append(PHPASS_ALPHABET[(value >> 18) & 0x3F])
    return "".join(out)
