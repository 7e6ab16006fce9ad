"""The dispatcher's pure parts: rate plans to windows, the limiter (in memory and shared through Redis), the
window rules, the OutboundMessage mapping, signed media URLs, backoff."""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import os
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbotx.channels.base import RatePlan
from chatbotx.dispatcher import media, outbound, policy
from chatbotx.dispatcher.limits import (
    IN_FLIGHT_MS,
    POLL,
    REDIS_PREFIX,
    WINDOW_MS,
    OutboundLimiter,
    Rate,
    _KeyLog,
    inbox_rates,
    recipient_rates,
)
from chatbotx.dispatcher.service import BACKOFF_CAP, backoff
from chatbotx.models import Message
from tests.dispatcher.conftest import peak_per_window

REDIS_URL = os.environ.get("CHATBOTX_TEST_REDIS_URL")
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def limits(rates: list[Rate]) -> list[tuple[int, int]]:
    return [(r.limit, r.interval) for r in rates]


def test_rate_plans_become_sliding_windows() -> None:
    assert limits(inbox_rates(RatePlan(per_second=80))) == [(80, WINDOW_MS)]
    assert limits(inbox_rates(RatePlan(per_second=0.5))) == [(1, 2 * WINDOW_MS)]
    assert inbox_rates(RatePlan(per_second=None)) == []
    # Telegram-like: 1/s per chat with bursts of 3, averaging 1/s over a minute.
    assert limits(recipient_rates(RatePlan(30, 1, burst=3))) == [(3, WINDOW_MS), (60, 60_000)]
    assert limits(recipient_rates(RatePlan(30, 1, burst=1))) == [(1, WINDOW_MS)]
    assert limits(recipient_rates(RatePlan(80, None))) == []


async def admitted_times(
    limiter: OutboundLimiter, plan: RatePlan, sends: int, recipients: int = 1
) -> list[float]:
    inbox = f"inbox-{uuid.uuid4().hex[:6]}"
    times = []
    for n in range(sends):
        wait, ticket = await limiter.turn(inbox, f"r{n % recipients}", plan, max_wait=10)
        assert wait == 0 and ticket is not None
        times.append(time.time())
        await limiter.done(ticket)  # answered at once
    return times


async def test_the_limiter_waits_instead_of_exceeding() -> None:
    times = await admitted_times(OutboundLimiter(), RatePlan(per_second=10), 25, recipients=25)
    assert peak_per_window(times) <= 10
    assert times[-1] - times[0] >= 2.0  # 25 at 10 per second cannot all go within two seconds


async def test_concurrent_sends_on_one_key_queue_under_the_limit_and_leave_nothing_behind() -> None:
    limiter = OutboundLimiter()
    plan = RatePlan(per_second=5)
    times: list[float] = []

    async def send(n: int) -> None:
        wait, ticket = await limiter.turn("i", f"r{n}", plan, max_wait=10)
        assert wait == 0 and ticket is not None
        times.append(time.time())
        await limiter.done(ticket)

    await asyncio.gather(*(send(n) for n in range(12)))
    assert len(times) == 12 and peak_per_window(times) <= 5
    assert times[-1] - times[0] >= 2.0
    assert limiter.queues == {}  # no waiter left: the per-key queues are gone


async def test_a_wait_longer_than_allowed_is_returned_not_slept() -> None:
    limiter = OutboundLimiter()
    plan = RatePlan(per_second=100, per_recipient_per_second=1)
    wait, ticket = await limiter.turn("i", "r", plan, max_wait=0.1)
    assert wait == 0 and ticket is not None
    await limiter.done(ticket)
    wait, refused = await limiter.turn("i", "r", plan, max_wait=0.1)
    assert refused is None and 0.1 < wait <= WINDOW_MS / 1000 + 0.01
    limiter.pause("i", 30)
    wait, refused = await limiter.turn("i", "other", plan, max_wait=1)
    assert refused is None and wait > 29  # the provider said stop


async def test_a_send_counts_while_in_flight_and_for_a_window_after_its_answer() -> None:
    limiter = OutboundLimiter()
    plan = RatePlan(per_second=2)
    first = (await limiter.turn("i", "a", plan, max_wait=0))[1]
    second = (await limiter.turn("i", "b", plan, max_wait=0))[1]
    assert first is not None and second is not None
    await asyncio.sleep(1.1)  # a window has passed, but both are still in flight (unanswered)
    wait, refused = await limiter.turn("i", "c", plan, max_wait=0)
    assert refused is None and wait > 0
    await limiter.done(first)  # answered now: it counts one more window from here
    wait, refused = await limiter.turn("i", "c", plan, max_wait=0)
    assert refused is None and 0.9 < wait <= 1.01
    # A refused turn takes nothing: the recipient slot it got is given back.
    refused_plan = RatePlan(per_second=2, per_recipient_per_second=1)
    assert (await limiter.turn("i", "d", refused_plan, max_wait=0))[1] is None
    assert limiter.log.count("i:d") == 0  # type: ignore[union-attr]


def reference_wait(scores: list[int], rates: list[Rate], now: int) -> int:
    """The limiter's rule over a plain list of scores (an answer time, or until when a send in flight
    counts): sort the window's sends, the (count - limit)-th must leave it first."""
    longest = 0
    for rate in rates:
        inside = sorted(s for s in scores if s > now - rate.interval)
        if len(inside) < rate.limit:
            continue
        blocking = inside[len(inside) - rate.limit]
        if blocking > now:
            longest = max(longest, int(POLL * 1000))
        else:
            longest = max(longest, blocking + rate.interval - now + 1)
    return longest


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["admit", "answer", "cancel", "tick"]), st.integers(0, 40_000)),
        max_size=120,
    ),
    limit=st.integers(1, 6),
)
def test_the_ordered_log_waits_exactly_as_sorting_every_send_would(
    steps: list[tuple[str, int]], limit: int
) -> None:
    rates = [Rate(limit, WINDOW_MS), Rate(limit * 3, 5 * WINDOW_MS)]
    horizon = max(r.interval for r in rates)
    log, scores = _KeyLog(), {}  # the reference: member -> score
    now, ids = 1_000_000, 0
    for action, value in steps:
        if action == "tick":
            now += value % 3000
        elif action == "admit":
            log.prune(now, now - horizon)
            scores = {m: s for m, s in scores.items() if s > now - horizon}
            wait = log.wait(rates, now)
            assert wait == reference_wait(list(scores.values()), rates, now)
            if not wait:
                ids += 1
                log.flying[str(ids)] = scores[str(ids)] = now + IN_FLIGHT_MS
        elif log.flying:
            member = list(log.flying)[value % len(log.flying)]
            if action == "answer":
                log.flying.pop(member)
                bisect.insort(log.answered, now)
                scores[member] = now
            else:
                log.flying.pop(member)
                scores.pop(member)


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="CHATBOTX_TEST_REDIS_URL is not set")
async def test_dispatchers_share_one_limit_through_redis() -> None:
    first, second = OutboundLimiter.from_url(REDIS_URL), OutboundLimiter.from_url(REDIS_URL)
    plan = RatePlan(per_second=6)
    inbox = f"inbox-{uuid.uuid4().hex[:6]}"
    times: list[float] = []

    async def run(limiter: OutboundLimiter) -> None:
        for n in range(9):
            wait, ticket = await limiter.turn(inbox, f"r{n}", plan, max_wait=10)
            assert wait == 0 and ticket is not None
            times.append(time.time())
            await limiter.done(ticket)

    try:
        await asyncio.gather(run(first), run(second))
    finally:
        await first.close()
        await second.close()
    assert len(times) == 18 and peak_per_window(times) <= 6  # together, not 6 each


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="CHATBOTX_TEST_REDIS_URL is not set")
async def test_a_sends_entries_in_redis_are_stamped_and_taken_back_together() -> None:
    limiter = OutboundLimiter.from_url(REDIS_URL)
    redis = limiter.log.redis  # type: ignore[union-attr]
    plan = RatePlan(per_second=6, per_recipient_per_second=1)
    inbox = f"inbox-{uuid.uuid4().hex[:6]}"
    try:
        wait, ticket = await limiter.turn(inbox, "r", plan, max_wait=0)
        assert wait == 0 and ticket is not None and len(ticket.entries) == 2  # recipient, inbox
        entries = list(ticket.entries)
        before = time.time() * 1000
        for key, member in entries:  # in flight: they count far ahead
            assert await redis.zscore(REDIS_PREFIX + key, member) > before + IN_FLIGHT_MS / 2
        await limiter.done(ticket)
        for key, member in entries:  # answered: they count from now
            assert abs(await redis.zscore(REDIS_PREFIX + key, member) - time.time() * 1000) < 5_000
        wait, other = await limiter.turn(inbox, "s", plan, max_wait=0)
        assert wait == 0 and other is not None
        taken = list(other.entries)
        await limiter.cancel(other)
        for key, member in taken:
            assert await redis.zscore(REDIS_PREFIX + key, member) is None
    finally:
        await limiter.close()


def test_window_rules() -> None:
    day = dt.timedelta(hours=24)
    assert policy.window_open(NOW - dt.timedelta(hours=23), day, NOW)
    assert not policy.window_open(NOW - dt.timedelta(hours=24), day, NOW)
    assert not policy.window_open(None, day, NOW)
    assert policy.window_open(None, None, NOW)
    assert policy.window_exempt("whatsapp", "template", {})
    assert policy.window_exempt("whatsapp", "text", {"template": {"name": "x"}})
    assert not policy.window_exempt("whatsapp", "text", {"tag": "HUMAN_AGENT"})
    # HUMAN_AGENT stretches the window to 7 days; the update tags have none
    assert not policy.window_exempt("messenger", "text", {"tag": "HUMAN_AGENT"})
    assert policy.window_for("messenger", day, "text", {"tag": "HUMAN_AGENT"}) == dt.timedelta(days=7)
    assert policy.window_for("instagram", day, "text", {"tag": "ACCOUNT_UPDATE"}) is None
    assert policy.window_for("messenger", day, "text", {}) == day
    assert policy.window_for("whatsapp", day, "text", {"tag": "ACCOUNT_UPDATE"}) == day
    assert policy.window_for("telegram", None, "text", {}) is None
    tagged = policy.outside_window_message("messenger", day, NOW)
    assert "HUMAN_AGENT" in tagged and "template" not in tagged
    assert "7 days" in policy.outside_window_message("instagram", dt.timedelta(days=7), NOW)
    text = policy.outside_window_message("whatsapp", day, NOW)
    assert "24-hour" in text and "WhatsApp" in text and "template" in text
    assert policy.phone_source_id("+1 (650) 555-1234") == "16505551234"


@given(
    channel=st.sampled_from(["messenger", "instagram", "whatsapp"]),
    tag=st.sampled_from([None, *policy.MESSAGE_TAGS]),
    ago=st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=30)),
)
def test_what_may_be_sent_when(channel: str, tag: str | None, ago: dt.timedelta) -> None:
    """24 hours free-form; on Messenger/Instagram HUMAN_AGENT for 7 days and the update tags at any time."""
    attributes = {"tag": tag} if tag else {}
    window = policy.window_for(channel, dt.timedelta(hours=24), "text", attributes)
    sendable = window is None or policy.window_open(NOW - ago, window, NOW)
    tagged = channel in policy.TAG_CHANNELS and tag is not None
    if tagged and tag != "HUMAN_AGENT":
        assert sendable
    elif tagged:
        assert sendable == (ago < dt.timedelta(days=7))
    else:
        assert sendable == (ago < dt.timedelta(hours=24))
    assert policy.window_for(channel, dt.timedelta(hours=24), "template", attributes) is None


def test_outbound_mapping() -> None:
    message = Message(
        id=42,
        content="Pick",
        attachments=[
            {"fileId": "77", "name": "a.jpg", "contentType": "image/jpeg", "size": 10},
            {"url": "https://x.org/v.mp4"},
        ],
        content_attributes={
            "buttons": [{"title": "Yes", "payload": "Y"}, {"title": "Go", "url": "https://x.org"}],
            "quickReplies": [{"title": "Red"}, "Blue"],
            "template": {"name": "t", "language": {"code": "pt_BR"}},
        },
    )
    out = outbound.build(message, "chat-1")
    assert (out.message_id, out.recipient, out.text) == (42, "chat-1", "Pick")
    image, video = out.attachments
    assert image.kind == "image" and image.url is not None and "/media/77?exp=" in image.url
    assert (video.kind, video.url, video.mime_type) == ("video", "https://x.org/v.mp4", "video/mp4")
    assert [(b.title, b.payload, b.url) for b in out.buttons] == [
        ("Yes", "Y", None),
        ("Go", None, "https://x.org"),
    ]
    assert [(b.title, b.payload) for b in out.quick_replies] == [("Red", "Red"), ("Blue", "Blue")]
    assert out.template is not None and (out.template.name, out.template.language) == ("t", "pt_BR")


def test_media_urls_are_signed_and_expire() -> None:
    url = media.media_url(77, now=1_000_000, ttl=60)
    expires = int(url.split("exp=")[1].split("&")[0])
    sig = url.split("sig=")[1]
    assert expires == 1_000_060
    assert media.verify(77, expires, sig, now=1_000_000)
    assert not media.verify(78, expires, sig, now=1_000_000)  # another file
    assert not media.verify(77, expires + 1, sig, now=1_000_000)  # a longer life
    assert not media.verify(77, expires, sig, now=1_000_061)  # expired


def test_backoff_grows_then_caps() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(30) == BACKOFF_CAP
