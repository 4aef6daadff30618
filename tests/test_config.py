"""services/config.py: `Settings.from_env` reads every environment variable of the README with safe local
defaults, accepts
Heroku's `postgres://`, refuses unsafe production settings and names the variable of any bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.config import DEMO_FAILURE_KINDS, DEV_SECRET_KEY, Settings, SettingsError

LONG_SECRET = "a-long-random-production-secret"


def test_an_empty_environment_gives_the_local_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.app_env, settings.is_production) == ("development", False)
    assert (settings.host, settings.port) == ("127.0.0.1", 8050)
    assert (settings.data_dir, settings.cache_dir) == (Path("data"), Path("data/cache"))
    assert settings.database_url == "sqlite:///data/stocktracker.db"
    assert (settings.price_provider, settings.demo_mode) == ("yahoo", False)
    assert (settings.demo_latency_ms, settings.demo_failure_rate, settings.demo_fail_symbols) == (0, 0.0, frozenset())
    assert settings.price_wait_s == 3.0
    assert (settings.warmup_enabled, settings.warmup_interval_s) == (True, 300)
    assert settings.secret_key == DEV_SECRET_KEY
    assert settings.redis_url is None


def test_blank_values_count_as_unset() -> None:
    settings = Settings.from_env({"PORT": "  ", "PRICE_WAIT_S": "", "WARMUP_ENABLED": "", "SECRET_KEY": " "})
    assert (settings.port, settings.price_wait_s, settings.warmup_enabled) == (8050, 3.0, True)
    assert settings.secret_key == DEV_SECRET_KEY


# (variable, its value, the field, what the field holds)
PARSED = [
    ("PORT", "5000", "port", 5000),
    ("HOST", " 0.0.0.0 ", "host", "0.0.0.0"),
    ("DATA_DIR", "/srv/tracker", "data_dir", Path("/srv/tracker")),
    ("CACHE_DIR", "/tmp/cache", "cache_dir", Path("/tmp/cache")),
    ("DATABASE_URL", "postgresql://u:p@db/tracker", "database_url", "postgresql://u:p@db/tracker"),
    ("DATABASE_URL", "postgres://u:p@db:5432/tracker", "database_url", "postgresql://u:p@db:5432/tracker"),
    ("PRICE_PROVIDER", "Demo", "price_provider", "demo"),
    ("DEMO_LATENCY_MS", "250", "demo_latency_ms", 250),
    ("DEMO_FAILURE_RATE", "0.25", "demo_failure_rate", 0.25),
    ("DEMO_FAILURE_RATE", "1", "demo_failure_rate", 1.0),
    ("DEMO_FAIL_SYMBOLS", "dead, Gone,,", "demo_fail_symbols", frozenset({"DEAD", "GONE"})),
    ("DEMO_FAILURE_KIND", "Rate_Limit", "demo_failure_kind", "rate_limit"),
    ("PRICE_WAIT_S", "1.5", "price_wait_s", 1.5),
    ("PRICE_WAIT_S", "0", "price_wait_s", 0.0),
    ("WARMUP_ENABLED", "0", "warmup_enabled", False),
    ("WARMUP_ENABLED", "off", "warmup_enabled", False),
    ("WARMUP_ENABLED", "TRUE", "warmup_enabled", True),
    ("WARMUP_INTERVAL_S", "60", "warmup_interval_s", 60),
    ("WARMUP_INTERVAL_S", "60.0", "warmup_interval_s", 60),
    ("SECRET_KEY", "not-so-secret", "secret_key", "not-so-secret"),
    ("REDIS_URL", "redis://cache:6379/0", "redis_url", "redis://cache:6379/0"),
    ("APP_ENV", "Staging", "app_env", "staging"),
    ("QUOTE_TTL_S", "120", "quote_ttl_s", 120),
    ("CLOSE_SETTLE_S", "0", "close_settle_s", 0),
    ("FETCH_RETRIES", "0", "fetch_retries", 0),
    ("FETCH_RATE_PER_S", "2.5", "fetch_rate_per_s", 2.5),
    ("MAX_UPLOAD_BYTES", "1024", "max_upload_bytes", 1024),
    ("SEED_SAMPLE", "no", "seed_sample", False),
]


@pytest.mark.parametrize(("name", "value", "field", "expected"), PARSED,
                         ids=[f"{name}={value}" for name, value, _, _ in PARSED])
def test_each_variable_is_parsed(name: str, value: str, field: str, expected: object) -> None:
    # A non-loopback HOST requires logins, and logins a real SECRET_KEY.
    assert getattr(Settings.from_env({"SECRET_KEY": "a-test-secret-of-some-length", name: value}), field) == expected


def test_data_dir_moves_the_database_and_the_cache_with_it() -> None:
    settings = Settings.from_env({"DATA_DIR": "/srv/tracker"})
    assert settings.database_url == "sqlite:////srv/tracker/stocktracker.db"
    assert settings.cache_dir == Path("/srv/tracker/cache")


def test_the_demo_flag_and_the_demo_provider_are_the_same_thing() -> None:
    flagged = Settings.from_env({"PRICE_PROVIDER": "yahoo"}, demo=True)
    assert (flagged.price_provider, flagged.demo_mode) == ("demo", True)
    assert Settings.from_env({"PRICE_PROVIDER": "demo"}).demo_mode is True


# (environment, the variable the error must name)
BAD = [
    ({"PORT": "eighty"}, "PORT"),
    ({"PORT": "0"}, "PORT"),
    ({"PORT": "80.5"}, "PORT"),
    ({"PRICE_WAIT_S": "soon"}, "PRICE_WAIT_S"),
    ({"PRICE_WAIT_S": "-1"}, "PRICE_WAIT_S"),
    ({"PRICE_WAIT_S": "nan"}, "PRICE_WAIT_S"),
    ({"DEMO_FAILURE_RATE": "1.5"}, "DEMO_FAILURE_RATE"),
    ({"DEMO_LATENCY_MS": "-5"}, "DEMO_LATENCY_MS"),
    ({"WARMUP_ENABLED": "maybe"}, "WARMUP_ENABLED"),
    ({"WARMUP_INTERVAL_S": "0"}, "WARMUP_INTERVAL_S"),
    ({"WARMUP_INTERVAL_S": "1.5"}, "WARMUP_INTERVAL_S"),
    ({"PRICE_PROVIDER": "bloomberg"}, "PRICE_PROVIDER"),
    ({"DEMO_FAILURE_KIND": "meteor"}, "DEMO_FAILURE_KIND"),
    ({"MAX_UPLOAD_BYTES": "10"}, "MAX_UPLOAD_BYTES"),
    ({"REDIS_URL": "rediss://h:6380/0", "REDIS_TLS_VERIFY": "off"}, "REDIS_TLS_VERIFY"),
    ({"REDIS_URL": "rediss://h:6380/0", "REDIS_TLS_CA_FILE": "/no/such/ca.pem"}, "REDIS_TLS_CA_FILE"),
    ({"REDIS_URL": "rediss://h:6380/0?ssl_cert_reqs=maybe"}, "REDIS_URL"),
]


@pytest.mark.parametrize(("env", "name"), BAD, ids=[",".join(f"{k}={v}" for k, v in env.items()) for env, _ in BAD])
def test_a_bad_value_is_refused_naming_its_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


@pytest.mark.parametrize("env", [{"APP_ENV": "production"}, {"DYNO": "web.1"}])
def test_production_refuses_the_dev_secret_key(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env(env)
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({**env, "SECRET_KEY": DEV_SECRET_KEY})
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({**env, "SECRET_KEY": "x" * 15})  # shorter than 16 characters


def test_production_with_a_long_secret_and_postgres_starts() -> None:
    settings = Settings.from_env({"DYNO": "web.1", "SECRET_KEY": LONG_SECRET,
                                  "DATABASE_URL": "postgres://u:p@db:5432/tracker"})
    assert (settings.app_env, settings.is_production) == ("production", True)
    assert settings.database_url == "postgresql://u:p@db:5432/tracker"


def test_sqlite_on_heroku_is_refused_unless_the_loss_is_accepted() -> None:
    heroku = {"DYNO": "web.1", "SECRET_KEY": LONG_SECRET}
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        Settings.from_env(heroku)
    assert Settings.from_env({**heroku, "ALLOW_SQLITE_IN_PRODUCTION": "1"}).allow_sqlite_in_production is True


def test_sqlite_in_production_off_heroku_is_allowed() -> None:
    """Only Heroku wipes its disk at every restart; a server of one's own keeps the file."""
    settings = Settings.from_env({"APP_ENV": "production", "SECRET_KEY": LONG_SECRET})
    assert settings.database_url.startswith("sqlite:///")


def test_the_demo_failure_kinds_match_the_demo_provider() -> None:
    """config repeats the list to stay light to import; the two must not drift apart."""
    from services.providers.demo import FAILURE_KINDS

    assert DEMO_FAILURE_KINDS == FAILURE_KINDS


def test_with_overrides_changes_only_what_it_is_given() -> None:
    settings = Settings.from_env({"PRICE_WAIT_S": "2"})
    changed = settings.with_overrides(price_wait_s=0.5)
    assert (changed.price_wait_s, settings.price_wait_s) == (0.5, 2.0)
    assert changed.port == settings.port


# -- accounts: when the app is single-user (README, "Accounts") -------------------------------------------------
SECRET = {"SECRET_KEY": "a-test-secret-of-some-length"}


@pytest.mark.parametrize(("env", "required"), [
    ({}, False),
    ({"HOST": "127.0.0.1"}, False),
    ({"HOST": "localhost"}, False),
    ({"HOST": "::1"}, False),
    ({"HOST": "0.0.0.0", **SECRET}, True),
    ({"HOST": "192.168.1.20", **SECRET}, True),
    ({"AUTH_REQUIRED": "1", **SECRET}, True),
    ({"APP_ENV": "production", "SECRET_KEY": "x" * 40}, True),
    ({"DYNO": "web.1", "SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://db/x"}, True),
])
def test_login_is_required_unless_the_run_is_local_and_loopback_only(env: dict, required: bool) -> None:
    assert Settings.from_env(env).auth_required is required


def test_a_run_that_requires_logins_refuses_the_public_dev_secret() -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({"AUTH_REQUIRED": "1"})
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({"HOST": "0.0.0.0"})


def test_signup_policy_is_one_of_three() -> None:
    assert Settings.from_env({}).signup == "first"
    assert Settings.from_env({"SIGNUP": "Open"}).signup == "open"
    with pytest.raises(SettingsError, match="SIGNUP"):
        Settings.from_env({"SIGNUP": "everyone"})


def test_a_local_run_answers_only_loopback_host_names_unless_told_otherwise() -> None:
    assert "localhost" in Settings.from_env({}).allowed_hosts
    assert "evil.example" not in Settings.from_env({}).allowed_hosts
    assert Settings.from_env({"TRUSTED_HOSTS": "Tracker.example.com, www.example.com"}).allowed_hosts == (
        "tracker.example.com", "www.example.com")
    assert Settings.from_env({"HOST": "0.0.0.0", **SECRET}).allowed_hosts == ()  # any, when not set


def test_heroku_trusts_its_router_as_one_proxy() -> None:
    assert Settings.from_env({}).proxy_hops == 0
    heroku = {"DYNO": "web.1", "SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://db/x"}
    assert Settings.from_env(heroku).proxy_hops == 1
