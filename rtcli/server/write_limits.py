"""Self-service writes (a user's own account, presences over REST) are rate-limited per user and
per client address. Each one is an event in the log, with the whole record: an anonymous session
(free to make) writing 64 KB of prefs as fast as it could added ~27 MB a second to the log, which
is retained by count, and pushed every other client's resume point out of it within the hour.
API keys are the operator's and are not limited; realtime presence has its own message rates."""

from __future__ import annotations

from rtcli.errors import AppwriteError
from rtcli.services.context import Ctx
from rtcli.services.ratelimit import RateLimiter

PER_USER = 10  # writes a second
PER_ADDRESS = 50  # writes a second, all the address's users and guests together


class WriteLimits:
    def __init__(self, per_user: int = PER_USER, per_address: int = PER_ADDRESS) -> None:
        self.per_user, self.per_address = per_user, per_address
        self._users = RateLimiter(per_user, window=1.0)
        self._addresses = RateLimiter(per_address, window=1.0)

    def check(self, c: Ctx, address: str) -> None:
        """429 when the caller, or its address, is over its budget of this second."""
        if c.actor.is_key:
            return
        user = c.actor.user_id
        if not self._addresses.hit(address) or (user and not self._users.hit(f"{c.project}\x00{user}")):
            raise AppwriteError("general_rate_limit_exceeded",
                                f"Too many account or presence writes: at most {self.per_user} a second per user "
                                f"and {self.per_address} per address. Slow down (a realtime connection keeps a "
                                "presence up to date without writes).")
