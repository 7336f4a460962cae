"""archzoo's trend dashboard: `streamlit run app.py` from the repository root.

The entry point only sets up the page and the navigation; each page is a script in
dashboard/pages/.
"""

import streamlit as st

from dashboard.data import catalog_summary

st.set_page_config(page_title="archzoo: LM architecture trends", page_icon=":material/timeline:", layout="wide")

TRENDS = st.Page("dashboard/pages/trends.py", title="Architecture trends", icon=":material/trending_up:",
                 url_path="trends")


def _home() -> None:
    """The root URL opens Trends at its own address, so /trends is a page and not only the default view."""
    st.switch_page(TRENDS)


PAGES = {
    "": [st.Page(_home, title="archzoo", url_path="home", default=True, visibility="hidden")],
    "Trends": [
        TRENDS,
        st.Page("dashboard/pages/hyperparameters.py", title="Hyperparameters", icon=":material/straighten:", url_path="hyperparameters"),
    ],
    "Models": [
        st.Page("dashboard/pages/explorer.py", title="Explorer", icon=":material/table_view:", url_path="explorer"),
        st.Page("dashboard/pages/model.py", title="Model", icon=":material/description:", url_path="model"),
        st.Page("dashboard/pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    ],
    "Measurements": [
        st.Page("dashboard/pages/benchmarks.py", title="Benchmarks", icon=":material/speed:", url_path="benchmarks"),
    ],
}

navigation = st.navigation(PAGES)
st.sidebar.caption(catalog_summary())
navigation.run()
