"""kequn's Presidio recognizers for Chinese bank data, one per file, sharing
:mod:`privacy.recognizers.patterns`."""

from __future__ import annotations

from privacy.recognizers.base import LANGUAGE, KequnPatternRecognizer
from privacy.recognizers.cn_address_recognizer import CnAddressRecognizer
from privacy.recognizers.cn_bank_card_recognizer import CnBankCardRecognizer
from privacy.recognizers.cn_birth_date_recognizer import CnBirthDateRecognizer
from privacy.recognizers.cn_customer_no_recognizer import CnCustomerNoRecognizer
from privacy.recognizers.cn_email_recognizer import CnEmailRecognizer
from privacy.recognizers.cn_landline_recognizer import CnLandlineRecognizer
from privacy.recognizers.cn_license_plate_recognizer import CnLicensePlateRecognizer
from privacy.recognizers.cn_mobile_recognizer import CnMobileRecognizer
from privacy.recognizers.cn_passport_recognizer import CnPassportRecognizer
from privacy.recognizers.cn_person_recognizer import CnPersonRecognizer
from privacy.recognizers.cn_qq_number_recognizer import CnQqNumberRecognizer
from privacy.recognizers.cn_resident_id_recognizer import CnResidentIdRecognizer
from privacy.recognizers.cn_wechat_id_recognizer import CnWechatIdRecognizer
from privacy.recognizers.hk_macau_permit_recognizer import HkMacauPermitRecognizer
from privacy.recognizers.pinyin_person_recognizer import PinyinPersonRecognizer

RECOGNIZER_CLASSES: tuple[type[KequnPatternRecognizer], ...] = (
    CnResidentIdRecognizer, CnBankCardRecognizer, CnMobileRecognizer, CnLandlineRecognizer,
    CnEmailRecognizer, CnPassportRecognizer, HkMacauPermitRecognizer, CnCustomerNoRecognizer,
    CnWechatIdRecognizer, CnQqNumberRecognizer, CnLicensePlateRecognizer,
    CnBirthDateRecognizer, CnAddressRecognizer, CnPersonRecognizer, PinyinPersonRecognizer,
)


def all_recognizers(language: str = LANGUAGE) -> list[KequnPatternRecognizer]:
    """One instance of every kequn recognizer for ``language``."""
    return [cls(supported_language=language) for cls in RECOGNIZER_CLASSES]


__all__ = [
    "LANGUAGE", "RECOGNIZER_CLASSES", "CnAddressRecognizer", "CnBankCardRecognizer",
    "CnBirthDateRecognizer", "CnCustomerNoRecognizer", "CnEmailRecognizer",
    "CnLandlineRecognizer", "CnLicensePlateRecognizer", "CnMobileRecognizer", "CnPassportRecognizer", "CnPersonRecognizer",
    "CnQqNumberRecognizer", "CnResidentIdRecognizer", "CnWechatIdRecognizer", "HkMacauPermitRecognizer", "KequnPatternRecognizer",
    "PinyinPersonRecognizer",
    "all_recognizers",
]
