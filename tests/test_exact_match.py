"""Exact data match: values of the bank's own identifier columns found again in free text."""

from __future__ import annotations

import pandas as pd

from privacy import entities as E
from privacy.checksums import gb11643_check_digit, luhn_check_digit
from privacy.exact_match import ExactMatcher, matcher_for_tables
from privacy.text import find_spans, redact_texts, span_method_counts

ID18 = "11010519491231002" + gb11643_check_digit("11010519491231002")  # ends in X
CARD = "622848012345678901" + luhn_check_digit("622848012345678901")


def _found(texts: pd.Series, spans: pd.DataFrame) -> list[tuple[int, str, str, str]]:
    return [(r, texts.iloc[r][s:e], ent, m) for r, s, e, ent, m
            in zip(spans["row"], spans["start"], spans["end"], spans["entity"], spans["method"], strict=True)]


def test_values_are_found_without_any_context_word():
    matcher = ExactMatcher({E.PERSON: ["王建国", " 林 雪 "], E.CN_MOBILE: ["+86 139-1234-5678"],
                            E.CN_RESIDENT_ID: [ID18], E.EMAIL_ADDRESS: ["Wang.JG@Example.com"]})
    texts = pd.Series(["今天王建国到网点", "林雪和他一起", "回拨13912345678", f"证件{ID18.lower()}",
                       "wang.jg@example.com已更新", "王建"])
    got = _found(texts, find_spans(texts, matcher=matcher))
    assert (0, "王建国", E.PERSON, "exact") in got
    assert (1, "林雪", E.PERSON, "exact") in got
    assert (2, "13912345678", E.CN_MOBILE, "exact") in got
    assert (3, ID18.lower(), E.CN_RESIDENT_ID, "exact") in got
    assert (4, "wang.jg@example.com", E.EMAIL_ADDRESS, "exact") in got
    assert not [g for g in got if g[0] == 5]                      # a prefix of a name is not the name


def test_numbers_inside_longer_numbers_and_short_or_ordinary_values_are_not_matched():
    matcher = ExactMatcher({E.CN_MOBILE: ["13912345678"], E.PERSON: ["王", "金融", "高端"],
                            E.CUSTOMER_NO: ["KH12"]})
    assert matcher.counts == {E.CN_MOBILE: 1, E.PERSON: 0, E.CUSTOMER_NO: 0}
    texts = pd.Series(["流水号9913912345678001", "编号A13912345678", "王先生金融资产高端客户KH12"])
    assert matcher.find(texts).empty


def test_one_automaton_over_every_identifier_column_of_every_table():
    customers = pd.DataFrame({"customer_no": ["KH0000012345"], "name": ["欧阳娜娜"], "card_no": [CARD],
                              "city": ["北京"]})
    accounts = pd.DataFrame({"acct": [CARD], "note": ["x"]})
    typing = {"customers": {"customer_no": E.CUSTOMER_NO, "name": E.PERSON, "card_no": E.BANK_CARD,
                            "city": E.CITY},
              "accounts": {"acct": E.BANK_CARD, "note": E.FREE_TEXT}}
    matcher = matcher_for_tables({"customers": customers, "accounts": accounts},
                                 lambda table, frame: typing[table])
    assert matcher is not None and matcher.counts[E.PERSON] == 1 and E.CITY not in matcher.counts
    notes = pd.Series(["欧阳娜娜说北京分行很好", f"卡{CARD[:6]}在用", "KH0000012345到访"])
    spans = find_spans(notes, matcher=matcher)
    assert redact_texts(notes, spans).tolist() == ["<姓名>说北京分行很好", f"卡{CARD[:6]}在用", "<客户号>到访"]
    assert span_method_counts(spans)[E.PERSON] == {"exact": 1}
    assert matcher_for_tables({"accounts": accounts}, lambda t, f: {"note": E.FREE_TEXT}) is None


def test_pseudonymise_finds_the_customer_name_of_another_table_in_the_notes():
    from privacy.policy import load_policy
    from privacy.pseudonymise import pseudonymise_frames

    n = 30
    customers = pd.DataFrame({
        "customer_no": [f"KH{10000000 + i}" for i in range(n)],
        "name": [f"{'王李张刘陈杨黄赵'[i % 8]}{'建国秀英志强海燕'[i % 7]}{'明华'[i % 2]}" for i in range(n)],
    })
    notes = pd.DataFrame({"note_id": [str(i) for i in range(n)],
                          "note": [f"今天{nm}到网点办理业务" for nm in customers["name"]]})
    results = pseudonymise_frames({"customers": customers, "service_notes": notes}, policy=load_policy(),
                                  key=b"exact-match-test-key-0123456789abcdef")
    out = {r.table: r for r in results}["service_notes"]
    assert out.frame["note"].tolist() == ["今天<姓名>到网点办理业务"] * n
    col = next(c for c in out.columns if c.column == "note")
    assert col.span_methods[E.PERSON] == {"exact": n}


def test_romanised_customer_names_match_with_their_space_and_in_either_order():
    from privacy.exact_match import ExactMatcher

    m = ExactMatcher({E.PERSON: ["Zhang Wei", "CHEN CHIH-WEI"]})
    notes = pd.Series(["Customer Zhang Wei called; wei zhang again", "Mr Chen Chih-Wei", "Zhang Weiming"],
                      dtype="string")
    found = m.find(notes)
    assert sorted(zip(found["row"], found["start"], found["end"], strict=True)) == [(0, 9, 18), (0, 27, 36),
                                                                                      (1, 3, 16)]


def test_keys_found_by_lookup_follow_the_same_boundary_rule_as_the_automaton():
    """ID/card/customer numbers are looked up as whole letter-digit runs and e-mails around
    each @; both must behave as the automaton did: found next to Han text and punctuation,
    never inside a longer run of letters and digits."""
    matcher = ExactMatcher({E.CUSTOMER_NO: ["KH0012345678"], E.BANK_CARD: [CARD],
                            E.EMAIL_ADDRESS: ["li.na-88@mail.example.cn", "na-88@mail.example.cn"]})
    assert not len(matcher.automaton) and len(matcher.literal) == 2 and len(matcher.at_keys) == 2
    texts = pd.Series([f"客户号kh0012345678，卡{CARD}。", f"x{CARD}", "KH00123456789",
                       "邮箱LI.NA-88@mail.example.cn。", "xli.na-88@mail.example.cnx", "(na-88@mail.example.cn)",
                       "ali.na-88@mail.example.cn"])
    spans = matcher.find(texts)
    got = {(r, texts.iloc[r][s:e], ent) for r, s, e, ent
           in zip(spans["row"], spans["start"], spans["end"], spans["entity"], strict=True)}
    assert (0, "kh0012345678", E.CUSTOMER_NO) in got and (0, CARD, E.BANK_CARD) in got
    assert not {g for g in got if g[0] in (1, 2)}            # inside a longer run of letters/digits
    assert (3, "LI.NA-88@mail.example.cn", E.EMAIL_ADDRESS) in got
    assert not {g for g in got if g[0] == 4}                  # letters glued to both ends
    assert (5, "na-88@mail.example.cn", E.EMAIL_ADDRESS) in got
    # 'ali.na-88@…': the full key does not fit, the shorter key starts after the '.'
    assert {g for g in got if g[0] == 6} == {(6, "na-88@mail.example.cn", E.EMAIL_ADDRESS)}
