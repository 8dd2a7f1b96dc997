"""``kequn pseudonymise``: raw tables → clean zone (Parquet + manifest + privacy report).

Steps, per table: read (every CSV column as text) → classify columns → apply the policy per
column (``token`` | ``drop`` | ``generalise`` | ``redact`` | ``keep``) → publish columns that
hold only numbers as numbers → k-anonymity over the quasi-identifiers (optionally suppress) →
residual scan of the *output* with the same detectors. Then, in one atomic folder swap:
``OUT/<table>.parquet`` (only when everything passed), ``OUT/manifest.json``,
``OUT/privacy_report.json`` and ``OUT/privacy_report.html``.

The manifest lists every published table with its SHA-256 and is signed (Ed25519) with the
privacy step's key (:func:`kequn.signing.ensure_step_key`; not the pseudonymisation key), so
``features`` and ``train`` can tell it from a hand-written or edited one.

If the policy is not met or the residual scan finds a direct identifier, the reports and a
manifest with ``status: "failed"`` are written, no table is published, and
:class:`~kequn.errors.PolicyNotMetError` is raised afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kequn import __version__, console
from kequn.errors import InputError, PolicyNotMetError
from kequn.io import (
    atomic_dir,
    check_output_dir,
    detect_encoding,
    read_table,
    sha256_file,
    write_json,
    write_text,
)
from kequn.signing import ensure_step_key, sign_record
from kequn.spark import check_engine, quiet_pandas_warnings, spark_session
from privacy import entities as E
from privacy.checksums import gb11643_valid_array, luhn_valid_array
from privacy.classify import ColumnFinding, classify_columns
from privacy.exact_match import ExactMatcher, matcher_for_tables
from privacy.generalise import (
    BIRTH_LEVELS,
    age_band,
    birth_level,
    numeric_if_possible,
    parse_dates,
    province_city,
    to_month,
)
from privacy.keys import key_fingerprint
from privacy.policy import Policy, load_policy
from privacy.risk import enforce_k
from privacy.scan import residual_findings
from privacy.text import find_spans, redact_texts, span_method_counts
from privacy.tokens import distinct_canonical, token_replacer, tokenise_series

MANIFEST_NAME = "manifest.json"
REPORT_JSON = "privacy_report.json"
REPORT_HTML = "privacy_report.html"
#: Placeholder of a whole structured value replaced with action ``redact``.
REDACTED_VALUE = "<已删除>"

#: Shape checks of canonical identifiers (malformed values are still tokenised, and counted).
_SHAPES = {
    E.CN_MOBILE: r"1[3-9]\d{9}",
    E.CN_LANDLINE: r"0\d{9,11}",
    E.EMAIL_ADDRESS: r"[^@\s]+@[^@\s]+\.[a-z]{2,}",
    E.CN_PASSPORT: r"(?:[EGDSP]\d{8}|E[A-Z]\d{7}|[EGDSP]\d{7})",
    E.HK_MACAU_PERMIT: r"[CHM]\d{8,10}|[CHM][A-Z]?\d{8}",
}


@dataclasses.dataclass
class ColumnResult:
    """What was done to one input column (no values)."""

    column: str
    entity: str
    confidence: float
    evidence: str
    kind: str
    action: str
    outputs: list[str]
    jrt_category: str | None
    pipl_sensitive: bool | None
    present: int = 0
    malformed: int = 0
    override: bool = False
    mode: str | None = None
    spans: dict[str, int] = dataclasses.field(default_factory=dict)
    #: ``{entity: {method: n}}``: how the spans were found (exact match, pattern, statistical)
    span_methods: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    redacted_cells: int = 0
    decided_by: str = "values"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class TableResult:
    """One table after pseudonymisation."""

    table: str
    path: Path
    frame: pd.DataFrame
    columns: list[ColumnResult]
    output_entities: dict[str, str]
    k_anonymity: dict[str, Any] | None = None
    residual: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: free-text output columns the last redaction pass found empty (see :func:`redact_column`)
    verified_text: set[str] = dataclasses.field(default_factory=set)


#: Detection passes over a free-text column (each on what the previous pass left).
MAX_REDACTION_PASSES = 3

def pseudonymise(tables: dict[str, Path], *, out: Path, policy_path: Path | None, key: bytes,
                 encoding: str | None = None, workers: int | None = None, engine: str = "local",
                 spark_master: str | None = None) -> dict[str, Any]:
    """Pseudonymise ``tables`` into the clean zone ``out`` under the policy.

    Parameters
    ----------
    tables:
        ``{table name: path}`` (:func:`kequn.io.find_tables`).
    out:
        The clean-zone folder; replaced atomically (an earlier clean zone is accepted).
    policy_path:
        Policy YAML; ``None`` for conf/privacy_policy.yaml.
    key:
        The pseudonymisation key (:func:`privacy.keys.load_key`); never written anywhere.
    encoding:
        CSV encoding; detected (UTF-8 with/without BOM, GB18030/GBK) when ``None``.
    workers:
        Processes for the free-text detection (default: ``$KEQUN_WORKERS``, else every core the
        process may use); tokens, redactions and manifests are the same for any number.
    engine:
        ``local`` (this process) or ``spark`` (:mod:`privacy.spark_engine`: Spark reads the
        tables and its executors tokenise and redact; the rest runs here, with the same code).
        The output is the same; the manifest records the engine.
    spark_master:
        ``--spark-master`` for ``spark`` (:func:`kequn.spark.spark_session`).

    Returns
    -------
    dict
        ``summary`` (human-readable lines), ``status``, ``out``, ``manifest`` and the report
        paths, ``tables`` (rows and columns per table), ``k_anonymity`` and ``residual_scan``.

    Raises
    ------
    InputError, ConfigError
        Unreadable/empty input, invalid policy: nothing is written.
    PolicyNotMetError
        After writing both reports and a failed manifest, when k-anonymity is not met or the
        residual scan finds a direct identifier; no table is published.
    """
    started = time.perf_counter()
    out = Path(out)
    check_output_dir(out, marker=MANIFEST_NAME)  # fail before the work, not after it
    policy = load_policy(policy_path)
    fingerprint = key_fingerprint(key)
    step_key, step_note = ensure_step_key()  # signs the manifest; separate from the pseudonymisation key
    if step_note:
        console.info(f"  {step_note}")

    engine = check_engine(engine)
    if engine == "spark":
        from privacy import spark_engine

        with quiet_pandas_warnings(), spark_session(spark_master, app="kequn-pseudonymise") as spark:
            with console.stage(f"read {len(tables)} table(s) with Spark") as st:
                frames, inputs, sframes = spark_engine.read_tables(spark, tables, encoding)
                st.done(f"{sum(len(f) for f in frames.values()):,} rows")
            results = pseudonymise_frames(frames, policy=policy, key=key, paths=tables, workers=workers,
                                          row_work=spark_engine.row_work(sframes))
    else:
        frames, inputs = _read_tables(tables, encoding)
        results = pseudonymise_frames(frames, policy=policy, key=key, paths=tables, workers=workers)
    n_findings = sum(_finding_count(f) for r in results for f in r.residual)
    k_ok = all(r.k_anonymity is None or r.k_anonymity["met"] for r in results)
    risk_failing = [r.table for r in results if r.k_anonymity is not None
                    and not r.k_anonymity.get("risk", {}).get("met", True)]
    residual_clean = n_findings == 0
    passed = k_ok and residual_clean and not risk_failing
    status = "passed" if passed else "failed"
    reasons = []
    if not k_ok:
        failing = [r.table for r in results if r.k_anonymity is not None and not r.k_anonymity["met"]]
        reasons.append(f"k-anonymity (k={policy.k_anonymity.k}) not met in table(s) {', '.join(failing)}")
    if risk_failing:
        reasons.append(f"l-diversity (l={policy.risk.l}) or t-closeness (t={policy.risk.t:g}) of the sensitive "
                       f"attributes not met in table(s) {', '.join(risk_failing)} (risk.on_violation is fail)")
    if not residual_clean:
        dirty = sorted({r.table for r in results if r.residual})
        reasons.append(f"the residual scan found {n_findings} direct identifier(s) in table(s) {', '.join(dirty)}")

    manifest_id = uuid.uuid4().hex
    created_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    outputs: list[dict[str, Any]] = []
    from privacy.report import build_report, render_html

    with atomic_dir(out, marker=MANIFEST_NAME) as tmp:
        if passed:
            for result in results:
                file = tmp / f"{result.table}.parquet"
                result.frame.to_parquet(file, index=False)
                outputs.append({"table": result.table, "file": file.name, "sha256": sha256_file(file),
                                "rows": int(len(result.frame)), "columns": [str(c) for c in result.frame.columns]})
        manifest = {
            "manifest_id": manifest_id,
            "status": status,
            "created_at": created_at,
            "tool": "kequn",
            "tool_version": __version__,
            "engine": engine,
            "policy_hash": policy.hash,
            "key_fingerprint": fingerprint,
            "inputs": inputs,
            "outputs": outputs,
            "columns": {r.table: {c.column: {"entity": c.entity, "action": c.action, "outputs": c.outputs}
                                  for c in r.columns} for r in results},
            "k_anonymity": {r.table: _k_summary(r.k_anonymity) for r in results if r.k_anonymity is not None},
            "residual_scan": {"clean": residual_clean, "findings": int(n_findings)},
            "reasons": reasons,
        }
        report = build_report(manifest=manifest, policy=policy, results=results, reasons=reasons)
        write_json(tmp / MANIFEST_NAME, sign_record(step_key, manifest, signer="privacy-step"))
        write_json(tmp / REPORT_JSON, report)
        write_text(tmp / REPORT_HTML, render_html(report))

    summary = _summary(results, manifest, out, time.perf_counter() - started)
    if not passed:
        raise PolicyNotMetError(f"{out}: {'; '.join(reasons)}; no table published, see {out / REPORT_HTML}")
    return {
        "summary": summary,
        "status": status,
        "out": str(out),
        "manifest": str(out / MANIFEST_NAME),
        "report_json": str(out / REPORT_JSON),
        "report_html": str(out / REPORT_HTML),
        "manifest_id": manifest_id,
        "tables": {r.table: {"rows": int(len(r.frame)), "columns": [str(c) for c in r.frame.columns]}
                   for r in results},
        "k_anonymity": manifest["k_anonymity"],
        "residual_scan": manifest["residual_scan"],
    }


def _read_tables(tables: dict[str, Path], encoding: str | None) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """The local engine's reader: every CSV column as text; ``(frames, manifest input records)``."""
    frames: dict[str, pd.DataFrame] = {}
    inputs: list[dict[str, Any]] = []
    with console.stage(f"read {len(tables)} table(s)") as st:
        for name, path in tables.items():
            path = Path(path)
            frame = read_table(path, as_text=True, encoding=encoding)
            if len(frame) == 0:
                raise InputError(f"{path}: the table has a header but no rows")
            enc = detect_encoding(path, encoding) if path.suffix.lower() == ".csv" else None
            frames[name] = frame
            inputs.append({"table": name, "path": str(path), "sha256": sha256_file(path), "rows": int(len(frame)),
                           "encoding": enc})
        st.done(f"{sum(len(f) for f in frames.values()):,} rows")
    return frames, inputs


def pseudonymise_frames(frames: dict[str, pd.DataFrame], *, policy: Policy, key: bytes,
                        paths: dict[str, Path] | None = None, workers: int | None = None,
                        row_work: Any = None) -> list[TableResult]:
    """The in-memory core of :func:`pseudonymise`: policy per column, k-anonymity, residual scan.

    Writes nothing. Each :class:`TableResult` holds the output frame, what was done to every
    column, the k-anonymity result and the residual findings (counts only).

    Parameters
    ----------
    frames:
        ``{table name: raw frame}`` (columns as text, as :func:`kequn.io.read_table`
        with ``as_text=True`` gives them).
    policy:
        The validated policy (:func:`privacy.policy.load_policy`).
    key:
        The pseudonymisation key.
    paths:
        Where each table came from (recorded only).
    workers:
        Processes for the free-text detection (:func:`resolve_workers`); the output does not
        depend on it.
    row_work:
        Where the per-row work (tokens, free-text redaction) runs instead of this process:
        ``row_work(table, frame, plan, key=, matcher=, custom=)`` returns ``{column: tokens}``
        and ``{column: (redacted, spans, clean)}`` (:func:`privacy.spark_engine.row_work`).
    """
    n_workers = resolve_workers(workers)
    results: list[TableResult] = []
    # each table is classified once; the exact-match dictionary and the policy use the same findings
    findings = {name: classify_columns(frame, name) for name, frame in frames.items()}
    # tokens, generalisation and the other structured columns: in a process of their own
    # (with more than one worker) while the dictionary is built here
    # (not beside Spark: its per-row work runs on the executors, and no process forks a JVM client)
    join_structured = _start_structured(frames, policy, key, findings, 1 if row_work is not None else n_workers)
    try:
        with console.stage("exact-match dictionary") as st:
            matcher = _exact_matcher(frames, policy, findings)
            st.done(f"{matcher.size if matcher else 0:,} identifier value(s)")
    except BaseException:
        join_structured(discard=True)  # the dictionary's error is the one reported
        raise
    structured = join_structured()
    for name, frame in frames.items():
        with console.stage(f"pseudonymise {name}") as st:
            path = Path(paths[name]) if paths and name in paths else Path(name)
            result = _pseudonymise_table(name, path, frame, policy, key, matcher=matcher,
                                         findings=findings[name], workers=n_workers,
                                         structured=structured[name], row_work=row_work)
            results.append(result)
            st.done(_table_detail(result))

    with console.stage("k-anonymity") as st:
        for result in results:
            _apply_k_anonymity(result, policy)
        measured = [r for r in results if r.k_anonymity is not None]
        st.done(f"{len(measured)} table(s) with quasi-identifiers")

    with console.stage("residual scan of the output") as st:
        for result in results:
            result.residual = _residual(result, policy.custom)
        n_findings = sum(_finding_count(f) for r in results for f in r.residual)
        st.done("clean" if n_findings == 0 else f"{n_findings} direct identifier finding(s)")
    return results


# ---------------------------------------------------------------------------------------------
# one table


def _decide(policy: Policy, table: str, finding: ColumnFinding) -> tuple[str, str, dict[str, Any], bool]:
    """Return ``(entity, action, options, override)`` for one column."""
    override = policy.columns.get(f"{table}.{finding.column}")
    entity = (override.entity if override and override.entity else finding.entity)
    if override is not None:
        return entity, override.action, dict(override.options), True
    if entity == E.FREE_TEXT:
        return entity, "redact" if policy.free_text.action == "redact" else policy.free_text.action, {}, False
    if entity == E.NONE:
        return entity, policy.unclassified.action, {}, False
    rule = policy.rule_for(entity)
    if rule is None:
        # An entity the policy does not name: direct identifiers are dropped (fail safe).
        return entity, "drop" if entity in E.DIRECT_IDENTIFIERS else "keep", {}, False
    return entity, rule.action, dict(rule.options), False


def _exact_matcher(frames: dict[str, pd.DataFrame], policy: Policy,
                   findings: dict[str, list[ColumnFinding]] | None = None) -> ExactMatcher | None:
    """One automaton over the values of every direct-identifier column of every table, searched
    for in every free-text column (:mod:`privacy.exact_match`); columns typed as decided below."""
    def entities(table: str, frame: pd.DataFrame) -> dict[str, str]:
        found = findings[table] if findings is not None else classify_columns(frame, table)
        return {f.column: _decide(policy, table, f)[0] for f in found}

    return matcher_for_tables(frames, entities)


def _pseudonymise_table(table: str, path: Path, frame: pd.DataFrame, policy: Policy, key: bytes,
                        matcher: ExactMatcher | None = None,
                        findings: list[ColumnFinding] | None = None, workers: int = 1,
                        structured: _Structured | None = None, row_work: Any = None) -> TableResult:
    """One table: the structured columns (``structured``, else computed here), then the free text.
    With ``row_work`` (the Spark engine) tokens and free-text redaction come from it instead."""
    if findings is None:
        findings = classify_columns(frame, table)
    decided = _decisions(policy, table, frame, findings)
    person_cols = [c for c, (ent, *_rest) in decided.items() if ent == E.PERSON]
    known_names = frame[person_cols[0]] if person_cols else None
    done: dict[str, Any] = {}
    if row_work is not None:  # the per-row actions run elsewhere (Spark executors), same functions
        plan = {"token": {c: ent if ent != E.NONE else "VALUE" for c, (ent, act, *_r) in decided.items()
                          if act == "token"},
                "text": {c: policy.free_text.mode == "token" for c, (ent, act, *_r) in decided.items()
                         if act == "redact" and ent == E.FREE_TEXT},
                "names": person_cols[0] if person_cols else None}
        if plan["token"] or plan["text"]:
            done = row_work(table, frame, plan, key=key, matcher=matcher, custom=policy.custom)
    if structured is None:
        structured = _structured_columns(table, frame, policy, key, findings, done=done)
    out_cols, out_entities, results, free_text = structured
    verified: set[str] = set()
    for column in free_text:
        res = next(r for r in results if r.column == column)
        values = frame[column]
        mode = policy.free_text.mode
        texts = values.astype("string").reset_index(drop=True)
        names = known_names.reset_index(drop=True) if known_names is not None else None
        redacted, spans, clean = done[column] if column in done else redact_column(
            texts, names, matcher=matcher, custom=policy.custom, key=key if mode == "token" else None,
            workers=workers, with_clean=True)
        if clean:
            verified.add(column)
        out_cols[column] = pd.Series(redacted.to_numpy(), index=values.index, dtype="string")
        res.outputs, res.mode = [column], mode
        res.spans = {str(k): int(v) for k, v in spans.groupby("entity").size().items()} if len(spans) else {}
        res.redacted_cells = int(spans["row"].nunique()) if len(spans) else 0
        res.span_methods = span_method_counts(spans)
    out_frame = pd.DataFrame(out_cols, index=frame.index).reset_index(drop=True)
    return TableResult(table=table, path=Path(path), frame=out_frame, columns=results, output_entities=out_entities,
                       verified_text=verified)


#: ``(output columns in order, their entities, per-column results, free-text columns to redact)``;
#: the free-text columns hold ``None`` until :func:`_pseudonymise_table` redacts them.
_Structured = tuple[dict[str, Any], dict[str, str], list[ColumnResult], list[str]]


def _decisions(policy: Policy, table: str, frame: pd.DataFrame,
               findings: list[ColumnFinding]) -> dict[str, tuple[str, str, dict[str, Any], bool]]:
    by_column = {f.column: f for f in findings}
    return {c: _decide(policy, table, by_column[c]) for c in map(str, frame.columns)}


def _structured_columns(table: str, frame: pd.DataFrame, policy: Policy, key: bytes,
                        findings: list[ColumnFinding], done: dict[str, Any] | None = None) -> _Structured:
    """Every column's action but the free-text redaction (tokens, generalisation, drop, keep):
    it needs neither the exact-match dictionary nor the span finder, so it can run in a
    process of its own while the dictionary is built (:func:`_start_structured`). ``done``
    holds token columns already computed elsewhere (the Spark executors)."""
    done = done or {}
    by_column = {f.column: f for f in findings}
    decided = _decisions(policy, table, frame, findings)
    taken = set(map(str, frame.columns))
    out_cols: dict[str, Any] = {}
    out_entities: dict[str, str] = {}
    results: list[ColumnResult] = []
    free_text: list[str] = []

    def fresh(name: str, source: str) -> str:
        candidate = name if name not in taken or name == source else f"{source}_{name}"
        while candidate in out_cols:
            candidate = f"{candidate}_"
        taken.add(candidate)
        return candidate

    for column in map(str, frame.columns):
        finding = by_column[column]
        entity, action, options, override = decided[column]
        rule = policy.rule_for(entity)
        values = frame[column]
        present = values.notna() & values.astype("string").str.strip().ne("").fillna(False)
        res = ColumnResult(column=column, entity=entity, confidence=float(finding.confidence),
                           evidence=str(finding.evidence), kind=str(finding.kind), action=action, outputs=[],
                           jrt_category=rule.jrt_category if rule else None,
                           pipl_sensitive=rule.pipl_sensitive if rule else None,
                           present=int(present.sum()), override=override,
                           decided_by="policy column override" if override else str(finding.decided_by))
        if action == "drop":
            pass
        elif action == "token":
            out_cols[column] = done[column] if column in done else tokenise_series(
                values, entity if entity != E.NONE else "VALUE", key)
            out_entities[column] = "TOKEN"
            res.outputs = [column]
            res.malformed = _malformed(values, entity)
        elif action == "generalise":
            res.outputs, res.malformed = _generalise(values, entity, options, column, fresh, out_cols, out_entities)
        elif action == "redact" and entity == E.FREE_TEXT:
            out_cols[column] = None  # its place in the output; redacted by _pseudonymise_table
            out_entities[column] = E.FREE_TEXT
            res.outputs = [column]
            free_text.append(column)
        elif action == "redact":
            placeholder = E.TEXT_PLACEHOLDERS.get(entity, REDACTED_VALUE)
            out_cols[column] = pd.Series(np.where(present.to_numpy(), placeholder, None), index=values.index,
                                         dtype="string")
            out_entities[column] = entity
            res.outputs = [column]
        else:  # keep
            out_cols[column] = numeric_if_possible(values)
            out_entities[column] = entity
            res.outputs = [column]
            if entity in E.DIRECT_IDENTIFIERS or entity in E.INDIRECT_IDENTIFIERS:
                res.malformed = _malformed(values, entity)
        results.append(res)
    return out_cols, out_entities, results, free_text


#: State the process of :func:`_start_structured` inherits through fork (the raw frames).
_STRUCTURED_STATE: dict[str, Any] = {}


def _structured_job(name: str) -> _Structured:
    st = _STRUCTURED_STATE
    return _structured_columns(name, st["frames"][name], st["policy"], st["key"], st["findings"][name])


def _start_structured(frames: dict[str, pd.DataFrame], policy: Policy, key: bytes,
                      findings: dict[str, list[ColumnFinding]], workers: int) -> Any:
    """With more than one worker, one forked process computes every table's structured columns
    (:func:`_structured_columns`) while this process builds the exact-match dictionary: the two
    are independent and each takes a large share of the serial time. Returns a function giving
    ``{table: structured}`` (``None`` values when run here), which joins the process; with
    ``discard=True`` it only joins the process and ignores its results and errors (the caller
    is already raising an error of its own, which must not be replaced by the process's)."""
    import multiprocessing

    rows = sum(len(f) for f in frames.values())
    if workers <= 1 or rows < MIN_ROWS_PER_WORKER or "fork" not in multiprocessing.get_all_start_methods():
        return lambda discard=False: dict.fromkeys(frames)
    from concurrent.futures import ProcessPoolExecutor

    _STRUCTURED_STATE.update(frames=frames, policy=policy, key=key, findings=findings)
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                               initializer=_worker_init)
    try:
        futures = {name: pool.submit(_structured_job, name) for name in frames}  # forks now
    except BaseException:
        pool.shutdown(cancel_futures=True)
        _STRUCTURED_STATE.clear()
        raise
    _STRUCTURED_STATE.clear()  # the child has its copy

    def join(discard: bool = False) -> dict[str, _Structured | None]:
        try:
            return {} if discard else {name: f.result() for name, f in futures.items()}
        finally:
            pool.shutdown(cancel_futures=True)  # no thread is left when the detection pool forks

    return join


#: Fewest rows of free text per worker process: below it the column is done in this process
#: (starting workers costs more than it saves).
MIN_ROWS_PER_WORKER = 20_000
#: State the forked workers inherit (the exact-match automaton is not copied or pickled).
_WORKER_STATE: dict[str, Any] = {}


def resolve_workers(workers: int | None = None) -> int:
    """Worker processes to use: ``workers``, else ``$KEQUN_WORKERS``, else the cores this process
    may run on. Raises :class:`~kequn.errors.InputError` for a value that is not a positive
    integer."""
    import os

    if workers is None:
        raw = os.environ.get("KEQUN_WORKERS", "").strip()
        if raw:
            try:
                workers = int(raw)
            except ValueError:
                raise InputError("KEQUN_WORKERS must be a positive integer") from None
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            workers = os.cpu_count() or 1
    if workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers}")
    return int(workers)


def redact_column(texts: pd.Series, names: pd.Series | None, *, matcher: ExactMatcher | None,
                  custom: tuple, key: bytes | None, workers: int = 1,
                  min_rows: int | None = None, with_clean: bool = False) -> Any:
    """Detect and redact the spans of one free-text column; return ``(redacted, spans)``.

    ``texts`` and ``names`` are positionally aligned (``RangeIndex``). With ``key`` spans become
    keyed tokens, else typed placeholders. Detection is row by row, so the rows are cut into
    contiguous chunks and done by ``workers`` forked processes (each inherits the exact-match
    automaton and the compiled expressions); the chunks are joined in order, so the result is
    the same for any number of workers. With ``with_clean``, also return whether the last
    detection pass found nothing (every cell of the result is then free of spans: the
    residual scan of the column would repeat that pass).
    """
    min_rows = MIN_ROWS_PER_WORKER if min_rows is None else min_rows
    n_chunks = min(workers, len(texts) // max(min_rows, 1))
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        n_chunks = 1  # the workers inherit the automaton through fork; elsewhere: one process
    if n_chunks <= 1:
        redacted, spans, clean = _redact_rows(texts, names, matcher, custom, key)
        return (redacted, spans, clean) if with_clean else (redacted, spans)
    bounds = np.linspace(0, len(texts), n_chunks + 1).astype(int)
    # warm the caches (compiled expressions, word lists) once, before the fork
    _redact_rows(texts.iloc[:50].reset_index(drop=True),
                 None if names is None else names.iloc[:50].reset_index(drop=True), matcher, custom, key)
    _WORKER_STATE.update(matcher=matcher, custom=custom, key=key)
    try:
        ctx = multiprocessing.get_context("fork")
        chunks = [(texts.iloc[a:b].reset_index(drop=True),
                   None if names is None else names.iloc[a:b].reset_index(drop=True))
                  for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        with ctx.Pool(processes=n_chunks, initializer=_worker_init) as pool:
            done = pool.map(_redact_chunk, chunks, chunksize=1)
    finally:
        _WORKER_STATE.clear()
    redacted = pd.concat([r for r, _, _ in done], ignore_index=True).astype("string")
    redacted.name = texts.name
    spans = pd.concat([sp.assign(row=sp["row"].to_numpy() + a)
                       for (_, sp, _), a in zip(done, bounds[:-1], strict=True)], ignore_index=True)
    clean = all(c for _, _, c in done)
    return (redacted, spans, clean) if with_clean else (redacted, spans)


def _worker_init() -> None:
    """One compute thread per worker process (the processes share the cores)."""
    import pyarrow

    pyarrow.set_cpu_count(1)


def _redact_chunk(chunk: tuple[pd.Series, pd.Series | None]) -> tuple[pd.Series, pd.DataFrame, bool]:
    texts, names = chunk
    st = _WORKER_STATE
    return _redact_rows(texts, names, st["matcher"], st["custom"], st["key"])


def _redact_rows(texts: pd.Series, names: pd.Series | None, matcher: ExactMatcher | None,
                 custom: tuple, key: bytes | None) -> tuple[pd.Series, pd.DataFrame, bool]:
    """The work of :func:`redact_column` on consecutive rows: ``(redacted, spans, clean)``."""
    spans = find_spans(texts, known_names=names, matcher=matcher, custom=custom)
    replace = token_replacer(key) if key is not None else None
    redacted = redact_texts(texts, spans, replace=replace)
    # Redaction can expose a span the first pass could not see (a name right after a
    # placeholder now starts a sentence): detect again on the changed rows until nothing
    # new is found, so the residual scan of the notes is clean by construction. The exact
    # match is not repeated: its keys are literal strings of the original text and every
    # occurrence was found by the first pass (a key cannot form across a placeholder).
    # (rows the first pass left unchanged had no span at all: they are clean as they are)
    clean = spans.empty
    for _ in range(MAX_REDACTION_PASSES - 1):
        changed = np.flatnonzero((redacted.fillna("") != texts.fillna("")).to_numpy())
        if not len(changed):
            clean = True
            break
        again = find_spans(redacted.iloc[changed].reset_index(drop=True), custom=custom)
        if again.empty:
            clean = True
            break
        again = again.assign(row=changed[again["row"].to_numpy()])
        texts, redacted = redacted, redact_texts(redacted, again, replace=replace)
        spans = pd.concat([spans, again], ignore_index=True)
    return redacted, spans, clean


def _generalise(values: pd.Series, entity: str, options: dict[str, Any], column: str, fresh: Any,
                out_cols: dict[str, pd.Series], out_entities: dict[str, str]) -> tuple[list[str], int]:
    """Add the generalised column(s) of ``values``; return their names and the unparseable count."""
    present = int(values.notna().sum())
    if entity == E.BIRTH_DATE:
        level = str(options.get("publish", "age_band"))
        if level == "age_band":
            bands = _on_distinct(values, lambda v: age_band(
                v, width=int(options.get("age_band_width", 10)), top_band=options.get("top_band", 90),
                reference_date=options.get("reference_date")))
        else:  # birth_year_month | birth_year: independent of the run date
            bands = _on_distinct(values, lambda v: birth_level(v, level))
        name = fresh(str(options.get("output", BIRTH_LEVELS[level])), column)
        out_cols[name], out_entities[name] = bands, E.AGE
        return [name], present - int(bands.notna().sum())
    if entity == E.CN_ADDRESS:
        parts = _on_distinct(values, province_city)
        names = []
        for level in options.get("levels", ["province", "city"]):
            name = fresh(level, column)
            out_cols[name], out_entities[name] = parts[level], E.CITY
            names.append(name)
        parsed = parts["province"].notna() | parts["city"].notna()
        return names, present - int(parsed.sum())
    months = _on_distinct(values, to_month)  # options {to: month}, checked by the policy
    out_cols[column], out_entities[column] = months, entity
    return [column], present - int(months.notna().sum())


def _malformed(values: pd.Series, entity: str) -> int:
    """How many present values of an identifier column fail its shape or check digit.

    Checked once per distinct canonical value, then weighted by how often each occurs.
    """
    if entity not in _SHAPES and entity not in (E.CN_RESIDENT_ID, E.BANK_CARD, E.BIRTH_DATE):
        return 0
    if entity == E.BIRTH_DATE:
        codes, raw_uniques = pd.factorize(values, use_na_sentinel=True)
        ok = parse_dates(pd.Series(raw_uniques, dtype="string")).notna().to_numpy()
    else:
        codes, uniques = distinct_canonical(values, entity)
        vals = pd.Series(uniques, dtype="string")
        if entity == E.CN_RESIDENT_ID:
            ok = gb11643_valid_array(uniques) | vals.str.fullmatch(r"\d{15}").fillna(False).to_numpy(dtype=bool)
        elif entity == E.BANK_CARD:
            ok = vals.str.fullmatch(r"\d{16,19}").fillna(False).to_numpy(dtype=bool) & luhn_valid_array(uniques)
        else:
            ok = vals.str.fullmatch(_SHAPES[entity]).fillna(False).to_numpy(dtype=bool)
    if len(ok) == 0:
        return 0
    counts = np.bincount(codes[codes >= 0], minlength=len(ok))
    return int(counts[~ok].sum())


def _on_distinct(values: pd.Series, func: Any) -> Any:
    """Apply a column function to the distinct values only and broadcast the result back."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    done = func(pd.Series(uniques, dtype="string"))
    take = np.where(codes < 0, len(uniques), codes)
    if isinstance(done, pd.DataFrame):
        padded = pd.concat([done.reset_index(drop=True),
                            pd.DataFrame({c: pd.Series([pd.NA], dtype=done[c].dtype) for c in done.columns})],
                           ignore_index=True)
        out = padded.iloc[take].reset_index(drop=True)
        out.index = values.index
        return out
    padded = pd.concat([done.reset_index(drop=True), pd.Series([pd.NA], dtype=done.dtype)], ignore_index=True)
    return pd.Series(padded.to_numpy()[take], index=values.index, dtype=done.dtype)


def _quasi_columns(result: TableResult, policy: Policy) -> list[str]:
    wanted = set(policy.k_anonymity.quasi_identifiers)
    return [c for c, ent in result.output_entities.items()
            if (ent in wanted or c in wanted) and ent not in ("TOKEN", E.FREE_TEXT)]


def _apply_k_anonymity(result: TableResult, policy: Policy) -> None:
    qis = _quasi_columns(result, policy)
    if not qis:
        return
    rule = policy.k_anonymity
    frame, k_result = enforce_k(result.frame, qis, rule.k, on_violation=rule.on_violation,
                                max_suppression_share=rule.max_suppression_share)
    k_result["risk"] = _risk_beyond_k(result, frame, qis, policy)
    result.frame = frame
    result.k_anonymity = k_result


def _risk_beyond_k(result: TableResult, frame: pd.DataFrame, qis: list[str], policy: Policy) -> dict[str, Any]:
    """l-diversity, t-closeness and the ARX risk models of the published table (suppressed rows left out)."""
    from privacy.risk import risk_beyond_k

    rule = policy.risk
    wanted = set(rule.sensitive_attributes)
    sensitive = [c for c in frame.columns
                 if (c in wanted or result.output_entities.get(c) in wanted) and c not in qis]
    suppressed = frame[qis].isna().all(axis=1) & ~result.frame[qis].isna().all(axis=1) \
        if frame is not result.frame else None
    out = risk_beyond_k(frame, qis, sensitive, l_target=rule.l, t_target=rule.t,
                        population_fraction=rule.population_fraction,
                        threshold=rule.threshold or 1.0 / policy.k_anonymity.k, exclude=suppressed)
    out["met"] = all(s["l_met"] and s["t_met"] for s in out["sensitive"]) or rule.on_violation == "report"
    return out


def _residual(result: TableResult, custom: tuple = ()) -> list[dict[str, Any]]:
    """The residual scan of one output table, plus a span sweep of kept text columns.

    :func:`privacy.scan.residual_findings` checks identifier-shaped cells and free-text
    columns. A kept column the classifier saw as ``NONE`` can still carry an identifier inside
    short text (``"手机13912345678已更新"``), so every kept text column is also searched span by
    span, over its distinct values only.
    """
    findings = [f for f in residual_findings(result.frame, result.table, custom=custom,
                                             verified=result.verified_text)
                if f.get("entity", E.PERSON) in E.DIRECT_IDENTIFIERS]
    flagged = {(f.get("column"), f.get("entity")) for f in findings}
    for column, entity in result.output_entities.items():
        values = result.frame[column]
        if entity in ("TOKEN", E.FREE_TEXT) or not (pd.api.types.is_string_dtype(values) or values.dtype == object):
            continue
        distinct = pd.Series(values.dropna().unique(), dtype="string")
        # Only text that mixes Han characters with digits or an "@" can hide an identifier in a
        # sentence; codes (T0001..., BR001) and categories are left to residual_findings.
        distinct = distinct[distinct.str.contains(r"[\u4e00-\u9fff]", regex=True).fillna(False)
                            & distinct.str.contains(r"[0-9０-９]{5}|[@＠]", regex=True).fillna(False)]
        if distinct.empty:
            continue
        spans = find_spans(distinct, custom=custom)
        if spans.empty:
            continue
        spans = spans[spans["entity"].isin(list(E.DIRECT_IDENTIFIERS - {E.PERSON}))]
        for ent, n in spans.groupby("entity").size().items():
            if (column, ent) not in flagged:
                findings.append({"table": result.table, "column": column, "entity": str(ent), "count": int(n),
                                 "level": "kept_text_span"})
    return findings


def _finding_count(finding: dict[str, Any]) -> int:
    """A residual finding counts its ``count`` if it has one, else 1."""
    count = finding.get("count", finding.get("n", 1))
    try:
        return max(int(count), 1)
    except (TypeError, ValueError):
        return 1


def _k_summary(k_result: dict[str, Any] | None) -> dict[str, Any] | None:
    if k_result is None:
        return None
    after = k_result["after"]
    return {"k": k_result["k"], "quasi_identifiers": k_result["quasi_identifiers"], "met": k_result["met"],
            "k_reached": k_result["k_reached"],
            "action": k_result["action"], "min_class_size": after["min_class_size"],
            "share_below_k": after["share_below_k"], "unique_records": after["unique_records"],
            "suppressed_records": k_result["suppressed_records"],
            "before": {key: k_result["before"][key] for key in ("min_class_size", "share_below_k", "unique_records")}}


def _table_detail(result: TableResult) -> str:
    counts: dict[str, int] = {}
    for c in result.columns:
        counts[c.action] = counts.get(c.action, 0) + 1
    spans = sum(sum(c.spans.values()) for c in result.columns)
    parts = [f"{len(result.frame):,} rows"] + [f"{n} {a}" for a, n in sorted(counts.items())]
    if spans:
        parts.append(f"{spans:,} spans redacted")
    return ", ".join(parts)


def _summary(results: list[TableResult], manifest: dict[str, Any], out: Path, seconds: float) -> str:
    actions: dict[str, int] = {}
    for r in results:
        for c in r.columns:
            actions[c.action] = actions.get(c.action, 0) + 1
    spans = sum(sum(c.spans.values()) for r in results for c in r.columns)
    malformed = sum(c.malformed for r in results for c in r.columns)
    rows = sum(len(r.frame) for r in results)
    lines = [
        f"pseudonymise: {manifest['status'].upper()} - {len(results)} table(s), {rows:,} rows in {seconds:.1f} s",
        "  columns: " + ", ".join(f"{n} {a}" for a, n in sorted(actions.items()))
        + f"; {malformed:,} malformed identifier value(s) tokenised anyway",
        f"  free text: {spans:,} PII span(s) redacted",
    ]
    for r in results:
        k = r.k_anonymity
        if k is not None:
            after = k["after"]
            reached = "reached" if k["k_reached"] else ("NOT reached (measured only)" if k["met"] else "NOT met")
            lines.append(f"  k-anonymity {r.table}: k={k['k']} {reached}, "
                         f"min class {after['min_class_size'] if after['min_class_size'] is not None else '-'}, {after['share_below_k']:.1%} below k, "
                         f"{after['unique_records']} unique, {k['suppressed_records']} suppressed")
    rs = manifest["residual_scan"]
    lines.append(f"  residual scan: {'clean' if rs['clean'] else str(rs['findings']) + ' finding(s)'}")
    lines.append(f"  policy {manifest['policy_hash'][:12]}…, key fingerprint {manifest['key_fingerprint']}")
    lines.append(f"  clean zone {out}  (report: {out / REPORT_HTML})")
    return "\n".join(lines)
