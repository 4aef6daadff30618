"""Shared fixtures: a frozen market clock, settings in a temporary directory, and a counting fake provider.

Nothing here touches the network: `CountingProvider` answers from a formula, and every directory lives in
`tmp_path`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from services.config import Settings
from services.market_hours import MarketClock
from services.price_cache import PriceCache
from services.price_service import PriceService
from tests.fakes import SESSION_MOMENT, CountingProvider, FrozenTime, SleepRecorder, make_clock, make_settings


@pytest.fixture
def frozen_time() -> FrozenTime:
    """Now = SESSION_MOMENT until a test moves it."""
    return FrozenTime(SESSION_MOMENT)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def clock(frozen_time: FrozenTime, settings: Settings) -> MarketClock:
    """A MarketClock frozen at `frozen_time`, with the settings' TTL and settle window."""
    return make_clock(frozen_time, settings)


@pytest.fixture
def price_cache(settings: Settings) -> Iterator[PriceCache]:
    cache = PriceCache(settings.cache_dir)
    yield cache
    cache.close()


@pytest.fixture
def counting_provider(clock: MarketClock) -> CountingProvider:
    return CountingProvider(clock)


@pytest.fixture
def backoff_sleep() -> SleepRecorder:
    """The `sleep` handed to PriceService: backoff waits are recorded, not slept."""
    return SleepRecorder()


@pytest.fixture
def make_service(clock: MarketClock, settings: Settings, backoff_sleep: SleepRecorder, price_cache: PriceCache
                 ) -> Iterator[Callable[..., PriceService]]:
    """Build PriceServices, joined after the test (before `price_cache` closes, which it depends on for that).

    Defaults: the fixture clock and settings, backoff recorded by `backoff_sleep`, jitter fixed at 0.5 (x1.0).
    """
    built: list[PriceService] = []

    def build(provider, cache: PriceCache, *, clock: MarketClock = clock, settings: Settings = settings,
              sleep: Callable[[float], None] = backoff_sleep, jitter: Callable[[], float] = lambda: 0.5
              ) -> PriceService:
        service = PriceService(provider, cache, clock, settings, sleep=sleep, jitter=jitter)
        built.append(service)
        return service

    yield build
    for service in built:
        service.shutdown()
        service._executor.shutdown(wait=True)  # no fetch may outlive the test and write into the next one


@pytest.fixture(scope="session")
def playwright_session():
    """Playwright's sync API, one for the whole session (it cannot be started twice in one thread); skipped loudly
    where the browser is missing."""
    import warnings

    from tests.browser.support import browser_missing

    reason = browser_missing()
    if reason:
        message = f"BROWSER TESTS SKIPPED: {reason}"
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session):
    """Debian's Chromium through Playwright, one for the whole session."""
    from tests.browser.support import launch_chromium

    chromium = launch_chromium(playwright_session)
    yield chromium
    chromium.close()
