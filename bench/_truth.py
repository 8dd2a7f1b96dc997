"""Shared by the bench scripts that compare kequn's output with the synthetic bank's truth.

The ground truth keeps raw ``customer_no``; tokenising it with the same key as
``kequn pseudonymise`` makes it joinable to a clean-zone or feature table. Bench only: the truth
never enters training.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kequn.io import find_tables, read_table
from privacy.entities import CUSTOMER_NO
from privacy.keys import load_key
from privacy.tokens import tokenise_series


def tokenised_truth(raw: Path, key_file: Path | None = None) -> pd.DataFrame:
    """``RAW/ground_truth/customers_truth`` with ``customer_no`` replaced by its token."""
    truth = read_table(find_tables([raw / "ground_truth"])["customers_truth"], as_text=True)
    truth["customer_no"] = tokenise_series(truth["customer_no"], CUSTOMER_NO, load_key(key_file))
    return truth
