"""A bank's own recognizers in the policy: in the bulk path, in Presidio, in pseudonymise, and bad input."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from kequn.errors import ConfigError
from privacy import entities as E
from privacy.policy import DEFAULT_POLICY_PATH, load_policy
from privacy.text import find_spans


def _policy(tmp_path, custom, deny=None):
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    data["custom_recognizers"] = custom
    if deny is not None:
        (tmp_path / "vip.txt").write_text(deny, encoding="utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


CUSTOM = [{"name": "contract_no", "entity": "CUSTOMER_NO", "pattern": "HT[0-9]{10}", "context": ["合同"]},
          {"name": "vip", "entity": "PERSON", "deny_list": "vip.txt"}]


def test_custom_pattern_and_deny_list_in_bulk_path_and_presidio_alike(tmp_path):
    from privacy.analyzer import analyze_text, build_analyzer

    policy = load_policy(_policy(tmp_path, CUSTOM, deny="# VIP\n东方不败\n\n"))
    texts = pd.Series(["合同号HT2024000123已签，东方不败来行", "编号HT20240001234", "XHT2024000123"])
    spans = find_spans(texts, custom=policy.custom)
    got = [(r, texts.iloc[r][s:e], ent) for r, s, e, ent in zip(spans["row"], spans["start"], spans["end"],
                                                                spans["entity"], strict=True)]
    assert got == [(0, "HT2024000123", E.CUSTOMER_NO), (0, "东方不败", E.PERSON)]
    engine = build_analyzer(custom=policy.custom)
    presidio = [(texts.iloc[0][r.start:r.end], r.entity_type) for r in analyze_text(texts.iloc[0], analyzer=engine)]
    assert sorted(presidio) == sorted([(t, e) for _, t, e in got])
    for text in texts.iloc[1:]:
        assert analyze_text(text, analyzer=engine, entities=[E.CUSTOMER_NO]) == []
    assert find_spans(texts).empty or E.CUSTOMER_NO not in set(find_spans(texts)["entity"])


def test_pseudonymise_redacts_and_residual_scan_sees_custom_formats(tmp_path):
    from privacy.pseudonymise import pseudonymise_frames

    policy = load_policy(_policy(tmp_path, CUSTOM, deny="东方不败\n"))
    texts = [f"客户签订合同HT20240001{i:02d}，已告知相关规定与风险，第{i}次回访。" for i in range(30)]
    notes = pd.DataFrame({"note_id": [str(i) for i in range(30)], "note": texts})
    out = pseudonymise_frames({"service_notes": notes}, policy=policy, key=b"custom-recognizer-key-0123456789abcdef")
    assert out[0].frame["note"].tolist() == [f"客户签订合同<客户号>，已告知相关规定与风险，第{i}次回访。" for i in range(30)]
    assert out[0].residual == []
    from privacy.scan import residual_findings

    leaked = pd.DataFrame({"memo": ["合同HT2024000123待归档"] * 3})
    assert any(f["entity"] == E.CUSTOMER_NO for f in residual_findings(leaked, "t", custom=policy.custom))
    assert not any(f["entity"] == E.CUSTOMER_NO for f in residual_findings(leaked, "t"))


@pytest.mark.parametrize(("custom", "message"), [
    ([{"name": "x", "entity": "CONTRACT", "pattern": "HT[0-9]+"}], "custom_recognizers.x: unknown entity 'CONTRACT'"),
    ([{"name": "x", "entity": "CUSTOMER_NO", "pattern": "HT[0-9"}], "custom_recognizers.x: invalid regular expression"),
    ([{"name": "x", "entity": "CUSTOMER_NO", "pattern": "[0-9]*"}], "custom_recognizers.x: the pattern matches the empty string"),
    ([{"name": "x", "entity": "PERSON", "deny_list": "missing.txt"}], "custom_recognizers.x: cannot read the deny list"),
    ([{"name": "x", "entity": "PERSON"}], "custom_recognizers.x: give exactly one of 'pattern' or 'deny_list'"),
    ([{"name": "x", "entity": "PERSON", "regex": "a"}], "regex"),
    ([{"name": "x", "entity": "CUSTOMER_NO", "pattern": "A1"}, {"name": "x", "entity": "CUSTOMER_NO", "pattern": "B1"}],
     "used twice"),
])
def test_bad_custom_recognizers_are_one_line_config_errors(tmp_path, custom, message):
    with pytest.raises(ConfigError, match=None) as err:
        load_policy(_policy(tmp_path, custom))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_cli_pseudonymise_with_an_invalid_regex_publishes_nothing(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame({"note_id": ["1"], "note": ["无"]}).to_csv(raw / "service_notes.csv", index=False)
    policy = _policy(tmp_path, [{"name": "bad", "entity": "CUSTOMER_NO", "pattern": "(HT"}])
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "pseudonymise", str(raw), "--out",
                           str(tmp_path / "clean"), "--policy", str(policy)], capture_output=True, text=True,
                          timeout=120, env={"KEQUN_PSEUDONYM_KEY": "k" * 40, "PATH": "/usr/bin:/bin",
                                            "PYTHONPATH": str(__import__("pathlib").Path(__file__).parents[1])})
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("kequn: error:") and "custom_recognizers.bad: invalid regular expression" in lines[-1]
    assert not (tmp_path / "clean").exists()
