"""The data contract between the synthetic bank, the clean zone and the feature builder.

One place for these facts: ``pipelines.synth`` writes the raw tables below; ``kequn
pseudonymise`` with the default policy turns them into the clean tables; ``features/`` reads
only the clean tables.

Raw tables (``kequn synth``; a bank extract looks the same). Dates are ``YYYY-MM-DD`` text in
CSV, timestamps ``YYYY-MM-DD HH:MM:SS``. History spans :data:`HISTORY_START` to
:data:`HISTORY_END`; :data:`DEFAULT_SNAPSHOT` is the snapshot the demo and the planted truth
use (churn and the campaign happen in the 90 days after it).

customers            one row per customer
    customer_no      客户号, ``KH`` + 10 digits                       CUSTOMER_NO  → token
    name             Chinese name (incl. compound surnames)           PERSON       → drop
    gender           男 / 女                                          (categorical) keep
    id_number        resident ID (18-digit GB 11643, some X, some 15) CN_RESIDENT_ID → token
    birth_date       YYYY-MM-DD, consistent with id_number            BIRTH_DATE   → generalise → ``birth_month``
    mobile           mainland mobile, messy formats                   CN_MOBILE    → token
    email            e-mail                                           EMAIL_ADDRESS → token
    address          province/city/district/road/number               CN_ADDRESS   → generalise → ``province``, ``city``
    occupation       categorical (e.g. 企业职员, 公务员, 个体经营, 退休, 学生 ...)   keep
    education        categorical                                      keep
    risk_level       R1..R5 risk appetite assessment                   keep
    (address, occupation and risk_level are the extract's *current* values; their history is in
    customer_profile_history and risk_assessments)
    branch_code      branch, ``BR`` + 3 digits                        keep
    open_date        relationship start                               keep
    close_date       relationship end or empty                        keep

accounts_monthly     one row per customer and month end while the relationship is open
    customer_no, month_end (date),
    deposit_balance, wealth_balance, fund_balance, insurance_balance, aum  (CNY, float),
    credit_limit, credit_used_amount (credit-card limit and balance over the cards held),
    loan_balance (outstanding loan balance)                               (CNY, float; 0 without one)

transactions
    txn_id (``T`` + digits), customer_no, card_no (16–19-digit UnionPay card, Luhn; → token),
    txn_time (timestamp), amount (CNY > 0), direction (``in``/``out``),
    channel (``mobile_app``/``online``/``counter``/``atm``/``pos``),
    txn_type (``salary``/``transfer``/``consumption``/``repayment``/``investment``/``withdrawal``/``interest``)

products             product holdings
    holding_id, customer_no, product_type (``time_deposit``/``wealth``/``fund``/``insurance``/
    ``credit_card``/``loan``), open_date, maturity_date (empty if none), close_date (empty),
    amount (principal, or credit limit for credit cards), used_amount (card balance / loan outstanding
    at the extract; the month-end history is in accounts_monthly), rate_sensitive (0/1)

campaigns            randomised marketing campaigns
    campaign_id, customer_no, campaign_date, channel (``sms``/``phone``/``app_push``),
    treatment (0/1), response (0/1), response_date (empty if none)

risk_assessments     dated risk-appetite questionnaires (风险测评), one at opening, renewed ~ every 2 years
    customer_no, assessed_on (date), risk_level (R1..R5)

customer_profile_history  dated profile records (职业/居住城市), one from open_date and one per change
    customer_no, effective_from (date), occupation, province, city    CITY, OCCUPATION → keep (k-anonymity)

service_notes        free text written by branch staff
    note_id, customer_no, note_time, category (``咨询``/``投诉``/``业务办理``/``回访``),
    staff_no, note (text with names, mobiles, IDs, cards, e-mails, addresses in messy formats,
    next to decoys: amounts, dates, serial numbers)                    → redact spans

ground_truth/        never enters training
    customers_truth  customer_no, value_tier, segment, churn_prob, churned, uplift_group,
                     treatment_effect
    notes_pii        note_id, entity_type, value (every planted PII string, exactly as written)

Clean tables (``kequn pseudonymise`` with conf/privacy_policy.yaml) keep the table and column
names above, with tokens in place of tokenised values, dropped columns removed, ``birth_date``
replaced by ``birth_month`` (``YYYY-MM``; the features compute age at the snapshot from it) and
``address`` by ``province`` and ``city``; the
``note`` column holds redacted text (``<手机号>``-style placeholders).
"""

from __future__ import annotations

import datetime as dt

HISTORY_START = dt.date(2023, 1, 1)
HISTORY_END = dt.date(2024, 12, 31)
DEFAULT_SNAPSHOT = dt.date(2024, 6, 30)
DEFAULT_HORIZON_DAYS = 90

RAW_TABLES = ("customers", "accounts_monthly", "transactions", "products", "campaigns", "service_notes",
              "risk_assessments", "customer_profile_history")
ID_COLUMN = "customer_no"

PRODUCT_TYPES = ("time_deposit", "wealth", "fund", "insurance", "credit_card", "loan")
CHANNELS = ("mobile_app", "online", "counter", "atm", "pos")
TXN_TYPES = ("salary", "transfer", "consumption", "repayment", "investment", "withdrawal", "interest")
BALANCE_COLUMNS = ("deposit_balance", "wealth_balance", "fund_balance", "insurance_balance")
NOTE_CATEGORIES = ("咨询", "投诉", "业务办理", "回访")
