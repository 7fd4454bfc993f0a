"""Who receives the scheduled reports, and which are sent (config: see daemon.config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReportMailSettings(BaseModel):
    """The weekly and monthly reports by mail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weekly: bool = True  # due at the end of the last working day of each week
    monthly: bool = True  # due at the opening of the first working day of the next month
    # Roles in [org] that receive the whole dealership's figures.
    roles: tuple[str, ...] = (
        "general_manager",
        "sales_director",
        "service_director",
        "customer_service_director",
        "customer_care_manager",
    )
    # Each department's own figures to its manager: whoever holds the role [[org.routing]]
    # sends that department's complaints to (retail manager for sales, service manager for
    # after-sales by default).
    department_managers: bool = True
    # Further addresses that receive the whole dealership's figures, in the default language.
    to: tuple[str, ...] = ()
    # A report that fell due while no daemon ran is still sent when one starts within this
    # many days of it; older ones are left (a new install does not mail a year of reports).
    catch_up_days: int = Field(default=14, ge=0)
    # How often the daemon looks whether a report is due.
    check_seconds: int = Field(default=300, ge=1)
