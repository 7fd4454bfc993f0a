"""The org chart as the pure core sees it: people, roles, routing rules and absences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ANY = "*"


@dataclass(frozen=True, slots=True)
class Person:
    key: str  # stable identifier used everywhere else, e.g. "zheng_hao"
    name: str  # as customers write it, e.g. "郑浩" or "Kevin Zheng"
    email: str
    role: str  # a Role key
    department: str = ""  # e.g. "sales", "after_sales", "customer_care"; "" for none
    manager: str | None = None  # person key of their line manager; None at the top
    aliases: tuple[str, ...] = ()  # other ways customers name them: "郑经理", "鄭浩", "Kevin"
    language: str = ""  # the language of their notices; "" for [service] default_language


@dataclass(frozen=True, slots=True)
class Role:
    key: str
    title_zh: str = ""
    title_en: str = ""


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """One row of the routing table; "*" matches anything. First match wins."""

    role: str
    category: str = ANY
    department: str = ANY
    channel: str = ANY

    def matches(self, category: str, department: str, channel: str) -> bool:
        return (
            self.category in (ANY, category)
            and self.department in (ANY, department)
            and self.channel in (ANY, channel)
        )

    @property
    def is_catch_all(self) -> bool:
        return self.category == self.department == self.channel == ANY


@dataclass(frozen=True, slots=True)
class Absence:
    """A window [start, end) in which `person` is away and `deputy` acts with their full rights."""

    person: str
    start: datetime  # timezone-aware
    end: datetime  # timezone-aware, exclusive
    deputy: str
    reason: str = ""

    def covers(self, now: datetime) -> bool:
        return self.start <= now < self.end


# The role table of DOMAIN.md, plus the front-line staff complaints most often name.
DEFAULT_ROLES: tuple[Role, ...] = (
    Role("customer_care_manager", "客户关爱经理", "Customer-care manager"),
    Role("callback_specialist", "回访专员", "Callback specialist"),
    Role("customer_service_director", "客服总监", "Customer-service director"),
    Role("retail_manager", "零售经理", "Retail manager"),
    Role("service_manager", "服务经理", "Service manager"),
    Role("sales_director", "销售总监", "Sales director"),
    Role("service_director", "服务总监", "Service director"),
    Role("showroom_manager", "展厅经理", "Showroom manager"),
    Role("general_manager", "总经理", "General manager"),
    Role("legal", "法务", "Legal"),
    Role("sales_consultant", "销售顾问", "Sales consultant"),
    Role("service_advisor", "服务顾问", "Service advisor"),
    Role("technician", "维修技师", "Technician"),
)

# Seed 000, article 7.4: customer care dispatches sales complaints to the retail manager and
# after-sales ones to the service manager; anything else stays with customer care.
DEFAULT_ROUTING: tuple[RoutingRule, ...] = (
    RoutingRule("retail_manager", department="sales"),
    RoutingRule("service_manager", department="after_sales"),
    RoutingRule("customer_care_manager"),
)


@dataclass(frozen=True, slots=True)
class OrgSettings:
    people: tuple[Person, ...] = ()
    roles: tuple[Role, ...] = DEFAULT_ROLES
    routing: tuple[RoutingRule, ...] = DEFAULT_ROUTING
    absences: tuple[Absence, ...] = ()
    care_manager_role: str = "customer_care_manager"
    general_manager_role: str = "general_manager"
    # Seed 000: a major complaint is reported to the general manager and legal within 24 hours.
    legal_role: str = "legal"
    # Step 2 of the escalation ladder is the first of these above the handler.
    director_roles: tuple[str, ...] = (
        "sales_director",
        "service_director",
        "customer_service_director",
    )
    # Seed 000, article 5: the customer-service director sits in every escalation tier as the
    # neutral third party, so every ladder step is copied to whoever holds these roles.
    escalation_copy_roles: tuple[str, ...] = ("customer_service_director",)
