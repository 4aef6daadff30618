"""The Dash app factory: `create_app(settings)` builds the app, its pages and the JSON API."""

from __future__ import annotations

import logging
from pathlib import Path

import dash
from dash import DiskcacheManager
from dash.background_callback.managers import BaseBackgroundCallbackManager

from dashapp import api_actions, api_broker, api_holding  # noqa: F401  (their routes join the api blueprint before it is mounted)
from dashapp.api import register_api
from dashapp.auth import current_account, register_auth
from dashapp.auth_views import register_account_views
from dashapp.callback_cache import SelfHealingCache
from dashapp.index_template import INDEX_STRING, SkeletonDash
from dashapp.layout import register_shell_callbacks, shell_layout
from dashapp.page_status import register_page_status
from dashapp.security import register_security
from dashapp.services_access import register_services
from dashapp.services_access import services as scoped_services
from services.accounts import LOCAL_USER, Accounts
from services.config import Settings
from services.container import Services, build_services
from services.models import NotFoundError

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


# Asset folders Dash serves but does not put in every page: assets/vendor holds plotly.js's basic bundle, which
# assets/plotly_loader.js fetches only when a graph mounts.
LAZY_ASSET_DIRS = ["^vendor$"]


def background_callback_manager(settings: Settings) -> BaseBackgroundCallbackManager:
    """The one place that picks the background-callback backend.

    With REDIS_URL: Dash's CeleryManager on the deployment's Celery app (services/celery_app.py), so a poll that
    reaches any web process of any machine finds the job; the jobs run on the `worker` process, which builds this
    same app (dashapp/celery_callbacks.py) so that the pages' callbacks are registered there as tasks.

    Without it: diskcache in CACHE_DIR, shared by the workers of one machine. A `diskcache.Cache()` without a path
    is a private temp folder per process, and a poll that reaches another worker then answers 204 and the output
    never updates (measured in Dash 4.4.1).
    """
    if settings.redis_url:
        from dash import CeleryManager

        from services.celery_app import celery_for

        return CeleryManager(celery_for(settings))
    return DiskcacheManager(SelfHealingCache(str(settings.cache_dir / "callbacks")))


def callback_error(error: Exception) -> None:
    """Dash's `on_error`: a portfolio or transaction that is gone (or another user's, which looks the same) leaves
    the page as it is (no update) instead of answering an HTML 500; any other error is raised as before."""
    if isinstance(error, NotFoundError):
        return None
    raise error


def create_app(settings: Settings, services: Services | None = None) -> dash.Dash:
    """Build the Dash app on `settings` (tests hand in their own `services`)."""
    services = services or build_services(settings)
    # The Bootstrap theme (Flatly) is served from assets/, not a CDN: the app works offline and the first paint
    # waits on no third-party host.
    app = SkeletonDash(
        __name__,
        use_pages=True,
        pages_folder=str(ROOT / "dashapp" / "pages"),
        assets_folder=str(ROOT / "assets"),
        assets_path_ignore=LAZY_ASSET_DIRS,
        compress=True,
        suppress_callback_exceptions=True,
        background_callback_manager=background_callback_manager(settings),
        on_error=callback_error,
        title="MyStockTracker",
        update_title=None,
    )
    app.server.secret_key = settings.secret_key
    register_security(app, settings)  # before the login gate: a bad Host or a cross-site write stops here
    register_auth(app, settings, Accounts(services.ledger))
    register_account_views(app, settings)
    register_services(app.server, services)
    register_api(app.server, services)
    demo = bool(getattr(services.provider, "simulated", False))
    app.demo_banner = demo
    app.index_string = INDEX_STRING
    app.warm_critical_css()

    def list_portfolios() -> list[dict]:
        return [p.to_json() for p in scoped_services().ledger.list_portfolios()]

    def portfolio_exists(raw_id: str) -> bool:
        try:
            scoped_services().ledger.get_portfolio(int(raw_id))
        except (ValueError, NotFoundError):
            return False
        return True

    def account() -> str | None:
        # Dash builds the layout once at its first request, whoever sent it (the login page's too): no user, no menu.
        try:
            user = current_account()
        except PermissionError:
            return None
        return None if user == LOCAL_USER else user.email

    app.layout = shell_layout(app, demo=demo, list_portfolios=list_portfolios, account=account)
    register_shell_callbacks(app, list_portfolios)
    register_page_status(app, portfolio_exists)
    return app
