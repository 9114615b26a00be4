"""Connection settings and named profiles.

Profiles live in one JSON file, ``<config dir>/config.json``, written with mode 0600 because a
profile may hold an API key and a login session::

    {"profiles": {"default": {"endpoint": "...", "project": "...", "key": "...",
                              "session": "<token>", "session_endpoint": "...",
                              "session_project": "...", "session_email": "...", "session_user": "..."},
                  "work":    {...}}}

A session (written by ``rtcli login``) belongs to the endpoint and project it was made on: it is
resolved only when the endpoint and project in effect are those, so pointing a profile at another
server (``--endpoint``, ``RTCLI_ENDPOINT``) never sends the token there.

The config dir is ``$RTCLI_CONFIG_DIR`` when set (tests use it so they never touch the real
home), else ``platformdirs.user_config_dir("rtcli")``.

Each setting is resolved with the precedence **flag > environment > profile > default**; the
profile name itself is resolved as flag > ``$RTCLI_PROFILE`` > ``"default"``. A profile is a
plain dict so later features can store more keys in it without a schema change.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtcli.errors import RtcliError

DEFAULT_ENDPOINT = "http://127.0.0.1:8787/v1"
DEFAULT_PROJECT = "default"
DEFAULT_PROFILE = "default"

# setting name -> (environment variable, default)
SETTINGS: dict[str, tuple[str, str | None]] = {
    "endpoint": ("RTCLI_ENDPOINT", DEFAULT_ENDPOINT),
    "project": ("RTCLI_PROJECT", DEFAULT_PROJECT),
    "key": ("RTCLI_KEY", None),
}
PROFILE_ENV = "RTCLI_PROFILE"
CONFIG_DIR_ENV = "RTCLI_CONFIG_DIR"


class ConfigError(RtcliError):
    """The config file is unreadable, or a named profile does not exist."""


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings. ``sources`` maps each setting to flag|env|profile|default."""

    endpoint: str
    project: str
    key: str | None
    profile: str
    session: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    # The profile's stored login, also when it does not apply here (for `rtcli whoami`):
    # {"email", "user", "endpoint", "project"}; None when nobody is logged in in this profile.
    login: dict[str, str] | None = None
    warnings: tuple[str, ...] = ()  # said on stderr before the command runs


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(CONFIG_DIR_ENV):
        return Path(env[CONFIG_DIR_ENV])
    # Imported here: platformdirs is only needed when no override is set.
    import platformdirs

    return Path(platformdirs.user_config_dir("rtcli"))


def config_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / "config.json"


def load_config(path: Path) -> dict[str, Any]:
    """Read the config file; a missing file is an empty config. Raises ConfigError if corrupt."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"profiles": {}}
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from e
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"{path} is not valid JSON ({e}); fix or remove it") from e
    if not isinstance(data, dict) or not isinstance(data.get("profiles", {}), dict):
        raise ConfigError(f"{path} does not hold a config object; fix or remove it")
    data.setdefault("profiles", {})
    return data


def save_config(path: Path, data: Mapping[str, Any]) -> None:
    """Write the config atomically with mode 0600 (it may contain secrets)."""
    import tempfile  # lazy: only writes need it, and it costs start-up time

    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600, so the secret is never readable by others, not even briefly.
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ProfileStore:
    """The profiles in one config file. Reads lazily; every change is written at once."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_path()
        self._data: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = load_config(self.path)
        return self._data

    def names(self) -> list[str]:
        return sorted(self.data["profiles"])

    def get(self, name: str) -> dict[str, Any] | None:
        """The profile dict, or None when there is no such profile."""
        profile = self.data["profiles"].get(name)
        return dict(profile) if isinstance(profile, dict) else None

    def update(self, name: str, values: Mapping[str, Any], unset: tuple[str, ...] = ()) -> dict[str, Any]:
        """Merge ``values`` into profile ``name`` (creating it), drop ``unset`` keys, save."""
        profile = self.get(name) or {}
        profile.update(values)
        for k in unset:
            profile.pop(k, None)
        self.data["profiles"][name] = profile
        save_config(self.path, self.data)
        return profile

    def delete(self, name: str) -> bool:
        """Remove a profile; False when it did not exist."""
        if name not in self.data["profiles"]:
            return False
        del self.data["profiles"][name]
        save_config(self.path, self.data)
        return True


def resolve_settings(
    flags: Mapping[str, str | None],
    env: Mapping[str, str] | None = None,
    store: ProfileStore | None = None,
) -> Settings:
    """Resolve endpoint/project/key (flag > env > profile > default) and the profile in use.

    ``flags`` holds command-line values (None when not given), keyed by setting name plus
    ``profile``. Naming a profile that does not exist is an error, except the default one,
    which may be absent (then only env and defaults apply).
    """
    env = os.environ if env is None else env
    store = store or ProfileStore(config_path(env))
    name = flags.get("profile") or env.get(PROFILE_ENV) or DEFAULT_PROFILE
    profile = store.get(name)
    if profile is None:
        if name != DEFAULT_PROFILE:
            known = ", ".join(store.names()) or "none"
            raise ConfigError(f"no profile named {name!r} (known: {known}); create it with `rtcli profile set`")
        profile = {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, (env_name, default) in SETTINGS.items():
        if flags.get(key) is not None:
            values[key], sources[key] = flags[key], "flag"
        elif env.get(env_name):
            values[key], sources[key] = env[env_name], "env"
        elif profile.get(key) is not None:
            values[key], sources[key] = profile[key], "profile"
        else:
            values[key], sources[key] = default, "default"
    endpoint, project = str(values["endpoint"]).rstrip("/"), str(values["project"])
    fixed = fix_endpoint(endpoint)
    if fixed != endpoint:
        where = {"flag": "--endpoint", "env": "RTCLI_ENDPOINT", "profile": f"the endpoint of profile {name!r}"}
        what = "is not a URL" if "://" not in endpoint else "does not end in /v1, the API's path"
        fix = f" (`rtcli profile set {name} --endpoint {fixed}`)" if sources["endpoint"] == "profile" else ""
        raise ConfigError(f"{where.get(sources['endpoint'], 'the endpoint')} {endpoint!r} {what}: use {fixed}{fix}")
    warnings = []
    if env_name_empty(env, "RTCLI_KEY") and flags.get("key") is None:
        warnings.append("RTCLI_KEY is set but empty (did a `$(cat …)` fail?): the command runs without an API key")
    login = stored_login(profile)
    session = None
    if login is not None and login["endpoint"] in ("", endpoint) and login["project"] in ("", project):
        session = str(profile["session"])
    return Settings(
        endpoint=endpoint,
        project=project,
        key=values["key"] or None,
        profile=name,
        session=session,
        sources=sources,
        login=login,
        warnings=tuple(warnings),
    )


def env_name_empty(env: Mapping[str, str], name: str) -> bool:
    return name in env and not env[name].strip()


def fix_endpoint(endpoint: str) -> str:
    """The endpoint as it should be written: with a scheme (http:// unless given) and ending in
    /v1, the path every Appwrite endpoint has. Equal to ``endpoint`` when it is right."""
    fixed = endpoint if "://" in endpoint else f"http://{endpoint}"
    scheme, _, rest = fixed.partition("://")
    if "/" not in rest:  # only host[:port]: the API lives under /v1
        fixed += "/v1"
    return fixed


SESSION_KEYS = ("session", "session_endpoint", "session_project", "session_email", "session_user")


def stored_login(profile: Mapping[str, Any]) -> dict[str, str] | None:
    """The login kept in a profile: {email, user, endpoint, project} ("" when unknown), or None."""
    if not profile.get("session"):
        return None
    login = {k: str(profile.get(f"session_{k}") or "") for k in ("email", "user", "endpoint", "project")}
    login["endpoint"] = login["endpoint"].rstrip("/")
    return login
