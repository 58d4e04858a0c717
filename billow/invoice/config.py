"""A tenant's invoice configuration: its settings (`billow.tenant.settings`) as the generator's `GeneratorConfig`.

Kill Bill's `MultiTenantInvoiceConfig` reads each invoice property per tenant; the billing run reads a tenant's
settings once per batch and builds one `GeneratorConfig` from them.
"""

from __future__ import annotations

from billow.invoice.generator import GeneratorConfig, InArrearMode, UsageDetailMode
from billow.tenant import settings as s
from billow.tenant.settings import TenantSettings


def generator_config(settings: TenantSettings) -> GeneratorConfig:
    return GeneratorConfig(
        proration_fixed_days=settings.integer(s.PRORATION_FIXED_DAYS),
        in_arrear_mode=InArrearMode(settings.choice(s.IN_ARREAR_MODE)),
        max_months_in_future=settings.integer(s.MAX_MONTHS_IN_FUTURE),
        max_daily_items_safety_bound=settings.integer(s.MAX_DAILY_ITEMS_SAFETY_BOUND),
        sanity_safety_bound_enabled=settings.flag(s.SANITY_SAFETY_BOUND_ENABLED),
        usage_zero_amount_disabled=settings.flag(s.USAGE_ZERO_AMOUNT_DISABLED),
        read_max_raw_usage_previous_period=settings.integer(s.READ_MAX_RAW_USAGE_PREVIOUS_PERIOD),
        usage_missing_lenient=settings.flag(s.USAGE_MISSING_LENIENT),
        usage_detail_mode=UsageDetailMode(settings.choice(s.ITEM_RESULT_BEHAVIOR_MODE)),
        park_on_unknown_usage=settings.flag(s.PARK_ACCOUNTS_WITH_UNKNOWN_USAGE),
        usage_zone_rules=settings.choice(s.USAGE_TZ_MODE) == "VARIABLE",
        dry_run_notification=settings.span(s.DRY_RUN_NOTIFICATION_SCHEDULE),
    )
