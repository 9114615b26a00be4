"""rtcli: a realtime backend speaking the Appwrite REST and Realtime protocols, and its client."""

__version__ = "0.1.0"

# The Appwrite server version rtcli answers as (error bodies carry it; SDK 27 targets 1.9.x/2.0.x).
APPWRITE_VERSION = "1.9.6"
