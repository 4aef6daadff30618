"""Every component id in one place, so pages, callbacks and browser tests agree.

Ids named in the issue (summary-market-value, price-status-badge, holdings-table, value-chart,
allocation-chart) are part of the interface: browser tests and screenshots look them up.
"""

# -- shell ---------------------------------------------------------------------------------------------------
STATIC_SKELETON = "static-skeleton"  # the plain-HTML skeleton of the index page (no Dash component)
CRITICAL_CSS = "critical-css"  # the part of the assets' CSS the skeleton uses, inlined (named in deferred_boot.js too)
SKELETON_CSS = "skeleton-css"  # the skeleton's own inline styles (placeholders, shimmer)
DASH_BOOT = "dash-boot"  # the inert <template> holding Dash's scripts until first paint (named in deferred_boot.js too)
APP_SHELL = "app-shell"
NAVBAR = "navbar"
LOGOUT = "logout-button"  # the account menu's submit button (a plain form POST to /logout)
NAV_DASHBOARD = "nav-dashboard"
NAV_TRANSACTIONS = "nav-transactions"
DEMO_BANNER = "demo-banner"
PORTFOLIO_SELECT = "portfolio-select"
URL = "url"  # our own dcc.Location, used to navigate when the selector changes

# -- every page ----------------------------------------------------------------------------------------------
CURRENT_PORTFOLIO = "current-portfolio"  # dcc.Store: the portfolio the page shows ({"id", "name", ...}) or None

# -- dashboard -----------------------------------------------------------------------------------------------
PORTFOLIO_TITLE = "portfolio-title"
PRICE_BADGE = "price-status-badge"
PRICE_BADGE_TOOLTIP = "price-status-tooltip"
REFRESH_PRICES = "refresh-prices"
REFRESH_PROGRESS_WRAP = "refresh-progress-wrap"
REFRESH_PROGRESS = "refresh-progress"
REFRESH_MESSAGE = "refresh-message"  # what Refresh prices did ("All prices are current", "Fetching 3 prices")

SUMMARY_MARKET_VALUE = "summary-market-value"
SUMMARY_MARKET_VALUE_SUB = "summary-market-value-sub"
SUMMARY_DAY_CHANGE = "summary-day-change"
SUMMARY_DAY_CHANGE_SUB = "summary-day-change-sub"
SUMMARY_UNREALIZED = "summary-unrealized-gain"
SUMMARY_UNREALIZED_SUB = "summary-unrealized-gain-sub"
SUMMARY_REALIZED = "summary-realized-gain"
SUMMARY_REALIZED_SUB = "summary-realized-gain-sub"

HOLDINGS_PART = "holdings-part"
HOLDINGS_TABLE = "holdings-table"
HOLDINGS_COUNT = "holdings-count"
HOLDINGS_MESSAGE = "holdings-message"

VALUE_CHART_PART = "value-chart-part"
VALUE_CHART = "value-chart"
VALUE_CHART_MESSAGE = "value-chart-message"
RANGE_BUTTON = "range-button"  # pattern-matching type: {"type": RANGE_BUTTON, "range": "1Y"}
CHART_RANGE = "chart-range"  # dcc.Store: the selected range
CHART_PROGRESS_WRAP = "chart-progress-wrap"
CHART_PROGRESS = "chart-progress"

ALLOCATION_PART = "allocation-part"
ALLOCATION_CHART = "allocation-chart"
ALLOCATION_MESSAGE = "allocation-message"

# The cold path: a normal callback that finds data missing writes *_PENDING; a background callback waits for
# it (with progress) and writes *_READY; callbacks that never write *_PENDING then fill the parts again. No
# callback both reads *_READY and writes *_PENDING: that loop made Dash's renderer hold the holdings refill back
# (its circular-dependency fallback), so the table stayed a skeleton after the prices had landed.
PRICES_PENDING = "prices-pending"
PRICES_READY = "prices-ready"
CHART_PENDING = "chart-pending"
CHART_READY = "chart-ready"

# -- transactions page ---------------------------------------------------------------------------------------
TXN_TITLE = "transactions-title"
TXN_TABLE = "transactions-table"
TXN_TABLE_PART = "transactions-table-part"
TXN_VERSION = "transactions-version"  # dcc.Store bumped by every change to the ledger
TXN_DELETE = "transactions-delete"
TXN_DELETE_MESSAGE = "transactions-delete-message"

TXN_FORM = "transaction-form"
TXN_SUBMIT = "transaction-submit"
TXN_FORM_MESSAGE = "transaction-form-message"
TXN_FIELDS = ("date", "ticker", "type", "quantity", "price", "fees", "currency", "fx_rate", "note")


def txn_input(field: str) -> str:
    """The id of the add-transaction form's input for `field`."""
    return f"transaction-{field}"


def txn_feedback(field: str) -> str:
    """The id of the error message shown under the form's input for `field`."""
    return f"transaction-{field}-error"


CSV_UPLOAD = "csv-upload"
CSV_UPLOAD_RESULT = "csv-upload-result"
CSV_DOWNLOAD_BUTTON = "csv-download-button"
CSV_DOWNLOAD = "csv-download"

PORTFOLIO_NEW_NAME = "portfolio-new-name"
PORTFOLIO_CREATE = "portfolio-create"
PORTFOLIO_RENAME_NAME = "portfolio-rename-name"
PORTFOLIO_RENAME = "portfolio-rename"
PORTFOLIO_DELETE = "portfolio-delete"
PORTFOLIO_DELETE_CONFIRM = "portfolio-delete-confirm"
PORTFOLIO_MESSAGE = "portfolio-message"
PORTFOLIO_BASE_CURRENCY = "portfolio-base-currency"  # the Portfolio card's base-currency select
PORTFOLIO_BASE_APPLY = "portfolio-base-apply"
PORTFOLIO_BASE_LABEL = "portfolio-base-label"  # "Valued in USD": the portfolio's currency as the page shows it
PORTFOLIO_RENAMED = "portfolio-renamed"  # dcc.Store: bumped on rename, so the shell's selector relabels
TXN_LOCATION = "transactions-location"  # the page's own dcc.Location: where create and delete navigate to
TXN_EDIT = "transactions-edit"  # "Edit selected": fills the form with the one selected transaction
TXN_EDITING = "transaction-editing"  # dcc.Store: the id of the transaction the form edits, None when it adds
TXN_CANCEL = "transaction-cancel"  # leaves edit mode
TXN_FORM_TITLE = "transaction-form-title"  # "Add a transaction" / "Edit a transaction"
TXN_DELETE_CONFIRM = "transactions-delete-confirm"  # dcc.ConfirmDialog: "Delete 3 transactions?"
PORTFOLIO_MISSING = "portfolio-missing"  # the alert of /transactions?portfolio=<an id that does not exist>
PORTFOLIO_LINKS = "portfolio-links"  # the existing portfolios offered instead
# Issue 15: the holding view (/portfolio/<id>/holding/<ticker>) and the closed positions (/portfolio/<id>/closed)
HOLDING_KEY = "holding-key"  # dcc.Store: {"portfolio_id", "ticker"} of the holding the page shows
HOLDING_BODY = "holding-body"  # the view's figures, chart and transactions (a skeleton until filled)
HOLDING_POLL = "holding-poll"  # dcc.Interval: looks again while the chart's prices are not loaded
HOLDING_CHART = "holding-chart"  # the price chart with its BUY / SELL markers
CLOSED_KEY = "closed-key"  # dcc.Store: the portfolio id of the closed positions page
CLOSED_BODY = "closed-body"  # the closed positions' table (a skeleton until filled)
CLOSED_LINK = "closed-link"  # "Closed positions (N)" in the dashboard's Holdings card header
# Issue 15: the broker-style import on the Transactions page (dashapp/components/broker_import.py)
IMPORT_FORMAT = "import-format"  # select: MyStockTracker CSV, a broker preset, or Custom columns
IMPORT_FORMAT_HELP = "import-format-help"  # what the chosen format reads and where to export it
IMPORT_CUSTOM = "import-custom"  # the custom mapping form (hidden unless Custom columns)
IMPORT_COLUMN = "import-column"  # pattern-matching type: {"type": IMPORT_COLUMN, "column": our column} selects
IMPORT_ACTION = "import-action"  # pattern-matching type: {"type": IMPORT_ACTION, "kind": BUY...} word inputs
IMPORT_DATE_FORMAT = "import-date-format"  # the custom mapping's date layout
IMPORT_SAVE = "import-save"  # "Save mapping for this portfolio"
IMPORT_RUN = "import-run"  # "Import with these columns" (the file waiting in IMPORT_PENDING)
IMPORT_PENDING = "import-pending"  # dcc.Store: {"text", "filename", "header"} of a file waiting for its mapping
IMPORT_MAPPING_MESSAGE = "import-mapping-message"  # saved / refused mapping
SPLIT_WARNINGS = "split-warnings"  # the dashboard's warning: splits that disagree with the price source
SPLIT_FIX = "split-fix"  # pattern type {"type", "ticker", "date"}: the one-click fix of one split
SPLIT_FIX_MESSAGE = "split-fix-message"  # what the last fix did (or why it was refused)
SPLIT_FIX_REQUEST = "split-fix-request"  # dcc.Store: {"ticker", "date", "nonce"} of the fix button last clicked
# Issue 16: the performance chart (the value chart card's "Value | Performance" toggle) and the benchmark picker
CHART_MODE = "chart-mode"  # dcc.Store: "value" or "performance", what the value chart card draws
CHART_MODE_BUTTON = "chart-mode-button"  # pattern-matching type: {"type": CHART_MODE_BUTTON, "mode": "value"}
CHART_TITLE = "chart-title"  # the value chart card's heading: "Value over time" / "Performance"
PERFORMANCE_FIGURES = "performance-figures"  # the row of TWR / annualized / money-weighted / benchmark figures
BENCHMARK_INPUT = "benchmark-input"  # the Portfolio card's benchmark ticker (Transactions page)
BENCHMARK_APPLY = "benchmark-apply"
BENCHMARK_LABEL = "benchmark-label"  # "Benchmark (now ^GSPC)": the ticker the portfolio is compared with
BENCHMARK_MESSAGE = "benchmark-message"  # what Apply did, or why it was refused
