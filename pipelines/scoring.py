"""Batch scoring: a governed model version applied to a feature table (``kequn score``).

- :func:`load_verified_model` resolves ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``,
  downloads the version once and runs :func:`pipelines.governance.verify` on the very files it
  then loads (signed approval, signed promotion for an alias, artifact SHA-256, audit chain). An
  unapproved, unsigned or tampered version is refused; nothing is loaded.
- :func:`check_columns` compares a feature table with the model: the signature's required
  columns must be there with a compatible type, and the table may hold no column that the
  model's training table did not (a table from another feature definition). Every problem names
  the columns, never a value.
- :func:`score_frame` / :func:`score_table` return tokens plus the task's outputs
  (``churn_probability``, ``propensity_probability``, ``uplift``, or ``segment``, ``persona``,
  ``value_tier``; :data:`experiments.reference.OUTPUT_COLUMNS`). ``score_table(model_uri,
  features_df)`` is the one call other chains (plan) reuse.
- :func:`run_score` is the CLI step: read the feature table through the privacy firewall,
  score, write the Parquet file atomically with the model and feature-table digest in its
  metadata, and log a scoring run in MLflow (lineage and aggregates, no rows).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.reference import output_frame
from kequn import console
from kequn.errors import InputError, RegistryError

__all__ = ["LoadedModel", "SCORE_META_KEY", "check_columns", "is_score_file", "load_verified_model",
           "parse_model_uri", "read_score_meta", "run_score", "score_frame", "score_table"]

SCORE_META_KEY = b"kequn.score"
SCORING_EXPERIMENT = "kequn-scoring"
URI_HINT = "give models:/NAME@ALIAS or models:/NAME/VERSION"
MAX_NAMED = 12


@dataclass
class LoadedModel:
    """A verified, loaded model version and what scoring needs to know about it."""

    uri: str
    name: str
    version: str
    alias: str | None
    run_id: str
    task: str
    artifact_sha256: str
    pyfunc: Any
    #: the training table's columns (from the run's dataset record), or None when not recorded
    training_columns: list[str] | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}" + (f" (@{self.alias})" if self.alias else "")

    @property
    def inputs(self) -> list[Any]:
        schema = self.pyfunc.metadata.get_input_schema()
        return list(schema.inputs) if schema is not None else []

    def info(self) -> dict[str, Any]:
        return {"uri": self.uri, "name": self.name, "version": self.version, "alias": self.alias,
                "run_id": self.run_id, "task": self.task, "artifact_sha256": self.artifact_sha256}

    describe = info


def parse_model_uri(uri: str, *, option: str = "--model") -> tuple[str, str | None, str | None]:
    """``(name, alias, version)`` of ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""
    text = str(uri).strip()
    match = re.fullmatch(r"models:/([^/@\s]+)(?:@([A-Za-z0-9_\-]+)|/(\d+))", text)
    if not match:
        raise RegistryError(f"{option}: not a registered model URI; expected a registered model as "
                            f"models:/NAME@ALIAS or models:/NAME/VERSION. Got {text!r}")
    return match.group(1), match.group(2), match.group(3)


def load_verified_model(uri: str, *, option: str = "--model", tasks: tuple[str, ...] | None = None) -> LoadedModel:
    """Verify and load a registered version (see the module docstring).

    The one loader of a governed model (score, monitor and plan). ``option`` names the CLI
    option in error messages; with ``tasks``, a version whose training run is of another task
    (the run's ``kequn.task`` tag) is refused before anything is downloaded.

    Raises
    ------
    InputError
        The version's task is not one of ``tasks``.
    RegistryError
        The URI does not resolve (no such model, alias or version).
    VerificationError
        The version is not approved, a signature, digest or the audit chain does not verify.
    """
    import logging

    from mlflow.exceptions import MlflowException

    from pipelines import governance, signing
    from pipelines.registry import _client, _get_version, _registered_model

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    name, alias, version = parse_model_uri(uri, option=option)
    client = _client()
    if alias is not None:
        _registered_model(client, name)
        try:
            mv = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            raise RegistryError(f"{option} {uri}: model {name!r} has no alias @{alias}") from None
    else:
        mv = _get_version(client, name, version)
    try:
        run = client.get_run(mv.run_id) if mv.run_id else None
    except MlflowException:
        run = None
    task = (run.data.tags.get("kequn.task") if run else None) or "unknown"
    if tasks is not None and task not in tasks:
        raise InputError(f"{option} {name} v{mv.version}: {_a(task if task != 'unknown' else 'untagged')} model; "
                         f"{option} needs {' or '.join(_a(t) for t in tasks)} model")
    import shutil

    from experiments.packaging import load_pyfunc

    tmp = Path(tempfile.mkdtemp(prefix="kequn-score-model-"))
    try:  # the verified copy is read once by the loader (artifacts load eagerly), then removed
        local = governance.download_model(client, mv, tmp)
        digest = signing.artifact_digest(local)
        result = governance.verify(name=name, alias=alias, version=None if alias else str(mv.version),
                                   digest=digest, client=client)
        if result["version"] != str(mv.version):
            raise governance.VerificationError(f"@{alias} moved while it was being verified; retry")
        pyfunc = load_pyfunc(str(local))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return LoadedModel(uri=str(uri).strip(), name=mv.name, version=str(mv.version), alias=alias,
                       run_id=mv.run_id or "", task=task, artifact_sha256=digest, pyfunc=pyfunc,
                       training_columns=_training_columns(run), params=dict(run.data.params) if run else {},
                       metrics=dict(run.data.metrics) if run else {})


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _training_columns(run: Any) -> list[str] | None:
    """Column names of the training table as its run recorded them (``mlflow.log_input``)."""
    if run is None or run.inputs is None:
        return None
    for item in run.inputs.dataset_inputs or []:
        tags = {t.key: t.value for t in item.tags or []}
        if tags.get("mlflow.data.context", "training") != "training":
            continue
        try:
            schema = json.loads(item.dataset.schema or "{}")
        except json.JSONDecodeError:
            return None
        cols = [c.get("name") for c in schema.get("mlflow_colspec", []) if c.get("name")]
        return cols or None
    return None


def _kind(dtype: Any) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if isinstance(dtype, pd.CategoricalDtype):
        return "text"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_numeric_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "text"


#: signature type -> the dtype kinds of a column that may feed it
ACCEPTS = {"long": {"integer"}, "integer": {"integer"}, "double": {"integer", "float"},
           "float": {"integer", "float"}, "boolean": {"boolean"}, "string": {"text"},
           "datetime": {"datetime"}}


def _identifier_name(name: str) -> bool:
    lower = name.lower()
    return lower == "id" or lower.endswith(("_no", "_id"))


def _names(columns: list[str]) -> str:
    shown = ", ".join(columns[:MAX_NAMED])
    return shown + (f" (+{len(columns) - MAX_NAMED} more)" if len(columns) > MAX_NAMED else "")


def check_columns(model: LoadedModel, frame: pd.DataFrame, *, where: str = "the feature table",
                  id_col: str | None = None) -> list[str]:
    """The signature's columns present in ``frame``; refuse a table that does not fit the model.

    Raises
    ------
    InputError
        One line naming the missing columns, the extra columns (not in the model's training
        table) and the columns of a wrong type (expected vs found kind).
    """
    missing, wrong, present = [], [], []
    for spec in model.inputs:
        col = spec.name
        if col not in frame.columns:
            if spec.required:
                missing.append(col)
            continue
        present.append(col)
        expected = getattr(spec.type, "name", None)
        found = _kind(frame[col].dtype)
        if expected is None:  # AnyType: text and categories (numbers were declared as numbers)
            if found not in ("text", "boolean") and frame[col].notna().any():
                wrong.append(f"{col} (text expected, got {frame[col].dtype})")
        elif expected in ACCEPTS and found not in ACCEPTS[expected]:
            wrong.append(f"{col} ({expected} expected, got {frame[col].dtype})")
    extra: list[str] = []
    if model.training_columns:
        from experiments.data import LABEL_COLUMNS

        # The training run's dataset record leaves out ids and the labels of other tasks.
        known = set(model.training_columns) | {id_col} | {s.name for s in model.inputs} | set(LABEL_COLUMNS) \
            | {model.params.get("treatment") or "treatment"}
        extra = [c for c in frame.columns if c not in known and not _identifier_name(str(c))]
    problems = []
    if missing:
        problems.append(f"missing columns {_names(missing)}")
    if extra:
        problems.append(f"extra columns not in its training table {_names(extra)}")
    if wrong:
        problems.append(f"wrong types {_names(wrong)}")
    if problems:
        raise InputError(f"{where} does not match {model.label}'s signature: " + "; ".join(problems))
    return present


def score_frame(model: LoadedModel, frame: pd.DataFrame, *, where: str = "the feature table",
                id_col: str | None = None) -> pd.DataFrame:
    """Tokens plus the model's outputs for every row of ``frame`` (columns checked first)."""
    import logging

    from experiments.data import detect_id_column

    id_col = detect_id_column(frame, id_col)
    if id_col is None:
        raise InputError(f"{where} has no customer token column (customer_no or a tk_ token column); "
                         "scores without tokens cannot be used")
    columns = check_columns(model, frame, where=where, id_col=id_col)
    logging.getLogger("mlflow.models.utils").setLevel(logging.ERROR)
    prediction = _predict(model, frame[columns])
    outputs = output_frame(model.task, prediction)
    if len(outputs) != len(frame):
        raise InputError(f"{model.label} returned {len(outputs)} rows for {len(frame)}")
    out = pd.DataFrame({id_col: frame[id_col].astype("string").to_numpy()})
    for col in outputs.columns:
        out[col] = outputs[col].to_numpy()
    return out


def _predict(model: LoadedModel, X: pd.DataFrame) -> Any:
    """The model's prediction for the columns ``X`` that :func:`check_columns` accepted."""
    from experiments.reference import predict

    return predict(model.pyfunc, X)


def score_table(model_uri: str, features_df: pd.DataFrame) -> pd.DataFrame:
    """Verify and load ``model_uri`` and score ``features_df``: tokens + the task's output columns."""
    return score_frame(load_verified_model(model_uri), features_df)


# --------------------------------------------------------------------------------------------
# the CLI step


def read_score_meta(path: Path) -> dict[str, Any] | None:
    """The scoring metadata of a file written by ``kequn score``, or None."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError):
        return None
    raw = meta.get(SCORE_META_KEY)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None


def is_score_file(path: Path) -> bool:
    return read_score_meta(path) is not None


def _aggregates(scores: pd.DataFrame, id_col: str) -> dict[str, Any]:
    """Summary numbers of the outputs (no row): mean and deciles, or shares per segment."""
    summary: dict[str, Any] = {"rows": int(len(scores))}
    for col in scores.columns:
        if col == id_col:
            continue
        s = scores[col]
        if col in ("segment", "persona", "value_tier"):
            summary[f"{col}_shares"] = {str(k): round(float(v), 6) for k, v in
                                        s.astype(str).value_counts(normalize=True).sort_index().items()}
        else:
            q = s.quantile([0.1, 0.5, 0.9])
            summary[col] = {"mean": float(s.mean()), "p10": float(q.iloc[0]), "p50": float(q.iloc[1]),
                            "p90": float(q.iloc[2])}
    return summary


def run_score(*, model_uri: str, data: str | Path, out: str | Path, json_out: str | Path | None = None) -> dict[str, Any]:
    """``kequn score``: verify, score, write ``out`` atomically, log the scoring run.

    Raises
    ------
    InputError
        ``out`` exists and is not an earlier ``kequn score`` output, is not ``.parquet``, or the
        table does not fit the model.
    LineageError
        The feature table is not pseudonymised data.
    RegistryError / VerificationError
        The model URI does not resolve, or the version is not approved or does not verify.
    """
    import mlflow
    import pyarrow as pa
    import pyarrow.parquet as pq

    from experiments.data import load_training_table, table_digest
    from kequn.io import atomic_path, check_output_file, sha256_file, write_json
    from kequn.lineage import PARQUET_LINEAGE_KEY, read_parquet_lineage
    from kequn.tracking import AUTHOR_TAG, current_user

    started = time.perf_counter()
    out, data = Path(out), Path(data)
    if out.suffix.lower() != ".parquet":
        raise InputError(f"--out {out}: the scores are written as Parquet; give a .parquet file name")
    check_output_file(out, is_earlier_output=is_score_file)
    parse_model_uri(model_uri)
    with console.stage(f"verify and load {model_uri}") as st:
        model = load_verified_model(model_uri)
        st.done(f"{model.label}, task {model.task}, artifact sha256 {model.artifact_sha256[:12]}…")
    with console.stage(f"read {data}") as st:
        frame, lineage = load_training_table(data)
        digest = table_digest(frame)
        st.done(f"{len(frame):,} rows, digest {digest}")
    with console.stage(f"score {len(frame):,} customers") as st:
        scores = score_frame(model, frame, where=str(data))
        id_col = scores.columns[0]
        st.done(", ".join(c for c in scores.columns[1:]))
    feature_meta = read_parquet_lineage(data) or {}
    score_meta = {
        "kind": "scores", "model": model.info(),
        "feature_table": {"file": data.name, "digest": digest, "rows": int(len(frame)),
                          "snapshot": lineage.extra.get("snapshot"), "manifest_id": lineage.manifest_id},
        "id_column": id_col, "columns": list(scores.columns),
        "scored_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "scored_by": current_user(),
    }
    # The scores are derived from pseudonymised data: they carry its lineage for traceability. They
    # are not a signed feature table: the firewall refuses them as training input.
    derived = {**feature_meta, "kind": "scores", "manifest_id": lineage.manifest_id,
               "policy_hash": lineage.policy_hash, "key_fingerprint": lineage.key_fingerprint,
               "clean_dir": lineage.clean_dir, "derived_from": {"table": data.name, "digest": digest}}
    aggregates = _aggregates(scores, id_col)

    from kequn.tracking import configure_tracking

    configure_tracking(must_exist=True)
    with console.stage("write scores and log the scoring run") as st:
        with atomic_path(out) as tmp:
            experiment = mlflow.set_experiment(SCORING_EXPERIMENT)
            run = mlflow.MlflowClient().create_run(
                experiment.experiment_id, run_name=f"score-{model.name}-v{model.version}-{digest[:8]}",
                tags={AUTHOR_TAG: current_user(), "kequn.step": "score", **lineage.tags(),
                      "kequn.table": data.stem, "kequn.table_digest": digest,
                      "kequn.snapshot": str(lineage.extra.get("snapshot") or "unknown"),
                      "kequn.model.name": model.name, "kequn.model.version": model.version,
                      "kequn.model.alias": model.alias or "", "kequn.model.run_id": model.run_id,
                      "kequn.model.task": model.task, "kequn.model.artifact_sha256": model.artifact_sha256})
            run_id = run.info.run_id
            try:
                score_meta["scoring_run_id"] = run_id
                table = pa.Table.from_pandas(scores, preserve_index=False)
                meta = dict(table.schema.metadata or {})
                meta[SCORE_META_KEY] = json.dumps(score_meta, ensure_ascii=False, default=str).encode()
                meta[PARQUET_LINEAGE_KEY] = json.dumps(derived, ensure_ascii=False, default=str).encode()
                pq.write_table(table.replace_schema_metadata(meta), tmp)
                _log_scoring_run(run_id, model, frame, data, digest, aggregates, sha256_file(tmp))
            except BaseException:
                mlflow.MlflowClient().set_terminated(run_id, status="FAILED")
                raise
        st.done(f"{out} ({len(scores):,} rows), MLflow run {run_id}")
    seconds = time.perf_counter() - started
    result = {"out": str(out), "rows": int(len(scores)), "columns": list(scores.columns), "model": model.info(),
              "feature_table_digest": digest, "scoring_run_id": run_id, "aggregates": aggregates,
              "seconds": round(seconds, 2)}
    if json_out:
        write_json(json_out, result)
    first = next((c for c in scores.columns[1:]), "")
    lines = [f"scored {len(scores):,} customers with {model.label} ({model.task}) in {seconds:.1f} s → {out}"]
    if first in aggregates and isinstance(aggregates[first], dict) and "mean" in aggregates[first]:
        a = aggregates[first]
        lines.append(f"  {first}: mean {a['mean']:.4f}, p10 {a['p10']:.4f}, p50 {a['p50']:.4f}, p90 {a['p90']:.4f}")
    for key in ("persona_shares", "value_tier_shares"):
        if key in aggregates:
            lines.append(f"  {key.removesuffix('_shares')}: " + ", ".join(f"{k} {v:.1%}" for k, v in aggregates[key].items()))
    lines.append(f"  feature table digest {digest}; scoring run {run_id} (experiment {SCORING_EXPERIMENT})")
    result["summary"] = "\n".join(lines)
    return result


def _log_scoring_run(run_id: str, model: LoadedModel, frame: pd.DataFrame, data: Path, digest: str,
                     aggregates: dict[str, Any], output_sha256: str) -> None:
    """Params, aggregate metrics, the feature table as a dataset record (digest, schema, counts:
    MLflow stores no row) and the output's SHA-256 on the scoring run; ends it FINISHED."""
    import math
    import warnings

    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    client = mlflow.MlflowClient()
    now = int(time.time() * 1000)
    params = [Param("model_uri", model.uri), Param("model_version", model.version),
              Param("n_rows", str(len(frame))), Param("feature_table_digest", digest)]
    metrics = []
    for col, value in aggregates.items():
        if isinstance(value, dict) and "mean" in value:
            metrics += [Metric(f"{col}_{k}", float(v), now, 0) for k, v in value.items() if math.isfinite(v)]
        elif isinstance(value, dict):
            metrics += [Metric(f"{col.removesuffix('_shares')}_share_{k}"[:250], float(v), now, 0)
                        for k, v in value.items()]
    metrics.append(Metric("n_rows", float(len(frame)), now, 0))
    client.log_batch(run_id, metrics=metrics, params=params, tags=[RunTag("kequn.output_sha256", output_sha256)])
    from mlflow.entities import Dataset, DatasetInput, InputTag

    from experiments.signature import input_schema

    # The dataset record is built from the dtypes (mlflow.data.from_pandas would infer the schema
    # value by value: about 35 s per million rows); the input columns only, no id.
    columns = [c for c in frame.columns if c in {s.name for s in model.inputs}]
    schema = input_schema(frame, columns)
    dataset = Dataset(name=data.stem, digest=digest, source_type="local",
                      source=json.dumps({"uri": str(data.resolve())}),
                      schema=json.dumps({"mlflow_colspec": schema.to_dict()}),
                      profile=json.dumps({"num_rows": int(len(frame)), "num_elements": int(len(frame) * len(columns))}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "scoring")])])
    client.set_terminated(run_id, status="FINISHED")
