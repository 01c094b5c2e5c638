"""Push (§7.2): the relay from the transactional outbox to NATS JetStream.

With `ONETHING_NATS_URL` set (e.g. `nats://127.0.0.1:4222`), `create_app` puts an
`OutboxWriter` (`catalog.store.outbox`) on the case store — every task created and every change
of a task's state writes an outbox row in the same transaction — and starts a `Relay` on a thread
of its own (its own event loop: a slow or absent broker never touches a request). The relay
publishes the unsent rows to the stream `ONETHING_TASKS` (created if missing, subjects
`onething.tasks.>`), subject `onething.tasks.<agency USCC>`, header `Nats-Msg-Id: <task id>:<seq>`,
and marks a row sent only once JetStream acknowledged it. A process killed between the commit and
the publish leaves the row unsent: the next relay (a restarted instance, another instance, or
`onething cases relay`) sends it. A process killed after the publish and before the mark sends it
again: JetStream drops the copy within its duplicate window (2 minutes unless the stream says
otherwise); past it a consumer drops it itself by (task id, seq) — at-least-once, not exactly-once.

Order: a task's messages go out in `seq` order (a row is claimed only once the task's earlier rows
are sent); nothing is promised across tasks, and a consumer that wants the task's latest state
keeps the highest `seq` it saw.

Without `ONETHING_NATS_URL` nothing is written or relayed; the pull API alone works. With the
broker down the relay retries with backoff (0.5 s doubling to 30 s), logging one warning when the
trouble starts and one info line when it is over (as the database's outages are logged);
requests go on, the rows wait in the outbox.

| variable | default | meaning |
|---|---|---|
| `ONETHING_NATS_URL` | unset | the broker; unset: no push |
| `ONETHING_NATS_RELAY` | `1` | `0`: write the outbox but run no relay in this process (a dedicated `onething cases relay` sends) |
| `ONETHING_NATS_STREAM` | `ONETHING_TASKS` | the stream (tests use one of their own) |
| `ONETHING_NATS_SUBJECT` | `onething.tasks` | the subjects' prefix: `<prefix>.<USCC>`, the stream's subjects `<prefix>.>` |
| `ONETHING_NATS_TIMEOUT` | `5` | seconds a connect or a publish's acknowledgement may take |
| `ONETHING_OUTBOX_KEEP_DAYS` | `7` | sent rows older than this are deleted by the relay |
| `ONETHING_RELAY_CRASH` | unset | **test seam only**: `before-publish` or `after-publish` makes the relay SIGKILL its own process at that point of its first batch, to prove that a `kill -9` loses no task |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from catalog.store.outbox import Message, Outbox, OutboxWriter, message_id

log = logging.getLogger("onething.api")

STREAM = "ONETHING_TASKS"
SUBJECT = "onething.tasks"
CRASH_POINTS = ("before-publish", "after-publish")


@dataclass(frozen=True)
class RelayConfig:
    url: str
    stream: str = STREAM
    subject: str = SUBJECT
    batch: int = 256
    poll: float = 2.0
    """Seconds between looks at the outbox when nothing wakes the relay (rows another instance
    wrote, or a crashed one left)."""
    backoff: float = 0.5
    max_backoff: float = 30.0
    timeout: float = 5.0
    """Seconds a connect or a publish's acknowledgement may take."""
    keep: timedelta = timedelta(days=7)
    crash: str | None = None

    @classmethod
    def from_env(cls, url: str, env: Mapping[str, str] | None = None) -> RelayConfig:
        env = os.environ if env is None else env
        crash = env.get("ONETHING_RELAY_CRASH") or None
        if crash is not None and crash not in CRASH_POINTS:
            raise ValueError(f"ONETHING_RELAY_CRASH must be one of {', '.join(CRASH_POINTS)}, not {crash!r}")
        return cls(
            url=url,
            stream=env.get("ONETHING_NATS_STREAM") or STREAM,
            subject=(env.get("ONETHING_NATS_SUBJECT") or SUBJECT).rstrip("."),
            keep=timedelta(days=float(env.get("ONETHING_OUTBOX_KEEP_DAYS", 7))),
            timeout=float(env.get("ONETHING_NATS_TIMEOUT", cls.timeout)),
            crash=crash,
        )


@dataclass
class Tally:
    published: int = 0
    duplicates: int = 0
    """Publishes JetStream acknowledged as a copy of one it had (and dropped)."""
    failures: int = 0
    """Attempts that failed (broker or database), each followed by a backoff."""


class BrokerDown(Exception):
    pass


@dataclass
class Relay:
    outbox: Outbox
    config: RelayConfig
    tally: Tally = field(default_factory=Tally)

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._trouble: str | None = None
        """What the relay is failing on ("broker", "database"); None: all is well."""
        self._since = 0.0
        self._attempts = 0
        self._pruned_at = float("-inf")
        self.connected = False
        """The broker is connected and the stream there (what `GET /health` reports)."""

    # -- in the app: a thread of its own ------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()

        def main() -> None:
            async def go() -> None:
                self._prepare()
                ready.set()
                await self.run()

            asyncio.run(go())

        self._thread = threading.Thread(target=main, name="onething-relay", daemon=True)
        self._thread.start()
        ready.wait(5)

    def stop(self, timeout: float = 10.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Thread-safe, never blocks: a case write has committed rows (`CaseStore.committed`)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # stopping
                loop.call_soon_threadsafe(wake.set)

    def _prepare(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    @property
    def broker(self) -> Literal["connected", "down"]:
        """The broker as this relay last found it (`GET /health`)."""
        return "connected" if self.connected and self._trouble != "broker" else "down"

    # -- the loop --------------------------------------------------------------------------------
    async def run(self, *, once: bool = False) -> Tally:
        """Relay until stopped; `once`: until the outbox has nothing left to send, then return
        (raising BrokerDown if the broker cannot be reached)."""
        if self._loop is None:
            self._prepare()
        assert self._wake is not None and self._stop is not None
        import nats
        import nats.errors
        import nats.js.errors

        nc = None
        delay = self.config.backoff
        waiting_on, patience = -1, 0.0  # `once`: unsent rows another relay held, and until when
        try:
            while not self._stop.is_set():
                try:
                    if nc is None or not nc.is_connected:
                        if nc is not None:
                            await _close(nc)
                        nc = await nats.connect(
                            self.config.url,
                            allow_reconnect=False,
                            # the first connect tries the server these many times too (60 × 2 s
                            # by default): a relay with no broker must say so and retry on its own
                            max_reconnect_attempts=1,
                            reconnect_time_wait=0.1,
                            connect_timeout=self.config.timeout,  # type: ignore[arg-type]
                            error_cb=_quiet,
                            disconnected_cb=_quiet_event,
                            closed_cb=_quiet_event,
                            name="onething-relay",
                        )
                        js = nc.jetstream(timeout=self.config.timeout)
                        await self._ensure_stream(js)
                        self.connected = True
                    self._wake.clear()
                    while await self._pump(js):
                        pass
                    self._over()
                    delay = self.config.backoff
                    self._maybe_prune()
                    if once:
                        # Rows another relay holds (or holds a task's earlier row of) were skipped,
                        # not sent: done when nothing is left unsent, or nothing moved for a while
                        # (what is left then waits for the next run).
                        left = self.outbox.unsent()
                        if left == 0 or (left == waiting_on and time.monotonic() > patience):
                            return self.tally
                        if left != waiting_on:
                            waiting_on, patience = left, time.monotonic() + 30
                        await asyncio.sleep(0.05)
                        continue
                except (OSError, TimeoutError, nats.errors.Error) as exc:
                    self.connected = False
                    self._troubled("broker", f"NATS at {self.config.url} unreachable ({_said(exc)})")
                    if nc is not None:
                        await _close(nc)
                        nc = None
                    if once:
                        raise BrokerDown(f"NATS at {self.config.url} unreachable ({_said(exc)})") from exc
                    await self._sleep(delay, wakeable=False)
                    delay = min(delay * 2, self.config.max_backoff)
                    continue
                except Exception as exc:  # the database (down, or its circuit open)
                    if once:
                        raise
                    self._troubled("database", f"the outbox cannot be read ({_said(exc)})")
                    await self._sleep(delay, wakeable=False)
                    delay = min(delay * 2, self.config.max_backoff)
                    continue
                await self._sleep(self.config.poll, wakeable=True)
        finally:
            self.connected = False
            if nc is not None:
                await _close(nc)
        return self.tally

    async def _ensure_stream(self, js) -> None:
        from nats.js.errors import NotFoundError

        try:
            await js.stream_info(self.config.stream)
        except NotFoundError:
            await js.add_stream(name=self.config.stream, subjects=[f"{self.config.subject}.>"])
            log.info("created the NATS stream %s (subjects %s.>)", self.config.stream, self.config.subject)

    async def _pump(self, js) -> bool:
        """One batch: claimed, published together (at most one row per task, so their order does
        not matter), the acknowledged ones marked sent. True when a full batch went (look again)."""
        with self.outbox.claim(self.config.batch) as claimed:
            if not claimed.messages:
                return False
            self._crash_at("before-publish")
            acks = await asyncio.gather(
                *(self._publish(js, m) for m in claimed.messages), return_exceptions=True
            )
            failed: BaseException | None = None
            for message, ack in zip(claimed.messages, acks, strict=True):
                if isinstance(ack, BaseException):
                    failed = failed or ack
                    continue
                claimed.sent.append(message.pk)
                self.tally.published += 1
                self.tally.duplicates += bool(ack.duplicate)
            self._crash_at("after-publish")
            if failed is not None:
                raise failed
            return len(claimed.messages) >= self.config.batch

    async def _publish(self, js, message: Message):
        return await js.publish(
            f"{self.config.subject}.{message.agency}",
            message.body,
            timeout=self.config.timeout,
            headers={"Nats-Msg-Id": message_id(message.task_id, message.seq)},
        )

    def _crash_at(self, point: str) -> None:
        if self.config.crash == point:
            log.warning("ONETHING_RELAY_CRASH=%s: the relay kills its process (a test seam)", point)
            os.kill(os.getpid(), signal.SIGKILL)

    def _troubled(self, kind: str, line: str) -> None:
        self.tally.failures += 1
        self._attempts += 1
        if self._trouble is None:
            self._since, self._attempts = time.monotonic(), 1
        if self._trouble != kind:
            self._trouble = kind
            log.warning("push: %s; the tasks wait in the outbox, retrying with backoff", line)

    def _over(self) -> None:
        if self._trouble is not None:
            log.info(
                "push: the relay is sending again after %.1f s and %d failed attempt(s)",
                time.monotonic() - self._since,
                self._attempts,
            )
            self._trouble = None

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at > 3600:
            self._pruned_at = now
            self.outbox.prune(self.config.keep)

    async def _sleep(self, seconds: float, *, wakeable: bool) -> None:
        assert self._wake is not None and self._stop is not None
        waits = [asyncio.ensure_future(self._stop.wait())]
        if wakeable:
            waits.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()


def attach(store, url: str | None, clock: Callable, env: Mapping[str, str] | None = None) -> Relay | None:
    """With a broker URL: the outbox writer on the store's cases and (unless ONETHING_NATS_RELAY=0)
    a relay to start with the app; without one, nothing (None)."""
    if not url:
        return None
    env = os.environ if env is None else env
    try:
        import nats  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "ONETHING_NATS_URL is set but nats-py is not installed: pip install 'onething[nats]'"
        ) from None
    store.cases.listeners.append(OutboxWriter(clock))
    if env.get("ONETHING_NATS_RELAY", "1") == "0":
        return None
    relay = Relay(Outbox(store.engine), RelayConfig.from_env(url, env))
    store.cases.committed.append(relay.wake)
    return relay


async def _close(nc) -> None:
    import nats.errors

    try:
        await asyncio.wait_for(nc.close(), 2)
    except (OSError, TimeoutError, nats.errors.Error) as exc:  # a broken connection: nothing more to do
        log.debug("push: closing the NATS connection: %s", exc)


async def _quiet(exc: Exception) -> None:
    log.debug("push: NATS said %s", exc)


async def _quiet_event() -> None:
    return None


def _said(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
