"""The correspondent's HTTP face: take a pacs.008, hand out the answers when they are due.

Time is scaled: ``seconds_per_day`` real seconds stand for one day at the correspondent, so a
return "three days later" arrives within seconds in a test and in days in a real-time run
(86,400, the default). Answers are delivered once: ``/outbox`` hands out what is due and forgets
it, as a message network does once a message is acknowledged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from finbridge.core.errors import FinbridgeError
from finbridge.payments import SimulatedCorrespondent

MAX_BODY = 2 * 1024 * 1024  # what payments accepts for one message


@dataclass
class Outbox:
    """Answers waiting for their time, oldest due first."""

    seconds_per_day: float = 86_400.0
    _due: list[tuple[float, str, bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, delay_seconds: float, message: str, xml: bytes) -> None:
        at = time.monotonic() + delay_seconds * self.seconds_per_day / 86_400.0
        with self._lock:
            self._due.append((at, message, xml))
            self._due.sort(key=lambda x: x[0])

    def take_due(self) -> list[tuple[str, bytes]]:
        now = time.monotonic()
        with self._lock:
            due = [x for x in self._due if x[0] <= now]
            self._due = [x for x in self._due if x[0] > now]
        return [(message, xml) for _, message, xml in due]

    def waiting(self) -> int:
        with self._lock:
            return len(self._due)


def create_correspondent_app(bank: SimulatedCorrespondent, outbox: Outbox) -> Starlette:
    lock = threading.Lock()  # the bank's random generator is not thread-safe

    async def pacs008(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"detail": "message larger than 2 MiB"}, status_code=413)
        try:
            with lock:
                answers = bank.process(body)
        except FinbridgeError as exc:  # malformed, hostile or not valid against the XSD
            return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=422)
        for a in answers:
            outbox.put(a.delay.total_seconds(), a.message, a.xml)
        return JSONResponse({"answers": len(answers)}, status_code=202)

    async def take(request: Request) -> JSONResponse:
        due = outbox.take_due()
        return JSONResponse(
            {"messages": [{"message": m, "xml": x.decode()} for m, x in due],
             "waiting": outbox.waiting()}
        )  # fmt: skip

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "waiting": outbox.waiting()})

    return Starlette(routes=[
        Route("/pacs008", pacs008, methods=["POST"]),
        Route("/outbox", take, methods=["POST"]),  # POST: taking changes the outbox
        Route("/health", health, methods=["GET"]),
    ])  # fmt: skip
