"""WeChat IDs (微信号) in text: only right after a word that introduces one."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer, lead_lookbehind


class CnWechatIdRecognizer(KequnPatternRecognizer):
    """A WeChat ID (6-20 characters, a letter first, then letters, digits, ``_`` or ``-``) right
    after 微信/微信号/WeChat/vx/wx. A WeChat ID has no shape of its own (``zhangsan_88`` is
    also a user name or a word), so without that word nothing is reported; a mobile used as a
    WeChat ID is a mobile."""

    ENTITY = E.WECHAT_ID
    PATTERNS = [Pattern("cn_wechat_id_after_context", lead_lookbehind(P.WECHAT_AFTER_CONTEXT), 0.85)]
    CONTEXT = P.WECHAT_CONTEXT
