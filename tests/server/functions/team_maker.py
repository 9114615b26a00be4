"""A test function triggered by team creations that creates a team: without the loop guard this
would trigger itself forever (a team event, not a row event, carries the execution's origin)."""
import json
import os
import urllib.request

payload = json.loads(os.environ["RTCLI_EVENT_PAYLOAD"])
req = urllib.request.Request(
    f"{os.environ['RTCLI_ENDPOINT']}/teams",
    data=json.dumps({"teamId": "unique()", "name": f"after {payload['$id']}"}).encode(),
    headers={"X-Appwrite-Project": os.environ["RTCLI_PROJECT"], "X-Appwrite-Key": os.environ["RTCLI_KEY"],
             "content-type": "application/json"}, method="POST")
print(urllib.request.urlopen(req).status)
