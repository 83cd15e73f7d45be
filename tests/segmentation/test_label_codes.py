"""Label cleaning on codes gives what cleaning every customer's text row by row gives."""

import random

import numpy as np
import pandas as pd
import pytest

from segmentation.cleaning import (
    RARE_LABEL_MAX_COUNT,
    RARE_LABEL_SHARE,
    CleaningLog,
    LabelCodes,
    clean_labels,
    cleaned_labels,
    plain_label,
)
from segmentation.result import CleaningStep

MAPPING = {"Alone": "Single", "YOLO": "Other", "2n Cycle": "Master"}


def _row_by_row(values: pd.Series, mapping: dict[str, str]) -> tuple[list, list[CleaningStep]]:
    """The same three steps on each customer's text, with pandas' own counting."""
    steps = []
    text = values.astype("string")
    plain = text.map(plain_label, na_action="ignore").astype("string")
    altered = plain.notna() & (plain != text.str.strip())
    if altered.any():
        pairs = dict.fromkeys(zip(text[altered], plain[altered], strict=True))
        shown = ", ".join(f"{old!r} → {new!r}" for old, new in list(pairs)[:3])
        steps.append(CleaningStep("c", "relabelled", int(altered.sum()),
                                  f"{shown}: full-width or invisible characters"))
    for old, new in mapping.items():
        if (count := int((plain == old).sum())):
            steps.append(CleaningStep("c", "relabelled", count, f"'{old}' → '{new}': why"))
    labels = plain.replace(mapping).str.strip()
    if (missing := int(labels.isna().sum())):
        steps.append(CleaningStep("c", "imputed", missing, "missing label → 'Unknown'"))
        labels = labels.fillna("Unknown")
    counts = labels.value_counts()
    limit = min(RARE_LABEL_MAX_COUNT, RARE_LABEL_SHARE * len(labels))
    rare = counts[(counts < limit) & (counts.index != "Other")]
    if len(rare):
        steps.append(CleaningStep("c", "relabelled", int(rare.sum()),
                                  f"rare labels {', '.join(map(repr, rare.index[:8]))} → 'Other'"))
        labels = labels.where(~labels.isin(rare.index), "Other")
    return labels.tolist(), steps


@pytest.mark.parametrize("seed", range(12))
def test_labels_cleaned_on_codes_match_row_by_row_cleaning(seed: int) -> None:
    rng = random.Random(seed)
    few = [f"L{i}" for i in range(rng.randint(2, 25))]
    forms = ["Alone", "Single", "ＹＯＬＯ", "Ph\u200bD", "PhD", " PhD ", "Other", "Unknown", "",
             "2n Cycle", "\u00a0Master"]
    values = (["Big"] * rng.randint(500, 2000) + [rng.choice(forms) for _ in range(300)]
              + [label for label in few for _ in range(rng.randint(1, 4))]  # ties among rare
              + [None] * rng.randint(0, 6))
    rng.shuffle(values)
    frame = pd.DataFrame({"c": pd.Series(values, dtype=rng.choice(["str", "object"]))})
    before = frame["c"].copy()
    log = CleaningLog()

    cleaned = clean_labels(frame, ["c"], log, relabels={"c": (MAPPING, "why")})

    expected, steps = _row_by_row(frame["c"], MAPPING)
    assert cleaned["c"].tolist() == expected
    assert log.steps == steps
    pd.testing.assert_series_equal(frame["c"], before)  # the caller's frame is left alone


@pytest.mark.parametrize("seed", range(6))
def test_labels_of_some_rows_are_those_rows_labels_cleaned(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = pd.Series(rng.choice(["a", "b", "Ｃ", " d", "e", "f", None], 300,
                                  p=[0.6, 0.3, 0.02, 0.02, 0.02, 0.02, 0.02]), dtype="str")
    rows = rng.random(300) < 0.7
    rows[:20] = False  # labels first seen in a dropped row come in order of the kept ones
    log, expected_log = CleaningLog(), CleaningLog()

    (cleaned,) = cleaned_labels(pd.DataFrame({"c": values}), ["c"], log, rows=rows).values()

    expected = clean_labels(pd.DataFrame({"c": values[rows]}), ["c"], expected_log)
    pd.testing.assert_series_equal(cleaned.shared(values.index[rows]), expected["c"],
                                   check_names=False)
    some = np.flatnonzero(rng.random(rows.sum()) < 0.5)  # positions among the kept rows
    pd.testing.assert_series_equal(cleaned.shared(values.index[rows][some], some),
                                   expected["c"].iloc[some], check_names=False)
    assert log.steps == expected_log.steps


def test_missing_labels_take_the_place_of_their_first_customer() -> None:
    coded = LabelCodes.of(pd.Series(["b", None, "a", "Unknown", None, "b"]))
    filled = coded.filled("Unknown")
    assert filled.labels == ("b", "Unknown", "a")  # first seen at row 1, before 'a'
    assert filled.shared(pd.RangeIndex(6)).tolist() == ["b", "Unknown", "a", "Unknown",
                                                        "Unknown", "b"]
    assert filled.counts.tolist() == [2, 3, 1] and filled.missing == 0
