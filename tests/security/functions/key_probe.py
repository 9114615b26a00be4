"""A function that reports what it was given: its environment, and what its execution key may
do against the server (the HTTP status of one call per scope family). Writes a log line to
stderr, which only API keys may read back."""
import json
import os
import sys
import urllib.error
import urllib.request

END, PROJECT, KEY = os.environ["RTCLI_ENDPOINT"], os.environ["RTCLI_PROJECT"], os.environ["RTCLI_KEY"]


def call(method: str, path: str, body: dict | None = None) -> int:
    req = urllib.request.Request(f"{END}{path}", method=method, data=json.dumps(body or {}).encode(),
                                 headers={"X-Appwrite-Project": PROJECT, "X-Appwrite-Key": KEY,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


calls = {
    "rows.write": call("POST", "/tablesdb/db/tables/t/rows", {"rowId": "unique()", "data": {"n": 1}}),
    "rows.read": call("GET", "/tablesdb/db/tables/t/rows"),
    "keys.write": call("POST", "/keys", {"name": "stolen", "scopes": ["*"]}),
    "users.read": call("GET", "/users"),
    "databases.write": call("POST", "/tablesdb", {"databaseId": "unique()", "name": "x"}),
    "functions.write": call("PUT", f"/functions/{os.environ['RTCLI_FUNCTION_ID']}", {"name": "probe"}),
    "events.read": call("GET", "/events"),
}
print("the log line only keys see", file=sys.stderr)
print(json.dumps({"env": dict(os.environ), "calls": calls}))
sys.exit(int(os.environ.get("RTCLI_PATH", "/").endswith("/fail")))
