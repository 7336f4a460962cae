"""The trend dashboard: Streamlit pages that chart how the catalogued architectures evolved.

`app.py` at the repository root is the entry point; each page lives in `dashboard/pages/`,
and the modules here hold what the pages share: catalog access, the categorical choices,
the Altair charts and the URL state.
"""
