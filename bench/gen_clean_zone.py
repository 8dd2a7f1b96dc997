"""Write a signed *clean zone* at bank scale directly, without the raw PII (bench only).

`kequn synth` holds every PII column in memory and cannot make 10M customers on a 24 GiB box;
`kequn features` needs no PII: it reads a signed clean zone (tokens, numbers, dates). This
script writes what `kequn pseudonymise` of `kequn synth` output looks like, table by table and
column by column (same names, Arrow types -- dates as ISO text, ``large_string`` text, ``int8``
flags -- and ``tk_`` tokens), generated in chunks of customers with NumPy and appended to
pyarrow ``ParquetWriter`` row groups, so memory is bounded by the chunk, not the bank.

* Tokens: ``customer_no`` and ``card_no`` (the join keys) are the real tokens of synth-shaped raw
  values (``KH6`` + 9 digits, 19-digit cards) under the pseudonymisation key, through
  :func:`privacy.tokens.tokenise_series` -- the one call to switch if the token format changes
  (:func:`token_column`). ``id_number``, ``mobile`` and ``email`` (never read by features) are
  real tokens too by default; ``--pii-tokens shape`` makes them token-shaped from the customer
  index instead (3 HMACs per customer saved at 10M customers).
* Distributions follow the synthetic bank (measured on `kequn synth --customers 5000`):
  transactions per customer Gamma-Poisson (mean ``--txns-per-customer``, ~2 % none, p90 ~2x the
  mean) over each customer's open days in 2023-01-01..2024-12-31, sorted per customer by time;
  log-normal amounts (median ~1,800); synth's shares of direction, channel and type; 24 month-ends
  while open with a drifting log-normal AUM; ~2.9 holdings, ~1.1 campaign contacts, ~0.6 notes,
  ~4 risk assessments and ~1.2 profile records per customer; 8.8 % of customers closed.
* The manifest has the real one's keys and column map, lists every table with its SHA-256 and
  rows, and is signed by the privacy step key (:func:`kequn.signing.ensure_step_key`, i.e.
  ``$KEQUN_STEP_KEY`` or ``$KEQUN_KEY_DIR/steps/privacy.key``), so `kequn features --data DIR`
  accepts it unmodified. It says it was generated (``generated_by``); no k-anonymity or
  residual scan was run (``residual_scan.clean`` is null, not true).

Usage::

    KEQUN_PSEUDONYM_KEY=... python bench/gen_clean_zone.py --customers 1000000 --out /tmp/z1m
    python bench/gen_clean_zone.py --customers 10000000 --out /tmp/z10m --key-file KEY --pii-tokens shape

Prints one JSON line (rows per table, bytes, seconds, peak RSS).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kequn import __version__  # noqa: E402
from kequn.errors import InputError, KequnError  # noqa: E402
from kequn.io import atomic_dir, sha256_file, write_json  # noqa: E402
from kequn.lineage import MANIFEST_NAME  # noqa: E402
from kequn.signing import ensure_step_key, sign_record  # noqa: E402
from privacy.keys import key_fingerprint, load_key  # noqa: E402
from privacy.policy import load_policy  # noqa: E402
from privacy.tokens import TOKEN_PREFIX, key_id, tokenise_series  # noqa: E402

D0 = np.datetime64("2008-01-01")           # first opening day of the synthetic bank
W0 = np.datetime64("2023-01-01")           # first dated record (transactions, month-ends)
W1 = np.datetime64("2024-12-31")           # last one
LAST_OPEN = np.datetime64("2024-12-13")
N_DAYS = int((np.datetime64("2031-12-31") - D0).astype(int)) + 1
W0_DAY, W1_DAY = int((W0 - D0).astype(int)), int((W1 - D0).astype(int))
LS = pa.large_string()
ROW_GROUP = 1 << 20                        # pandas/pyarrow's default, as pseudonymise writes

_DAY_TEXT = pa.array(np.datetime_as_string(D0 + np.arange(N_DAYS).astype("timedelta64[D]"), unit="D").astype(object), LS)
_TOD_TEXT = pa.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)], LS)
_MONTH_ENDS = (np.arange(np.datetime64("2023-01"), np.datetime64("2025-01")) + 1).astype("datetime64[D]") - 1
_MONTH_END_DAY = (_MONTH_ENDS - D0).astype(int)

CITIES = [("江西省", "南昌市"), ("宁夏回族自治区", "银川市"), ("北京市", "北京市"), ("重庆市", "重庆市"),
          ("广东省", "深圳市"), ("海南省", "海口市"), ("广西壮族自治区", "南宁市"), ("浙江省", "杭州市"),
          ("吉林省", "长春市"), ("福建省", "厦门市"), ("河北省", "石家庄市"), ("山东省", "青岛市"),
          ("湖北省", "武汉市"), ("浙江省", "温州市"), ("江苏省", "南京市"), ("湖南省", "长沙市"),
          ("上海市", "上海市"), ("云南省", "昆明市"), ("河南省", "郑州市"), ("广东省", "广州市"),
          ("天津市", "天津市"), ("四川省", "成都市"), ("江苏省", "苏州市"), ("浙江省", "宁波市"),
          ("山西省", "太原市"), ("广东省", "佛山市"), ("山东省", "济南市"), ("福建省", "福州市"),
          ("辽宁省", "大连市"), ("安徽省", "合肥市"), ("辽宁省", "沈阳市"), ("黑龙江省", "哈尔滨市"),
          ("陕西省", "西安市"), ("新疆维吾尔自治区", "乌鲁木齐市")]
OCCUPATIONS = (["企业职员", "退休", "个体经营", "自由职业", "公务员", "学生", "工程师", "企业管理者", "医护人员",
                "农民", "教师", "无业"], [.233, .162, .11, .075, .074, .064, .063, .055, .046, .044, .042, .032])
EDUCATION = (["本科", "大专", "高中/中专", "初中及以下", "硕士", "博士"], [.319, .242, .239, .123, .064, .013])
RISK = (["R1", "R2", "R3", "R4", "R5"], [.172, .301, .31, .156, .061])
OPEN_YEARS = [.036, .039, .052, .048, .054, .05, .053, .054, .05, .059, .075, .076, .074, .069, .061, .086, .064]
TXN_TYPES = (["consumption", "transfer", "salary", "investment", "withdrawal", "repayment", "interest"],
             [.304, .203, .183, .086, .086, .084, .054])
CHANNELS = (["mobile_app", "pos", "online", "counter", "atm"], [.438, .176, .149, .146, .091])
PRODUCTS = (["wealth", "fund", "insurance", "time_deposit", "credit_card", "loan"],
            [.251, .216, .173, .159, .137, .064])
PRODUCT_MEDIAN = np.array([14_600, 10_060, 14_300, 21_300, 25_000, 613_000], dtype=float)
CATEGORIES = (["咨询", "业务办理", "回访", "投诉"], [.345, .302, .207, .146])
NOTES = ["到期提醒：<姓名>女士的定期存款将于近期到期，已短信通知，身份证号<身份证号>已核对。",
         "回访<姓名>，客户不在，其配偶<姓名>接听，手机<手机号>，将再次联系。",
         "为<姓名>先生办理挂失补卡，原卡号<银行卡号>，证件号码<身份证号>，预留手机<手机号>，新卡寄送地址：<地址>。",
         "客户来电咨询理财产品收益，已告知风险等级，回拨号码<手机号>。",
         "客户投诉ATM吞卡，卡号<银行卡号>，已登记处理。"]
CAMPAIGNS = [("CMP2024Q1", np.datetime64("2024-03-01"), .55), ("CMP2024Q3", np.datetime64("2024-07-01"), .56)]

#: The column map of the real manifest (entity, action, outputs), as conf/privacy_policy.yaml gives it.
_KEEP = ("NONE", "keep")
COLUMN_MAP = {
    "customers": {"customer_no": ("CUSTOMER_NO", "token"), "name": ("PERSON", "drop", []),
                  "gender": ("GENDER", "keep"), "id_number": ("CN_RESIDENT_ID", "token"),
                  "birth_date": ("BIRTH_DATE", "generalise", ["birth_year"]), "mobile": ("CN_MOBILE", "token"),
                  "email": ("EMAIL_ADDRESS", "token"),
                  "address": ("CN_ADDRESS", "generalise", ["province", "city"]),
                  "occupation": ("OCCUPATION", "keep"), "education": ("EDUCATION", "keep"), "risk_level": _KEEP,
                  "branch_code": _KEEP, "open_date": _KEEP, "close_date": _KEEP},
    "accounts_monthly": {"customer_no": ("CUSTOMER_NO", "token"), **{c: _KEEP for c in (
        "month_end", "deposit_balance", "wealth_balance", "fund_balance", "insurance_balance", "aum",
        "credit_limit", "credit_used_amount", "loan_balance")}},
    "transactions": {"txn_id": _KEEP, "customer_no": ("CUSTOMER_NO", "token"), "card_no": ("BANK_CARD", "token"),
                     **{c: _KEEP for c in ("txn_time", "amount", "direction", "channel", "txn_type")}},
    "products": {"holding_id": _KEEP, "customer_no": ("CUSTOMER_NO", "token"), **{c: _KEEP for c in (
        "product_type", "open_date", "maturity_date", "close_date", "amount", "used_amount", "rate_sensitive")}},
    "campaigns": {"campaign_id": _KEEP, "customer_no": ("CUSTOMER_NO", "token"), **{c: _KEEP for c in (
        "campaign_date", "channel", "treatment", "response", "response_date")}},
    "service_notes": {"note_id": _KEEP, "customer_no": ("CUSTOMER_NO", "token"), "note_time": _KEEP,
                      "category": _KEEP, "staff_no": _KEEP, "note": ("FREE_TEXT", "redact")},
    "risk_assessments": {"customer_no": ("CUSTOMER_NO", "token"), "assessed_on": _KEEP, "risk_level": _KEEP},
    "customer_profile_history": {"customer_no": ("CUSTOMER_NO", "token"), "effective_from": _KEEP,
                                 "occupation": ("OCCUPATION", "keep"), "province": ("CITY", "keep"),
                                 "city": ("CITY", "keep")},
}


def token_column(raw: pa.Array, entity: str, key: bytes) -> pa.Array:
    """The tokens `kequn pseudonymise` writes for raw identifiers ``raw`` of type ``entity``.

    The one switch of the token format: privacy.tokens' own vectorised tokeniser (canonical
    form, one HMAC per distinct value)."""
    series = pd.Series(raw.to_numpy(zero_copy_only=False), dtype="string")
    return pa.array(tokenise_series(series, entity, key).to_numpy(dtype=object, na_value=None), LS)


def shape_tokens(ids: np.ndarray, salt: int, key: bytes) -> pa.Array:
    """Token-shaped strings (``tk_<key id>_`` + 16 hex) of integers, not HMACs (``--pii-tokens
    shape``); they carry the zone's key id, so the zone passes the mixed-key check."""
    mixed = (ids.astype(np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    mixed ^= mixed >> np.uint64(29)
    prefix = f"{TOKEN_PREFIX}{key_id(key_fingerprint(key))}_"
    return pa.array(np.char.add(prefix, np.char.mod("%016x", mixed)).astype(object), LS)


def _digits(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width=width,
                                                            padding="0"), "")


def _days(day: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """ISO date text of day numbers (since D0); missing where ``valid`` is False."""
    idx = pa.array(day.astype(np.int64), mask=None if valid is None else ~valid)
    return pc.take(_DAY_TEXT, idx)


def _times(day: np.ndarray, secs: np.ndarray) -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS`` text (the raw extracts' timestamp format, kept as text)."""
    return pc.binary_join_element_wise(pc.take(_DAY_TEXT, pa.array(day)), pc.take(_TOD_TEXT, pa.array(secs)),
                                       pa.scalar(" ", LS))


def _pick(rng: np.random.Generator, choices: tuple[list[str], list[float]], n: int) -> tuple[pa.Array, np.ndarray]:
    names, p = choices
    idx = np.searchsorted(np.cumsum(p) / np.sum(p), rng.random(n), side="right").clip(0, len(names) - 1)
    return pc.take(pa.array(names, LS), pa.array(idx)), idx


def _ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner of each row, rank of the row within its owner) for ``counts`` rows per owner."""
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


class Zone:
    """The eight clean tables, each appended to by chunk through one ParquetWriter."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}
        self.columns: dict[str, list[str]] = {}

    def write(self, table: str, columns: dict[str, pa.Array]) -> None:
        data = pa.table(columns)
        if table not in self.writers:
            self.writers[table] = pq.ParquetWriter(self.folder / f"{table}.parquet", data.schema)
            self.rows[table], self.columns[table] = 0, list(columns)
        self.writers[table].write_table(data, row_group_size=ROW_GROUP)
        self.rows[table] += data.num_rows

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def _chunk(zone: Zone, rng: np.random.Generator, lo: int, hi: int, counters: dict[str, int], key: bytes,
           tpc: float, pii_tokens: str) -> None:
    m = hi - lo
    ids = np.arange(lo, hi)
    cust = token_column(_digits("KH6", ids, 9), "CUSTOMER_NO", key)

    # customers -------------------------------------------------------------------------
    year = rng.choice(len(OPEN_YEARS), m, p=np.array(OPEN_YEARS) / sum(OPEN_YEARS))
    year_start = (np.array([np.datetime64(f"{2008 + y}-01-01") for y in range(len(OPEN_YEARS))]) - D0).astype(int)
    open_day = np.minimum(year_start[year] + rng.integers(0, 365, m), int((LAST_OPEN - D0).astype(int)))
    lo_close = np.maximum(open_day + 30, int((np.datetime64("2023-03-01") - D0).astype(int)))
    hi_close = int((np.datetime64("2024-09-26") - D0).astype(int))
    closed = (rng.random(m) < 0.088) & (lo_close < hi_close)
    close_day = np.where(closed, lo_close + (rng.random(m) * (hi_close - lo_close)).astype(int), 0)
    n_prov = len(CITIES)
    place0 = rng.integers(0, n_prov, m)
    occ0 = _pick(rng, OCCUPATIONS, m)[1]
    moves = rng.random(m) < 0.17
    place1 = np.where(moves & (rng.random(m) < 0.6), rng.integers(0, n_prov, m), place0)
    occ1 = np.where(moves & (rng.random(m) < 0.5), _pick(rng, OCCUPATIONS, m)[1], occ0)
    change_day = open_day + rng.integers(30, 3000, m)
    moves &= change_day <= W1_DAY + 60
    place_now, occ_now = np.where(moves, place1, place0), np.where(moves, occ1, occ0)
    provinces = pa.array([p for p, _ in CITIES], LS)
    cities = pa.array([c for _, c in CITIES], LS)
    occupations = pa.array(OCCUPATIONS[0], LS)
    risk0 = _pick(rng, RISK, m)[1]
    if pii_tokens == "hmac":
        id_no = token_column(_digits("110101", rng.integers(0, 10**12, m), 12), "CN_RESIDENT_ID", key)
        mobile = token_column(_digits("1", rng.integers(3 * 10**9, 10**10, m), 10), "CN_MOBILE", key)
        email = token_column(pc.binary_join_element_wise("u", pc.cast(pa.array(ids), pa.string()), "@example.com"),
                             "EMAIL_ADDRESS", key)
    else:
        id_no, mobile, email = shape_tokens(ids, 1, key), shape_tokens(ids, 2, key), shape_tokens(ids, 3, key)
    zone.write("customers", {
        "customer_no": cust,
        "gender": pc.take(pa.array(["男", "女"], LS), pa.array(rng.integers(0, 2, m))),
        "id_number": id_no,
        "birth_year": pc.cast(pc.cast(pa.array(np.clip(rng.normal(1978, 16.6, m), 1941, 2004).astype(np.int64)),
                                      pa.string()), LS),
        "mobile": mobile, "email": email,
        "province": pc.take(provinces, pa.array(place_now)), "city": pc.take(cities, pa.array(place_now)),
        "occupation": pc.take(occupations, pa.array(occ_now)),
        "education": _pick(rng, EDUCATION, m)[0],
        "risk_level": pc.take(pa.array(RISK[0], LS), pa.array(risk0)),
        "branch_code": _digits("BR", rng.integers(1, 200, m), 3).cast(LS),
        "open_date": _days(open_day), "close_date": _days(close_day, closed),
    })

    # transactions: Gamma-Poisson counts over each customer's open days in the window -----------
    first = np.maximum(open_day, W0_DAY)
    last = np.where(closed, np.minimum(close_day - 1, W1_DAY), W1_DAY)
    active = np.maximum(last - first + 1, 0)
    share = active / (W1_DAY - W0_DAY + 1)
    shape = 1.3
    lam = rng.gamma(shape, tpc / shape / max(share.mean(), 1e-9), m) * share
    counts = rng.poisson(lam)
    owner, _ = _ragged(counts)
    t = owner.size
    span = active[owner].astype(np.int64) * 86400
    offset = (first[owner] - W0_DAY).astype(np.int64) * 86400 + (rng.random(t) * span).astype(np.int64)
    order_key = np.sort((owner.astype(np.int64) << 27) | offset)  # per customer, by time (as synth writes)
    offset = order_key & ((1 << 27) - 1)
    del order_key
    n_cards = 1 + (rng.random(m) < 0.28)
    card_start = np.cumsum(n_cards) - n_cards
    cards = token_column(_digits("62305", counters["card"] + np.arange(int(n_cards.sum())), 14), "BANK_CARD", key)
    counters["card"] += int(n_cards.sum())
    card_pos = card_start[owner] + ((n_cards[owner] == 2) & (rng.random(t) < 0.5))
    types, type_idx = _pick(rng, TXN_TYPES, t)
    incoming = (type_idx == 2) | (type_idx == 6) | ((type_idx == 1) & (rng.random(t) < 0.5))
    zone.write("transactions", {
        "txn_id": _digits("T", counters["txn"] + 1 + np.arange(t), 12).cast(LS),
        "customer_no": pc.take(cust, pa.array(owner)),
        "card_no": pc.take(cards, pa.array(card_pos)),
        "txn_time": _times(W0_DAY + offset // 86400, offset % 86400),
        "amount": pa.array(np.round(rng.lognormal(np.log(1838), 1.7, t), 2)),
        "direction": pc.take(pa.array(["out", "in"], LS), pa.array(incoming.astype(np.int8))),
        "channel": _pick(rng, CHANNELS, t)[0],
        "txn_type": types,
    })
    counters["txn"] += t
    del owner, offset, span, card_pos, types, type_idx, incoming

    # accounts_monthly: the month-ends of 2023-2024 while open ---------------------------------
    m_first = np.searchsorted(_MONTH_END_DAY, open_day, side="left")
    m_last = np.where(closed, np.searchsorted(_MONTH_END_DAY, close_day, side="left"), len(_MONTH_END_DAY))
    n_months = np.maximum(m_last - m_first, 0)
    owner, rank = _ragged(n_months)
    base = rng.lognormal(np.log(38_600), 2.07, m)
    steps = rng.normal(0.002, 0.05, owner.size)
    walk = np.cumsum(steps)
    starts = np.cumsum(n_months) - n_months
    walk -= (walk - steps)[np.minimum(starts, max(owner.size - 1, 0))][owner] if owner.size else 0
    aum = np.round(base[owner] * np.exp(walk), 2)
    split = rng.dirichlet([5.8, 1.9, 1.35, 0.9], m)[owner]
    limit = np.where(rng.random(m) < 0.39, rng.choice([5e3, 1e4, 2.5e4, 5e4, 1e5, 2e5, 5e5], m,
                                                      p=[.2, .2, .2, .15, .15, .07, .03]), 0.0)
    loan = np.where(rng.random(m) < 0.177, rng.lognormal(np.log(459_000), 0.6, m), 0.0)
    zone.write("accounts_monthly", {
        "customer_no": pc.take(cust, pa.array(owner)),
        "month_end": _days(_MONTH_END_DAY[m_first[owner] + rank]),
        "deposit_balance": pa.array(np.round(aum * split[:, 0], 2)),
        "wealth_balance": pa.array(np.round(aum * split[:, 1], 2)),
        "fund_balance": pa.array(np.round(aum * split[:, 2], 2)),
        "insurance_balance": pa.array(np.round(aum * split[:, 3], 2)),
        "aum": pa.array(aum),
        "credit_limit": pa.array(limit[owner]),
        "credit_used_amount": pa.array(np.round(limit[owner] * rng.beta(1.2, 2.5, owner.size), 2)),
        "loan_balance": pa.array(np.round(loan[owner] * (1 - 0.004 * rank), 2)),
    })
    del owner, rank, steps, walk, aum, split

    # products ----------------------------------------------------------------------------
    counts = rng.poisson(2.86, m)
    owner, _ = _ragged(counts)
    h = owner.size
    ptype_text, ptype = _pick(rng, PRODUCTS, h)
    p_open = open_day[owner] + (rng.random(h) * np.maximum(W1_DAY - 90 - open_day[owner], 0)).astype(int)
    term = rng.choice([90, 180, 365, 730, 1095], h)
    has_maturity = (ptype == 0) | (ptype == 3) | (ptype == 5)
    maturity = p_open + np.where(ptype == 5, 1825, term)
    amount = np.round(PRODUCT_MEDIAN[ptype] * rng.lognormal(0, 0.8, h), 2)
    zone.write("products", {
        "holding_id": _digits("H", counters["holding"] + 1 + np.arange(h), 12).cast(LS),
        "customer_no": pc.take(cust, pa.array(owner)),
        "product_type": ptype_text,
        "open_date": _days(p_open), "maturity_date": _days(maturity, has_maturity),
        "close_date": pa.nulls(h, LS),
        "amount": pa.array(amount),
        "used_amount": pa.array(np.where(ptype == 4, np.round(amount * rng.random(h), 2), 0.0)),
        "rate_sensitive": pa.array(((ptype == 0) | (ptype == 3)) & (rng.random(h) < 0.32)).cast(pa.int8()),
    })
    counters["holding"] += h

    # campaigns: two waves of 2024, among customers open on the day ----------------------------
    parts = []
    for name, day, p in CAMPAIGNS:
        d = int((day - D0).astype(int))
        who = np.flatnonzero((open_day <= d) & ~(closed & (close_day <= d)) & (rng.random(m) < p))
        parts.append((name, d, who))
    who = np.concatenate([w for _, _, w in parts])
    c_day = np.concatenate([np.full(w.size, d) for _, d, w in parts])
    c = who.size
    treated = rng.random(c) < 0.5
    response = rng.random(c) < np.where(treated, 0.26, 0.19)
    zone.write("campaigns", {
        "campaign_id": pa.array(np.concatenate([np.full(w.size, n, dtype=object) for n, _, w in parts]), LS),
        "customer_no": pc.take(cust, pa.array(who)),
        "campaign_date": _days(c_day),
        "channel": _pick(rng, (["app_push", "phone", "sms"], [.46, .3, .24]), c)[0],
        "treatment": pa.array(treated.astype(np.int8)),
        "response": pa.array(response.astype(np.int8)),
        "response_date": _days(c_day + rng.integers(1, 31, c), response),
    })

    # service notes ---------------------------------------------------------------------------
    counts = rng.poisson(0.59 * share / max(share.mean(), 1e-9))
    owner, _ = _ragged(counts)
    s = owner.size
    day = first[owner] + (rng.random(s) * active[owner]).astype(int)
    zone.write("service_notes", {
        "note_id": _digits("N", counters["note"] + 1 + np.arange(s), 10).cast(LS),
        "customer_no": pc.take(cust, pa.array(owner)),
        "note_time": _times(day, rng.integers(8 * 3600, 20 * 3600, s)),
        "category": _pick(rng, CATEGORIES, s)[0],
        "staff_no": _digits("ST", rng.integers(1, 60, s), 5).cast(LS),
        "note": pc.take(pa.array(NOTES, LS), pa.array(rng.integers(0, len(NOTES), s))),
    })
    counters["note"] += s

    # risk assessments: at opening, then renewed about every two years -------------------------
    counts = 1 + np.maximum(W1_DAY - open_day, 0) // 730
    owner, rank = _ragged(counts)
    r_day = np.minimum(open_day[owner] + rank * 730 + np.where(rank > 0, rng.integers(-20, 40, owner.size), 0), W1_DAY)
    level = np.clip(risk0[owner] + np.where((rank > 0) & (rng.random(owner.size) < 0.3),
                                            rng.choice([-1, 1], owner.size), 0), 0, 4)
    zone.write("risk_assessments", {
        "customer_no": pc.take(cust, pa.array(owner)),
        "assessed_on": _days(r_day),
        "risk_level": pc.take(pa.array(RISK[0], LS), pa.array(level)),
    })

    # profile history: at opening, 17 % one change later (some after the snapshot) --------------
    counts = 1 + moves.astype(np.int64)
    owner, rank = _ragged(counts)
    later = rank == 1
    place = np.where(later, place1[owner], place0[owner])
    zone.write("customer_profile_history", {
        "customer_no": pc.take(cust, pa.array(owner)),
        "effective_from": _days(np.where(later, change_day[owner], open_day[owner])),
        "occupation": pc.take(occupations, pa.array(np.where(later, occ1[owner], occ0[owner]))),
        "province": pc.take(provinces, pa.array(place)),
        "city": pc.take(cities, pa.array(place)),
    })


def generate(out: Path, n_customers: int, txns_per_customer: float, *, key: bytes, seed: int = 7,
             chunk: int = 200_000, pii_tokens: str = "hmac") -> dict:
    """Write the clean zone ``out`` (atomically) and return what was written."""
    if n_customers < 1:
        raise InputError(f"--customers must be at least 1. Got {n_customers}")
    if chunk < 1:
        raise InputError(f"--chunk must be at least 1. Got {chunk}")
    rng = np.random.default_rng(seed)
    step_key, note = ensure_step_key()
    if note:
        print(note, file=sys.stderr)
    counters = {"card": 0, "txn": 0, "holding": 0, "note": 0}
    with atomic_dir(out, marker=MANIFEST_NAME) as tmp:
        zone = Zone(tmp)
        try:
            for lo in range(0, n_customers, chunk):
                _chunk(zone, rng, lo, min(lo + chunk, n_customers), counters, key, txns_per_customer, pii_tokens)
                print(f"  {min(lo + chunk, n_customers):,} customers, {counters['txn']:,} transactions",
                      file=sys.stderr, flush=True)
        finally:
            zone.close()
        outputs = [{"table": t, "file": f"{t}.parquet", "sha256": sha256_file(tmp / f"{t}.parquet"),
                    "rows": zone.rows[t], "columns": zone.columns[t]} for t in zone.writers]
        manifest = {
            "manifest_id": uuid.uuid4().hex, "status": "passed",
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "tool": "kequn", "tool_version": __version__, "engine": "generated", "policy_hash": load_policy().hash,
            "key_fingerprint": key_fingerprint(key), "inputs": [], "outputs": outputs,
            "columns": {t: {c: {"entity": spec[0], "action": spec[1],
                                "outputs": spec[2] if len(spec) > 2 else [c]} for c, spec in cols.items()}
                        for t, cols in COLUMN_MAP.items()},
            "k_anonymity": {},
            "residual_scan": {"clean": None, "findings": None},
            "reasons": [],
            "generated_by": {"script": "bench/gen_clean_zone.py", "customers": n_customers, "seed": seed,
                             "txns_per_customer": txns_per_customer, "pii_tokens": pii_tokens,
                             "note": "generated at scale for benchmarks; no raw data, no privacy scan"},
        }
        write_json(tmp / MANIFEST_NAME, sign_record(step_key, manifest, signer="privacy-step"))
    return {"rows": zone.rows, "bytes": sum((out / o["file"]).stat().st_size for o in outputs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--txns-per-customer", type=float, default=30.0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--key-file", type=Path, default=None,
                        help="pseudonymisation key file (else $KEQUN_PSEUDONYM_KEY)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=200_000, help="customers per chunk (bounds memory)")
    parser.add_argument("--pii-tokens", choices=["hmac", "shape"], default="hmac",
                        help="id_number/mobile/email: real tokens (hmac) or token-shaped (shape)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        key = load_key(args.key_file)
        result = generate(args.out, args.customers, args.txns_per_customer, key=key, seed=args.seed,
                          chunk=args.chunk, pii_tokens=args.pii_tokens)
    except KequnError as exc:  # a missing key, a bad size, an output folder that is not ours
        print(f"kequn: error: {exc}", file=sys.stderr)
        return 1
    result.update(seconds=round(time.perf_counter() - start, 1),
                  peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
