"""uvicorn's HTTP/1.1 protocol (httptools), answering what it cannot parse in Appwrite's error
shape: a malformed request, or a request line and headers over the parser's ~64 KiB (a long
``queries[]`` URL), get a JSON 400 like every other client error, not uvicorn's plain text."""

from __future__ import annotations

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from rtcli import APPWRITE_VERSION
from rtcli.errors import AppwriteError

_MESSAGE = ("Invalid HTTP request: the request line or a header is malformed, or the request line and "
            "headers are longer than 64 KiB (send long queries in fewer, shorter parameters).")


class HttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        body = orjson.dumps(AppwriteError("general_bad_request", _MESSAGE).to_dict(APPWRITE_VERSION))
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: application/json\r\ncontent-length: ", str(len(body)).encode(),
                 b"\r\nconnection: close\r\n\r\n", body]
        self.transport.write(b"".join(head))
        self.transport.close()
