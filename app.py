"""Entry point: `python app.py [--demo] [--host 127.0.0.1] [--port 8050]`, or `gunicorn app:server`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from functools import lru_cache

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")

# prometheus_client switches to multiprocess mode when the variable merely exists; set but empty, it wrote its
# .db files into the working directory. Empty means unset here.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


@lru_cache(maxsize=1)
def _app():
    from dashapp import create_app
    from services.config import Settings
    from services.memory import limit_malloc_arenas

    limit_malloc_arenas()

    settings = Settings.from_env()
    app = create_app(settings)
    # Dash sets itself up at its first request and marks that done before doing it: concurrent first requests
    # raced it (a 500 "dictionary changed size during iteration", or a callback list missing the pages'). One
    # request here, before any client's, runs it in this thread alone (gunicorn.conf.py warms more paths).
    app.server.test_client().get("/healthz", headers={"Host": "localhost"})
    # With REDIS_URL the warm-up is the Celery beat's (services/celery_app.py, the Procfile's `worker`): no web
    # process runs a scheduler then.
    if settings.warmup_enabled and not settings.redis_url:
        from dashapp.services_access import services_of
        from services.background_tasks import start_warmup

        start_warmup(services_of(app.server))
    return app


def __getattr__(name: str):
    # gunicorn's `app:server` reads this attribute; building lazily lets `python app.py --demo` set the
    # environment first instead of building the app twice.
    if name in ("app", "server"):
        app = _app()
        return app if name == "app" else app.server
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MyStockTracker: a fast stock-portfolio dashboard.")
    parser.add_argument("--demo", action="store_true",
                        help="simulated offline prices and, on an empty database, a sample portfolio")
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1, or HOST)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8050, or PORT)")
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (dev tools, reloader off)")
    args = parser.parse_args(argv)
    if args.demo:
        os.environ["PRICE_PROVIDER"] = "demo"
    if args.host:
        # The settings decide from the address whether logins are required (any non-loopback address needs them).
        os.environ["HOST"] = args.host
    from services.config import Settings, SettingsError

    try:
        settings = Settings.from_env(demo=args.demo)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app = _app()
    app.run(host=args.host or settings.host, port=args.port or settings.port, debug=args.debug,
            use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
