"""`rtcli topic …` and `rtcli publish` against a real server: the topic commands, publishing a
message, refusals and their exit codes, and a pipe from `subscribe --json` into `publish -`."""

from __future__ import annotations

import json
import secrets
import subprocess

from tests.test_cli import rtcli_cmd, run
from tests.test_cli_subscribe import Subscriber


def ok(*argv: str, env: dict) -> subprocess.CompletedProcess:
    r = run(*argv, env=env)
    assert r.returncode == 0, r.stderr
    return r


def test_topic_commands(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "config", columns=200)
    tid = "cli" + secrets.token_hex(3)
    made = json.loads(ok("topic", "create", tid, "--name", "Chat", "--ephemeral", "-p", "read:any",
                         "-p", 'create("users")', "--json", env=env).stdout)
    assert made["mode"] == "ephemeral" and made["$permissions"] == ['read("any")', 'create("users")']
    listed = ok("topic", "list", env=env).stdout
    assert tid in listed and "ephemeral" in listed
    got = json.loads(ok("topic", "get", tid, "--json", env=env).stdout)
    assert got["name"] == "Chat"
    changed = json.loads(ok("topic", "update", tid, "--mode", "durable", "--json", env=env).stdout)
    assert changed["mode"] == "durable" and changed["$permissions"] == made["$permissions"]
    nothing = run("topic", "update", tid, env=env)
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    assert f"deleted topic {tid}" in ok("topic", "delete", tid, env=env).stdout
    gone = run("topic", "get", tid, env=env)
    assert gone.returncode == 1 and "topic_not_found" in gone.stderr


def test_publish_prints_the_acknowledgement_and_fails_on_refusal(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "config")
    guest = shared_server.cli_env(tmp_path / "guest", key=False)
    durable, ephemeral = "d" + secrets.token_hex(3), "e" + secrets.token_hex(3)
    ok("topic", "create", durable, "-p", "read:any", "-p", "create:any", env=env)
    ok("topic", "create", ephemeral, "--ephemeral", "-p", "read:any", env=env)
    out = ok("publish", durable, "text=hello", "n=1", "--event", "say", env=guest).stdout
    assert out.startswith("published ") and f"to {durable} (cursor c1." in out
    ack = json.loads(ok("publish", ephemeral, '{"x": [1, 2]}', "--json", env=env).stdout)
    assert ack["topicId"] == ephemeral and ack["cursor"] is None
    refused = run("publish", ephemeral, "x=1", env=guest)  # the guest may receive, not publish
    assert refused.returncode == 1 and refused.stdout == ""
    assert "may receive this topic's messages but not publish" in refused.stderr
    missing = run("publish", "no-such-topic", "x=1", env=guest)
    assert missing.returncode == 1 and "topic_not_found" in missing.stderr
    for bad in ([], ["[1]"], ["x=1", "-"]):
        r = run("publish", durable, *bad, env=env)
        assert r.returncode == 2, (bad, r.stderr)
    broken = run("publish", durable, '{"text": oops}', env=env)  # publish has no --data: name its DATA argument
    assert broken.returncode == 2 and "Invalid value for DATA: not valid JSON" in broken.stderr, broken.stderr
    assert "--data" not in broken.stderr
    log = json.loads(ok("events", "list", "-c", f"topics.{durable}", "--json", env=env).stdout.splitlines()[0])
    assert log["payload"]["text"] == "hello" and log["payload"]["$event"] == "say"
    assert f"topics.{durable}.events.say" in log["channels"]


def test_publish_to_a_channel_or_an_unknown_topic_says_what_to_type(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "config")
    tid, unknown = "jobs" + secrets.token_hex(3), "nope" + secrets.token_hex(3)
    ok("topic", "create", tid, env=env)
    channel = run("publish", f"topics.{tid}", "x=1", env=env)
    assert (channel.returncode, channel.stdout) == (1, "")
    assert channel.stderr == (f"error: Topic with the requested ID 'topics.{tid}' could not be found: publish takes "
                              f"the topic ID, not its channel: did you mean '{tid}'? (topic_not_found, 404)\n")
    missing = run("publish", unknown, "x=1", env=env)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == (f"error: Topic with the requested ID '{unknown}' could not be found: create it with "
                              f"`rtcli topic create {unknown}`, or see `rtcli topic list` (topic_not_found, 404)\n")
    lines = subprocess.run([*rtcli_cmd(), "publish", f"topics.{tid}.events.say", "-"], input='{"n": 1}\n', env=env,
                           capture_output=True, text=True, timeout=30)
    assert lines.returncode == 1 and f"did you mean '{tid}'?" in lines.stderr, lines.stderr


def test_publish_json_lines_from_stdin(shared_server, tmp_path):
    env = shared_server.cli_env(tmp_path / "config")
    tid = "lines" + secrets.token_hex(3)
    ok("topic", "create", tid, "-p", "read:any", env=env)
    lines = '{"n": 1}\n\n{"events": ["x"], "payload": {"$id": "old", "n": 2}}\n'
    r = subprocess.run([*rtcli_cmd(), "publish", tid, "-", "--json"], input=lines, env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    acks = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(acks) == 2 and all(a["cursor"] for a in acks) and acks[1]["$id"] != "old"
    bad = subprocess.run([*rtcli_cmd(), "publish", tid, "-"], input='{"n": 3}\nnot json\n{"n": 4}\n', env=env,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "stdin line 2 is not JSON" in bad.stderr
    assert bad.stdout.count("published") == 1  # stops at the bad line


def test_subscribe_into_publish_pipe(shared_server, tmp_path):
    """rtcli subscribe topics.A --json | jq … | rtcli publish B -, with a real jq-like step."""
    env = shared_server.cli_env(tmp_path / "config")
    a, b = "pa" + secrets.token_hex(3), "pb" + secrets.token_hex(3)
    for tid in (a, b):
        ok("topic", "create", tid, "-p", "read:any", env=env)
    watcher = Subscriber([f"topics.{b}", "--json"], env)
    source = subprocess.Popen([*rtcli_cmd(), "subscribe", f"topics.{a}", "--json"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The transformation a jq filter would do: keep the text, upper-cased, and say where from.
    step = subprocess.Popen([sys_python(), "-u", "-c", TRANSFORM], stdin=source.stdout, stdout=subprocess.PIPE,
                            text=True)
    sink = subprocess.Popen([*rtcli_cmd(), "publish", b, "-", "--json"], stdin=step.stdout, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        watcher.wait_err("subscribed")
        wait_subscribed(source)
        for word in ("one", "two"):
            ok("publish", a, f"text={word}", env=env)
        got = [watcher.json_line()["payload"] for _ in range(2)]
        assert [(p["text"], p["from"]) for p in got] == [("ONE", a), ("TWO", a)]
        assert all(p["$topicId"] == b for p in got)
    finally:
        for proc in (source, step, sink):
            proc.kill()
            proc.wait(10)
        watcher.kill()


TRANSFORM = """
import json, sys
for line in sys.stdin:
    p = json.loads(line)["payload"]
    print(json.dumps({"text": p["text"].upper(), "from": p["$topicId"]}), flush=True)
"""


def sys_python() -> str:
    import sys

    return sys.executable


def wait_subscribed(proc: subprocess.Popen) -> None:
    for line in proc.stderr:
        if line.startswith("subscribed"):
            return
    raise AssertionError("the source subscriber ended before it subscribed")


def test_subscribe_warns_of_a_topic_the_caller_cannot_see(shared_server, tmp_path):
    """A topic channel is subscribed whatever its ID; one without a topic behind it says so on stderr."""
    env = shared_server.cli_env(tmp_path / "config")
    guest = shared_server.cli_env(tmp_path / "guest", key=False)
    public, private = "pub" + secrets.token_hex(3), "priv" + secrets.token_hex(3)
    ok("topic", "create", public, "-p", "read:any", env=env)
    ok("topic", "create", private, "-p", "read:users", env=env)

    def subscribe(channels: list[str], env: dict) -> list[str]:
        sub = Subscriber(channels, env)
        try:
            sub.wait_err("subscribed")
        finally:
            sub.interrupt()
        return sub.stderr_lines

    missing = subscribe([f"topics.{public}", "topics.nope.events.say"], env)
    assert any("topic 'nope' does not exist: topics.nope shows nothing until it is created" in line
               for line in missing), missing
    assert not any(public in line for line in missing if line.startswith("warning")), missing
    hidden = subscribe([f"topics.{private}", f"topics.{public}"], guest)
    warned = [line for line in hidden if line.startswith("warning") and "topic" in line]
    assert len(warned) == 1 and f"no topic '{private}' that a guest (no API key, no login) may see" in warned[0], hidden
    assert not any("warning" in line for line in subscribe(["topics.*"], env))
