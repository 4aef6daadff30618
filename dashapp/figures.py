"""Moved to dashapp/components/figures.py; kept until dashapp/components/dashboard.py imports it from there."""

from dashapp.components.figures import *  # noqa: F403
from dashapp.components.figures import CHART_HEIGHT, GRAPH_CONFIG, blank_figure  # noqa: F401
