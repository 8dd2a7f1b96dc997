"""The feature registry: the one documented list of customer features and labels.

Every column of the feature table written by ``kequn features`` is listed here exactly once,
with its English and Chinese description, source table, time window, dtype and missing-value
rule. The builder (:mod:`features.build`) checks its output against this registry, and the data
dictionary (:mod:`features.dictionary`) is generated from it.

Point in time: "snapshot" below is the snapshot date *s*; a record dated on *s* (any time of that
day) is part of the features. ``Nd`` windows are the ``N`` calendar days ending on *s*
(``s-N+1 .. s``). Labels use only the horizon ``(s, s+h]`` (``h`` = ``--horizon-days``).

As of: every feature names the table and date column that place its records in time
(``as_of``). A value the extract holds only as of the day it was taken (no dated history) is
``as_of = "extract"``: it would tell the model the future of a past snapshot, so it is not a
default feature; a model owner opts in per attribute with ``extract_attributes`` in
conf/features.yaml.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

#: Bump when a feature is added, removed or its definition changes; recorded in the lineage.
REGISTRY_VERSION = "2.0.0"

ID_COLUMN = "customer_no"
LABEL_COLUMNS = ("churn_label", "propensity_label", "treatment", "response")
#: Attributes fairness is checked on by default (the training step's ``--protected``).
PROTECTED_DEFAULT = ("gender", "age_band")

GROUPS = ("value", "activity", "products", "channels", "relationship", "lifecycle", "label")

#: ``as_of`` of an attribute known only as the extract's current value (opt-in, never a default).
EXTRACT = "extract"

#: Dtypes used in the registry, as pandas names.
DTYPES = ("float64", "int64", "int8", "category")


@dataclass(frozen=True)
class Feature:
    """One column of the feature table.

    Attributes
    ----------
    name:
        Column name in the feature table.
    group:
        One of :data:`GROUPS`.
    description_en, description_zh:
        What the column means, in English and Chinese.
    source:
        Clean-zone table(s) it is computed from.
    window:
        The time window of the records it uses, relative to the snapshot *s*.
    dtype:
        pandas dtype of the column (one of :data:`DTYPES`).
    missing:
        What a missing value means, or the documented default used instead.
    as_of:
        The table and date column that place the records it uses in time (only those dated on
        or before the snapshot count), or :data:`EXTRACT` for a value the extract holds only as
        of the day it was taken (opt-in only). Filled from ``source`` when not given.
    """

    name: str
    group: str
    description_en: str
    description_zh: str
    source: str
    window: str
    dtype: str
    missing: str
    as_of: str = ""

    @property
    def opt_in(self) -> bool:
        """True for an extract-time attribute (included only when conf/features.yaml lists it)."""
        return self.as_of == EXTRACT

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


#: The date column that places each source table's records in time.
AS_OF_BY_SOURCE = {
    "accounts_monthly": "accounts_monthly.month_end",
    "transactions": "transactions.txn_time",
    "transactions, customers": "transactions.txn_time; customers.open_date",
    "products": "products.open_date, products.close_date (maturity_date is contractual, known at opening)",
    "service_notes": "service_notes.note_time",
    "campaigns": "campaigns.campaign_date, campaigns.response_date",
    "customers": "customers.open_date, customers.close_date",
    "customers, accounts_monthly": "customers.close_date; accounts_monthly.month_end",
    "risk_assessments": "risk_assessments.assessed_on",
    "customer_profile_history": "customer_profile_history.effective_from",
    "derived": "as its inputs",
}


_AT = "last month-end ≤ s"
_NAN_NO_MONTH = "NaN if the customer has no accounts_monthly row for that month-end"
_ZERO_COUNT = "0 means no such record (a true zero: the table covers the customer)"

FEATURES: tuple[Feature, ...] = (
    # ---- value (accounts_monthly) -----------------------------------------------------------
    Feature("aum", "value", "Assets under management (AUM, CNY) at the last month-end on or before the snapshot",
            "快照日前最近月末的资产管理规模（AUM，元）", "accounts_monthly", _AT, "float64", _NAN_NO_MONTH),
    Feature("aum_deposit", "value", "Deposit balance at the last month-end ≤ snapshot",
            "快照日前最近月末存款余额", "accounts_monthly", _AT, "float64", _NAN_NO_MONTH),
    Feature("aum_wealth", "value", "Wealth-management (理财) balance at the last month-end ≤ snapshot",
            "快照日前最近月末理财余额", "accounts_monthly", _AT, "float64", _NAN_NO_MONTH),
    Feature("aum_fund", "value", "Fund balance at the last month-end ≤ snapshot",
            "快照日前最近月末基金余额", "accounts_monthly", _AT, "float64", _NAN_NO_MONTH),
    Feature("aum_insurance", "value", "Insurance balance at the last month-end ≤ snapshot",
            "快照日前最近月末保险余额", "accounts_monthly", _AT, "float64", _NAN_NO_MONTH),
    Feature("aum_change_3m", "value", "Relative AUM change over 3 months: aum / aum 3 month-ends earlier − 1",
            "近3个月AUM变化率", "accounts_monthly", "month-ends m−3 and m (m = last month-end ≤ s)", "float64",
            "NaN if either month is missing or the earlier AUM is ≤ 0"),
    Feature("aum_change_6m", "value", "Relative AUM change over 6 months: aum / aum 6 month-ends earlier − 1",
            "近6个月AUM变化率", "accounts_monthly", "month-ends m−6 and m", "float64",
            "NaN if either month is missing or the earlier AUM is ≤ 0"),
    Feature("aum_volatility_6m", "value", "Coefficient of variation (std / mean) of month-end AUM over the last 6 month-ends",
            "近6个月月末AUM波动率（变异系数）", "accounts_monthly", "month-ends m−5 .. m", "float64",
            "NaN with fewer than 2 month-ends or a mean ≤ 0"),
    Feature("value_tier", "value", "Value tier (客户分层) from the AUM thresholds in conf/segments.yaml",
            "客户价值分层（私人银行/高净值/潜力/大众，阈值见 conf/segments.yaml）", "accounts_monthly", _AT,
            "category", "missing when aum is NaN"),
    # ---- activity (transactions) ------------------------------------------------------------
    Feature("has_transactions", "activity", "1 if the customer has any transaction on or before the snapshot",
            "快照日前是否有交易（1=有）", "transactions", "all history ≤ s", "int8", "never missing"),
    Feature("recency_days", "activity", "Days from the last transaction to the snapshot (0 = on the snapshot day)",
            "最近一次交易距快照日天数", "transactions", "all history ≤ s", "float64",
            "NaN when has_transactions = 0"),
    Feature("txn_count_30d", "activity", "Number of transactions in the last 30 days", "近30天交易笔数",
            "transactions", "30d", "int64", _ZERO_COUNT),
    Feature("txn_count_90d", "activity", "Number of transactions in the last 90 days", "近90天交易笔数",
            "transactions", "90d", "int64", _ZERO_COUNT),
    Feature("txn_count_180d", "activity", "Number of transactions in the last 180 days", "近180天交易笔数",
            "transactions", "180d", "int64", _ZERO_COUNT),
    Feature("txn_amount_30d", "activity", "Total transaction amount (CNY, in and out) in the last 30 days",
            "近30天交易金额合计", "transactions", "30d", "float64", "0.0 when there is no transaction"),
    Feature("txn_amount_90d", "activity", "Total transaction amount (CNY) in the last 90 days", "近90天交易金额合计",
            "transactions", "90d", "float64", "0.0 when there is no transaction"),
    Feature("txn_amount_180d", "activity", "Total transaction amount (CNY) in the last 180 days",
            "近180天交易金额合计", "transactions", "180d", "float64", "0.0 when there is no transaction"),
    Feature("inflow_outflow_ratio_90d", "activity", "Inflow amount / outflow amount in the last 90 days",
            "近90天资金流入/流出比", "transactions", "90d", "float64", "NaN when there is no outflow"),
    Feature("salary_flag_90d", "activity", "1 if a salary (代发工资) credit was received in the last 90 days",
            "近90天是否代发工资客户", "transactions", "90d", "int8", "never missing"),
    Feature("salary_share_90d", "activity", "Salary credits / all inflows (amount) in the last 90 days",
            "近90天代发工资占流入金额比例", "transactions", "90d", "float64", "NaN when there is no inflow"),
    Feature("dormancy_days", "activity",
            "Days since the last customer-initiated transaction (not salary or interest) on or before the snapshot",
            "距最近一次客户主动交易（不含代发工资、利息）天数", "transactions, customers", "all history ≤ s", "float64",
            "tenure_days when the customer never initiated one (dormant since opening); NaN if open_date is unknown too"),
    Feature("txn_trend_6m", "activity",
            "Least-squares slope of transaction counts over six 30-day periods ending on the snapshot (txns per period)",
            "近6个30天周期交易笔数趋势（最小二乘斜率）", "transactions", "180d", "float64",
            "0.0 for a customer without transactions (flat); periods before open_date count as 0"),
    # ---- products ---------------------------------------------------------------------------
    Feature("n_products", "products", "Number of distinct product types held at the snapshot",
            "快照日持有的产品种类数", "products", "held at s (open_date ≤ s < close_date)", "int64", _ZERO_COUNT),
    Feature("n_holdings", "products", "Number of product holdings open at the snapshot", "快照日持有的产品笔数",
            "products", "held at s", "int64", _ZERO_COUNT),
    Feature("holds_time_deposit", "products", "1 if a time deposit is held at the snapshot", "是否持有定期存款",
            "products", "held at s", "int8", "never missing"),
    Feature("holds_wealth", "products", "1 if a wealth-management product (理财) is held", "是否持有理财产品",
            "products", "held at s", "int8", "never missing"),
    Feature("holds_fund", "products", "1 if a fund is held", "是否持有基金", "products", "held at s", "int8",
            "never missing"),
    Feature("holds_insurance", "products", "1 if an insurance policy is held", "是否持有保险", "products",
            "held at s", "int8", "never missing"),
    Feature("holds_credit_card", "products", "1 if a credit card is held", "是否持有信用卡", "products", "held at s",
            "int8", "never missing"),
    Feature("holds_loan", "products", "1 if a loan is held", "是否有贷款", "products", "held at s", "int8",
            "never missing"),
    Feature("maturing_30d", "products",
            "Holdings open at the snapshot whose maturity date falls in the next 30 days (contractual, known at s)",
            "未来30天内到期的持有产品笔数（到期日在快照日已知）", "products", "maturity in (s, s+30]", "int64", _ZERO_COUNT),
    Feature("maturing_90d", "products", "Holdings open at the snapshot maturing in the next 90 days",
            "未来90天内到期的持有产品笔数", "products", "maturity in (s, s+90]", "int64", _ZERO_COUNT),
    Feature("rate_sensitive_maturing_90d", "products",
            "Holdings flagged rate-sensitive (rate_sensitive = 1) open at the snapshot and maturing in the next 90 days",
            "未来90天内到期的利率敏感型持有产品笔数（到期易流失）", "products", "maturity in (s, s+90]", "int64",
            _ZERO_COUNT),
    Feature("credit_card_utilisation", "products",
            "Credit-card balance / credit limit (credit_used_amount / credit_limit) at the last month-end ≤ snapshot",
            "快照日前最近月末信用卡额度使用率", "accounts_monthly", _AT, "float64",
            "NaN without a month-end row, without a credit card or with a zero limit"),
    Feature("loan_outstanding", "products", "Outstanding loan balance (CNY, loan_balance) at the last month-end ≤ snapshot",
            "快照日前最近月末贷款余额", "accounts_monthly", _AT, "float64",
            "0.0 without a loan or without a month-end row (see holds_loan)"),
    Feature("products_opened_180d", "products", "Holdings opened in the last 180 days", "近180天新开产品笔数",
            "products", "open_date in 180d", "int64", _ZERO_COUNT),
    # ---- channels ---------------------------------------------------------------------------
    Feature("share_mobile_app", "channels", "Share of transactions made in the mobile app (last 180 days)",
            "近180天手机银行交易占比", "transactions", "180d", "float64", "NaN without transactions in the window"),
    Feature("share_online", "channels", "Share of online-banking transactions (last 180 days)", "近180天网上银行交易占比",
            "transactions", "180d", "float64", "NaN without transactions in the window"),
    Feature("share_counter", "channels", "Share of counter (branch) transactions (last 180 days)", "近180天柜面交易占比",
            "transactions", "180d", "float64", "NaN without transactions in the window"),
    Feature("share_atm", "channels", "Share of ATM transactions (last 180 days)", "近180天ATM交易占比", "transactions",
            "180d", "float64", "NaN without transactions in the window"),
    Feature("share_pos", "channels", "Share of POS (card payment) transactions (last 180 days)", "近180天POS刷卡交易占比",
            "transactions", "180d", "float64", "NaN without transactions in the window"),
    Feature("digital_share", "channels", "Share of digital (mobile app + online) transactions (last 180 days)",
            "近180天数字渠道（手机银行+网银）交易占比", "transactions", "180d", "float64",
            "NaN without transactions in the window"),
    Feature("digital_adopter", "channels", "1 if any mobile-app or online transaction in the last 180 days",
            "近180天是否使用数字渠道", "transactions", "180d", "int8", "never missing"),
    # ---- relationship -----------------------------------------------------------------------
    Feature("tenure_days", "relationship", "Days from relationship start (open_date) to the snapshot",
            "客户关系时长（开户至快照日天数）", "customers", "open_date ≤ s", "float64", "NaN if open_date is missing"),
    Feature("gender", "relationship", "Gender (clean-zone value)", "性别", "customers", "static", "category",
            "missing as in the clean zone", as_of="customers.open_date (recorded at opening, never updated)"),
    Feature("age_band", "relationship",
            "Ten-year band (e.g. 30-39; 90+) of the age at the snapshot, from the birth year-month the privacy "
            "policy publishes (birth_month; the birthday is taken as the 1st of the month; with birth_year only: "
            "the age reached in the snapshot's year)", "快照日年龄段（由脱敏后的出生年月计算）", "customers", "at s",
            "category", "missing if the birth month is missing or the age is outside 0..129",
            as_of="customers.birth_month (fixed; aged to s)"),
    Feature("province", "relationship", "Province of residence in effect at the snapshot", "快照日居住省份",
            "customer_profile_history", "last effective_from ≤ s", "category",
            "missing without a profile record dated on or before s"),
    Feature("city", "relationship", "City of residence in effect at the snapshot", "快照日居住城市",
            "customer_profile_history", "last effective_from ≤ s", "category",
            "missing without a profile record dated on or before s"),
    Feature("occupation", "relationship", "Occupation in effect at the snapshot", "快照日职业",
            "customer_profile_history", "last effective_from ≤ s", "category",
            "missing without a profile record dated on or before s"),
    Feature("education", "relationship", "Education as the extract records it today (no dated history; opt-in)",
            "学历（提取日当前值，无历史；需显式启用）", "customers", "extract", "category",
            "missing as in the clean zone", as_of=EXTRACT),
    Feature("risk_level", "relationship", "Risk appetite assessment R1..R5 in effect at the snapshot",
            "快照日有效的风险承受能力评级（R1–R5）", "risk_assessments", "last assessed_on ≤ s", "category",
            "missing without an assessment dated on or before s"),
    Feature("complaints_90d", "relationship", "Service notes of category 投诉 (complaint) in the last 90 days",
            "近90天投诉次数", "service_notes", "90d", "int64", _ZERO_COUNT),
    Feature("service_contacts_90d", "relationship", "Service notes of any category in the last 90 days",
            "近90天服务接触次数", "service_notes", "90d", "int64", _ZERO_COUNT),
    Feature("campaigns_before", "relationship", "Campaigns the customer was assigned to (either arm) up to the snapshot",
            "快照日前参与营销活动次数", "campaigns", "campaign_date ≤ s", "int64", _ZERO_COUNT),
    Feature("campaigns_treated_before", "relationship", "Campaigns in which the customer was contacted (treatment = 1)",
            "快照日前被营销触达次数", "campaigns", "campaign_date ≤ s", "int64", _ZERO_COUNT),
    Feature("campaign_responses_before", "relationship", "Campaign responses recorded on or before the snapshot",
            "快照日前营销响应次数", "campaigns", "response_date ≤ s", "int64", _ZERO_COUNT),
    # ---- lifecycle --------------------------------------------------------------------------
    Feature("lifecycle_stage", "lifecycle",
            "Lifecycle stage by the rules in features/lifecycle.py: acquisition, activation, retention, growth, churn_risk",
            "客户生命周期阶段：获客/激活/留存/增值/流失预警（规则见 features/lifecycle.py）", "derived", "as its inputs",
            "category", "never missing"),
)

LABELS: tuple[Feature, ...] = (
    Feature("churn_label", "label",
            "1 if the relationship closed in (s, s+h], or AUM at the last month-end in that window fell by at least "
            "churn.aum_fall_share (conf/features.yaml, default 50%) from aum",
            "流失标签：观察期内销户，或期末AUM较快照日下降达到配置比例（默认50%）", "customers, accounts_monthly",
            "(s, s+h]", "int8", "0 when no rule fires (also when aum at s is missing or ≤ 0 and the customer stays open)"),
    Feature("propensity_label", "label",
            "1 if a holding of the target product (propensity.target_product, default fund) was opened in (s, s+h]",
            "产品响应倾向标签：观察期内新开目标产品（默认基金）", "products", "(s, s+h]", "int8", "never missing"),
    Feature("treatment", "label",
            "Campaign arm (1 treated, 0 control) of the customer's first campaign with campaign_date in (s, s+h]",
            "观察期内首个营销活动的分组（1=触达组，0=对照组）", "campaigns", "(s, s+h]", "float64",
            "NaN when the customer has no campaign in the window (rows are kept)"),
    Feature("response", "label",
            "1 if the customer responded to that campaign by s+h (response = 1 with a response date ≤ s+h, or none recorded)",
            "对该营销活动的响应（观察期内）", "campaigns", "(s, s+h]", "float64",
            "NaN when the customer has no campaign in the window"),
)


def _fill_as_of(feat: Feature) -> Feature:
    if feat.as_of:
        return feat
    return replace(feat, as_of=AS_OF_BY_SOURCE[feat.source])


FEATURES = tuple(_fill_as_of(f) for f in FEATURES)
LABELS = tuple(_fill_as_of(f) for f in LABELS)
#: Extract-time attributes a model owner may opt in to (conf/features.yaml ``extract_attributes``).
OPT_IN_FEATURES = tuple(f.name for f in FEATURES if f.opt_in)


def selected_features(extract: Iterable[str] = ()) -> tuple[Feature, ...]:
    """The features of the table: every point-in-time one, plus the opted-in extract-time ones."""
    chosen = set(extract)
    return tuple(f for f in FEATURES if not f.opt_in or f.name in chosen)


def feature_names(extract: Iterable[str] = ()) -> list[str]:
    """Names of the feature columns, in table order (without the ID and label columns).

    ``extract`` lists the opted-in extract-time attributes (default none).
    """
    return [f.name for f in selected_features(extract)]


def categorical_features(extract: Iterable[str] = ()) -> list[str]:
    """Names of the categorical feature columns (pandas ``category`` dtype in the table)."""
    return [f.name for f in selected_features(extract) if f.dtype == "category"]


def numeric_features(extract: Iterable[str] = ()) -> list[str]:
    """Names of the numeric feature columns."""
    return [f.name for f in selected_features(extract) if f.dtype != "category"]


def table_columns(extract: Iterable[str] = ()) -> list[str]:
    """All columns of the feature table, in order: ID, features, labels."""
    return [ID_COLUMN, *feature_names(extract), *LABEL_COLUMNS]


def _check_registry() -> None:
    names = [f.name for f in (*FEATURES, *LABELS)]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:  # pragma: no cover - a programming error caught at import
        raise RuntimeError(f"feature registry: duplicate names {sorted(duplicates)}")
    for feat in (*FEATURES, *LABELS):
        if feat.group not in GROUPS or feat.dtype not in DTYPES:  # pragma: no cover
            raise RuntimeError(f"feature registry: {feat.name} has an unknown group or dtype")
    for feat in (*FEATURES, *LABELS):
        if not feat.as_of:  # pragma: no cover
            raise RuntimeError(f"feature registry: {feat.name} has no as-of source")
    if tuple(f.name for f in LABELS) != LABEL_COLUMNS:  # pragma: no cover
        raise RuntimeError("feature registry: LABELS and LABEL_COLUMNS disagree")


_check_registry()
