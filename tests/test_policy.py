"""Policy loading and validation: typed objects, one-line errors, a stable hash."""

from __future__ import annotations

import pytest
import yaml

from kequn.errors import ConfigError
from privacy import entities as E
from privacy.policy import DEFAULT_POLICY_PATH, load_policy


def _write(tmp_path, data) -> object:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _default_data() -> dict:
    return yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))


def test_default_policy_has_the_agreed_actions():
    policy = load_policy(None)
    expected = {E.CUSTOMER_NO: "token", E.PERSON: "drop", E.CN_RESIDENT_ID: "token", E.CN_MOBILE: "token",
                E.EMAIL_ADDRESS: "token", E.BANK_CARD: "token", E.CN_ADDRESS: "generalise",
                E.BIRTH_DATE: "generalise", E.CN_PASSPORT: "token", E.HK_MACAU_PERMIT: "token",
                E.CN_LANDLINE: "token"}
    assert {e: policy.rule_for(e).action for e in expected} == expected
    assert policy.rule_for(E.BIRTH_DATE).options["age_band_width"] == 10
    assert policy.rule_for(E.BANK_CARD).pipl_sensitive is True
    assert policy.free_text.action == "redact"
    assert policy.unclassified.action == "keep"
    assert len(policy.hash) == 64


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["entities"].update({"SOCIAL_SECURITY": d["entities"]["CN_MOBILE"]}), "unknown entity 'SOCIAL_SECURITY'"),
    (lambda d: d["entities"]["CN_MOBILE"].update({"action": "encrypt"}), "entities.CN_MOBILE.action"),
    (lambda d: d["entities"]["CN_MOBILE"].update({"acton": "token"}), "unknown key 'entities.CN_MOBILE.acton'"),
    (lambda d: d.update({"k_anonimity": {"k": 5}}), "unknown key 'k_anonimity'"),
    (lambda d: d["entities"]["CN_MOBILE"].update({"jrt_category": "C4"}), "jrt_category"),
    (lambda d: d["entities"]["BIRTH_DATE"]["options"].update({"age_band_width": 0}), "age_band_width"),
    (lambda d: d["entities"]["BIRTH_DATE"]["options"].update({"publish": "age"}), "options.publish must be"),
    (lambda d: d["entities"]["CN_MOBILE"].update({"action": "generalise"}), "generalise works on"),
    (lambda d: d["free_text"].update({"mode": "mask"}), "free_text.mode"),
    (lambda d: d.update({"columns": {"no_dot": {"action": "keep"}}}), "'table.column'"),
    (lambda d: d.update({"columns": {"t.c": {"action": "keep", "entity": "FOO"}}}), "unknown entity 'FOO'"),
])
def test_invalid_policy_gives_one_line_error(tmp_path, mutate, message):
    data = _default_data()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    text = str(info.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_missing_and_non_yaml_policy(tmp_path):
    with pytest.raises(ConfigError, match="no such policy file"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("entities: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_policy(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_policy(empty)


def test_hash_ignores_formatting_but_not_settings(tmp_path):
    data = _default_data()
    base = load_policy(DEFAULT_POLICY_PATH).hash
    assert load_policy(_write(tmp_path, data)).hash == base  # no comments, other layout: same policy
    data["entities"]["BIRTH_DATE"]["options"]["age_band_width"] = 5
    assert load_policy(_write(tmp_path, data)).hash != base


def test_cli_rejects_unknown_action(tmp_path, monkeypatch, capsys):
    from pipelines.cli.main import main

    data = _default_data()
    data["entities"]["PERSON"]["action"] = "shred"
    policy = _write(tmp_path, data)
    raw = tmp_path / "t.csv"
    raw.write_text("a,b\n1,2\n", encoding="utf-8")
    monkeypatch.setenv("KEQUN_PSEUDONYM_KEY", "k" * 40)
    with pytest.raises(SystemExit) as info:
        main(["pseudonymise", str(raw), "--out", str(tmp_path / "out"), "--policy", str(policy)])
    assert info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "entities.PERSON.action" in err and "shred" in err
    assert not (tmp_path / "out").exists()
