"""One typed settings object, read from the environment with safe local defaults.

Every environment variable (README, "Configuration") lives here and nowhere else; the rest of the code takes
a `Settings`.

PRICE_WAIT_S (`price_wait_s`, default 3) is the one variable behind four waits, each named for what it bounds:
`holdings_wait_s` (how long the holdings API waits on quotes that are not fresh), `chart_request_wait_s` (how
long a chart request waits on a chart being generated before it answers 202), `chart_refresh_wait_s` (how long a
chart generation waits on a refresh of history that is cached already) and `page_wait_quiet_s` (how long the
page's background wait goes on with nothing changing before it gives up: at least 1 s, so a wait of 0 still
sees one poll land).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from services.redis_tls import RedisTls, RedisTlsError, read_redis_tls

DEV_SECRET_KEY = "dev-insecure-secret-key"
# What a simulated failure of the demo provider is (DEMO_FAILURE_KIND): see services/providers/demo.py, whose
# FAILURE_KINDS must match (config imports nothing heavy, so the list is repeated; a test compares them).
DEMO_FAILURE_KINDS = ("transient", "rate_limit", "timeout", "not_found")
SIGNUP_POLICIES = ("first", "open", "closed")  # SIGNUP: who may create an account on /signup
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe; the message names the variable."""


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name)
    return default if value is None or value.strip() == "" else value.strip()


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = _text(env, "REDIS_URL", "")
    if url and not url.startswith(("redis://", "rediss://")):  # Flask-Limiter reads it too: no unix:// there
        found = f"it starts with {url.partition('://')[0]!r}" if "://" in url else "it has no scheme"  # no password
        raise SettingsError(f"REDIS_URL must start with redis:// or rediss:// ({found})")
    return url or None


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0,
            maximum: float | None = None) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value != value or value < minimum or (maximum is not None and value > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise SettingsError(f"{name} must be at least {minimum}{bound}, got {raw!r}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    value = _number(env, name, default, minimum=minimum)
    if value != int(value):
        raise SettingsError(f"{name} must be a whole number, got {env.get(name)!r}")
    return int(value)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be 1 or 0 (true/false), got {raw!r}")


def normalize_database_url(url: str) -> str:
    """Heroku writes `postgres://`, which SQLAlchemy 1.4+ no longer accepts."""
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://"):]
    return url


@dataclass(frozen=True)
class Settings:
    """Everything the app can be configured with. Build it with `Settings.from_env()`."""

    app_env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8050
    data_dir: Path = Path("data")
    cache_dir: Path = Path("data/cache")
    database_url: str = "sqlite:///data/stocktracker.db"
    price_provider: str = "yahoo"
    demo_latency_ms: int = 0
    demo_failure_rate: float = 0.0
    demo_fail_symbols: frozenset[str] = field(default_factory=frozenset)
    demo_failure_kind: str = "transient"
    demo_failure_for_s: float = 0.0  # the simulated outage ends this long after the first request (0: never)
    price_wait_s: float = 3.0
    warmup_enabled: bool = True
    warmup_interval_s: int = 300
    secret_key: str = DEV_SECRET_KEY
    redis_url: str | None = None
    # The prefix of every key of the shared store in Redis: deployments that share one Redis each need their own.
    redis_key_prefix: str = "stocktracker:"
    # How a rediss:// server's certificate is checked (REDIS_TLS_VERIFY, REDIS_TLS_CA_FILE: services/redis_tls.py);
    # `redis_url` says the same in its query, so a client given only the URL checks the same way.
    redis_tls: RedisTls = field(default_factory=RedisTls)
    allow_sqlite_in_production: bool = False
    # Freshness: how long an intraday quote counts as fresh, and how long after the close the
    # exchange's closing price may still move (closing auction, late prints).
    quote_ttl_s: int = 300
    close_settle_s: int = 900
    # The upstream fetch path: Yahoo users report 1-5 requests/s as safe.
    fetch_batch_size: int = 50
    fetch_workers: int = 4
    fetch_rate_per_s: float = 4.0
    fetch_burst: int = 8
    fetch_retries: int = 3
    fetch_backoff_s: float = 0.5
    fetch_timeout_s: float = 20.0
    rate_limit_cooldown_s: float = 120.0
    failure_retry_s: float = 300.0
    history_start: str = "2000-01-01"
    max_upload_bytes: int = 5 * 1024 * 1024
    demo_mode: bool = False
    seed_sample: bool = True  # in demo mode, give an empty database the sample portfolio
    # Accounts (README, "Accounts"): login is required unless the app is a local, loopback-only run.
    auth_required: bool = False
    signup: str = "first"
    metrics_token: str | None = None
    # Hosts the app answers for (DNS rebinding); empty: the loopback names when local, anything when not.
    trusted_hosts: tuple[str, ...] = ()
    # Heroku's router is one proxy: trust one X-Forwarded-For/-Proto hop (0 when nothing sits in front).
    proxy_hops: int = 0
    login_limit_per_account: str = "5 per minute;20 per hour"
    login_limit_per_address: str = "20 per minute;200 per hour"
    # Quotas per owner, so one account cannot fill the database.
    max_portfolios_per_owner: int = 50
    max_transactions_per_portfolio: int = 100_000

    # The named waits PRICE_WAIT_S sets (see the module's docstring).
    @property
    def holdings_wait_s(self) -> float:
        return self.price_wait_s

    @property
    def chart_request_wait_s(self) -> float:
        return self.price_wait_s

    @property
    def chart_refresh_wait_s(self) -> float:
        return self.price_wait_s

    @property
    def page_wait_quiet_s(self) -> float:
        return max(1.0, self.price_wait_s)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, demo: bool = False) -> Settings:
        """Read every environment variable (README, "Configuration"); `demo=True` is the `--demo` flag."""
        env = os.environ if env is None else env
        data_dir = Path(_text(env, "DATA_DIR", "data"))
        cache_dir = Path(_text(env, "CACHE_DIR", str(data_dir / "cache")))
        default_db = f"sqlite:///{(data_dir / 'stocktracker.db').as_posix()}"
        provider = "demo" if demo else _text(env, "PRICE_PROVIDER", "yahoo").lower()
        if provider not in {"yahoo", "demo"}:
            raise SettingsError(f"PRICE_PROVIDER must be 'yahoo' or 'demo', got {provider!r}")
        failure_kind = _text(env, "DEMO_FAILURE_KIND", "transient").lower()
        if failure_kind not in DEMO_FAILURE_KINDS:
            raise SettingsError(f"DEMO_FAILURE_KIND must be one of {', '.join(DEMO_FAILURE_KINDS)}, "
                                f"got {failure_kind!r}")
        production = bool(env.get("DYNO")) or _text(env, "APP_ENV", "development").lower() == "production"
        host = _text(env, "HOST", "127.0.0.1")
        signup = _text(env, "SIGNUP", "first").lower()
        if signup not in SIGNUP_POLICIES:
            raise SettingsError(f"SIGNUP must be one of {', '.join(SIGNUP_POLICIES)}, got {signup!r}")
        # Single-user only for a loopback-only run outside production (README, "Accounts").
        auth_required = production or host not in LOOPBACK_HOSTS or _flag(env, "AUTH_REQUIRED", False)
        trusted_hosts = tuple(h.strip().lower() for h in _text(env, "TRUSTED_HOSTS", "").split(",") if h.strip())
        try:
            redis_url, redis_tls = read_redis_tls(env, _redis_url(env))
        except RedisTlsError as error:
            raise SettingsError(str(error)) from None
        fail_symbols = frozenset(
            s.strip().upper() for s in _text(env, "DEMO_FAIL_SYMBOLS", "").split(",") if s.strip()
        )
        settings = cls(
            app_env="production" if production else _text(env, "APP_ENV", "development").lower(),
            host=host,
            port=_integer(env, "PORT", 8050, minimum=1),
            data_dir=data_dir,
            cache_dir=cache_dir,
            database_url=normalize_database_url(_text(env, "DATABASE_URL", default_db)),
            price_provider=provider,
            demo_latency_ms=_integer(env, "DEMO_LATENCY_MS", 0),
            demo_failure_rate=_number(env, "DEMO_FAILURE_RATE", 0.0, maximum=1.0),
            demo_fail_symbols=fail_symbols,
            demo_failure_kind=failure_kind,
            demo_failure_for_s=_number(env, "DEMO_FAILURE_FOR_S", 0.0),
            price_wait_s=_number(env, "PRICE_WAIT_S", 3.0),
            warmup_enabled=_flag(env, "WARMUP_ENABLED", True),
            warmup_interval_s=_integer(env, "WARMUP_INTERVAL_S", 300, minimum=1),
            secret_key=_text(env, "SECRET_KEY", DEV_SECRET_KEY),
            redis_url=redis_url,
            redis_tls=redis_tls,
            redis_key_prefix=_text(env, "REDIS_KEY_PREFIX", "stocktracker:"),
            allow_sqlite_in_production=_flag(env, "ALLOW_SQLITE_IN_PRODUCTION", False),
            quote_ttl_s=_integer(env, "QUOTE_TTL_S", 300, minimum=1),
            close_settle_s=_integer(env, "CLOSE_SETTLE_S", 900),
            fetch_batch_size=_integer(env, "FETCH_BATCH_SIZE", 50, minimum=1),
            fetch_workers=_integer(env, "FETCH_WORKERS", 4, minimum=1),
            fetch_rate_per_s=_number(env, "FETCH_RATE_PER_S", 4.0, minimum=0.01),
            fetch_burst=_integer(env, "FETCH_BURST", 8, minimum=1),
            fetch_retries=_integer(env, "FETCH_RETRIES", 3),
            fetch_backoff_s=_number(env, "FETCH_BACKOFF_S", 0.5),
            fetch_timeout_s=_number(env, "FETCH_TIMEOUT_S", 20.0, minimum=0.1),
            rate_limit_cooldown_s=_number(env, "RATE_LIMIT_COOLDOWN_S", 120.0),
            failure_retry_s=_number(env, "FAILURE_RETRY_S", 300.0),
            max_upload_bytes=_integer(env, "MAX_UPLOAD_BYTES", 5 * 1024 * 1024, minimum=1024),
            demo_mode=demo or provider == "demo",
            seed_sample=_flag(env, "SEED_SAMPLE", True),
            auth_required=auth_required,
            signup=signup,
            metrics_token=_text(env, "METRICS_TOKEN", "") or None,
            trusted_hosts=trusted_hosts,
            proxy_hops=_integer(env, "PROXY_HOPS", 1 if env.get("DYNO") else 0),
            login_limit_per_account=_text(env, "LOGIN_LIMIT_PER_ACCOUNT", "5 per minute;20 per hour"),
            login_limit_per_address=_text(env, "LOGIN_LIMIT_PER_ADDRESS", "20 per minute;200 per hour"),
            max_portfolios_per_owner=_integer(env, "MAX_PORTFOLIOS_PER_OWNER", 50, minimum=1),
            max_transactions_per_portfolio=_integer(env, "MAX_TRANSACTIONS_PER_PORTFOLIO", 100_000, minimum=1),
        )
        settings.validate(env)
        return settings

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """The Host names requests may carry: TRUSTED_HOSTS, else the loopback names for a local run (a page
        on another site that rebinds its DNS name to 127.0.0.1 then gets 400), else any (empty)."""
        if self.trusted_hosts:
            return self.trusted_hosts
        return () if self.auth_required else tuple(sorted(LOOPBACK_HOSTS))

    def validate(self, env: Mapping[str, str] | None = None) -> None:
        """Refuse settings that would be unsafe in production (or wherever logins are required)."""
        if self.auth_required and not self.is_production and self.secret_key == DEV_SECRET_KEY:
            # The dev key is public: anyone could sign a session cookie naming any user.
            raise SettingsError("SECRET_KEY must be set when login is required (a non-loopback HOST or "
                                "AUTH_REQUIRED=1): the default one is public")
        if not self.is_production:
            return
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 16:
            raise SettingsError("SECRET_KEY must be set to a long random value in production")
        on_heroku = bool((env or {}).get("DYNO"))
        if on_heroku and self.database_url.startswith("sqlite") and not self.allow_sqlite_in_production:
            raise SettingsError(
                "DATABASE_URL is SQLite on Heroku, whose disk is wiped at every restart: add the Postgres "
                "add-on, or set ALLOW_SQLITE_IN_PRODUCTION=1 to accept losing the ledger"
            )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests and the benchmark use this)."""
        return replace(self, **changes)
