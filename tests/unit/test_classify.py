"""Rule classification: category, department, severity, major flags, evidence; zh-CN, zh-TW, en."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from daemon.classify import CustomerHistory, classify, classify_many, scale_level
from daemon.rulefiles import load_rules
from daemon.rules import ClassifierSettings, parse_rules
from daemon.values import Classification

RULES = load_rules()
BANK = ClassifierSettings(severity_scale=("low", "medium", "high"))
BANK_RULES = load_rules(BANK)


def of(text: str, subject: str = "", history: CustomerHistory | None = None) -> Classification:
    return classify(subject, text, RULES, history or CustomerHistory())


# -- categories -----------------------------------------------------------------------------------

PRODUCT = {
    "zh-CN": "新车才开了两个月，发动机冷启动异响，变速箱换挡顿挫。",
    "zh-TW": "新車才開兩個月，引擎冷車發動有異音，變速箱換檔頓挫。",
    "en": "The car is two months old; the engine makes a knocking noise and the gearbox judders.",
}
SERVICE = {
    "zh-CN": "服务顾问态度恶劣，打电话一直不回复，问题拖着不处理。",
    "zh-TW": "服務人員態度惡劣，打電話都不回覆，問題一直拖延不處理。",
    "en": "The staff were rude, nobody called back and my emails got no reply for weeks.",
}
REPAIR = {
    "zh-CN": "上周在店里保养后，车漆被划伤，技师装错了零件。",
    "zh-TW": "上週保養後，車漆被刮傷，技師裝錯了零件。",
    "en": "After the repair the same part was fitted incorrectly; poor workmanship.",
}
CUSTOMER = {
    "zh-CN": "车辆私自改装后已超出保修范围，我想问问能不能处理。",
    "zh-TW": "車輛私自改裝，已超過保固，想詢問能否處理。",
    "en": "I modified the car myself and it is out of warranty now.",
}


@pytest.mark.parametrize("lang", ["zh-CN", "zh-TW", "en"])
def test_defect_wording_is_product_quality(lang: str) -> None:
    assert of(PRODUCT[lang]).category == "product_quality"


@pytest.mark.parametrize("lang", ["zh-CN", "zh-TW", "en"])
def test_attitude_and_unanswered_calls_are_service(lang: str) -> None:
    assert of(SERVICE[lang]).category == "service"


@pytest.mark.parametrize("lang", ["zh-CN", "zh-TW", "en"])
def test_damage_done_by_the_workshop_is_repair_quality(lang: str) -> None:
    assert of(REPAIR[lang]).category == "repair_quality"


@pytest.mark.parametrize("lang", ["zh-CN", "zh-TW", "en"])
def test_modification_outside_warranty_is_a_customer_issue(lang: str) -> None:
    assert of(CUSTOMER[lang]).category == "customer_issue"


def test_fault_that_persists_after_repair_is_repair_quality() -> None:
    assert of("维修后刹车还是有异响，第二次进店").category == "repair_quality"


def test_text_without_complaint_vocabulary_is_other() -> None:
    assert of("您好，附件是上个月的会议纪要。").category == "other"


def test_bank_fee_and_attitude_complaint_is_service() -> None:
    assert of("信用卡年费被乱扣费，柜员态度差，要求退费。").category == "service"


def test_network_that_does_not_work_is_product_quality() -> None:
    assert of("家里宽带一直掉线，手机信号差，无法上网。").category == "product_quality"


def test_subject_counts_like_the_body() -> None:
    assert of("请尽快联系我。", subject="发动机漏油").category == "product_quality"


# -- departments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "提车时销售顾问说好的赠品没有给，贷款手续也拖着。",
        "交車時業務說好的贈品沒有給，貸款也一直拖。",
        "The salesman promised free mats when I bought the car and the loan paperwork is late.",
    ],
)
def test_purchase_wording_goes_to_sales(text: str) -> None:
    assert of(text).department == "sales"


@pytest.mark.parametrize(
    "text",
    [
        "在4S店售后保养，索赔的配件等了一个月。",
        "在保養廠維修，索賠的零件等了一個月。",
        "The workshop kept the car for servicing and the warranty claim is stuck.",
    ],
)
def test_repair_wording_goes_to_after_sales(text: str) -> None:
    assert of(text).department == "after_sales"


def test_new_car_with_a_defect_stays_with_after_sales() -> None:
    assert of("新车才开两个月，发动机异响").department == "after_sales"


def test_department_falls_back_to_the_categorys_department() -> None:
    rules = parse_rules(
        [
            (
                "local",
                """
        [categories]
        billing = { department = "sales" }
        [[rules]]
        target = "category:billing"
        phrases = ["账单"]
    """,
            )
        ]
    )
    assert classify("", "账单金额不对", rules).department == "sales"


# -- major flags ----------------------------------------------------------------------------------

MAJOR = [
    ("repeat", "这是我第二次投诉了，问题还是没解决。"),
    ("repeat", "這是我第二次投訴了，問題還是沒解決。"),
    ("repeat", "I already complained about this last month."),
    ("escalated", "我已经打了400热线投诉到厂家，还向12315反映了。"),
    ("escalated", "我已經向原廠投訴，也找了消基會。"),
    ("escalated", "I complained to the manufacturer and to the consumer association."),
    ("media", "再不处理我就找媒体曝光。"),
    ("media", "再不處理我就找媒體爆料。"),
    ("media", "If this is not fixed I will go to the press and social media."),
    ("lawsuit", "我已经请了律师，准备起诉。"),
    ("lawsuit", "我已經請律師，準備提告。"),
    ("lawsuit", "My lawyer will start legal action."),
    ("return_exchange", "这车我要求退车或者换车。"),
    ("return_exchange", "這台車我要求退車或換車。"),
    ("return_exchange", "I want you to take the car back and refund me."),
    ("safety", "高速上刹车失灵，差点出车祸。"),
    ("safety", "高速上煞車失靈，差點出車禍。"),
    ("safety", "The brakes failed on the motorway and the car caught fire."),
    ("group", "我们十几位车主联名投诉同一个问题。"),
    ("group", "我們多位車主集體投訴同一個問題。"),
    ("group", "Several owners have filed a group complaint about the same fault."),
    ("disturbance", "再不解决我们就去店门口拉横幅。"),
]


MAJOR_IDS = [f"{flag}-{n}" for n, (flag, _) in enumerate(MAJOR)]


@pytest.mark.parametrize(("flag", "text"), MAJOR, ids=MAJOR_IDS)
def test_major_flag_is_raised_by_its_wording(flag: str, text: str) -> None:
    result = of(text)
    assert flag in result.major
    assert any(e.target == f"major:{flag}" for e in result.evidence)


def test_plain_complaint_is_not_major() -> None:
    assert of("发动机有点异响，请帮忙看看。").major == ()


def test_one_weak_safety_word_does_not_make_a_major_complaint() -> None:
    assert "safety" not in of("座椅调节不太安全方便").major


def test_latin_phrase_must_be_a_whole_word() -> None:
    assert "safety" not in of("The engine misfires at idle.").major


def test_earlier_complaints_in_the_window_make_a_repeat_complaint() -> None:
    result = of("发动机异响", history=CustomerHistory(recent_complaints=1))
    assert result.major == ("repeat",)
    assert any("30 days" in e.phrase for e in result.evidence if e.target == "major:repeat")


def test_repeat_threshold_comes_from_settings() -> None:
    rules = load_rules(ClassifierSettings(repeat_min_earlier=2))
    result = classify("", "发动机异响", rules, CustomerHistory(recent_complaints=1))
    assert result.major == ()


def test_three_customers_about_one_matter_make_a_group_complaint() -> None:
    assert of("发动机异响", history=CustomerHistory(others_same_matter=2)).major == ("group",)


def test_two_customers_about_one_matter_are_not_a_group() -> None:
    assert of("发动机异响", history=CustomerHistory(others_same_matter=1)).major == ()


# -- severity -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("发动机有点异响。", "general"),
        ("发动机异响，我很不满意，请给个说法。", "medium"),
        ("發動機異響，我很不滿意，請給個說法。", "medium"),
        ("The engine is noisy and I am dissatisfied.", "medium"),
        ("发动机异响，我强烈要求你们今天答复。", "strong"),
        ("引擎異音，我非常氣憤，強烈要求今天答覆。", "strong"),
        ("This is unacceptable, I am furious.", "strong"),
        ("你们这些骗子，再不处理就砸店。", "irrational"),
        ("你們這些騙子公司，再不處理我就去鬧事。", "irrational"),
        ("You idiots, fix it or else.", "irrational"),
    ],
)
def test_wording_sets_the_severity(text: str, level: str) -> None:
    assert of(text).severity == level


def test_two_escalation_words_make_a_strong_complaint() -> None:
    assert of("发动机异响，多次进店，至今没有修好").severity == "strong"


def test_one_escalation_word_alone_is_not_strong() -> None:
    assert of("发动机一直异响").severity == "general"


def test_major_complaint_is_at_least_medium() -> None:
    result = of("刹车失灵了")
    assert result.severity == "medium"
    assert any(e.phrase.startswith("major complaint") for e in result.evidence)


def test_bank_scale_maps_dealer_intensities_towards_the_severe_end() -> None:
    scale = BANK.severity_scale
    assert [scale_level(i, scale) for i in range(4)] == ["low", "medium", "high", "high"]


def test_dealer_scale_maps_one_to_one() -> None:
    scale = ClassifierSettings().severity_scale
    assert [scale_level(i, scale) for i in range(4)] == list(scale)


def test_strong_complaint_is_high_on_the_bank_scale() -> None:
    assert classify("", "强烈要求今天退费", BANK_RULES).severity == "high"


def test_severity_evidence_names_the_configured_scale() -> None:
    result = classify("", "强烈要求今天退费", BANK_RULES)
    assert "severity:high" in {e.target for e in result.evidence}


def test_a_one_level_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="severity_scale"):
        ClassifierSettings(severity_scale=("only",))


def test_unknown_major_floor_is_refused() -> None:
    with pytest.raises(ValueError, match="major_min_intensity"):
        ClassifierSettings(major_min_intensity="high")


# -- evidence -------------------------------------------------------------------------------------


def test_evidence_names_each_phrase_with_its_target_and_weight() -> None:
    result = of("发动机漏油，我要找媒体曝光")
    found = {(e.target, e.phrase) for e in result.evidence}
    assert {
        ("category:product_quality", "发动机"),
        ("category:product_quality", "漏油"),
        ("major:media", "媒体"),
        ("major:media", "曝光"),
    } <= found
    assert all(e.weight != 0 for e in result.evidence)


def test_phrase_inside_a_longer_fired_phrase_counts_once() -> None:
    phrases = [e.phrase for e in of("刹车失灵").evidence if e.target.startswith("category:")]
    assert phrases == ["刹车失灵"]


def test_phrase_also_standing_alone_still_counts() -> None:
    phrases = [
        e.phrase
        for e in of("刹车失灵，另外刹车片磨损").evidence
        if e.target == "category:product_quality"
    ]
    assert "刹车片" in phrases


def test_result_carries_the_language() -> None:
    assert [of(PRODUCT[k]).language for k in ("zh-CN", "zh-TW", "en")] == ["zh-CN", "zh-TW", "en"]


# -- rule files -----------------------------------------------------------------------------------


# -- a trained model ------------------------------------------------------------------------------


class FixedModel:
    """A stand-in trained model that always answers the same label."""

    def __init__(self, label: str) -> None:
        self.label = label

    @property
    def name(self) -> str:
        return "fixed.model"

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return [(self.label, 0.75) for _ in texts]


def test_model_decides_the_category_and_rules_keep_the_major_flags() -> None:
    result = classify("", "发动机漏油，我要起诉", RULES, model=FixedModel("费用问题"))
    assert (result.category, result.major) == ("费用问题", ("lawsuit",))
    assert result.source == "fixed.model"
    assert [e.phrase for e in result.evidence if e.target.startswith("category:")] == [
        "model fixed.model"
    ]


def test_unknown_model_label_takes_the_default_department() -> None:
    assert classify("", "请回电", RULES, model=FixedModel("费用问题")).department == "after_sales"


def test_classify_many_matches_classify() -> None:
    texts = [("", PRODUCT["zh-CN"]), ("投诉", SERVICE["en"]), ("", "")]
    assert classify_many(texts, RULES) == [classify(s, t, RULES) for s, t in texts]
