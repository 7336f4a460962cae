"""The model filters shared by the pages, kept in the URL query string so a filtered view can be shared.

Each widget is bound to a query parameter named after its key (`?arch=decoder&years=2019&years=2023`);
a value in the URL that is not a valid option is dropped by Streamlit.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.choices import CHOICES, CHOICES_BY_NAME, choice_labels, legend_order


def year_range(frame: pd.DataFrame) -> tuple[int, int]:
    """Slider for the release years to include."""
    first, last = int(frame["year"].min()), int(frame["year"].max())
    if first == last:
        return first, last
    return st.slider("Released", first, last, (first, last), key="years", bind="query-params",
                     help="Only models released in these years (inclusive).")


def architecture_kinds(frame: pd.DataFrame) -> list[str]:
    """Toggle buttons for decoder / encoder / encoder-decoder; none selected means all."""
    kinds = sorted(frame["arch"].dropna().unique())
    chosen = st.pills("Architecture", kinds, selection_mode="multi", key="arch", bind="query-params",
                      help="Show only these architecture kinds; select none to show all.")
    return list(chosen) or kinds


def organizations(frame: pd.DataFrame) -> list[str]:
    """Multiselect of organisations; empty means all."""
    names = sorted(frame["organization"].dropna().unique())
    chosen = st.multiselect("Organisation", names, key="org", bind="query-params", placeholder="All organisations")
    return list(chosen) or names


def choice_values(frame: pd.DataFrame) -> dict[str, list[str]]:
    """One multiselect per architecture choice; returns only the choices the user restricted."""
    restricted, columns = {}, st.columns(3)
    for index, choice in enumerate(CHOICES):
        options = legend_order(choice_labels(frame, choice), choice)
        chosen = columns[index % 3].multiselect(choice.title, options, key=f"is_{choice.name}", bind="query-params",
                                placeholder="Any")
        if chosen:
            restricted[choice.name] = list(chosen)
    return restricted


def apply(frame: pd.DataFrame, *, years: tuple[int, int], kinds: list[str],
          orgs: list[str] | None = None, choices: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """The rows of `frame` that pass every filter."""
    keep = frame["year"].between(*years) & frame["arch"].isin(kinds)
    if orgs is not None:
        keep &= frame["organization"].isin(orgs)
    for name, allowed in (choices or {}).items():
        keep &= choice_labels(frame, CHOICES_BY_NAME[name]).isin(allowed)
    return frame[keep.fillna(False).astype(bool)]


def empty_state(what: str = "models") -> None:
    """The message for filters that match nothing."""
    st.info(f"No {what} match these filters. Widen the year range or clear a filter "
            "(select none to include all).", icon=":material/filter_alt_off:")
