"""A small in-memory sliding-window rate limiter (per node; enough for abuse protection).

Its memory is bounded whatever its callers pass as keys, since keys often come from requests:

- a key is kept as a 16-byte digest, never as the caller's string;
- keys are ordered by their latest counted attempt, so the ones whose window has passed are
  always at the front and are dropped as time goes by, a few on each call;
- at most ``max_keys`` keys are held: past that, the key whose latest attempt is the oldest is
  dropped (its budget starts again). Refusing new keys instead would let a flood of distinct
  keys lock every caller out.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict, deque

DEFAULT_MAX_KEYS = 10_000


def _digest(key: str) -> bytes:
    # surrogatepass: a JSON string may hold lone surrogates, which plain UTF-8 cannot encode.
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class RateLimiter:
    def __init__(self, limit: int, window: float = 60.0, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        # digest -> times of the counted attempts within the window, oldest first; the dict is
        # ordered by each key's latest counted attempt, oldest first.
        self._hits: OrderedDict[bytes, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many keys are held."""
        return len(self._hits)

    def hit(self, key: str, now: float | None = None) -> bool:
        """Record one attempt; False when ``key`` is over its limit (the attempt is not counted)."""
        if self.limit <= 0:
            return True
        now = time.monotonic() if now is None else now
        start = now - self.window
        self._drop_expired(start)
        k = _digest(key)
        q = self._hits.get(k)
        if q is None:
            if len(self._hits) >= self.max_keys:
                self._hits.popitem(last=False)
            q = self._hits[k] = deque(maxlen=self.limit)
        while q and q[0] <= start:
            q.popleft()
        if len(q) >= self.limit:
            return False  # not moved: the order stays that of the latest counted attempt
        q.append(now)
        self._hits.move_to_end(k)
        return True

    def _drop_expired(self, start: float) -> None:
        while self._hits:
            q = next(iter(self._hits.values()))
            if q and q[-1] > start:
                return
            self._hits.popitem(last=False)
