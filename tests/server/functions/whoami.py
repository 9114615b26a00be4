"""A test function: answers the id of the user it runs for (empty for none)."""
import os

print(os.environ.get("RTCLI_USER_ID", ""))
