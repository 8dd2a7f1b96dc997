"""The privacy report for compliance: a JSON document and its self-contained HTML twin.

Both carry the same numbers (the HTML is rendered from the JSON document): the data inventory
(every column of every table with its detected entity, confidence, evidence, JR/T 0171-2020
category, PIPL sensitivity, action and malformed count), redacted spans per text column,
k-anonymity, the residual scan, before/after examples, the policy in force with its hash, the
key fingerprint, and a plain-language summary with a sign-off block.

No real value appears in the report. The before/after examples are *synthetic stand-ins*
generated from a fixed seed (a made-up resident ID with a valid check digit, a made-up mobile
...) and run through the same functions with a public demonstration key; partial masks such as
``138****5678`` are never shown. The HTML has no external scripts, styles or fonts, and every
value is HTML-escaped by Jinja2's autoescaping (notes and column names may contain markup).
"""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
from jinja2 import Environment, select_autoescape

from privacy import entities as E
from privacy.checksums import gb11643_check_digit, luhn_check_digit
from privacy.generalise import BIRTH_LEVELS, age_band, birth_level, province_city
from privacy.policy import Policy
from privacy.risk import READINGS
from privacy.tokens import token_of

#: Public key used only for the report's examples (never for data): the example tokens show the
#: shape of a token, not a token of the run.
EXAMPLE_KEY = b"kequn-report-example-key-public-not-a-secret"
EXAMPLE_SEED = 20200903  # JR/T 0171-2020 publication date
#: The made-up name and address of the examples (in the source, so never mistaken for a leak).
EXAMPLE_NAME = "欧阳示例"
EXAMPLE_ADDRESS = "浙江省杭州市西湖区示例路8号3栋201室"
EXAMPLE_BIRTH_DATE = "1990-05-17"
EXAMPLE_REFERENCE_DATE = "2024-06-30"

_SAFE_FINDING_KEYS = ("table", "column", "entity", "count", "n", "share", "kind", "source")

ACTION_LABELS = {
    "drop": "删除 drop",
    "token": "假名化 token (HMAC-SHA256)",
    "generalise": "泛化 generalise",
    "redact": "遮蔽 redact",
    "keep": "保留 keep",
}


def synthetic_examples(policy: Policy) -> dict[str, str]:
    """Made-up stand-ins, one per entity type, generated from a fixed seed (never real data)."""
    rng = random.Random(EXAMPLE_SEED)
    body = f"110101{EXAMPLE_BIRTH_DATE.replace('-', '')}{rng.randint(100, 999)}"
    card_body = "622848" + "".join(str(rng.randint(0, 9)) for _ in range(12))
    return {
        E.CN_RESIDENT_ID: body + gb11643_check_digit(body),
        E.CN_MOBILE: f"+86 139-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        E.CN_LANDLINE: f"0571-{rng.randint(10000000, 99999999)}",
        E.BANK_CARD: card_body + luhn_check_digit(card_body),
        E.EMAIL_ADDRESS: f"example.user{rng.randint(100, 999)}@example.com",
        E.PERSON: EXAMPLE_NAME,
        E.CN_ADDRESS: EXAMPLE_ADDRESS,
        E.BIRTH_DATE: EXAMPLE_BIRTH_DATE,
        E.CN_PASSPORT: f"E{rng.randint(10000000, 99999999)}",
        E.HK_MACAU_PERMIT: f"C{rng.randint(10000000, 99999999)}",
        E.CUSTOMER_NO: f"KH{rng.randint(10**9, 10**10 - 1)}",
    }


def _example_after(entity: str, value: str, action: str, options: dict[str, Any]) -> str:
    if action == "drop":
        return "（列已删除 column removed）"
    if action == "token":
        from privacy.normalise import canonical_identifier

        canonical = canonical_identifier(pd.Series([value], dtype="string"), entity).iloc[0]
        return token_of(str(canonical), entity, EXAMPLE_KEY)
    if action == "generalise" and entity == E.BIRTH_DATE and options.get("publish", "age_band") != "age_band":
        level = options["publish"]
        out = birth_level(pd.Series([value]), level).iloc[0]
        return f"{options.get('output', BIRTH_LEVELS[level])} = {out}"
    if action == "generalise" and entity == E.BIRTH_DATE:
        band = age_band(pd.Series([value]), width=int(options.get("age_band_width", 10)),
                        top_band=options.get("top_band", 90),
                        reference_date=options.get("reference_date") or EXAMPLE_REFERENCE_DATE).iloc[0]
        return f"age_band = {band}"
    if action == "generalise" and entity == E.CN_ADDRESS:
        parts = province_city(pd.Series([value])).iloc[0]
        return " / ".join(f"{lv} = {parts[lv]}" for lv in options.get("levels", ["province", "city"]))
    if action == "redact":
        return E.TEXT_PLACEHOLDERS.get(entity, "<已删除>")
    return "（原样保留 kept as is）"


def build_examples(policy: Policy) -> dict[str, Any]:
    """Before/after examples on synthetic stand-ins, run through the real functions."""
    fakes = synthetic_examples(policy)
    rows = []
    for entity, value in fakes.items():
        rule = policy.rule_for(entity)
        if rule is None:
            continue
        rows.append({"entity": entity, "entity_zh": E.LABELS_ZH.get(entity, entity), "action": rule.action,
                     "before": value, "after": _example_after(entity, value, rule.action, rule.options)})
    note = (f"客户{fakes[E.PERSON]}来电，手机{fakes[E.CN_MOBILE]}，身份证{fakes[E.CN_RESIDENT_ID]}，"
            f"卡号{fakes[E.BANK_CARD]}，邮箱{fakes[E.EMAIL_ADDRESS]}；2024-03-15转账5000元，流水号20240315000123。")
    text_after = note
    try:
        from privacy.text import find_spans, redact_texts
        from privacy.tokens import token_replacer

        texts = pd.Series([note], dtype="string")
        spans = find_spans(texts, known_names=pd.Series([fakes[E.PERSON]], dtype="string"))
        replace = token_replacer(EXAMPLE_KEY) if policy.free_text.mode == "token" else None
        text_after = str(redact_texts(texts, spans, replace=replace).iloc[0])
    except Exception as exc:  # the example must never stop the report
        text_after = f"（示例无法生成 example unavailable: {type(exc).__name__}）"
    return {"note": ("All 'before' values are synthetic stand-ins generated from a fixed seed; tokens are "
                     "computed with a public demonstration key, not the run's key. "
                     "示例均为按固定种子生成的虚构数据，令牌使用公开的演示密钥计算，与本次数据无关。"),
            "columns": rows, "text": {"before": note, "after": text_after, "mode": policy.free_text.mode}}


#: How a span was found, as the HTML report says it.
METHOD_LABELS = {"exact": "精确匹配 exact match", "pattern": "模式 pattern", "statistical": "统计 statistical"}


def build_report(*, manifest: dict[str, Any], policy: Policy, results: list[Any], reasons: list[str]) -> dict[str, Any]:
    """Assemble the report document (JSON-ready; no personal data)."""
    inventory, texts, k_rows, residual = [], [], [], []
    for r in results:
        for c in r.columns:
            inventory.append({
                "table": r.table, "column": c.column, "entity": c.entity,
                "entity_zh": E.LABELS_ZH.get(c.entity, c.entity), "kind": c.kind,
                "confidence": round(float(c.confidence), 3), "evidence": c.evidence,
                "decided_by": c.decided_by,
                "jrt_category": c.jrt_category, "pipl_sensitive": c.pipl_sensitive, "action": c.action,
                "override": c.override, "outputs": list(c.outputs), "present": c.present, "malformed": c.malformed,
            })
            if c.entity == E.FREE_TEXT:
                texts.append({"table": r.table, "column": c.column, "action": c.action, "mode": c.mode,
                              "cells": c.present, "cells_redacted": c.redacted_cells,
                              "spans": dict(sorted(c.spans.items())), "total": int(sum(c.spans.values())),
                              "methods": {e: dict(m) for e, m in sorted(getattr(c, "span_methods", {}).items())}})
        if r.k_anonymity is not None:
            k = r.k_anonymity
            k_rows.append({"table": r.table, "quasi_identifiers": k["quasi_identifiers"], "k": k["k"],
                           "action": k["action"], "met": k["met"], "k_reached": k["k_reached"], "before": k["before"], "after": k["after"],
                           "suppressed_records": k["suppressed_records"], "suppressed_share": k["suppressed_share"],
                           "reason": k.get("reason"), "risk": k.get("risk")})
        for f in r.residual:
            residual.append({key: f[key] for key in _SAFE_FINDING_KEYS if key in f and _scalar(f[key])}
                            | {"table": r.table})
    rs = manifest["residual_scan"]
    malformed = sum(row["malformed"] for row in inventory)
    actions: dict[str, int] = {}
    for row in inventory:
        actions[row["action"]] = actions.get(row["action"], 0) + 1
    spans_total = sum(t["total"] for t in texts)
    passed = manifest["status"] == "passed"
    direct = [row for row in inventory if row.get("entity") in E.DIRECT_IDENTIFIERS]
    kept_direct = sum(row["action"] == "keep" for row in direct)
    handled = {a: sum(row["action"] == a for row in direct) for a in ("token", "drop", "generalise")}
    direct_en = (f"Direct identifiers: {len(direct)} column(s); {handled['token']} tokenised with keyed "
                 f"HMAC-SHA256 (joinable, not reversible without the key), {handled['drop']} dropped, "
                 f"{handled['generalise']} generalised")
    direct_en += (f"; WARNING: {kept_direct} kept as they are by the policy." if kept_direct else ".")
    direct_en += f" Free text: {spans_total:,} personal-information span(s) replaced."
    direct_zh = (f"直接标识符字段 {len(direct)} 个：{handled['token']} 个以带密钥的 HMAC-SHA256 令牌替换（可关联，"
                 f"无密钥不可还原），删除 {handled['drop']} 个，泛化 {handled['generalise']} 个")
    direct_zh += (f"；警告：策略保留了 {kept_direct} 个原值字段。" if kept_direct else "。")
    direct_zh += f"自由文本中共遮蔽 {spans_total:,} 处个人信息。"
    summary_en = [
        f"{len(results)} table(s) with {len(inventory)} column(s) were examined; "
        + ", ".join(f"{n} {a}" for a, n in sorted(actions.items())) + ".",
        direct_en,
        f"{malformed:,} malformed identifier value(s) (wrong length or check digit) were tokenised like the others.",
        ("k-anonymity: " + "; ".join(f"{k['table']} k={k['k']} {_reached_en(k)} "
                                      f"(min class {_dash(k['after']['min_class_size'])}, "
                                      f"{k['suppressed_records']} record(s) suppressed)" for k in k_rows))
        if k_rows else "k-anonymity: no table holds a configured quasi-identifier.",
        *[f"{k['table']}: {line}" for k in k_rows if k.get("risk") for line in k["risk"]["reading"]],
        "Residual scan of the output: " + ("no direct identifier found." if rs["clean"]
                                           else f"{rs['findings']} direct identifier(s) found."),
        ("Result: PASSED - the tables were published to the clean zone." if passed
         else "Result: FAILED - no table was published (" + "; ".join(reasons) + ")."),
    ]
    summary_zh = [
        f"共检查 {len(results)} 张表、{len(inventory)} 个字段；" + "，".join(
            f"{ACTION_LABELS.get(a, a).split()[0]} {n} 个" for a, n in sorted(actions.items())) + "。",
        direct_zh,
        f"{malformed:,} 个格式异常的标识符（长度或校验位错误）同样已假名化。",
        ("k-匿名：" + "；".join(f"{k['table']} k={k['k']} {_reached_zh(k)}"
                                f"（最小等价类 {_dash(k['after']['min_class_size'])}，抑制 {k['suppressed_records']} 条）"
                                for k in k_rows)) if k_rows else "k-匿名：无配置的准标识符。",
        *[f"{k['table']}：检察官风险（最高）{k['risk']['prosecutor']['highest']:.0%}，平均 "
          f"{k['risk']['prosecutor']['average']:.1%}，营销者风险 {k['risk']['marketer']:.1%}"
          + "".join(f"；{s['attribute']} l={s['l']}、t={s['t']:.3f}" for s in k["risk"]["sensitive"])
          for k in k_rows if k.get("risk")],
        "输出残留扫描：" + ("未发现直接标识符。" if rs["clean"] else f"发现 {rs['findings']} 处直接标识符。"),
        "结论：通过，数据已发布到洁净区。" if passed else "结论：未通过，未发布任何数据表。",
    ]
    policy_doc = policy.canonical()
    policy_rows = [{"entity": name, "entity_zh": E.LABELS_ZH.get(name, name), **rule}
                   for name, rule in sorted(policy_doc["entities"].items())]
    return {
        "title": "kequn 个人信息去标识化报告 / Privacy report",
        "manifest_id": manifest["manifest_id"],
        "status": manifest["status"],
        "created_at": manifest["created_at"],
        "tool_version": manifest["tool_version"],
        "policy_hash": manifest["policy_hash"],
        "key_fingerprint": manifest["key_fingerprint"],
        "reasons": reasons,
        "summary": {"en": summary_en, "zh": summary_zh},
        "inputs": manifest["inputs"],
        "outputs": manifest["outputs"],
        "inventory": inventory,
        "text_redaction": texts,
        "k_anonymity": k_rows,
        "residual_scan": {"clean": rs["clean"], "findings": rs["findings"], "details": residual},
        "examples": build_examples(policy),
        "policy": {"hash": manifest["policy_hash"], "entities": policy_rows,
                   "free_text": policy_doc["free_text"], "unclassified": policy_doc["unclassified"],
                   "k_anonymity": policy_doc["k_anonymity"], "risk": policy_doc.get("risk"),
                   "columns": policy_doc["columns"]},
        "risk_readings": READINGS,
        "sign_off": {"roles": ["数据负责人 Data owner", "合规审核 Compliance reviewer", "信息安全 Information security"],
                     "statement": ("I have reviewed this report and the policy in force (hash above) and approve the "
                                   "use of the published tables for model development. / 本人已审阅本报告及所执行的"
                                   "策略（见上方哈希值），同意将发布的数据表用于模型开发。")},
    }


def _reached_en(k: dict[str, Any]) -> str:
    if k["k_reached"]:
        return "reached"
    return "NOT reached (measured only, on_violation: report)" if k["met"] else "NOT met"


def _reached_zh(k: dict[str, Any]) -> str:
    if k["k_reached"]:
        return "达标"
    return "未达到（仅度量，未处理）" if k["met"] else "未达标"


def _dash(value: Any) -> str:
    return "—" if value is None else str(value)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ r.title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:2rem auto;max-width:78rem;padding:0 1rem;color:#1b1f24;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f5f7}.pass{color:#116329;font-weight:600}.fail{color:#b42318;font-weight:600}
.meta td:first-child{width:14rem;color:#57606a}code{font-size:.85em;word-break:break-all}.muted{color:#57606a;font-size:.85rem}
.sign td{height:2.2rem}ul{margin:.3rem 0}
</style></head><body>
<h1>{{ r.title }}</h1>
<p class="muted">kequn {{ r.tool_version }} · {{ r.created_at }} · manifest {{ r.manifest_id }}</p>
<p>状态 Status: <span class="{{ 'pass' if r.status == 'passed' else 'fail' }}">{{ '通过 PASSED' if r.status == 'passed' else '未通过 FAILED' }}</span></p>
{% if r.reasons %}<ul>{% for x in r.reasons %}<li class="fail">{{ x }}</li>{% endfor %}</ul>{% endif %}

<h2>摘要 Summary</h2>
<ul>{% for x in r.summary.zh %}<li>{{ x }}</li>{% endfor %}</ul>
<ul>{% for x in r.summary.en %}<li>{{ x }}</li>{% endfor %}</ul>
<table class="meta">
<tr><td>策略哈希 Policy hash (SHA-256)</td><td><code>{{ r.policy_hash }}</code></td></tr>
<tr><td>密钥指纹 Key fingerprint</td><td><code>{{ r.key_fingerprint }}</code> <span class="muted">(identifies the key; reveals neither the key nor any token)</span></td></tr>
<tr><td>残留扫描 Residual scan</td><td class="{{ 'pass' if r.residual_scan.clean else 'fail' }}">{{ '无残留 clean' if r.residual_scan.clean else r.residual_scan.findings ~ ' 处发现 findings' }}</td></tr>
</table>

<h2>输入与输出 Inputs and outputs</h2>
<table><tr><th>表 Table</th><th>文件 File</th><th>行数 Rows</th><th>编码 Encoding</th><th>SHA-256</th></tr>
{% for i in r.inputs %}<tr><td>{{ i.table }}</td><td>{{ i.path }}</td><td>{{ i.rows }}</td><td>{{ i.encoding or 'parquet' }}</td><td><code>{{ i.sha256 }}</code></td></tr>{% endfor %}</table>
{% if r.outputs %}<table><tr><th>发布表 Published table</th><th>文件 File</th><th>行数 Rows</th><th>列 Columns</th><th>SHA-256</th></tr>
{% for o in r.outputs %}<tr><td>{{ o.table }}</td><td>{{ o.file }}</td><td>{{ o.rows }}</td><td>{{ o.columns | join(', ') }}</td><td><code>{{ o.sha256 }}</code></td></tr>{% endfor %}</table>
{% else %}<p class="fail">未发布任何数据表 No table was published.</p>{% endif %}

<h2>数据清单 Data inventory</h2>
<p class="muted">判定来源 Decided by: <code>values</code> = 由抽样值判定（校验位、号段、格式、行政区划名录）the sampled values alone;
<code>values+header</code> = 由值判定，列名提示降低了所需比例 the values, with a header hint lowering the share needed;
<code>header</code> = 列名提示指明类型且值与之相符 a header hint named the entity and the values fit it.</p>
<table><tr><th>表 Table</th><th>字段 Column</th><th>识别类型 Detected entity</th><th>置信度 Confidence</th><th>判定来源 Decided by</th><th>依据 Evidence</th>
<th>JR/T 0171 分级 Category</th><th>PIPL 敏感 Sensitive</th><th>处理 Action</th><th>输出列 Outputs</th><th>非空值 Present</th><th>格式异常 Malformed</th></tr>
{% for c in r.inventory %}<tr><td>{{ c.table }}</td><td>{{ c.column }}</td><td>{{ c.entity_zh }} <span class="muted">{{ c.entity }}</span></td>
<td>{{ '%.2f' % c.confidence }}</td><td>{{ c.decided_by }}</td><td>{{ c.evidence }}</td><td>{{ c.jrt_category or '—' }}</td>
<td>{{ '是 yes' if c.pipl_sensitive else ('否 no' if c.pipl_sensitive is not none else '—') }}</td>
<td>{{ labels.get(c.action, c.action) }}{% if c.override %} <span class="muted">(column override)</span>{% endif %}</td>
<td>{{ c.outputs | join(', ') or '—' }}</td><td>{{ c.present }}</td><td>{{ c.malformed }}</td></tr>{% endfor %}</table>

<h2>自由文本遮蔽 Free-text redaction</h2>
{% if r.text_redaction %}<table><tr><th>表 Table</th><th>字段 Column</th><th>方式 Mode</th><th>单元格 Cells</th><th>含个人信息 Cells redacted</th><th>按类型 Spans by entity</th><th>合计 Total</th></tr>
{% for t in r.text_redaction %}<tr><td>{{ t.table }}</td><td>{{ t.column }}</td><td>{{ t.mode or t.action }}</td><td>{{ t.cells }}</td><td>{{ t.cells_redacted }}</td>
<td>{% for e, n in t.spans.items() %}{{ zh.get(e, e) }} {{ e }}: {{ n }}{% if t.methods and t.methods.get(e) %} <span class="muted">({% for m, k in t.methods[e].items() %}{{ method_labels.get(m, m) }} {{ k }}{% if not loop.last %}, {% endif %}{% endfor %})</span>{% endif %}<br>{% endfor %}</td><td>{{ t.total }}</td></tr>{% endfor %}</table>
<p class="muted">括号内为发现方式 In brackets, how the spans were found: 精确匹配 exact match (a value of the bank's own identifier columns), 模式 pattern (a recognizer's pattern and validator), 统计 statistical (surname + given-name character statistics).</p>
{% else %}<p class="muted">没有自由文本字段 No free-text column.</p>{% endif %}

<h2>重识别风险 Re-identification risk (k-anonymity)</h2>
{% if r.k_anonymity %}<table><tr><th>表 Table</th><th>准标识符 Quasi-identifiers</th><th>k</th><th>处理 On violation</th>
<th>最小等价类 Min class (before → after)</th><th>小于 k 的记录占比 Share below k (before → after)</th><th>唯一记录 Unique (before → after)</th><th>抑制 Suppressed</th><th>结果 Result</th></tr>
{% for k in r.k_anonymity %}<tr><td>{{ k.table }}</td><td>{{ k.quasi_identifiers | join(', ') }}</td><td>{{ k.k }}</td><td>{{ k.action }}</td>
<td>{{ k.before.min_class_size if k.before.min_class_size is not none else '—' }} → {{ k.after.min_class_size if k.after.min_class_size is not none else '—' }}</td><td>{{ '%.2f%%' % (100 * k.before.share_below_k) }} → {{ '%.2f%%' % (100 * k.after.share_below_k) }}</td>
<td>{{ k.before.unique_records }} → {{ k.after.unique_records }}</td><td>{{ k.suppressed_records }}</td>
<td class="{{ 'pass' if k.k_reached else 'fail' }}">{{ '达标 reached' if k.k_reached else ('未达到，仅度量 not reached, measured only' if k.met else '未达标 not met') }}{% if k.reason %}: {{ k.reason }}{% endif %}</td></tr>{% endfor %}</table>
{% else %}<p class="muted">没有表包含配置的准标识符 No table holds a configured quasi-identifier.</p>{% endif %}

<h2>超越 k 的风险 Re-identification risk beyond k</h2>
{% set risky = r.k_anonymity | selectattr('risk') | list %}
{% if risky %}<table><tr><th>表 Table</th><th>记录 Records</th><th>等价类 Classes</th><th>检察官风险 Prosecutor (highest / average / records at risk)</th>
<th>记者风险 Journalist (highest / average / records at risk)</th><th>营销者风险 Marketer</th></tr>
{% for k in risky %}<tr><td>{{ k.table }}</td><td>{{ k.risk.records }}</td><td>{{ k.risk.classes }}</td>
<td>{{ '%.2f%%' % (100 * k.risk.prosecutor.highest) }} / {{ '%.2f%%' % (100 * k.risk.prosecutor.average) }} / {{ '%.2f%%' % (100 * k.risk.prosecutor.records_at_risk) }}</td>
<td>{{ '%.2f%%' % (100 * k.risk.journalist.highest) }} / {{ '%.2f%%' % (100 * k.risk.journalist.average) }} / {{ '%.2f%%' % (100 * k.risk.journalist.records_at_risk) }}</td>
<td>{{ '%.2f%%' % (100 * k.risk.marketer) }}</td></tr>{% endfor %}</table>
<table><tr><th>表 Table</th><th>敏感属性 Sensitive attribute</th><th>类型 Kind</th><th>l (目标 target)</th><th>熵 l Entropy l</th><th>低于 l 的记录 Records below l</th><th>t (目标 target)</th><th>结果 Result</th></tr>
{% for k in risky %}{% for s in k.risk.sensitive %}<tr><td>{{ k.table }}</td><td>{{ s.attribute }}</td><td>{{ s.kind }}{% if s.binned %} (binned){% endif %}</td><td>{{ s.l }} ({{ s.l_target }})</td><td>{{ '%.3f' % s.entropy_l }}</td><td>{{ s.records_below_l }}</td>
<td>{{ '%.3f' % s.t }} ({{ s.t_target }})</td><td class="{{ 'pass' if s.l_met and s.t_met else 'fail' }}">{{ '达标 met' if s.l_met and s.t_met else '未达标 missed' }}</td></tr>{% endfor %}{% endfor %}</table>
<h3>解读 Reading for the reviewer</h3>
{% for k in risky %}<ul>{% for line in k.risk.reading %}<li>{{ k.table }}: {{ line }}</li>{% endfor %}</ul>{% endfor %}
<dl>{% for name, text in r.risk_readings.items() %}<dt>{{ name }}</dt><dd class="muted">{{ text }}</dd>{% endfor %}</dl>
{% else %}<p class="muted">没有表包含配置的准标识符 No table holds a configured quasi-identifier.</p>{% endif %}

<h2>残留扫描 Residual scan</h2>
{% if r.residual_scan.clean %}<p class="pass">输出中未发现直接标识符 No direct identifier found in the output.</p>
{% else %}<table><tr><th>表 Table</th><th>字段 Column</th><th>类型 Entity</th><th>数量 Count</th></tr>
{% for f in r.residual_scan.details %}<tr><td>{{ f.table }}</td><td>{{ f.column or '—' }}</td><td>{{ f.entity or '—' }}</td><td>{{ f.count if f.count is defined else (f.n if f.n is defined else 1) }}</td></tr>{% endfor %}</table>{% endif %}

<h2>处理示例 Before / after examples</h2>
<p class="muted">{{ r.examples.note }}</p>
<table><tr><th>类型 Entity</th><th>处理 Action</th><th>处理前（虚构） Before (synthetic)</th><th>处理后 After</th></tr>
{% for e in r.examples.columns %}<tr><td>{{ e.entity_zh }} <span class="muted">{{ e.entity }}</span></td><td>{{ labels.get(e.action, e.action) }}</td><td><code>{{ e.before }}</code></td><td><code>{{ e.after }}</code></td></tr>{% endfor %}
<tr><td>自由文本 FREE_TEXT</td><td>{{ labels.redact }} ({{ r.examples.text.mode }})</td><td>{{ r.examples.text.before }}</td><td>{{ r.examples.text.after }}</td></tr></table>

<h2>执行的策略 Policy in force</h2>
<p>SHA-256 <code>{{ r.policy.hash }}</code></p>
<table><tr><th>类型 Entity</th><th>JR/T 0171</th><th>PIPL 敏感 Sensitive</th><th>处理 Action</th><th>选项 Options</th></tr>
{% for p in r.policy.entities %}<tr><td>{{ p.entity_zh }} <span class="muted">{{ p.entity }}</span></td><td>{{ p.jrt_category }}</td><td>{{ '是 yes' if p.pipl_sensitive else '否 no' }}</td><td>{{ labels.get(p.action, p.action) }}</td><td>{{ p.options | tojson }}</td></tr>{% endfor %}</table>
<p>自由文本 Free text: {{ r.policy.free_text | tojson }} · 非个人信息列 Unclassified: {{ r.policy.unclassified | tojson }} ·
k-匿名 k-anonymity: {{ r.policy.k_anonymity | tojson }}{% if r.policy.columns %} · 列覆盖 Column overrides: {{ r.policy.columns | tojson }}{% endif %}</p>
<p class="muted">JR/T 0171-2020: C3 用户鉴别信息 authentication information; C2 可识别个人身份与金融状况的信息 identifying and account information; C1 机构内部信息 internal information.
PIPL 第28条 敏感个人信息 Art. 28 sensitive personal information.</p>

<h2>审核签字 Sign-off</h2>
<p>{{ r.sign_off.statement }}</p>
<table class="sign"><tr><th>角色 Role</th><th>姓名 Name</th><th>签字 Signature</th><th>日期 Date</th></tr>
{% for role in r.sign_off.roles %}<tr><td>{{ role }}</td><td></td><td></td><td></td></tr>{% endfor %}</table>
</body></html>
"""


def render_html(report: dict[str, Any]) -> str:
    """Render the report document as self-contained HTML; every value is escaped."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(_TEMPLATE)
    return template.render(r=report, labels=ACTION_LABELS, zh=E.LABELS_ZH, method_labels=METHOD_LABELS)
