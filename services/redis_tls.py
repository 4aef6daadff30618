"""How every Redis client of the app checks a `rediss://` server's certificate (docs/scale-out.md, "Heroku").

One rule, decided once in `Settings` and applied to every client (the shared store, Celery's broker and result
backend, RedBeat's lock, Dash's CeleryManager through Celery, Flask-Limiter's storage):

- `REDIS_TLS_VERIFY=required` (the default) checks the certificate and the host name against the system's CAs,
  or against `REDIS_TLS_CA_FILE` (a PEM file) when that is set: a private CA keeps the check on.
- `REDIS_TLS_VERIFY=none` encrypts without checking who answers: for a hosted Redis whose certificate is
  self-signed (Heroku Redis), on the provider's network (docs/scale-out.md says why not by default).
- Unset, it is what the URL's own `?ssl_cert_reqs=` says (`none`, `optional` or `required`: `optional` is
  `required` for a client), else `required`. Both set and different: a SettingsError, never a silent pick.

The outcome is also written onto the URL (`ssl_cert_reqs=`, `ssl_ca_certs=`) where the URL does not say it
already: a client built from REDIS_URL alone (the store's redis-py) checks the same way as those given the options
explicitly (Celery, RedBeat, the limiter). A URL that needs nothing written (the default check) is left as it is.
A plain `redis://` URL has no TLS: the verify setting is ignored there, and a CA file is refused as a likely mistake.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

VERIFY_VALUES = {"required": True, "none": False}
# What Celery and redis-py accept in a URL's ssl_cert_reqs (Celery also the ssl module's names).
_URL_VALUES = {"required": True, "optional": True, "none": False,
               "cert_required": True, "cert_optional": True, "cert_none": False}
_TLS_QUERY_KEYS = ("ssl_cert_reqs", "ssl_ca_certs")


class RedisTlsError(ValueError):
    """A Redis TLS setting is malformed or contradicts another; the message names the variable."""


@dataclass(frozen=True)
class RedisTls:
    """How a `rediss://` server's certificate is checked: `verify`, against `ca_file` or the system's CAs."""

    verify: bool = True
    ca_file: Path | None = None

    def client_options(self) -> dict[str, object]:
        """The SSL options of redis-py, kombu (broker_use_ssl), Celery's backend and RedBeat alike."""
        options: dict[str, object] = {"ssl_cert_reqs": ssl.CERT_REQUIRED if self.verify else ssl.CERT_NONE}
        if self.ca_file is not None:
            options["ssl_ca_certs"] = str(self.ca_file)
        return options

    def on_url(self, url: str) -> str:
        """`url` saying how its certificate is checked: as it is if redis-py would read it so already (no
        ssl_cert_reqs is `required` to redis-py), else with its ssl_cert_reqs/ssl_ca_certs replaced."""
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        said = _url_value(query, "ssl_cert_reqs").lower()
        same_check = said in (("", "required", "optional") if self.verify else ("none",))
        if same_check and _url_value(query, "ssl_ca_certs") == (str(self.ca_file) if self.ca_file else ""):
            return url
        kept = [item for item in parts.query.split("&") if item and item.split("=", 1)[0] not in _TLS_QUERY_KEYS]
        kept.append(f"ssl_cert_reqs={'required' if self.verify else 'none'}")
        if self.ca_file is not None:
            kept.append(f"ssl_ca_certs={quote(str(self.ca_file), safe='/')}")
        return urlunsplit(parts._replace(query="&".join(kept)))


def _url_value(query: dict[str, list[str]], key: str) -> str:
    values = query.get(key) or [""]
    return values[-1].strip()


def read_redis_tls(env: Mapping[str, str], url: str | None) -> tuple[str | None, RedisTls]:
    """(REDIS_URL as every client should use it, the check) from REDIS_TLS_VERIFY, REDIS_TLS_CA_FILE and the URL."""
    raw_verify = (env.get("REDIS_TLS_VERIFY") or "").strip().lower()
    raw_ca = (env.get("REDIS_TLS_CA_FILE") or "").strip()
    if raw_verify and raw_verify not in VERIFY_VALUES:
        raise RedisTlsError(f"REDIS_TLS_VERIFY must be 'required' or 'none', got {raw_verify!r}")
    if not url or not url.startswith("rediss://"):
        if raw_ca:
            raise RedisTlsError("REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss:// (no TLS to check)")
        return url, RedisTls()
    query = parse_qs(urlsplit(url).query)
    url_reqs = _url_value(query, "ssl_cert_reqs").lower()
    if url_reqs and url_reqs not in _URL_VALUES:  # the value only: the URL holds the password
        raise RedisTlsError(f"REDIS_URL's ssl_cert_reqs must be required, optional or none, got {url_reqs!r}")
    verify = VERIFY_VALUES[raw_verify] if raw_verify else _URL_VALUES.get(url_reqs, True)
    if raw_verify and url_reqs and verify != _URL_VALUES[url_reqs]:
        raise RedisTlsError(f"REDIS_TLS_VERIFY={raw_verify} contradicts REDIS_URL's ssl_cert_reqs={url_reqs}: "
                            "set one of them")
    url_ca = _url_value(query, "ssl_ca_certs")
    if raw_ca and url_ca and raw_ca != url_ca:
        raise RedisTlsError("REDIS_TLS_CA_FILE and REDIS_URL's ssl_ca_certs name different files: set one of them")
    ca = raw_ca or url_ca
    if ca and not verify:
        raise RedisTlsError("REDIS_TLS_CA_FILE checks the certificate: it cannot go with REDIS_TLS_VERIFY=none")
    if ca and not Path(ca).is_file():
        source = "REDIS_TLS_CA_FILE" if raw_ca else "REDIS_URL's ssl_ca_certs"
        raise RedisTlsError(f"{source} must be an existing PEM file, got {ca!r}")
    tls = RedisTls(verify=verify, ca_file=Path(ca) if ca else None)
    return tls.on_url(url), tls


def certificate_refused(error: BaseException) -> bool:
    """Whether a failure to reach Redis is its TLS certificate failing the check (redis-py wraps the SSL error)."""
    seen: BaseException | None = error
    for _ in range(5):  # the cause chain is short; never loop on a cycle
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
