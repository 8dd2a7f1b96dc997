"""``kequn synth``: a synthetic Chinese retail bank with realistic PII and planted structure.

:func:`generate` writes every raw table of :mod:`kequn.schema` (customers,
accounts_monthly, transactions, products, campaigns, service_notes) plus
``ground_truth/customers_truth`` and ``ground_truth/notes_pii``. The same seed gives the same
bytes. Everything is vectorised with NumPy and Arrow; the large tables (accounts_monthly,
transactions, service_notes) are built and written in fixed blocks so memory stays bounded.
Word lists (surnames with pinyin, given-name characters, GB/T 2260 regions, roads, card BINs,
mobile prefixes) are in :mod:`pipelines._synth_data`.

Identifiers
-----------
- Names: weighted common surnames plus compound ones (欧阳, 司马, 诸葛, 上官 ...), one or two
  given-name characters by gender.
- ``id_number``: real GB/T 2260 district prefix, the birth date of ``birth_date``, a sequence
  whose last digit is odd for men and even for women, and the GB 11643 (ISO 7064 MOD 11-2)
  check character (about 9 % end in ``X``). About 2 % of customers (all born before 1980)
  carry a legacy 15-digit ID (``YYMMDD``, no check digit).
- ``mobile``: valid 13x/15x/17x/18x/19x numbers; about 15 % written messily (``+86``,
  ``0086``, spaces, dashes, full-width digits).
- Bank cards (transactions ``card_no``): UnionPay BINs (622848, 621700, 6228xx, 625xxx ...),
  16-19 digits, Luhn valid (:mod:`privacy.checksums`).

Planted structure (the truth is in ``ground_truth/customers_truth``)
-------------------------------------------------------------------
Dates: history 2023-01-01..2024-12-31, snapshot ``S`` = 2024-06-30, horizon ``H`` = the 90 days
after ``S``.

- **Behavioural segment** (``segment``): young_digital 22 %, salaried_family 28 %,
  affluent_investor 10 %, senior_saver 20 %, dormant 20 %. The segment drives age, occupation,
  risk level, the balance mix (deposit/wealth/fund/insurance), the channel mix of transactions
  (young_digital mostly ``mobile_app``, senior_saver mostly ``counter``), the number of
  transactions (about 30 per customer over the two years on average), the salary share
  (salaried_family) and the product mix (loans, credit cards, time deposits).
- **Value tier** (``value_tier``): AUM at ``S`` is lognormal per segment (fat right tail) and
  tiered with conf/segments.yaml: private_banking >= 6M, high_net_worth >= 1M,
  potential >= 50k, else mass.
- **Digital propensity**: each customer's share of mobile-app + online transactions is drawn
  around the segment's channel mix (Beta, concentration 8), higher for younger customers within
  the segment; the feature table sees it as ``digital_share``.
- **Churn** (``churn_prob``, ``churned``) for customers open at ``S``: log-odds of attributes
  visible at ``S`` with thresholds and interactions (``CHURN_WEIGHTS``), so a logistic model on
  the features is not already optimal; the intercept is calibrated to a 12 % base rate:

  - AUM decline over the 6 months before ``S`` (30 % of the established non-dormant customers
    fall by 5-75 %, accounts_monthly): +2.6 only for a fall of more than 30 %;
  - dormancy (no transaction for >= 4 months before ``S``): +2.6 with AUM < 2,000 (an
    abandoned account), +0.3 otherwise;
  - a 投诉 note in the 90 days before ``S`` (service_notes): +3.2 with tenure < 4 years,
    +0.6 for longer relationships;
  - a rate-sensitive time deposit maturing in ``H`` (products): +3.0 at risk level R4/R5,
    +1.2 at R3, +0.2 at R1/R2;
  - under 30 with a digital propensity > 0.6 and AUM < 20,000 (switchers): +1.1.

  Half of the churners get a
  ``close_date`` in ``H`` (no month ends after it, no transactions after it); the other half
  keep the account but their AUM falls to 5-25 % of its ``S`` value by the second month end
  of ``H`` (a fall of >= 70 %). ``churn_prob`` is empty for customers not open at ``S``.
- **Propensity**: a fund (product_type ``fund``) newly opened in ``H`` (a products row with
  ``open_date`` in ``H``), more likely with a higher risk level, a larger wealth balance and a
  higher digital propensity; about 8 % of customers open at ``S``.
- **Campaigns**: CMP2024Q1 on 2024-03-01 (exposure history) and CMP2024Q3 on 2024-07-01 (the
  uplift label), each sent to a random 60 % of the customers open that day, treatment 0/1 at
  random 50/50, response within 30 days. ``uplift_group`` follows attributes visible at ``S``
  (first rule that matches): not open at ``S`` or dormant -> lost_causes; a complaint in the 90
  days before ``S``, or aged 60+ with a digital propensity < 0.2 (counter users who dislike
  contact) -> sleeping_dogs; under 40 with digital propensity >= 0.4 and AUM 5k-500k ->
  persuadables; AUM >= 50k with tenure >= 3 years, or AUM >= 200k -> sure_things; else
  lost_causes. 15 % of customers are then redrawn at random (25/25/35/15). Shares of all
  customers come out about 27 % persuadables, 21 % sure_things, 37 % lost_causes,
  15 % sleeping_dogs. Response: persuadables 5 % without treatment and +0.20-0.47 with it
  (more with a higher digital propensity), sure_things 55 % either way, lost_causes 2 % either
  way, sleeping_dogs 35 % without and 0.12-0.32 lower with treatment (more after a complaint
  and for counter users).
  ``treatment_effect`` is that true CATE of CMP2024Q3 (CMP2024Q1 uses 80 % of it). A gradient
  boosting regressor from the feature table to ``treatment_effect`` reaches a correlation of
  about 0.8 (bench/bench_synth_truth.py).

Service notes
-------------
About 0.6 notes per customer (咨询/投诉/业务办理/回访) written from templates that mention the
customer's name (with 先生/女士/客户 or without context), other people in no column (配偶,
代理人, 客户经理), mobiles, IDs (sometimes with lowercase ``x``), cards grouped by 4, e-mails and
addresses, next to decoys that are not PII: amounts (人民币50,000.00元, 12万), dates, 20-digit
流水号, 工单号, product codes, percentages, counts, and some ``<``, ``>``, ``&``. Every planted
PII string is recorded exactly as written in ``ground_truth/notes_pii``.
"""

from __future__ import annotations

import datetime as dt
import string
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from kequn import __version__
from kequn.errors import InputError
from kequn.io import atomic_dir, write_json
from kequn.schema import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_SNAPSHOT,
    HISTORY_END,
    HISTORY_START,
    RAW_TABLES,
)
from pipelines import _synth_data as D
from privacy.checksums import gb11643_check_digits_array, luhn_check_digits_array

MARKER = ".kequn-synth"
GENERATOR_VERSION = "3"
#: customers per block of accounts_monthly/transactions (fixed so output does not depend on it)
BLOCK = 100_000
NOTE_BLOCK = 100_000

SEGMENTS = ("young_digital", "salaried_family", "affluent_investor", "senior_saver", "dormant")
SEG_SHARE = np.array([0.22, 0.28, 0.10, 0.20, 0.20])
AGE_RANGE = np.array([[20, 35], [28, 52], [35, 68], [56, 82], [20, 75]])
AUM_MEDIAN = np.array([15_000, 60_000, 1_300_000, 150_000, 2_000.0])
AUM_SIGMA = np.array([1.1, 1.0, 1.1, 1.0, 1.4])
#: Dirichlet weights of (deposit, wealth, fund, insurance) per segment.
BAL_ALPHA = np.array([[3, 1, 1.5, 0.3], [4, 2, 1, 1], [2, 4, 3, 1.5], [6, 2, 0.3, 1.5], [10, 0.2, 0.2, 0.1]])
CHANNELS = ("mobile_app", "online", "counter", "atm", "pos")
CHANNEL_P = np.array([[.65, .15, .02, .03, .15], [.40, .15, .10, .10, .25], [.35, .25, .25, .05, .10],
                      [.08, .05, .55, .25, .07], [.20, .10, .35, .25, .10]])
TXN_TYPES = ("salary", "transfer", "consumption", "repayment", "investment", "withdrawal", "interest")
TXN_TYPE_P = np.array([[.10, .25, .45, .08, .05, .05, .02], [.35, .15, .25, .12, .05, .05, .03],
                       [.05, .25, .15, .05, .35, .05, .10], [.02, .15, .20, .02, .08, .33, .20],
                       [.02, .30, .25, .03, .02, .33, .05]])
TXN_INFLOW = np.array([1, -1, 0, 0, 0, 0, 1])  # 1 in, 0 out, -1 either
TXN_MEDIAN = np.array([10_000, 3_000, 300, 3_000, 20_000, 1_000, 50.0])
SALARY_MEDIAN = np.array([8_000, 15_000, 40_000, 4_000, 3_000.0])
#: expected transactions over two active years per segment (mean about 30 per customer)
TXN_RATE = np.array([48, 44, 34, 18, 8.0])
RISK_P = np.array([[.05, .2, .4, .25, .1], [.1, .3, .4, .15, .05], [.02, .13, .35, .3, .2],
                   [.35, .45, .15, .04, .01], [.3, .4, .2, .08, .02]])
#: occupation weights per segment, in the order of ``D.OCCUPATIONS``
OCC_P = np.array([[30, 5, 8, 0, 25, 5, 5, 15, 2, 8, 2, 5], [40, 12, 12, 0, 0, 8, 8, 5, 8, 10, 3, 2],
                  [15, 10, 25, 5, 0, 3, 5, 5, 25, 7, 0, 0], [5, 5, 5, 70, 0, 3, 2, 2, 2, 1, 5, 0],
                  [20, 5, 15, 15, 5, 3, 3, 10, 2, 5, 10, 7]], dtype=float)
EDU_P = np.array([[2, 15, 30, 45, 7, 1], [8, 20, 30, 35, 6, 1], [3, 10, 17, 45, 20, 5],
                  [35, 35, 15, 12, 2, 1], [15, 30, 25, 25, 4, 1]], dtype=float)
UPLIFT_GROUPS = ("persuadables", "sure_things", "lost_causes", "sleeping_dogs")
#: share of customers whose uplift group is redrawn at random (the rest follow the rules of _uplift)
UPLIFT_NOISE = 0.15
#: group shares the redrawn customers are drawn from
UPLIFT_NOISE_P = np.array([0.25, 0.25, 0.35, 0.15])
BASE_RESPONSE = np.array([0.05, 0.55, 0.02, 0.35])
VALUE_TIERS = (("private_banking", 6_000_000), ("high_net_worth", 1_000_000), ("potential", 50_000),
               ("mass", 0))
CHURN_RATE = 0.12
#: log-odds of the churn drivers (the intercept is calibrated to CHURN_RATE); see _churn_logit
CHURN_WEIGHTS = {
    "aum_decline_over_30pct": 2.6,      # a fall of more than 30 % over 6 months; smaller falls add nothing
    "dormant_small_balance": 2.6,       # dormant with AUM < 2,000: the account is abandoned
    "dormant_other": 0.3,               # dormant with a larger balance: parked money mostly stays
    "complaint_new_customer": 3.2,      # complaint in 90 days, tenure < 4 years
    "complaint_long_tenure": 0.6,       # complaint in 90 days, tenure >= 4 years
    "rate_maturity_high_risk": 3.0,     # rate-sensitive deposit maturing in H, risk level R4/R5
    "rate_maturity_mid_risk": 1.2,      # ... R3
    "rate_maturity_low_risk": 0.2,      # ... R1/R2
    "young_digital_small_balance": 1.1,  # age < 30, digital share > 0.6, AUM < 20,000 (switchers)
}
#: Beta concentration of a customer's digital propensity around the segment's channel mix
DIGITAL_CONCENTRATION = 8.0
PROPENSITY_RATE = 0.08
#: share of customers who move to another city once during the relationship (customer_profile_history)
MOVE_RATE = 0.10
#: share of customers who change occupation once during the relationship
JOB_CHANGE_RATE = 0.08
#: the risk questionnaire (风险测评) is renewed about every two years (risk_assessments)
REASSESS_DAYS = 730
#: share of the assessments before / after the one in effect at ``S`` that are one level away from it
RISK_CHANGE_BEFORE = 0.35
RISK_CHANGE_AFTER = 0.30

_EPOCH = dt.date(1970, 1, 1)


def _day(d: dt.date) -> int:
    return (d - _EPOCH).days


SNAP = _day(DEFAULT_SNAPSHOT)
HSTART = _day(HISTORY_START)
HEND = _day(HISTORY_END)
HORIZON_END = SNAP + DEFAULT_HORIZON_DAYS
NEVER = np.iinfo(np.int64).max // 4
#: month ends 2023-01 .. 2024-12 as day numbers
MONTH_ENDS = (np.arange(np.datetime64("2023-02"), np.datetime64("2025-02")).astype("datetime64[D]")
              - np.timedelta64(1, "D")).astype(np.int64)
SNAP_MONTH = int(np.searchsorted(MONTH_ENDS, SNAP))  # index of 2024-06-30


# --------------------------------------------------------------------------- small helpers
def _choice(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray | None = None,
            n: int | None = None) -> np.ndarray:
    """Categorical draw; ``probs`` is 1-D (``n`` draws) or 2-D indexed by ``rows``."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim == 1:
        cdf = np.cumsum(probs / probs.sum())
        return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(rows))
    out = np.zeros(len(rows), dtype=np.int64)
    for k in range(cdf.shape[1] - 1):
        out += u >= cdf[rows, k]
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _calibrate(z: np.ndarray, target: float) -> np.ndarray:
    """Shift logits so the mean probability is ``target`` (bisection on the intercept)."""
    if z.size == 0:
        return z
    lo, hi = -20.0, 20.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if _sigmoid(z + mid).mean() < target:
            lo = mid
        else:
            hi = mid
    return _sigmoid(z + (lo + hi) / 2)


def _digits(x: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` uint8 decimal digits of non-negative integers (zero-padded)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((np.asarray(x, dtype=np.int64)[:, None] // powers) % 10).astype(np.uint8)


def _bytes(mat: np.ndarray) -> np.ndarray:
    """An ``(n, w)`` uint8 matrix of ASCII codes as an ``S{w}`` array."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    return mat.view(f"S{mat.shape[1]}").ravel()


_SIX: list[np.ndarray] = []


def _six_digits() -> np.ndarray:
    """ASCII codes of 000000..999999 as a ``(10**6, 6)`` table (built once, 6 MB)."""
    if not _SIX:
        _SIX.append(_digits(np.arange(10**6), 6) + 48)
    return _SIX[0]


def _num_codes(x: np.ndarray, width: int, prefix: str = "") -> np.ndarray:
    """Zero-padded numbers with a prefix as an ``(n, len(prefix) + width)`` ASCII code matrix."""
    x = np.asarray(x, dtype=np.int64)
    chunks = -(-width // 6)
    codes = np.empty((x.size, 6 * chunks), dtype=np.uint8)
    for k in range(chunks):  # gather six digits at a time from a table of 000000..999999
        codes[:, 6 * (chunks - 1 - k):6 * (chunks - k)] = _six_digits()[(x // 10 ** (6 * k)) % 10**6]
    codes = codes[:, 6 * chunks - width:]
    if prefix:
        head = np.broadcast_to(np.frombuffer(prefix.encode("ascii"), dtype=np.uint8), (x.size, len(prefix)))
        codes = np.hstack([head, codes])
    return codes


def _num(x: np.ndarray, width: int, prefix: str = "") -> np.ndarray:
    """Zero-padded numbers as text with a prefix (``U`` array)."""
    return _bytes(_num_codes(x, width, prefix)).astype(f"U{width + len(prefix)}")


def _num_array(x: np.ndarray, width: int, prefix: str = "") -> pa.Array:
    """Zero-padded numbers with a prefix as an Arrow string array, built without per-row objects."""
    codes = np.ascontiguousarray(_num_codes(x, width, prefix))
    n, w = codes.shape
    offsets = np.arange(0, n * w + 1, w, dtype=np.int64)
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(codes)]
                                 ).cast(pa.string())


def _take(values: pa.Array | tuple[str, ...], indices: np.ndarray) -> pa.Array:
    """``values[indices]`` as an Arrow string array (categoricals and per-customer columns)."""
    if isinstance(values, tuple):
        values = pa.array(list(values), type=pa.string())
    return values.take(pa.array(np.asarray(indices, dtype=np.int64)))


def _cat(*parts: Any) -> np.ndarray:
    """Concatenate string arrays and constants element-wise."""
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(out, p)
    return np.asarray(out)


def _date_text(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), unit="D")


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, dd


def _date_array(days: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Day numbers as ``YYYY-MM-DD`` strings (missing → null → empty CSV cell)."""
    arr = pa.array(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), mask=missing)
    return arr.cast(pa.string())


def _ts_array(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]")).cast(pa.string())


def _str_array(values: np.ndarray) -> pa.Array:
    """A NumPy string array as one Arrow string array (large inputs may convert in chunks)."""
    arr = pa.array(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == pa.string() else arr.cast(pa.string())


_FULLWIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")


def _fullwidth(values: np.ndarray) -> np.ndarray:
    # per-value translate on the small messy minority only
    return np.array([v.translate(_FULLWIDTH) for v in values.tolist()], dtype=object).astype(str)


def _messy_mobile(number: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Mobile numbers written in one of eight styles (0 = plain 11 digits)."""
    a = (number // 10**8).astype(str)
    b = np.char.zfill((number // 10**4 % 10**4).astype(str), 4)
    c = np.char.zfill((number % 10**4).astype(str), 4)
    plain = _cat(a, b, c)
    out = plain.astype("U24")
    for k, parts in {1: (a, " ", b, " ", c), 2: (a, "-", b, "-", c), 3: ("+86 ", plain),
                     4: ("+86-", a, "-", b, "-", c), 5: ("0086 ", plain), 7: ("+86", plain),
                     8: ("(+86)", plain)}.items():
        sel = style == k
        if sel.any():
            out[sel] = _cat(*[p[sel] if isinstance(p, np.ndarray) else p for p in parts])
    sel = style == 6
    if sel.any():
        out[sel] = _fullwidth(plain[sel])
    return out


def _group4(cards: np.ndarray, sep: np.ndarray) -> np.ndarray:
    """Card numbers grouped by four digits with the separator ``sep`` (per row)."""
    out = cards.astype("U32")
    lengths = np.char.str_len(cards)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        codes = np.ascontiguousarray(cards[rows].astype(f"S{length}")).view(np.uint8).reshape(-1, length)
        n_sep = (length - 1) // 4
        res = np.zeros((len(rows), length + n_sep), dtype=np.uint8)
        pos = np.arange(length) + np.arange(length) // 4
        res[:, pos] = codes
        sep_pos = np.array([5 * k - 1 for k in range(1, n_sep + 1)], dtype=np.int64)
        res[:, sep_pos] = np.frombuffer("".join(sep[rows]).encode(), dtype=np.uint8)[:, None] if n_sep else 0
        out[rows] = _bytes(res).astype("U32")
    return out


# --------------------------------------------------------------------------- customers
def _names(rng: np.random.Generator, male: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chinese names and the surname's index in ``D.SURNAMES``."""
    n = len(male)
    weights = np.array([w for _, _, w in D.SURNAMES])
    sur_idx = _choice(rng, weights, n=n)
    surnames = np.array([s for s, _, _ in D.SURNAMES])[sur_idx]
    gm, gf = np.array(D.GIVEN_MALE), np.array(D.GIVEN_FEMALE)
    c1 = np.where(male, gm[rng.integers(0, len(gm), n)], gf[rng.integers(0, len(gf), n)])
    c2 = np.where(male, gm[rng.integers(0, len(gm), n)], gf[rng.integers(0, len(gf), n)])
    two = rng.random(n) < 0.72
    given = np.where(two, np.char.add(c1, c2), c1)
    return np.char.add(surnames, given), sur_idx


def _addresses(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    n = len(region)
    prov = np.array([r[1] for r in D.REGIONS])[region]
    city = np.array([r[2] for r in D.REGIONS])[region]
    dist = np.array([r[3] for r in D.REGIONS])[region]
    head = np.where(prov == city, city, np.char.add(prov, city))
    road = np.array(D.ROADS)[rng.integers(0, len(D.ROADS), n)]
    estate = np.array(D.ESTATES)[rng.integers(0, len(D.ESTATES), n)]
    return _cat(head, dist, road, rng.integers(1, 999, n).astype(str), "号", estate,
                rng.integers(1, 30, n).astype(str), "栋",
                (rng.integers(1, 33, n) * 100 + rng.integers(1, 9, n)).astype(str), "室")


def _cards(rng: np.random.Generator, n: int) -> np.ndarray:
    """UnionPay-style card numbers (``U19``) that pass Luhn."""
    bins = _choice(rng, np.ones(len(D.CARD_BINS)), n=n)
    out = np.empty(n, dtype="U19")
    for b, (prefix, length) in enumerate(D.CARD_BINS):
        rows = np.flatnonzero(bins == b)
        if rows.size == 0:
            continue
        body = np.empty((rows.size, length - 1), dtype=np.uint8)
        body[:, :6] = np.frombuffer(prefix.encode(), dtype=np.uint8) - 48
        body[:, 6:] = rng.integers(0, 10, (rows.size, length - 7))
        check = luhn_check_digits_array(body).astype(np.uint8)
        out[rows] = _bytes(np.hstack([body, check[:, None]]) + 48).astype("U19")
    return out


def _resident_ids(rng: np.random.Generator, region: np.ndarray, birth: np.ndarray,
                  male: np.ndarray, legacy: np.ndarray) -> np.ndarray:
    n = len(region)
    codes = np.array([int(r[0]) for r in D.REGIONS])[region]
    y, m, d = _ymd(birth)
    seq = rng.integers(0, 100, n) * 10 + np.where(male, 2 * rng.integers(0, 5, n) + 1, 2 * rng.integers(0, 5, n))
    body = np.hstack([_digits(codes, 6), _digits(y * 10000 + m * 100 + d, 8), _digits(seq, 3)])
    check = gb11643_check_digits_array(body)
    ids = np.char.add(_bytes(body + 48).astype("U17"), check).astype("U18")
    if legacy.any():
        old = np.hstack([_digits(codes, 6), _digits((y % 100) * 10000 + m * 100 + d, 6), _digits(seq, 3)])
        ids[legacy] = _bytes(old[legacy] + 48).astype("U15")
    return ids


def _customers(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    c: dict[str, np.ndarray] = {}
    seg = _choice(rng, SEG_SHARE, n=n)
    c["seg"] = seg
    c["customer_no"] = _num(6_000_000_000 + np.cumsum(rng.integers(1, 40, n)), 10, "KH")
    male = rng.random(n) < 0.5
    c["male"] = male
    c["name"], c["sur_idx"] = _names(rng, male)
    age = AGE_RANGE[seg, 0] + rng.random(n) * (AGE_RANGE[seg, 1] - AGE_RANGE[seg, 0] + 1)
    birth = SNAP - (age * 365.25).astype(np.int64)
    c["birth"] = birth
    region = _choice(rng, np.where(np.array([r[0][:2] in ("11", "31", "44", "33", "32") for r in D.REGIONS]),
                                   2.0, 1.0), n=n)
    legacy = (rng.random(n) < 0.045) & (_ymd(birth)[0] < 1980)
    c["id_number"] = _resident_ids(rng, region, birth, male, legacy)
    c["legacy"] = legacy
    prefixes = np.array([int(p) for p in D.MOBILE_PREFIXES])
    c["mobile_num"] = prefixes[rng.integers(0, len(prefixes), n)] * 10**8 + rng.integers(0, 10**8, n)
    style = np.where(rng.random(n) < 0.15, rng.integers(1, 9, n), 0)
    c["mobile"] = _messy_mobile(c["mobile_num"], style)
    pinyin = np.array([p for _, p, _ in D.SURNAMES])[c["sur_idx"]]
    letters = np.array(list(string.ascii_lowercase))
    handle = _cat(pinyin, np.where(rng.random(n) < 0.5, ".", ""), letters[rng.integers(0, 26, n)],
                  letters[rng.integers(0, 26, n)], rng.integers(1, 1000, n).astype(str))
    qq = rng.integers(10**7, 3 * 10**9, n).astype(str)
    domain = np.array(D.EMAIL_DOMAINS)[rng.integers(0, len(D.EMAIL_DOMAINS), n)]
    use_qq = rng.random(n) < 0.35
    c["email"] = np.where(use_qq, _cat(qq, "@qq.com"), _cat(handle, "@", domain))
    home = np.where(rng.random(n) < 0.7, region, rng.integers(0, len(D.REGIONS), n))
    c["region"] = home
    c["address"] = _addresses(rng, home)
    c["occupation"] = np.array(D.OCCUPATIONS)[_choice(rng, OCC_P, seg)]
    c["education"] = np.array(D.EDUCATIONS)[_choice(rng, EDU_P, seg)]
    c["risk"] = _choice(rng, RISK_P, seg) + 1
    c["branch_code"] = _num(rng.integers(1, 200, n), 3, "BR")
    # relationship dates
    u = rng.random(n)
    open_day = np.where(u < 0.80, rng.integers(_day(dt.date(2008, 1, 1)), HSTART, n),
                        np.where(u < 0.96, rng.integers(HSTART, SNAP + 1, n),
                                 rng.integers(SNAP + 1, _day(dt.date(2024, 12, 15)), n)))
    dormant = seg == 4
    open_day = np.where(dormant, np.minimum(open_day, HSTART - 1 - rng.integers(0, 2000, n)), open_day)
    open_day = np.maximum(open_day, birth + int(18 * 365.25) + 1)
    c["open"] = open_day
    close_day = np.full(n, NEVER, dtype=np.int64)
    early = (rng.random(n) < 0.03) & (open_day < _day(dt.date(2023, 3, 1)))
    close_day[early] = rng.integers(_day(dt.date(2023, 3, 1)), _day(dt.date(2024, 6, 1)), early.sum())
    c["close"] = close_day
    c["active_end"] = np.where(dormant, rng.integers(_day(dt.date(2023, 5, 1)), _day(dt.date(2024, 2, 15)), n),
                               NEVER)
    # balances at the snapshot and their mix
    c["aum_snap"] = np.round(AUM_MEDIAN[seg] * np.exp(AUM_SIGMA[seg] * rng.standard_normal(n)), 2) + 100
    mix = rng.gamma(BAL_ALPHA[seg])
    c["mix"] = mix / mix.sum(axis=1, keepdims=True)
    c["growth"] = rng.normal(0.04, 0.08, n)
    # per-customer digital propensity around the segment's channel mix, younger = more digital
    seg_dig = CHANNEL_P[seg, 0] + CHANNEL_P[seg, 1]
    centre = AGE_RANGE[seg].mean(axis=1)
    m = _sigmoid(np.log(seg_dig / (1 - seg_dig)) - 0.04 * (age - centre))
    dig = rng.beta(DIGITAL_CONCENTRATION * m, DIGITAL_CONCENTRATION * (1 - m))
    c["age"] = age
    c["dig"] = dig
    chan = CHANNEL_P[seg].copy()
    chan[:, :2] *= (dig / seg_dig)[:, None]
    chan[:, 2:] *= ((1 - dig) / (1 - seg_dig))[:, None]
    c["chan_p"] = chan
    return c


def _event_day(rng: np.random.Generator, c: dict[str, np.ndarray], rate: float) -> np.ndarray:
    """A day in the open relationship (after its first month, up to the extract) for a ``rate`` share of
    customers; ``NEVER`` for the others."""
    n = len(c["open"])
    start = c["open"] + 30
    end = np.minimum(c["close"] - 1, HEND)
    has = (rng.random(n) < rate) & (end > start)
    day = start + (rng.random(n) * np.maximum(end - start, 0)).astype(np.int64)
    return np.where(has, day, NEVER)


def _profile_history(rng: np.random.Generator, c: dict[str, np.ndarray]) -> pa.Table:
    """Dated profile records (customer_profile_history): one from ``open_date``, one per change.

    ``MOVE_RATE`` of the customers move once (from a random earlier city to the one of their
    address) and ``JOB_CHANGE_RATE`` change occupation once (from an earlier one drawn for their
    segment), on a day between opening and the extract; each record holds the whole profile
    from its ``effective_from``. The customers row of the extract holds the latest values.
    """
    n = len(c["open"])
    move, job = _event_day(rng, c, MOVE_RATE), _event_day(rng, c, JOB_CHANGE_RATE)
    old_region = rng.integers(0, len(D.REGIONS), n)
    old_occ = np.array(D.OCCUPATIONS)[_choice(rng, OCC_P, c["seg"])]
    moved, changed = np.flatnonzero(move < NEVER), np.flatnonzero(job < NEVER)
    cust = np.concatenate([np.arange(n), moved, changed])
    day = np.concatenate([c["open"], move[moved], job[changed]])
    order = np.lexsort((day, cust))
    cust, day = cust[order], day[order]
    region = np.where(day < move[cust], old_region[cust], c["region"][cust])  # non-movers: move = NEVER
    region = np.where(move[cust] < NEVER, region, c["region"][cust])
    occupation = np.where((job[cust] < NEVER) & (day < job[cust]), old_occ[cust], c["occupation"][cust])
    return pa.table({
        "customer_no": _take(c["customer_no_pa"], cust),
        "effective_from": _date_array(day),
        "occupation": _str_array(occupation),
        "province": _take(tuple(r[1] for r in D.REGIONS), region),
        "city": _take(tuple(r[2] for r in D.REGIONS), region),
    })


def _risk_assessments(rng: np.random.Generator, c: dict[str, np.ndarray]) -> tuple[pa.Table, np.ndarray]:
    """Dated risk-appetite assessments (risk_assessments) and each customer's latest level.

    One at opening, then about every ``REASSESS_DAYS`` (± 60 days) up to the extract. The
    assessment in effect at ``S`` is the planted level ``c["risk"]`` (the churn driver); each
    earlier or later one is one level away from it with probability ``RISK_CHANGE_BEFORE`` /
    ``RISK_CHANGE_AFTER``. The extract's ``customers.risk_level`` is the latest assessment.
    """
    n = len(c["open"])
    last = np.minimum(c["close"] - 1, HEND)
    count = 1 + np.maximum(last - c["open"], 0) // REASSESS_DAYS
    owner = np.repeat(np.arange(n), count)
    j = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    day = c["open"][owner] + j * REASSESS_DAYS + np.where(j > 0, rng.integers(-60, 61, owner.size), 0)
    day = np.minimum(day, np.maximum(last[owner], c["open"][owner]))
    in_effect = np.maximum(np.bincount(owner[day <= SNAP], minlength=n) - 1, 0)  # index of the one at S
    before, after = j < in_effect[owner], j > in_effect[owner]
    p_change = np.where(before, RISK_CHANGE_BEFORE, np.where(after, RISK_CHANGE_AFTER, 0.0))
    step = np.where(rng.random(owner.size) < p_change, np.where(rng.random(owner.size) < 0.5, -1, 1), 0)
    level = np.clip(c["risk"][owner] + step, 1, 5)
    latest = level[np.cumsum(count) - 1]
    table = pa.table({
        "customer_no": _take(c["customer_no_pa"], owner),
        "assessed_on": _date_array(day),
        "risk_level": _take(("R1", "R2", "R3", "R4", "R5"), level - 1),
    })
    return table, latest


def _tier(aum: np.ndarray) -> np.ndarray:
    out = np.full(len(aum), VALUE_TIERS[-1][0], dtype="U16")
    for name, floor in reversed(VALUE_TIERS[:-1]):
        out[aum >= floor] = name
    return out


def _churn_logit(c: dict[str, np.ndarray], drop: np.ndarray, dormant: np.ndarray, complaint: np.ndarray,
                 td_rate: np.ndarray) -> np.ndarray:
    """Churn log-odds without intercept: thresholds and interactions of attributes visible at ``S``."""
    w = CHURN_WEIGHTS
    aum, risk = c["aum_snap"], c["risk"]
    new_customer = (SNAP - c["open"]) < 4 * 365.25
    rate_w = np.select([risk >= 4, risk == 3], [w["rate_maturity_high_risk"], w["rate_maturity_mid_risk"]],
                       w["rate_maturity_low_risk"])
    return (w["aum_decline_over_30pct"] * (drop > 0.30)
            + dormant * np.where(aum < 2_000, w["dormant_small_balance"], w["dormant_other"])
            + complaint * np.where(new_customer, w["complaint_new_customer"], w["complaint_long_tenure"])
            + td_rate * rate_w
            + w["young_digital_small_balance"] * ((c["age"] < 30) & (c["dig"] > 0.6) & (aum < 20_000)))


def _uplift(rng: np.random.Generator, c: dict[str, np.ndarray], complaint: np.ndarray, dormant: np.ndarray,
            open_at_snap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Uplift group (index into ``UPLIFT_GROUPS``) and true CATE from attributes visible at ``S``.

    Rules, first match wins: not open at ``S`` or dormant -> lost cause; a complaint in the
    90 days before ``S``, or aged 60+ with a digital share under 0.2 -> sleeping dog; under 40,
    digital share >= 0.4 and AUM 5k-500k -> persuadable; AUM >= 50k with tenure >= 3 years, or
    AUM >= 200k -> sure thing; else lost cause. ``UPLIFT_NOISE`` of the customers are then
    redrawn at random. Persuadables gain 0.20-0.47 (more with a higher digital share), sleeping
    dogs lose 0.12-0.32 (more after a complaint and with a lower digital share).
    """
    n = len(c["seg"])
    age, dig, aum = c["age"], c["dig"], c["aum_snap"]
    tenure = (SNAP - c["open"]) / 365.25
    group = np.select(
        [~open_at_snap | dormant,
         complaint | ((age >= 60) & (dig < 0.2)),
         (age < 40) & (dig >= 0.4) & (aum >= 5_000) & (aum < 500_000),
         ((aum >= 50_000) & (tenure >= 3)) | (aum >= 200_000)],
        [2, 3, 0, 1], 2)
    redraw = rng.random(n) < UPLIFT_NOISE
    group = np.where(redraw, _choice(rng, UPLIFT_NOISE_P, n=n), group)
    gain = 0.20 + 0.22 * dig + rng.uniform(0, 0.05, n)
    loss = 0.12 + 0.10 * complaint + 0.08 * (1 - dig) + rng.uniform(0, 0.02, n)
    effect = np.select([group == 0, group == 3], [gain, -loss], 0.0)
    return group, effect


# --------------------------------------------------------------------------- notes
NOTE_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("咨询", "{cname}{hon}来电咨询{product}（产品代码{pcode}），预期年化收益率{pct}，已告知起购金额{amt}。联系电话{mobile}。"),
    ("咨询", "客户{cname}咨询信用卡{card}账单分期事宜，本期账单{amt}，共{cnt}笔消费，已解答。"),
    ("咨询", "{cname}咨询大额存单利率，计划{date}前存入{wan}，留邮箱{email}接收产品说明书<PDF>。"),
    ("咨询", "来电人自称{cname}的配偶{spouse}，咨询账户余额，未提供证件，按规定未予告知。工单号{ticket}。"),
    ("投诉", "{cname}{hon}投诉手机银行转账失败，{serial}，金额{amt}，工单号{ticket}，要求{date}前回复。回访电话{mobile}。"),
    ("投诉", "客户投诉理财产品{pcode}收益不及预期（实际{pct}），称要转走资金{wan}；客户经理{staff}已安抚 & 上报。"),
    ("投诉", "{cname}投诉ATM吞卡，卡号{card}，身份证{id}，已登记工单{ticket}，{cnt}个工作日内处理。"),
    ("投诉", "客户{cname}对柜面排队时间过长不满（等候{cnt}小时），留言邮箱{email}，已致歉。"),
    ("业务办理", "为{cname}{hon}办理挂失补卡，原卡号{card}，证件号码{id}，预留手机{mobile}，新卡寄送地址：{address}。"),
    ("业务办理", "{cname}由代理人{agent}代为办理定期存款{amt}，代理人证件已核验，存期{cnt}年，{serial}。"),
    ("业务办理", "客户{cname}办理地址变更，新地址{address}，邮箱更新为{email}，工单号{ticket}。"),
    ("业务办理", "办理{product}申购{wan}，风险测评结果R{cnt} -> 匹配，经办：客户经理{staff}，{serial}。"),
    ("回访", "{date}电话回访{cname}{hon}（{mobile}），客户对<b>{product}</b>服务满意，配偶{spouse}也有开户意向。"),
    ("回访", "回访：客户经理{staff}联系客户，{cname}表示近期有{wan}资金到账，预约{date}到网点面谈。"),
    ("回访", "回访{cname}，客户不在，其配偶{spouse}接听，手机{mobile}，将再次联系。满意度{pct}。"),
    ("回访", "到期提醒：{cname}{hon}的定期存款{amt}将于{date}到期，已短信通知，身份证号{id}已核对。"),
)
NOTE_CATEGORY_P = {"咨询": 0.36, "投诉": 0.08, "业务办理": 0.34, "回访": 0.22}
PII_SLOTS = {"cname": "PERSON", "spouse": "PERSON", "agent": "PERSON", "staff": "PERSON",
             "mobile": "CN_MOBILE", "id": "CN_RESIDENT_ID", "card": "BANK_CARD",
             "email": "EMAIL_ADDRESS", "address": "CN_ADDRESS"}


def _note_rows(rng: np.random.Generator, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Who gets a note, when, and in which category (complaints are a churn driver)."""
    n = len(c["seg"])
    start = np.maximum(c["open"], HSTART)
    end = np.minimum(c["close"], HEND)
    # complaints in the 90 days before the snapshot (a planted churn driver)
    can = (c["open"] < SNAP - 90) & (c["close"] > SNAP)
    compl = np.flatnonzero(can & (rng.random(n) < 0.05))
    compl_day = rng.integers(SNAP - 89, SNAP + 1, compl.size)
    total = max(int(round(0.6 * n)), compl.size + 1)
    cust = rng.integers(0, n, total - compl.size)
    ok = end[cust] > start[cust]
    cust = cust[ok]
    day = start[cust] + (rng.random(cust.size) * (end[cust] - start[cust])).astype(np.int64)
    cats = np.array(list(NOTE_CATEGORY_P))
    cat = cats[_choice(rng, np.array(list(NOTE_CATEGORY_P.values())), n=cust.size)]
    cust = np.concatenate([compl, cust])
    day = np.concatenate([compl_day, day])
    cat = np.concatenate([np.full(compl.size, "投诉"), cat])
    secs = day * 86400 + rng.integers(9 * 3600, 17 * 3600 + 1800, cust.size)
    order = np.argsort(secs, kind="stable")
    return {"cust": cust[order], "secs": secs[order], "cat": cat[order]}


def _note_text(rng: np.random.Generator, c: dict[str, np.ndarray], rows: dict[str, np.ndarray],
               cards: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, str, np.ndarray]]]:
    """Fill the templates slot by slot (vectorised per template); return texts and PII spans."""
    cust, cat = rows["cust"], rows["cat"]
    m = cust.size
    if m == 0:
        return np.zeros(0, dtype="U1"), []
    male = c["male"][cust]
    pool_male = rng.random(m) < 0.5
    others = {k: _names(rng, pool_male if k != "spouse" else ~male)[0] for k in ("spouse", "agent", "staff")}
    id_text = c["id_number"][cust].astype("U18")
    lower = (np.char.endswith(id_text, "X")) & (rng.random(m) < 0.4)
    if lower.any():
        id_text[lower] = np.char.replace(id_text[lower], "X", "x")
    card = cards[cust]
    card_style = rng.integers(0, 3, m)
    card_text = card.astype("U32")
    grouped = card_style > 0
    if grouped.any():
        card_text[grouped] = _group4(card[grouped], np.where(card_style[grouped] == 1, " ", "-"))
    y, mo, d = _ymd(rows["secs"] // 86400 + rng.integers(1, 60, m))
    date_cn = _cat(y.astype(str), "年", mo.astype(str), "月", d.astype(str), "日")
    date_iso = _date_text(rows["secs"] // 86400 + rng.integers(1, 60, m))
    amt = rng.integers(1000, 1_000_000, m)
    amt_text = _cat("人民币", (amt // 1000).astype(str), ",", np.char.zfill((amt % 1000).astype(str), 3), ".",
                    np.char.zfill(rng.integers(0, 100, m).astype(str), 2), "元")
    wan = rng.integers(1, 300, m)
    wan_text = np.where(rng.random(m) < 0.5, _cat(wan.astype(str), "万"),
                        _cat(wan.astype(str), ".", rng.integers(1, 10, m).astype(str), "万元"))
    serial = _cat("流水号", _num(y * 10000 + mo * 100 + d, 8), _num(rng.integers(0, 10**12, m), 12))
    new_addr = _addresses(rng, rng.integers(0, len(D.REGIONS), m))
    slots: dict[str, np.ndarray] = {
        "cname": c["name"][cust],
        "hon": np.where(rng.random(m) < 0.15, "客户", np.where(male, "先生", "女士")),
        "mobile": _messy_mobile(c["mobile_num"][cust], rng.integers(0, 9, m)),
        "id": id_text,
        "card": card_text,
        "email": c["email"][cust],
        "address": np.where(rng.random(m) < 0.6, c["address"][cust], new_addr),
        "product": np.array(D.PRODUCT_NAMES)[rng.integers(0, len(D.PRODUCT_NAMES), m)],
        "pcode": _cat("PR", y.astype(str), np.array(list("ABCD"))[rng.integers(0, 4, m)],
                      _num(rng.integers(0, 10**4, m), 4)),
        "pct": _cat(rng.integers(1, 6, m).astype(str), ".", _num(rng.integers(0, 100, m), 2), "%"),
        "amt": amt_text,
        "wan": wan_text,
        "cnt": rng.integers(1, 6, m).astype(str),
        "date": np.where(rng.random(m) < 0.5, date_cn, date_iso),
        "serial": serial,
        "ticket": _cat("GD", _num(rng.integers(0, 10**10, m), 10)),
        **others,
    }
    text = np.empty(m, dtype=object)
    pii: list[tuple[np.ndarray, str, np.ndarray]] = []
    cat_idx = {k: np.flatnonzero(cat == k) for k in NOTE_CATEGORY_P}
    for category, rows_cat in cat_idx.items():
        tpl_ids = [i for i, (k, _) in enumerate(NOTE_TEMPLATES) if k == category]
        pick = rng.integers(0, len(tpl_ids), rows_cat.size)
        for j, tpl in enumerate(tpl_ids):
            idx = rows_cat[pick == j]
            if idx.size == 0:
                continue
            parts: list[Any] = []
            seen: list[str] = []
            for literal, field, _, _ in string.Formatter().parse(NOTE_TEMPLATES[tpl][1]):
                if literal:
                    parts.append(literal)
                if field:
                    parts.append(slots[field][idx])
                    if field in PII_SLOTS and field not in seen:
                        seen.append(field)
                        pii.append((idx, PII_SLOTS[field], slots[field][idx]))
            text[idx] = _cat(*parts) if len(parts) > 1 else parts[0]
    return text.astype(str), pii


# --------------------------------------------------------------------------- writing
class _Writer:
    """Append blocks of one table to CSV (UTF-8 or GBK) or Parquet."""

    def __init__(self, path: Path, fmt: str, encoding: str, ascii_only: bool = False) -> None:
        self.path, self.fmt, self.encoding = path, fmt, encoding
        self.ascii_only = ascii_only
        self.rows = 0
        self._pq: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._fh = open(path, "wb") if fmt == "csv" else None  # noqa: SIM115 - closed in close()
        self._direct = encoding == "utf-8" or ascii_only  # UTF-8 bytes are already right

    def write(self, table: pa.Table) -> None:
        if self.fmt == "parquet":
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._pq.write_table(table)
        elif self._direct:
            if self._csv is None:
                self._csv = pacsv.CSVWriter(self._fh, table.schema)
            self._csv.write_table(table)
        else:
            buf = pa.BufferOutputStream()
            pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=self.rows == 0))
            data = buf.getvalue().to_pybytes()
            data = data.decode("utf-8").encode(self.encoding)
            self._fh.write(data)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._csv is not None:
            self._csv.close()
        if self._fh is not None:
            self._fh.close()


def _write(path: Path, table: pa.Table, fmt: str, encoding: str, ascii_only: bool = False) -> int:
    w = _Writer(path, fmt, encoding, ascii_only)
    try:
        w.write(table)
    finally:
        w.close()
    return w.rows


# --------------------------------------------------------------------------- main
def generate(*, n_customers: int, seed: int, out: Path, fmt: str = "csv", encoding: str = "utf-8") -> dict:
    """Generate the synthetic bank into ``out`` (replaced atomically).

    Parameters
    ----------
    n_customers:
        Number of customers (> 0).
    seed:
        Random seed; the same seed and size give identical files.
    out:
        Output folder: new, empty, or an earlier ``kequn synth`` output (it carries the
        ``.kequn-synth`` marker); anything else is refused.
    fmt:
        ``csv`` or ``parquet``.
    encoding:
        CSV encoding, ``utf-8`` or ``gbk``.

    Returns
    -------
    dict
        ``{"rows": {table: n_rows}, "paths": {table: path}}`` for the raw tables and the two
        ground-truth tables (``customers_truth``, ``notes_pii``).

    Raises
    ------
    InputError
        Invalid size, format or encoding, or ``out`` is a foreign non-empty folder.
    """
    if not isinstance(n_customers, (int, np.integer)) or isinstance(n_customers, bool) or n_customers <= 0:
        raise InputError(f"n_customers must be a positive integer. Got {n_customers!r}")
    if fmt not in ("csv", "parquet"):
        raise InputError(f"--format must be csv or parquet. Got {fmt!r}")
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "gbk"):
        raise InputError(f"--encoding must be utf-8 or gbk. Got {encoding!r}")
    encoding = "gbk" if encoding.lower() == "gbk" else "utf-8"
    out = Path(out)
    n = int(n_customers)
    ext = "csv" if fmt == "csv" else "parquet"

    def stream(name: str) -> np.random.Generator:
        # one independent, reproducible stream per part of the bank
        return np.random.default_rng([abs(int(seed)), int(seed < 0), zlib.crc32(name.encode())])

    rows: dict[str, int] = {}
    paths: dict[str, str] = {}
    with atomic_dir(out, marker=MARKER) as tmp:
        (tmp / "ground_truth").mkdir()

        def target(table: str, truth: bool = False) -> Path:
            p = (tmp / "ground_truth" if truth else tmp) / f"{table}.{ext}"
            paths[table] = str((out / "ground_truth" if truth else out) / f"{table}.{ext}")
            return p

        c = _customers(stream("customers"), n)
        c["customer_no_pa"] = _str_array(c["customer_no"])
        rng = stream("cards")
        cards1 = _cards(rng, n)
        cards2 = _cards(rng, n)
        has2 = rng.random(n) < 0.3

        # ---- service notes (complaints feed churn)
        rng = stream("notes")
        nr = _note_rows(rng, c)
        complaint = np.zeros(n, dtype=bool)
        sel = (nr["cat"] == "投诉") & (nr["secs"] // 86400 > SNAP - 90) & (nr["secs"] // 86400 <= SNAP)
        complaint[nr["cust"][sel]] = True

        # ---- churn drivers and label
        rng = stream("churn")
        open_at_snap = (c["open"] <= SNAP) & (c["close"] > SNAP)
        decline = open_at_snap & (c["seg"] != 4) & (c["open"] < SNAP - 210) & (rng.random(n) < 0.30)
        drop = np.where(decline, rng.uniform(0.05, 0.75, n), 0.0)
        dormant = c["active_end"] < SNAP - 120
        td_rate = open_at_snap & (c["open"] < SNAP - 200) & (rng.random(n) < np.array([.10, .12, .16, .14, .04])[c["seg"]])
        z = _churn_logit(c, drop, dormant, complaint, td_rate) + rng.normal(0, 0.25, n)
        churn_prob = np.full(n, np.nan)
        churn_prob[open_at_snap] = _calibrate(z[open_at_snap], CHURN_RATE)
        churned = open_at_snap & (rng.random(n) < np.nan_to_num(churn_prob))
        closer = churned & (rng.random(n) < 0.5)
        c["close"] = np.where(closer, SNAP + rng.integers(2, DEFAULT_HORIZON_DAYS - 1, n), c["close"])
        fall = np.where(churned & ~closer, rng.uniform(0.05, 0.25, n), 1.0)

        # ---- note texts (no note after a churner's close date), written now to free memory
        keep = nr["secs"] // 86400 < c["close"][nr["cust"]]
        nr = {k: v[keep] for k, v in nr.items()}
        rng = stream("note_text")
        note_card = np.where(has2 & (rng.random(n) < 0.5), cards2, cards1)
        n_notes = nr["cust"].size
        staff_no = _num_array(rng.integers(1, max(20, n // 150), n_notes), 5, "ST")
        w_notes = _Writer(target("service_notes"), fmt, encoding)
        w_pii = _Writer(target("notes_pii", truth=True), fmt, encoding)
        try:  # in blocks of notes: the slot arrays of a million notes would take gigabytes
            for k, b0 in enumerate(range(0, max(n_notes, 1), NOTE_BLOCK)):
                part = {key: v[b0:b0 + NOTE_BLOCK] for key, v in nr.items()}
                note_text, pii = _note_text(stream(f"note_text{k}"), c, part, note_card)
                note_id = _num(np.arange(b0 + 1, b0 + part["cust"].size + 1), 10, "N")
                w_notes.write(pa.table({
                    "note_id": _str_array(note_id), "customer_no": _take(c["customer_no_pa"], part["cust"]),
                    "note_time": _ts_array(part["secs"]), "category": _str_array(part["cat"]),
                    "staff_no": staff_no.slice(b0, part["cust"].size), "note": _str_array(note_text),
                }))
                order = np.argsort(np.concatenate([i for i, _, _ in pii] or [np.zeros(0, int)]), kind="stable")
                w_pii.write(pa.table({
                    "note_id": _str_array(np.concatenate([note_id[i] for i, _, _ in pii] or [note_id[:0]])[order]),
                    "entity_type": _str_array(np.concatenate([np.full(i.size, e) for i, e, _ in pii]
                                                             or [np.zeros(0, "U1")])[order]),
                    "value": _str_array(np.concatenate([v.astype(str) for _, _, v in pii]
                                                       or [np.zeros(0, "U1")])[order]),
                }))
                del note_text, pii, note_id
        finally:
            w_notes.close()
            w_pii.close()
        rows["service_notes"], rows["notes_pii"] = w_notes.rows, w_pii.rows
        del note_card, staff_no

        # ---- propensity (fund take-up in the horizon)
        mix = c["mix"]
        wealth = c["aum_snap"] * mix[:, 1]
        digital = c["dig"]
        elig = open_at_snap & ~closer
        zp = 0.5 * (c["risk"] - 3) + 0.45 * np.log10(1 + wealth) + 2.0 * digital + rng.normal(0, 0.3, n)
        p_prop = np.zeros(n)
        p_prop[elig] = _calibrate(zp[elig], PROPENSITY_RATE)
        takes_fund = elig & (rng.random(n) < p_prop)

        # ---- dated profile records and risk assessments (the extract's customers row is the latest)
        prof = _profile_history(stream("profile"), c)
        rows["customer_profile_history"] = _write(target("customer_profile_history"), prof, fmt, encoding)
        del prof
        risk_tbl, latest_risk = _risk_assessments(stream("risk_history"), c)
        rows["risk_assessments"] = _write(target("risk_assessments"), risk_tbl, fmt, encoding, ascii_only=True)
        del risk_tbl

        # ---- customers
        all_cards = pa.concat_arrays([_str_array(cards1), _str_array(cards2)])
        closed = c["close"] < NEVER
        t = pa.table({
            "customer_no": c["customer_no_pa"], "name": _str_array(c["name"]),
            "gender": _str_array(np.where(c["male"], "男", "女")),
            "id_number": _str_array(c["id_number"]), "birth_date": _date_array(c["birth"]),
            "mobile": _str_array(c["mobile"]), "email": _str_array(c["email"]),
            "address": _str_array(c["address"]), "occupation": _str_array(c["occupation"]),
            "education": _str_array(c["education"]),
            "risk_level": _str_array(np.char.add("R", latest_risk.astype(str))),
            "branch_code": _str_array(c["branch_code"]), "open_date": _date_array(c["open"]),
            "close_date": _date_array(np.where(closed, c["close"], 0), ~closed),
        })
        rows["customers"] = _write(target("customers"), t, fmt, encoding)
        for key in ("name", "id_number", "mobile", "email", "address", "occupation", "education", "branch_code"):
            del c[key]
        del t

        # ---- products (first: accounts_monthly carries the month-end card and loan balances)
        prod, credit = _products(stream("products"), c, td_rate, takes_fund)
        rows["products"] = _write(target("products"), prod, fmt, encoding, ascii_only=True)
        del prod

        # ---- accounts_monthly and transactions, block by block
        w_acc = _Writer(target("accounts_monthly"), fmt, encoding, ascii_only=True)
        w_txn = _Writer(target("transactions"), fmt, encoding, ascii_only=True)
        try:
            txn_seq = 0
            for b0 in range(0, n, BLOCK):
                idx = np.arange(b0, min(n, b0 + BLOCK))
                brng = stream(f"block{b0 // BLOCK}")
                w_acc.write(_monthly_block(brng, c, idx, drop, fall, credit))
                tbl = _txn_block(brng, c, idx, all_cards, has2, fall, txn_seq)
                txn_seq += tbl.num_rows
                w_txn.write(tbl)
        finally:
            w_acc.close()
            w_txn.close()
        rows["accounts_monthly"], rows["transactions"] = w_acc.rows, w_txn.rows

        # ---- campaigns
        rng = stream("campaigns")
        group, effect = _uplift(rng, c, complaint, dormant, open_at_snap)
        camp = _campaigns(rng, c, group, effect)
        rows["campaigns"] = _write(target("campaigns"), camp, fmt, encoding, ascii_only=True)

        # ---- ground truth
        t = pa.table({
            "customer_no": c["customer_no_pa"], "value_tier": _str_array(_tier(c["aum_snap"])),
            "segment": _str_array(np.array(SEGMENTS)[c["seg"]]),
            "churn_prob": pa.array(np.round(churn_prob, 6), from_pandas=True),
            "churned": pa.array(churned.astype(np.int8)),
            "uplift_group": _str_array(np.array(UPLIFT_GROUPS)[group]),
            "treatment_effect": pa.array(np.round(effect, 6)),
        })
        rows["customers_truth"] = _write(target("customers_truth", truth=True), t, fmt, encoding, ascii_only=True)
        write_json(tmp / MARKER, {"seed": seed, "n_customers": n, "format": fmt, "encoding": encoding,
                                  "version": __version__, "generator": GENERATOR_VERSION})
    order = (*RAW_TABLES, "customers_truth", "notes_pii")
    return {"rows": {k: rows[k] for k in order}, "paths": {k: paths[k] for k in order}}


def _monthly_block(rng: np.random.Generator, c: dict[str, np.ndarray], idx: np.ndarray,
                   drop: np.ndarray, fall: np.ndarray, credit: dict[str, np.ndarray]) -> pa.Table:
    """Month-end balances while open: trend, pre-snapshot decline, post-snapshot fall; the month-end
    credit limit, card balance and loan balance (the history behind products.used_amount)."""
    k = idx.size
    t = np.arange(MONTH_ENDS.size)
    log_path = (c["growth"][idx, None] * (t - SNAP_MONTH) / 12
                - np.log1p(-drop[idx])[:, None] * np.clip((SNAP_MONTH - t) / 6, 0, 1)
                + rng.normal(0, 0.04, (k, t.size)) * (t != SNAP_MONTH))
    after = np.where(t == SNAP_MONTH + 1, np.sqrt(fall[idx])[:, None], np.where(t > SNAP_MONTH + 1, fall[idx, None], 1.0))
    aum = c["aum_snap"][idx, None] * np.exp(log_path) * after
    open_mask = (MONTH_ENDS[None, :] >= c["open"][idx, None]) & (MONTH_ENDS[None, :] < c["close"][idx, None])
    r, m = np.nonzero(open_mask)
    mix = c["mix"][idx][r]
    total = aum[r, m]
    bal = np.round(total[:, None] * mix, 2)
    cols = {"customer_no": _take(c["customer_no_pa"], idx[r]),
            "month_end": _take(_date_array(MONTH_ENDS), m)}
    for j, name in enumerate(("deposit_balance", "wealth_balance", "fund_balance", "insurance_balance")):
        cols[name] = pa.array(bal[:, j])
    cols["aum"] = pa.array(np.round(bal.sum(axis=1), 2))
    who = idx[r]
    cols["credit_limit"] = pa.array(np.where(MONTH_ENDS[m] >= credit["card_open"][who], credit["card_limit"][who], 0.0))
    cols["credit_used_amount"] = pa.array(_card_used(credit, who, m))
    cols["loan_balance"] = pa.array(_loan_balance(credit, who, MONTH_ENDS[m]))
    return pa.table(cols)


def _txn_block(rng: np.random.Generator, c: dict[str, np.ndarray], idx: np.ndarray, all_cards: pa.Array,
               has2: np.ndarray, fall: np.ndarray, seq0: int) -> pa.Table:
    """Transactions of one block of customers, sorted by customer and time."""
    seg = c["seg"][idx]
    start = np.maximum(c["open"][idx], HSTART)
    end = np.minimum(np.minimum(c["close"][idx], c["active_end"][idx]), HEND + 1)
    span = np.clip(end - start, 0, None)
    lam = TXN_RATE[seg] * span / 731 * np.exp(rng.normal(0, 0.4, idx.size))
    count = rng.poisson(lam)
    owner = np.repeat(np.arange(idx.size), count)
    k = owner.size
    day = start[owner] + (rng.random(k) * span[owner]).astype(np.int64)
    secs = day * 86400 + rng.integers(7 * 3600, 23 * 3600, k)
    order = np.argsort((owner.astype(np.int64) << 34) + secs - HSTART * 86400)
    owner, secs = owner[order], secs[order]
    gidx = idx[owner]
    s = seg[owner]
    ttype = _choice(rng, TXN_TYPE_P, s)
    channel = _choice(rng, c["chan_p"][idx], owner)
    inflow = TXN_INFLOW[ttype]
    inflow = np.where(inflow < 0, rng.random(k) < 0.5, inflow == 1)
    scale = np.clip((c["aum_snap"][gidx] / 50_000) ** 0.3, 0.3, 10)
    median = np.where(ttype == 0, SALARY_MEDIAN[s], TXN_MEDIAN[ttype] * scale)
    sigma = np.where(ttype == 0, 0.1, 0.8)
    # after the snapshot a falling-AUM churner moves money out
    fallen = (fall[gidx] < 1) & (secs > (SNAP + 1) * 86400) & (secs < (SNAP + 60) * 86400)
    amount = np.round(np.maximum(median * np.exp(sigma * rng.standard_normal(k)), 1.0), 2)
    amount = np.where(fallen, np.round(c["aum_snap"][gidx] * 0.3, 2), amount)
    inflow = inflow & ~fallen
    ttype = np.where(fallen, 1, ttype)
    card = gidx + len(has2) * (has2[gidx] & (rng.random(k) < 0.3))
    return pa.table({
        "txn_id": _num_array(np.arange(seq0 + 1, seq0 + k + 1), 12, "T"),
        "customer_no": _take(c["customer_no_pa"], gidx),
        "card_no": _take(all_cards, card),
        "txn_time": _ts_array(secs),
        "amount": pa.array(amount),
        "direction": _take(("out", "in"), inflow.astype(np.int8)),
        "channel": _take(CHANNELS, channel),
        "txn_type": _take(TXN_TYPES, ttype),
    })


def _no_credit(n: int) -> dict[str, np.ndarray]:
    """Per-customer credit card (limit, open day, utilisation level, phase) and loan (amount, open, end)."""
    return {"card_limit": np.zeros(n), "card_open": np.full(n, NEVER, dtype=np.int64), "card_util": np.zeros(n),
            "card_phase": np.zeros(n), "loan_amount": np.zeros(n), "loan_open": np.full(n, NEVER, dtype=np.int64),
            "loan_end": np.full(n, NEVER, dtype=np.int64)}


def _card_used(credit: dict[str, np.ndarray], who: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Card balance of customers ``who`` at month-end index ``month``: the customer's utilisation level
    times a month-to-month swing (a golden-ratio sequence, so no random state is needed), 0 before opening."""
    swing = 0.5 + (credit["card_phase"][who] + 0.618034 * month) % 1.0
    used = credit["card_limit"][who] * np.clip(credit["card_util"][who] * swing, 0, 1)
    return np.round(np.where(MONTH_ENDS[month] >= credit["card_open"][who], used, 0.0), 2)


def _loan_balance(credit: dict[str, np.ndarray], who: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Outstanding loan balance on ``day``: straight-line amortisation from opening to maturity."""
    start, end = credit["loan_open"][who], credit["loan_end"][who]
    left = np.clip((end - day) / np.maximum(end - start, 1), 0, 1)
    return np.round(np.where(day >= start, credit["loan_amount"][who] * left, 0.0), 2)


def _products(rng: np.random.Generator, c: dict[str, np.ndarray], td_rate: np.ndarray,
              takes_fund: np.ndarray) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """Holdings consistent with the balance mix, plus the planted maturities and fund take-up.

    Also returns the per-customer credit card and loan terms (:func:`_no_credit`), from which
    accounts_monthly writes the month-end credit limit, card balance and loan balance.
    """
    n = len(c["seg"])
    seg, mix, aum = c["seg"], c["mix"], c["aum_snap"]
    last = np.minimum(np.minimum(c["close"], SNAP), HEND)
    first = c["open"]
    span = np.maximum(last - first, 1)
    blocks: list[dict[str, np.ndarray]] = []

    def add(who: np.ndarray, ptype: str, amount: np.ndarray, open_day: np.ndarray, maturity: np.ndarray,
            used: np.ndarray, rate: np.ndarray) -> None:
        blocks.append({"cust": who, "type": np.full(who.size, ptype), "amount": np.round(amount, 2),
                       "open": open_day, "maturity": maturity, "used": np.round(used, 2),
                       "rate": rate.astype(np.int8)})

    def rand_open(who: np.ndarray) -> np.ndarray:
        return first[who] + (rng.random(who.size) * span[who]).astype(np.int64)

    # ordinary time deposits; a rate-sensitive one never matures in the horizon unless planted
    who = np.flatnonzero((mix[:, 0] > 0.3) & (rng.random(n) < np.array([.3, .5, .6, .8, .2])[seg]) & (first < SNAP))
    od = rand_open(who)
    mat = od + 365 * rng.choice([1, 2, 3, 5], who.size)
    rate = rng.random(who.size) < 0.2
    bad = rate & (mat > SNAP) & (mat <= SNAP + DEFAULT_HORIZON_DAYS)
    mat = np.where(bad, mat + 120, mat)
    add(who, "time_deposit", aum[who] * mix[who, 0] * rng.uniform(0.3, 0.8, who.size), od, mat,
        np.zeros(who.size), rate)
    # planted: rate-sensitive deposits maturing in the horizon
    who = np.flatnonzero(td_rate)
    mat = SNAP + rng.integers(1, DEFAULT_HORIZON_DAYS + 1, who.size)
    term = np.where(c["open"][who] <= mat - 365, 365, 182)
    add(who, "time_deposit", aum[who] * mix[who, 0] * rng.uniform(0.4, 0.9, who.size) + 10_000, mat - term, mat,
        np.zeros(who.size), np.ones(who.size))
    for j, ptype in ((1, "wealth"), (2, "fund"), (3, "insurance")):
        who = np.flatnonzero((mix[:, j] > 0.05) & (first < SNAP))
        od = rand_open(who)
        mat = np.where(ptype == "wealth", od + rng.choice([91, 182, 365], who.size), -1)
        add(who, ptype, aum[who] * mix[who, j], od, mat, np.zeros(who.size),
            (rng.random(who.size) < (0.3 if ptype == "wealth" else 0.0)))
    credit = _no_credit(n)
    who = np.flatnonzero((rng.random(n) < np.array([.55, .6, .7, .15, .1])[seg]) & (first < SNAP))
    limit = rng.choice([5_000, 10_000, 20_000, 50_000, 100_000], who.size) * np.where(seg[who] == 2, 5, 1)
    od = rand_open(who)
    credit["card_limit"][who], credit["card_open"][who] = limit, od
    credit["card_util"][who], credit["card_phase"][who] = rng.beta(1.2, 3, who.size), rng.random(who.size)
    last_month = np.full(who.size, MONTH_ENDS.size - 1)
    # used_amount is the extract's value: the balance at the last month-end (history in accounts_monthly)
    add(who, "credit_card", limit, od, np.full(who.size, -1),
        _card_used(credit, who, last_month), np.zeros(who.size))
    who = np.flatnonzero((rng.random(n) < np.array([.1, .45, .25, .02, .05])[seg]) & (first < SNAP))
    amount = np.round(rng.lognormal(np.log(600_000), 0.6, who.size), -3)
    od = rand_open(who)
    mat = od + 365 * rng.choice([10, 20, 30], who.size)
    credit["loan_amount"][who], credit["loan_open"][who], credit["loan_end"][who] = amount, od, mat
    add(who, "loan", amount, od, mat, _loan_balance(credit, who, np.full(who.size, MONTH_ENDS[-1])),
        np.zeros(who.size))
    # planted: fund take-up in the horizon
    who = np.flatnonzero(takes_fund)
    add(who, "fund", np.round(rng.lognormal(np.log(20_000), 0.9, who.size), -2) + 1000,
        SNAP + rng.integers(1, DEFAULT_HORIZON_DAYS + 1, who.size), np.full(who.size, -1),
        np.zeros(who.size), np.zeros(who.size))

    cat = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    order = np.lexsort((cat["open"], cat["cust"]))
    cat = {k: v[order] for k, v in cat.items()}
    m = cat["cust"].size
    no_mat = cat["maturity"] < 0
    return pa.table({
        "holding_id": _num_array(np.arange(1, m + 1), 12, "H"),
        "customer_no": _take(c["customer_no_pa"], cat["cust"]),
        "product_type": _str_array(cat["type"]),
        "open_date": _date_array(cat["open"]),
        "maturity_date": _date_array(np.where(no_mat, 0, cat["maturity"]), no_mat),
        "close_date": pa.nulls(m, pa.string()),
        "amount": pa.array(cat["amount"].astype(float)),
        "used_amount": pa.array(cat["used"].astype(float)),
        "rate_sensitive": pa.array(cat["rate"]),
    }), credit


def _campaigns(rng: np.random.Generator, c: dict[str, np.ndarray], group: np.ndarray,
               effect: np.ndarray) -> pa.Table:
    """CMP2024Q1 (history) and CMP2024Q3 (uplift label): random 60 %, 50/50 treatment."""
    frames = []
    for cid, when, strength in (("CMP2024Q1", dt.date(2024, 3, 1), 0.8), ("CMP2024Q3", dt.date(2024, 7, 1), 1.0)):
        day = _day(when)
        who = np.flatnonzero((c["open"] <= day) & (c["close"] > day) & (rng.random(len(group)) < 0.6))
        treat = rng.random(who.size) < 0.5
        p = np.clip(BASE_RESPONSE[group[who]] + strength * effect[who] * treat, 0, 1)
        resp = rng.random(who.size) < p
        seg = c["seg"][who]
        channel = np.where(np.isin(seg, [0, 1]), "app_push", np.where(np.isin(seg, [2, 3]), "phone", "sms"))
        channel = np.where(rng.random(who.size) < 0.25, np.array(["sms", "phone", "app_push"])[rng.integers(0, 3, who.size)], channel)
        rday = day + rng.integers(1, 31, who.size)
        frames.append(pa.table({
            "campaign_id": pa.array(np.full(who.size, cid)).cast(pa.string()),
            "customer_no": _take(c["customer_no_pa"], who),
            "campaign_date": _date_array(np.full(who.size, day)),
            "channel": _str_array(channel),
            "treatment": pa.array(treat.astype(np.int8)),
            "response": pa.array(resp.astype(np.int8)),
            "response_date": _date_array(rday, ~resp),
        }))
    return pa.concat_tables(frames)
