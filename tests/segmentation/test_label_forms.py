"""Labels typed in full-width or with invisible characters are the labels they look like."""

from pathlib import Path

import numpy as np
import pandas as pd

from segmentation.cleaning import CleaningLog, clean_labels
from segmentation.loading import load_table
from segmentation.prepare import prepare_customers


def test_full_width_and_zero_width_labels_read_as_plain_text() -> None:
    frame = pd.DataFrame({"status": ["Ａｌｏｎｅ", "Alone", None, " Ph\u200bD ", "PhD",
                                     "\ufeffMarried", "Married\u00a0"]})
    log = CleaningLog()
    plain = clean_labels(frame, ["status"], log)["status"]
    assert plain.tolist() == ["Alone", "Alone", "Unknown", "PhD", "PhD", "Married", "Married"]
    step, missing = log.steps
    assert (step.column, step.action, step.count) == ("status", "relabelled", 3)  # not spaces
    assert (missing.action, missing.count) == ("imputed", 1)
    assert "'Ａｌｏｎｅ' → 'Alone'" in step.reason
    assert frame["status"][0] == "Ａｌｏｎｅ"  # the caller's frame is left alone


def test_reference_labels_are_compared_in_plain_form(reference_csv: Path) -> None:
    raw = load_table(reference_csv)
    alone = raw.index[raw["Marital_Status"] == "Alone"]
    phd = raw.index[raw["Education"] == "PhD"][:20]
    raw.loc[alone, "Marital_Status"] = "Ａｌｏｎｅ"
    raw.loc[phd, "Education"] = "Ph\u200bD"
    prepared = prepare_customers(raw).frame.set_index("customer_id")
    ids = raw.loc[alone, "ID"].astype(str)
    assert (prepared.loc[ids, "Marital_Status"] == "Single").all()  # relabelled as 'Alone' is
    assert set(prepared["Education"]) == {"Graduation", "PhD", "Master", "Basic"}


def test_a_label_in_two_forms_is_one_category() -> None:
    rng = np.random.default_rng(0)
    rows = 400
    plan = rng.choice(["Basic", "Premium"], rows)
    typed = np.where((np.arange(rows) % 3 == 0) & (plan == "Premium"), "Ｐｒｅｍｉｕｍ", plan)
    frame = pd.DataFrame({
        "id": np.arange(rows),
        "plan": typed,
        "spend": np.where(plan == "Premium", 500, 100) * rng.uniform(0.8, 1.2, rows),
    })
    prepared = prepare_customers(frame)
    assert set(prepared.frame["plan"]) == {"Basic", "Premium"}
