import pytest

from zoo.display import fit_columns, format_number, format_value


@pytest.mark.parametrize("value, text", [
    (6_738_415_616, "6.74B"), (175e9, "175B"), (213_000_000, "213M"), (1.4e12, "1.4T"), (1_000_000, "1M"),
    (999_999, "999,999"), (32_000, "32,000"), (500000.0, "500,000"), (4096, "4096"), (2023, "2023"),
    (0.02, "0.02"), (1e-5, "1e-05"), (0.1, "0.1"), (-2_500_000, "-2.5M"), (0, "0"), (12_345.6, "12,346"),
    (1234.7, "1235"), (123.456, "123.5"),
])
def test_one_number_format(value, text):
    assert format_number(value) == text


def test_cells_of_other_types():
    assert [format_value(v) for v in (None, True, False, "rmsnorm")] == ["-", "yes", "no", "rmsnorm"]


def test_columns_are_kept_from_the_left_while_they_fit():
    cells = [["llama-2-7b", "6.74B", "rmsnorm"]]
    assert fit_columns(cells, ["key", "params", "norm"], 40) == [0, 1, 2]
    assert fit_columns(cells, ["key", "params", "norm"], 19) == [0, 1]  # 10 + 2 + 6 = 18
    assert fit_columns(cells, ["key", "params", "norm"], 5) == [0]  # the first column always stays
