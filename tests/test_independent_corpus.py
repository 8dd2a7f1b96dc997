"""The independent evaluation corpus (bench/independent_corpus.py) is a sound yardstick.

Its ground-truth offsets must be exact, the identifiers meant valid must pass their check
(GB 11643, Luhn) and the decoys meant invalid must fail it; otherwise the bench's recall and
decoy numbers would measure the corpus, not the detectors.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("faker")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import independent_corpus as ic  # noqa: E402

from privacy.checksums import gb11643_valid_array, luhn_valid_array  # noqa: E402

_FW = str.maketrans("０１２３４５６７８９", "0123456789")


@pytest.fixture(scope="module")
def corpus() -> ic.Corpus:
    return ic.build_corpus(rows=60, seed=5)


def _digits(value: str) -> str:
    return re.sub(r"[^0-9Xx]", "", value.translate(_FW)).upper()


def test_offsets_are_exact(corpus: ic.Corpus) -> None:
    notes = corpus.tables["service_notes"]["note"].tolist()
    assert len(corpus.spans) > 300
    for s in corpus.spans:
        assert notes[s.row][s.start:s.end] == s.value, (s.entity, s.case)
    # spans of one note never overlap (a character belongs to at most one planted span)
    by_row: dict[int, list[tuple[int, int]]] = {}
    for s in corpus.spans:
        by_row.setdefault(s.row, []).append((s.start, s.end))
    for spans in by_row.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_every_failure_class_has_hard_cases(corpus: ic.Corpus) -> None:
    cases = ic.load_hard_cases()
    classes = {c["class"] for c in cases["notes"]} | {c["class"] for c in cases["columns"]}
    for needed in ("name_no_context", "name_compound", "name_traditional", "name_english",
                   "redaction_boundary", "digit_groupings", "address_no_hao", "other_identifiers",
                   "decoys", "header_substring", "false_positive_refusal", "business_values_destroyed",
                   "quasi_missed"):
        assert needed in classes
    assert {s.case for s in corpus.spans if s.case} == {c["id"] for c in cases["notes"]}


def test_identifier_values_valid_and_decoys_invalid(corpus: ic.Corpus) -> None:
    ids = [_digits(s.value) for s in corpus.spans if s.entity == "CN_RESIDENT_ID"]
    cards = [_digits(s.value) for s in corpus.spans if s.entity == "BANK_CARD"]
    serials = [s.value for s in corpus.spans if s.entity == "SERIAL18_BAD_CHECK"]
    bad_luhn = [s.value for s in corpus.spans if s.entity == "NUMBER_BAD_LUHN"]
    assert ids and cards and serials and bad_luhn
    # the corpus's own check digits agree with the project's (two independent implementations)
    assert all(map(ic.gb11643_ok, ids)) and gb11643_valid_array(ids).all()
    assert all(map(ic.luhn_ok, cards)) and luhn_valid_array(cards).all()
    assert not any(map(ic.gb11643_ok, serials)) and not any(map(ic.luhn_ok, serials))
    assert all(len(v) == 18 and v.isdigit() for v in serials)
    assert not any(map(ic.luhn_ok, bad_luhn))
    cust = corpus.tables["customers"]
    assert all(map(ic.gb11643_ok, cust["zjhm"]))
    for col in ("yhkh", "account_no", "card_nbr", "acct_no"):
        assert all(map(ic.luhn_ok, cust[col])), col
    assert (cust["account_no"].str.len() == 19).all()
    assert not any(map(ic.gb11643_ok, cust["txn_serial"])) and not any(map(ic.luhn_ok, cust["contract_no"]))
    spoken = str.maketrans("零一二三四五六七八九幺", "01234567891")
    mobiles = [_digits(s.value.replace("+86", "").translate(spoken)) for s in corpus.spans
               if s.entity == "CN_MOBILE"]
    assert all(re.fullmatch(r"1[3-9]\d{9}", m) for m in mobiles)
    # a customer's own name in its notes is the name in customers.khmc
    names = dict(zip(cust["cust_id"], cust["khmc"], strict=True))
    notes = corpus.tables["service_notes"]
    own = [s for s in corpus.spans if s.entity == "PERSON_CUSTOMER" and s.variant != "english"]
    assert own and all(names[notes["cust_id"][s.row]] == s.value for s in own)


def test_seeded_and_deterministic() -> None:
    a, b = ic.build_corpus(rows=15, seed=9), ic.build_corpus(rows=15, seed=9)
    assert a.tables["service_notes"].equals(b.tables["service_notes"])
    assert a.tables["customers"].equals(b.tables["customers"])
    assert [s.value for s in a.spans] == [s.value for s in b.spans]
    c = ic.build_corpus(rows=15, seed=10)
    assert not c.tables["customers"]["khmc"].equals(a.tables["customers"]["khmc"])


def test_scorer_alignment_sees_partial_survival_and_eaten_characters() -> None:
    """The bench's alignment: a span is caught only if nothing of it survives; a redaction that
    eats the next character is seen as lost text outside the span."""
    import bench_independent as bi

    text = "客户欧阳明远身份证号码11010519491231002X已核验。"
    def kept(redacted: str) -> str:
        return "".join(c if k else "_" for c, k in zip(text, bi.kept_mask(text, redacted), strict=True))

    assert kept("客户<姓名>身份证号码<身份证号>已核验。") == "客户____身份证号码__________________已核验。"
    assert kept("客户欧<姓名>身份证号码<身份证号>已核验。").startswith("客户欧___身")  # surname survives
    assert kept("客户<姓名>份证号码<身份证号>已核验。")[6] == "_"  # 身 eaten
    assert kept(text) == text and kept("") == "_" * len(text)
