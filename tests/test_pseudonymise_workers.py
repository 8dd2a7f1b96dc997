"""The local engine's worker processes change nothing: 1 vs 3 workers give byte-identical
tables, reports and manifests (apart from the run id and time), in placeholder and token mode."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from kequn.errors import InputError
from privacy.checksums import gb11643_check_digit, luhn_check_digit
from privacy.policy import DEFAULT_POLICY_PATH
from privacy.pseudonymise import pseudonymise, redact_column, resolve_workers

KEY = b"workers-test-key-0123456789abcdef-0123456789"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


def _table(n: int) -> pd.DataFrame:
    rows = []
    for i in range(n):
        name = SURNAMES[i % 20] + GIVEN[(i * 7) % len(GIVEN)] + GIVEN[(i * 3) % len(GIVEN)] * (i % 2)
        rid = f"11010{i % 10}19{60 + i % 40:02d}0{1 + i % 9}1{i % 10}{i % 1000:03d}"
        rid += gb11643_check_digit(rid)
        card = "622202" + f"{i:012d}"
        card += luhn_check_digit(card)
        mobile = f"13{i % 10}{i:08d}"
        other = SURNAMES[(i + 5) % 20] + GIVEN[(i + 11) % len(GIVEN)]
        note = [f"客户{name}来电，手机{mobile}，卡号{card}。",
                f"{name}申请变更地址为北京市朝阳区光华路{i % 90 + 1}号，经办{other}复核。",
                f"Customer called; ID {rid[:6]} {rid[6:14]} {rid[14:]}; 邮箱 u{i}@example.cn",
                f"理财经理{other}陪同客户购买产品，金额{i * 13}元。", ""][i % 5]
        rows.append({"customer_no": f"KH{i:010d}", "name": name, "id_number": rid, "mobile": mobile,
                     "card_no": card, "email": f"u{i}@example.cn", "aum": str(i * 101 % 99991),
                     "note": note or None})
    return pd.DataFrame(rows)


_REAL_CHUNK = __import__("privacy.pseudonymise", fromlist=["_redact_chunk"])._redact_chunk


def _spy(arg):
    """Runs in the forked workers: record which process did a chunk."""
    with open(os.environ["KEQUN_TEST_PIDS"], "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    return _REAL_CHUNK(arg)


_REAL_STRUCTURED = __import__("privacy.pseudonymise", fromlist=["_structured_job"])._structured_job


def _structured_spy(name):
    """Runs in the forked process of the structured columns: record it."""
    with open(os.environ["KEQUN_TEST_PIDS"] + ".structured", "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    return _REAL_STRUCTURED(name)


def _run(tmp: Path, csv: Path, policy: Path | None, workers: int) -> dict[str, bytes]:
    out = tmp / f"clean_{workers}_{policy.stem if policy else 'default'}"
    pseudonymise({"t": csv}, out=out, policy_path=policy, key=KEY, workers=workers)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    report = json.loads((out / "privacy_report.json").read_text(encoding="utf-8"))
    for doc in (manifest, report):
        _drop_run_fields(doc)
    return {"table": (out / "t.parquet").read_bytes(), "manifest": json.dumps(manifest, sort_keys=True).encode(),
            "report": json.dumps(report, sort_keys=True).encode()}


def _drop_run_fields(doc: object) -> None:
    if isinstance(doc, dict):
        # (the signature covers the run's id and time, so it differs between any two runs)
        for k in ("manifest_id", "created_at", "seconds", "generated_at", "duration_s", "signature"):
            doc.pop(k, None)
        for v in doc.values():
            _drop_run_fields(v)
    elif isinstance(doc, list):
        for v in doc:
            _drop_run_fields(v)


@pytest.mark.parametrize("mode", ["placeholder", "token"])
def test_one_and_three_workers_publish_the_same_bytes(tmp_path, monkeypatch, mode):
    import privacy.pseudonymise as ps

    monkeypatch.setattr(ps, "MIN_ROWS_PER_WORKER", 40)  # a small table still goes to 3 processes
    pids = tmp_path / "pids.txt"
    monkeypatch.setenv("KEQUN_TEST_PIDS", str(pids))
    monkeypatch.setattr(ps, "_redact_chunk", _spy)
    monkeypatch.setattr(ps, "_structured_job", _structured_spy)
    csv = tmp_path / "t.csv"
    _table(300).to_csv(csv, index=False)
    policy = None
    if mode == "token":
        doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
        doc.setdefault("free_text", {})["mode"] = "token"
        policy = tmp_path / "token.yaml"
        policy.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    one = _run(tmp_path, csv, policy, 1)
    assert not pids.exists()  # one worker: no pool
    three = _run(tmp_path, csv, policy, 3)
    workers = set(pids.read_text(encoding="utf-8").split())
    assert len(workers) == 3 and str(os.getpid()) not in workers
    # tokens and generalisation were computed in a process of their own (while the dictionary
    # was built here), and the output is still the same bytes
    structured = set(Path(f"{pids}.structured").read_text(encoding="utf-8").split())
    assert len(structured) == 1 and str(os.getpid()) not in structured
    assert one["table"] == three["table"]
    assert one["manifest"] == three["manifest"]
    assert one["report"] == three["report"]
    notes = pd.read_parquet(tmp_path / f"clean_3_{policy.stem if policy else 'default'}" / "t.parquet")["note"]
    assert not notes.dropna().str.contains("622202").any()  # the chunks were redacted, not passed through


def test_chunks_are_joined_in_order():
    texts = pd.Series([f"客户王芳来电，手机1391234{i:04d}" for i in range(90)], dtype="string")
    red1, spans1 = redact_column(texts, None, matcher=None, custom=(), key=None, workers=1)
    red3, spans3 = redact_column(texts, None, matcher=None, custom=(), key=None, workers=3, min_rows=10)
    assert red1.tolist() == red3.tolist()
    cols = ["row", "start", "end", "entity"]
    assert spans1.sort_values(cols)[cols].values.tolist() == spans3.sort_values(cols)[cols].values.tolist()
    assert len(spans1) >= 90


def test_workers_setting(monkeypatch):
    monkeypatch.setenv("KEQUN_WORKERS", "3")
    assert resolve_workers() == 3
    assert resolve_workers(2) == 2
    monkeypatch.setenv("KEQUN_WORKERS", "many")
    with pytest.raises(InputError):
        resolve_workers()
    monkeypatch.delenv("KEQUN_WORKERS")
    assert resolve_workers() >= 1
    with pytest.raises(InputError):
        resolve_workers(0)


def test_the_residual_scan_skips_only_free_text_the_last_redaction_pass_verified():
    from privacy.scan import residual_findings

    texts = [f"客户来电咨询理财产品，预留手机1391234{i:04d}，已核实身份并登记。" for i in range(60)]
    frame = pd.DataFrame({"note": texts, "memo": texts})
    found = {f["column"] for f in residual_findings(frame, "t", verified={"note"})}
    assert found == {"memo"}
    assert {f["column"] for f in residual_findings(frame, "t")} == {"note", "memo"}
    # redact_column says "clean" only when its last pass found nothing
    red, _spans, clean = redact_column(pd.Series(texts, dtype="string"), None, matcher=None, custom=(),
                                       key=None, with_clean=True)
    assert clean and not red.str.contains("1391234").any()


def _structured_fails(name):
    raise RuntimeError("the structured columns' process failed too")


def _dictionary_fails(*args, **kwargs):
    raise InputError("the exact-match dictionary failed")


def test_the_dictionary_error_wins_over_the_structured_process(tmp_path, monkeypatch):
    """When building the exact-match dictionary fails while the structured columns' process
    runs (and that process fails as well), the dictionary's error is the one reported."""
    import privacy.pseudonymise as ps

    monkeypatch.setattr(ps, "MIN_ROWS_PER_WORKER", 40)  # a small table still forks the process
    monkeypatch.setattr(ps, "_structured_job", _structured_fails)
    monkeypatch.setattr(ps, "_exact_matcher", _dictionary_fails)
    csv = tmp_path / "t.csv"
    _table(100).to_csv(csv, index=False)
    with pytest.raises(InputError, match="exact-match dictionary failed"):
        pseudonymise({"t": csv}, out=tmp_path / "clean", policy_path=None, key=KEY, workers=2)
    assert not (tmp_path / "clean").exists()


def test_the_second_pass_reads_a_placeholder_as_a_cue():
    """The detection pre-filter is not complete: a WeChat ID after ``vx``/``wechat`` has no cue of
    its own (no 4 digits, no 号, no name word). When the first pass redacts the customer's own name
    there, the second pass sees the cue 姓名 in ``<姓名>`` and finds the ID. Not counting cues inside
    placeholders in the second pass would publish it (so that is no safe speed-up)."""
    for note in ("王芳 vx wfang_abc", "王芳 wechat: wfang_abc"):
        red, spans = redact_column(pd.Series([note], dtype="string"), pd.Series(["王芳"], dtype="string"),
                                   matcher=None, custom=(), key=None)
        assert "wfang_abc" not in red.iloc[0] and "<微信号>" in red.iloc[0] and "<姓名>" in red.iloc[0]
        assert set(spans["entity"]) == {"PERSON", "WECHAT_ID"}


def test_a_wechat_lead_alone_gets_the_row_scanned():
    """No other cue in the row (a name the pipeline does not know, no digit, no 号): the words that
    introduce a WeChat ID are themselves a cue of the pre-filter, so the ID is not published."""
    for note in ("张三 vx wfang_abc", "张三 WeChat wfang_abc", "张三 Weixin wfang_abc", "加 WX wfang_abc 联系"):
        red, spans = redact_column(pd.Series([note], dtype="string"), None, matcher=None, custom=(), key=None)
        assert "wfang_abc" not in red.iloc[0], (note, red.iloc[0])
        assert "WECHAT_ID" in set(spans["entity"])
