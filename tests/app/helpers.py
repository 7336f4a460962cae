"""Running one page of the dashboard with streamlit's AppTest, and reading back the charts it drew."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"
PAGES_DIR = APP.parent / "dashboard" / "pages"


def open_page(page: str, query: dict | None = None) -> AppTest:
    """Run one page script on its own, as the browser would load `/<page>?<query>`; fails on any exception.

    The page runs directly rather than through app.py's navigation, because AppTest keeps widget state
    across a page switch (a browser does not), which would shadow the query string of the page opened.
    """
    at = AppTest.from_file(str(PAGES_DIR / f"{page}.py"), default_timeout=60)
    at.query_params = dict(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_app() -> AppTest:
    """Run app.py, the entry point with the navigation, on its default page."""
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> list:
    return list(at.get("vega_lite_chart"))


def chart_data(chart) -> pd.DataFrame:
    """The rows a vega-lite chart element was drawn from (its first dataset)."""
    return pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().to_pandas()


def chart_datasets(chart) -> list[pd.DataFrame]:
    """Every dataset of a (layered) chart element, in the order the layers were added."""
    return [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
