"""Generated Chinese personal names, for charset round trips of display names."""

from __future__ import annotations

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯兰建国志文"
    "栋晨晓东海波宁欣怡梅琳雪峰鑫婷颖丹亮飞龙俊帅"
)


def chinese_names(count: int) -> list[str]:
    """Two- and three-character names: every surname with a spread of given-name characters."""
    found: list[str] = []
    step = 0
    while len(found) < count:
        given = GIVEN[(step * 7) % len(GIVEN)] + GIVEN[(step * 13 + 5) % len(GIVEN)]
        found.append(SURNAMES[step % len(SURNAMES)] + given[: 1 + step % 2])
        step += 1
    return found
