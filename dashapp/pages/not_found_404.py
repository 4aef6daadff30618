"""Any other path: a short page (with the `.page` class the skeleton swap waits for)."""

from __future__ import annotations

import dash
from dash import dcc, html

dash.register_page(__name__, path="/404", name="Not found", title="Not found · MyStockTracker")

layout = html.Div([
    html.H1("Page not found", className="h4"),
    html.P("There is nothing at this address."),
    dcc.Link("Go to the dashboard", href="/", className="btn btn-primary btn-sm"),
], className="container-fluid app-container page py-3")
