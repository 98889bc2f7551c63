"""The floor of server + HTTP for bench/http.py: a bare ASGI app answering a body the size of a cached page."""

from __future__ import annotations

import os
from typing import Any

BODY = b"x" * int(os.environ.get("FLOOR_BODY_BYTES", "2600"))
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
