"""Keyed tokens and the key: determinism, join stability, key handling."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from kequn.errors import KeyMissingError
from privacy import entities as E
from privacy.keys import ENV_VAR, MIN_KEY_LENGTH, key_fingerprint, load_key
from privacy.tokens import TOKEN_PATTERN, token_of, tokenise_series

KEY = b"unit-test-key-0123456789abcdef-0123456789"
OTHER_KEY = b"another-test-key-0123456789abcdef-987654"


def test_messy_mobile_formats_get_one_token():
    messy = pd.Series(["13812345678", "138-1234-5678", "+86 138 1234 5678", "0086 13812345678",
                       "１３８１２３４５６７８", " 138 1234 5678 ", "'13812345678", "13812345678.0"])
    tokens = tokenise_series(messy, E.CN_MOBILE, KEY)
    assert tokens.nunique() == 1
    assert re.fullmatch(TOKEN_PATTERN, tokens.iloc[0])
    assert tokens.iloc[0] == token_of("13812345678", E.CN_MOBILE, KEY)


def test_tokens_are_deterministic_distinct_and_keep_missing():
    values = pd.Series(["11010119900307123X", "11010119900307123x", None, "110101199003071248"])
    first = tokenise_series(values, E.CN_RESIDENT_ID, KEY)
    again = tokenise_series(values.iloc[::-1].reset_index(drop=True), E.CN_RESIDENT_ID, KEY)
    assert first.iloc[0] == first.iloc[1]  # lower-case x is the same ID
    assert first.iloc[0] != first.iloc[3]
    assert pd.isna(first.iloc[2])
    assert again.iloc[3] == first.iloc[0] and again.iloc[0] == first.iloc[3]
    assert first.index.equals(values.index)


def test_different_key_and_entity_give_different_tokens():
    values = pd.Series(["13812345678", "6222020200112233445"])
    a = tokenise_series(values, E.CN_MOBILE, KEY)
    b = tokenise_series(values, E.CN_MOBILE, OTHER_KEY)
    assert not (a == b).any()
    assert token_of("13812345678", E.CN_MOBILE, KEY) != token_of("13812345678", E.CUSTOMER_NO, KEY)


def test_each_distinct_value_gives_the_same_token_at_scale():
    values = pd.Series([f"1380000{i % 50:04d}" for i in range(5000)])
    tokens = tokenise_series(values, E.CN_MOBILE, KEY)
    assert tokens.nunique() == 50
    assert (tokens.groupby(values).nunique() == 1).all()


def test_load_key_from_env_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "  " + "a" * 40 + "\n")
    assert load_key(None) == b"a" * 40
    path = tmp_path / "k.key"
    path.write_text("b" * 64 + "\n", encoding="ascii")
    assert load_key(path) == b"b" * 64  # the file wins over the environment


@pytest.mark.parametrize("case", ["missing_file", "no_env", "short_env", "short_file"])
def test_key_errors_are_one_line_and_never_echo_the_key(tmp_path, monkeypatch, case):
    short = "s3cr3t-but-too-short"
    monkeypatch.delenv(ENV_VAR, raising=False)
    arg = None
    if case == "missing_file":
        arg = tmp_path / "absent.key"
    elif case == "short_env":
        monkeypatch.setenv(ENV_VAR, short)
    elif case == "short_file":
        arg = tmp_path / "short.key"
        arg.write_text(short, encoding="ascii")
    with pytest.raises(KeyMissingError) as info:
        load_key(arg)
    text = str(info.value)
    assert "\n" not in text and short not in text
    assert ("--key-file" in text or ENV_VAR in text or "secrets.token_hex" in text)
    if case.startswith("short"):
        assert f"at least {MIN_KEY_LENGTH}" in text


def test_fingerprint_is_stable_short_and_not_a_token():
    fp = key_fingerprint(KEY)
    assert fp == key_fingerprint(KEY) and fp != key_fingerprint(OTHER_KEY)
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert KEY.decode() not in fp
    assert fp != token_of("", E.CN_MOBILE, KEY).rsplit("_", 1)[1]


def test_cli_without_key_fails_and_publishes_nothing(tmp_path, monkeypatch, capsys):
    from pipelines.cli.main import main

    monkeypatch.delenv(ENV_VAR, raising=False)
    raw = tmp_path / "t.csv"
    raw.write_text("mobile\n13812345678\n", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["pseudonymise", str(raw), "--out", str(tmp_path / "out")])
    assert info.value.code == 1
    assert ENV_VAR in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
