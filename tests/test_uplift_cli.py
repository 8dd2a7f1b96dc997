"""`kequn train --task uplift` through the CLI on a small clean zone."""

from __future__ import annotations

import json

import pytest

from tests.test_uplift import planted


def test_cli_train_uplift_writes_json_metrics(mlflow_uri, clean_zone_factory, tmp_path, capsys):
    from pipelines.cli.main import main

    frame = planted(1000, 2)[0].rename(columns={"treatment": "treated", "response": "bought"})
    frame["age"] = (frame["x0"] * 10 + 45).round().astype("int64")  # an integer feature
    data = clean_zone_factory({"customers": frame}) / "customers.parquet"
    out = tmp_path / "u.json"
    main(["train", "--task", "uplift", "--data", str(data), "--treatment", "treated", "--label", "bought",
          "--trials", "1", "--json", str(out)])
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["run_id"]
    assert {"test_qini_auc", "test_auuc", "test_uplift_at_30"} <= set(result["metrics"])
    assert "uplift run" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--treatment", "nope"], "treatment column 'nope'"),
    (["--label", "x1"], "x1"),
])
def test_cli_bad_uplift_input_is_one_line(mlflow_uri, clean_zone_factory, capsys, args, message):
    from pipelines.cli.main import main

    data = clean_zone_factory({"campaign": planted(200)[0]}) / "campaign.parquet"
    with pytest.raises(SystemExit) as info:
        main(["train", "--task", "uplift", "--data", str(data), "--trials", "1", *args])
    assert info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()  # progress lines, then the error
    assert err[-1].startswith("kequn: error:") and message in err[-1]
    assert not any("Traceback" in line for line in err)
