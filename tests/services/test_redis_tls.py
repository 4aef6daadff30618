"""services/redis_tls.py: the one rule for checking a rediss:// server's certificate, as Settings reads it.

REDIS_TLS_VERIFY (required | none), else the URL's own ssl_cert_reqs, else required; REDIS_TLS_CA_FILE keeps the
check on against a CA of one's own; contradictions are refused naming the variable. The outcome is written onto
the URL so that a client given only REDIS_URL checks the same way. (The real TLS servers: test_redis_tls_servers.)
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import redis

from services.config import Settings, SettingsError
from services.redis_tls import RedisTls, certificate_refused

HEROKU = "rediss://:p%40ss@ec2-1-2-3-4.compute-1.amazonaws.com:6380"  # the shape Heroku Redis sets, no db path


def tls_of(**env: str) -> Settings:
    return Settings.from_env({"REDIS_URL": HEROKU, **env})


def test_a_rediss_url_checks_the_certificate_by_default():
    settings = tls_of()
    assert settings.redis_tls == RedisTls(verify=True, ca_file=None)
    assert settings.redis_url == HEROKU  # redis-py checks a rediss:// URL by default: nothing to write onto it
    assert settings.redis_tls.client_options() == {"ssl_cert_reqs": ssl.CERT_REQUIRED}


def test_verify_none_turns_the_check_off_for_every_client():
    settings = tls_of(REDIS_TLS_VERIFY=" None ")
    assert settings.redis_tls.verify is False
    assert settings.redis_url == HEROKU + "?ssl_cert_reqs=none"
    assert settings.redis_tls.client_options() == {"ssl_cert_reqs": ssl.CERT_NONE}


@pytest.mark.parametrize(("written", "verify", "on_url"), [
    ("none", False, "none"), ("required", True, "required"), ("optional", True, "optional"),  # redis-py reads these
    ("CERT_NONE", False, "none"), ("CERT_REQUIRED", True, "required"),  # Celery's spellings, which redis-py refuses
])
def test_unset_it_follows_the_urls_own_ssl_cert_reqs(written: str, verify: bool, on_url: str):
    settings = Settings.from_env({"REDIS_URL": f"rediss://h:6380/0?db=2&ssl_cert_reqs={written}"})
    assert settings.redis_tls.verify is verify
    assert settings.redis_url == f"rediss://h:6380/0?db=2&ssl_cert_reqs={on_url}"  # one spelling every client reads


def test_the_setting_and_the_url_agreeing_is_fine_and_disagreeing_is_refused():
    assert Settings.from_env({"REDIS_URL": HEROKU + "?ssl_cert_reqs=none", "REDIS_TLS_VERIFY": "none"}
                             ).redis_tls.verify is False
    with pytest.raises(SettingsError, match="REDIS_TLS_VERIFY=required contradicts REDIS_URL's ssl_cert_reqs=none"):
        Settings.from_env({"REDIS_URL": HEROKU + "?ssl_cert_reqs=none", "REDIS_TLS_VERIFY": "required"})


def test_a_ca_file_keeps_the_check_on(tmp_path: Path):
    ca = tmp_path / "my ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")  # only its existence is checked here; the servers' test loads one
    settings = tls_of(REDIS_TLS_CA_FILE=str(ca))
    assert settings.redis_tls == RedisTls(verify=True, ca_file=ca)
    assert settings.redis_tls.client_options() == {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": str(ca)}
    # quoted in the URL ("my ca" has a space), as redis-py's and Celery's parsers unquote it
    assert settings.redis_url == f"{HEROKU}?ssl_cert_reqs=required&ssl_ca_certs={tmp_path}/my%20ca.pem"
    assert redis.connection.parse_url(settings.redis_url)["ssl_ca_certs"] == str(ca)
    with pytest.raises(SettingsError, match="REDIS_TLS_CA_FILE checks the certificate"):
        tls_of(REDIS_TLS_CA_FILE=str(ca), REDIS_TLS_VERIFY="none")


def test_a_ca_file_without_tls_is_a_mistake_and_verify_is_moot(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    with pytest.raises(SettingsError, match="REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss://"):
        Settings.from_env({"REDIS_URL": "redis://h:6379/0", "REDIS_TLS_CA_FILE": str(ca)})
    plain = Settings.from_env({"REDIS_URL": "redis://h:6379/0", "REDIS_TLS_VERIFY": "none"})
    assert plain.redis_url == "redis://h:6379/0"  # nothing written onto a URL without TLS
    assert Settings.from_env({"REDIS_TLS_VERIFY": "none"}).redis_url is None


def test_errors_never_show_the_password():
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"REDIS_URL": "rediss://:hunter2@h:6380?ssl_cert_reqs=sometimes"})
    assert "hunter2" not in str(refused.value) and "'sometimes'" in str(refused.value)


def test_a_refused_certificate_is_told_apart_from_a_dead_server():
    error = redis.ConnectionError("Error 1 connecting to h:6380.")
    error.__context__ = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed certificate")
    assert certificate_refused(error) is True
    assert certificate_refused(redis.ConnectionError("Error 111 connecting to h:6380. Connection refused.")) is False
