"""Placeholder dashboard page (the full dashboard comes with the UI issue)."""

import dash
from dash import html

dash.register_page(__name__, path="/", name="Dashboard")

layout = html.Div([html.H1("MyStockTracker"), html.P("The JSON API is at /api/portfolios.")])
