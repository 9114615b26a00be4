"""A test function triggered by row creates that writes a row to the same table: without the
loop guard this would trigger itself forever."""
import json
import os
import urllib.request

payload = json.loads(os.environ["RTCLI_EVENT_PAYLOAD"])
req = urllib.request.Request(
    f"{os.environ['RTCLI_ENDPOINT']}/tablesdb/{payload['$databaseId']}/tables/{payload['$tableId']}/rows",
    data=json.dumps({"rowId": "unique()", "data": {"echo_of": payload["$id"]}}).encode(),
    headers={"X-Appwrite-Project": os.environ["RTCLI_PROJECT"], "X-Appwrite-Key": os.environ["RTCLI_KEY"],
             "content-type": "application/json"}, method="POST")
print(urllib.request.urlopen(req).status)
