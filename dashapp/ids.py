"""Every component id in one place, so pages, callbacks and browser tests agree."""

# Shell
NAVBAR = "navbar"
URL = "url"
DEMO_BANNER = "demo-banner"
PORTFOLIO_SELECT = "portfolio-select"
