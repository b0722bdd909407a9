"""A bare ASGI echo application, for Autobahn's fuzzing cases (``bench/compliance.py``).

The cases need a peer that echoes every message; the notifications socket
answers only its own protocol (and needs a session), so the suite runs here
against Daphne's websocket layer: the code that frames, masks, fragments,
validates UTF-8 and closes for our consumer.
"""


async def application(scope, receive, send):
    if scope["type"] != "websocket":
        return
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event["text"]})
            else:
                await send({"type": "websocket.send", "bytes": event.get("bytes") or b""})
        elif event["type"] == "websocket.disconnect":
            return
