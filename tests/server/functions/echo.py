"""A test function: echoes its input and environment, sets a status and a header."""
import json
import os
import sys

body = sys.stdin.read()
print(json.dumps({"body": body, "trigger": os.environ["RTCLI_TRIGGER"], "event": os.environ.get("RTCLI_EVENT"),
                  "method": os.environ["RTCLI_METHOD"], "path": os.environ["RTCLI_PATH"],
                  "headers": json.loads(os.environ["RTCLI_HEADERS"])}))
print("echo ran", file=sys.stderr)
with open(os.environ["RTCLI_RESPONSE_FILE"], "w") as f:
    json.dump({"statusCode": 202, "headers": {"x-echo": "yes"}}, f)
