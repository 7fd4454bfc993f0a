"""Who a complaint names by title and surname: "王经理", "张师傅", "Manager Wang"."""

from __future__ import annotations

from daemon.names import Ambiguity, find_named, named_people, role_title, surname_zh
from daemon.org import OrgSettings, Person


def person(
    key: str, name: str, role: str, aliases: tuple[str, ...] = (), manager: str | None = None
) -> Person:
    return Person(key, name, f"{key}@dealer.test", role, manager=manager, aliases=aliases)


PEOPLE = (
    person("zhao_gang", "赵刚", "general_manager"),
    person("zhou_jie", "周杰", "customer_care_manager", manager="zhao_gang"),
    person("zheng_hao", "郑浩", "service_manager", ("Kevin Zheng",), "zhao_gang"),
    person("wu_fang", "吴芳", "retail_manager", manager="zhao_gang"),
    person("feng_yu", "冯宇", "service_advisor", manager="zheng_hao"),
    person("ouyang_na", "欧阳娜", "sales_consultant", manager="wu_fang"),
    person("yang_bo", "阳波", "sales_consultant", manager="wu_fang"),
    person("liu_qiang", "刘强", "technician", manager="zheng_hao"),
    person("zhang_li", "张丽", "legal", manager="zhao_gang"),
)
ORG = OrgSettings(people=PEOPLE)

TWO_WANGS = OrgSettings(
    people=(
        *PEOPLE,
        person("wang_lei", "王磊", "retail_manager", ("Leo Wang",), "zhao_gang"),
        person("wang_qiang", "王强", "service_manager", manager="zhao_gang"),
    )
)


def test_title_and_surname_of_a_single_person_names_them() -> None:
    assert named_people("郑经理答应给我回电话，到现在没有消息", ORG) == ("zheng_hao",)


def test_general_title_names_anyone_with_the_surname() -> None:
    assert named_people("吴主管说这不归她管", ORG) == ("wu_fang",)


def test_short_title_zong_names_the_general_manager() -> None:
    assert named_people("赵总亲口承诺的", ORG) == ("zhao_gang",)


def test_the_roles_own_title_names_its_holder() -> None:
    assert named_people("刘技师没拧紧螺丝", ORG) == ("liu_qiang",)


def test_a_role_title_someone_else_holds_does_not_name_a_person() -> None:
    assert named_people("冯技师没拧紧螺丝", ORG) == ()


def test_compound_surname_takes_its_title() -> None:
    assert named_people("欧阳顾问一直不接电话", ORG) == ("ouyang_na",)


def test_compound_surname_does_not_name_a_colleague_with_its_second_character() -> None:
    # 阳波's surname is 阳: "欧阳顾问" is not "阳顾问".
    assert named_people("欧阳顾问一直不接电话", ORG) == ("ouyang_na",)
    assert named_people("阳顾问一直不接电话", ORG) == ("yang_bo",)


def test_compound_surname_is_derived_from_the_full_name() -> None:
    assert (surname_zh("欧阳娜"), surname_zh("诸葛明亮"), surname_zh("王磊")) == (
        "欧阳",
        "诸葛",
        "王",
    )


def test_a_role_title_after_a_department_is_its_short_form() -> None:
    assert (role_title("服务顾问"), role_title("维修技师"), role_title("客服总监")) == (
        "顾问",
        "技师",
        "总监",
    )


def test_a_surname_inside_an_ordinary_word_names_nobody() -> None:
    org = OrgSettings(people=(*PEOPLE, person("wang_lei", "王磊", "retail_manager")))
    assert named_people("我在王府井店买的车，郑州的朋友推荐的", org) == ()


def test_a_surname_without_a_title_names_nobody() -> None:
    assert named_people("周末去店里，刘海都吹乱了", ORG) == ()


def test_zong_at_the_start_of_an_ordinary_noun_is_not_a_title() -> None:
    org = OrgSettings(people=(*PEOPLE, person("gao_min", "高敏", "service_advisor")))
    assert named_people("这周总是下雨，希望赵总部门提高总体服务", org) == ()


def test_zong_before_a_verb_is_read_as_the_title() -> None:
    assert named_people("赵总是不会管的", ORG) == ("zhao_gang",)


def test_a_word_ending_in_a_surname_before_a_title_names_nobody() -> None:
    assert named_people("这周经理都不在，一张工单也没开", ORG) == ()


def test_ambiguous_title_and_surname_names_every_candidate() -> None:
    naming = find_named("王经理承诺的优惠没有兑现", TWO_WANGS)
    assert naming.people == ("wang_lei", "wang_qiang")
    assert naming.ambiguous == (Ambiguity("王经理", ("wang_lei", "wang_qiang")),)


def test_a_full_name_is_not_ambiguous_where_its_surname_would_be() -> None:
    naming = find_named("王磊经理承诺的优惠没有兑现", TWO_WANGS)
    assert (naming.people, naming.ambiguous) == (("wang_lei",), ())


def test_unique_title_and_surname_is_not_reported_as_ambiguous() -> None:
    assert find_named("郑经理不接电话", ORG).ambiguous == ()


def test_english_title_and_family_name_names_the_person() -> None:
    assert named_people("Manager Zheng promised a call back; Mr. Zheng never rang", ORG) == (
        "zheng_hao",
    )


def test_english_family_name_without_a_title_names_nobody() -> None:
    assert named_people("We drove to Zheng's town", ORG) == ()


def test_title_and_surname_in_traditional_characters_names_the_person() -> None:
    assert named_people("鄭經理答應回電", ORG) == ("zheng_hao",)
