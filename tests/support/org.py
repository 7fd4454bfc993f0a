"""A realistic 4S-store org chart as config.toml text, shared by the routing and clock tests."""

from __future__ import annotations

GM = "zhao.gang@dealer.example"
CARE_MANAGER = "zhou.jie@dealer.example"
SERVICE_DIRECTOR = "qian.hong@dealer.example"
SERVICE_MANAGER = "zheng.hao@dealer.example"
SALES_DIRECTOR = "sun.li@dealer.example"
RETAIL_MANAGER = "wu.fang@dealer.example"
ADVISOR = "wang.lei@dealer.example"
DEPUTY = "feng.yu@dealer.example"

STORE_ORG = f"""
[[org.people]]
key = "zhao_gang"
name = "赵刚"
email = "{GM}"
role = "general_manager"

[[org.people]]
key = "zhou_jie"
name = "周杰"
email = "{CARE_MANAGER}"
role = "customer_care_manager"
manager = "zhao_gang"

[[org.people]]
key = "qian_hong"
name = "钱红"
email = "{SERVICE_DIRECTOR}"
role = "service_director"
department = "after_sales"
manager = "zhao_gang"

[[org.people]]
key = "zheng_hao"
name = "郑浩"
email = "{SERVICE_MANAGER}"
role = "service_manager"
department = "after_sales"
manager = "qian_hong"
aliases = ["郑经理"]

[[org.people]]
key = "feng_yu"
name = "冯雨"
email = "{DEPUTY}"
role = "service_advisor"
department = "after_sales"
manager = "zheng_hao"

[[org.people]]
key = "sun_li"
name = "孙丽"
email = "{SALES_DIRECTOR}"
role = "sales_director"
department = "sales"
manager = "zhao_gang"

[[org.people]]
key = "wu_fang"
name = "吴芳"
email = "{RETAIL_MANAGER}"
role = "retail_manager"
department = "sales"
manager = "sun_li"

[[org.people]]
key = "wang_lei"
name = "王磊"
email = "{ADVISOR}"
role = "service_advisor"
department = "after_sales"
manager = "zheng_hao"
"""


def absence(person: str, deputy: str, start: str, end: str) -> str:
    return f"""
[[org.absences]]
person = "{person}"
deputy = "{deputy}"
start = {start}
end = {end}
reason = "年假"
"""
