"""Kill Bill's permissions (killbill-api `org.killbill.billing.security.Permission`) and Shiro's wildcard rule.

A permission is `group:action`. A granted string may be `*` (everything), a group alone or `group:*` (every action
of the group), or `group:a,b` (several actions), as Shiro's `WildcardPermission` reads them. Pure: no I/O.
"""

from __future__ import annotations

# (group, action) in Kill Bill's order; `str(p)` in Kill Bill is "group:action"
KILL_BILL_PERMISSIONS: tuple[str, ...] = (
    "account:create", "account:update", "account:add_emails", "account:delete_emails", "account:charge",
    "account:credit",
    "catalog:config_upload", "catalog:delete",
    "custom_field:add", "custom_field:update", "custom_field:delete",
    "entitlement:create", "entitlement:change_plan", "entitlement:pause_resume", "entitlement:cancel",
    "entitlement:transfer",
    "invoice:credit", "invoice:item_adjust", "invoice:delete_cba", "invoice:trigger", "invoice:dry_run",
    "invoice:write_off", "invoice:commit", "invoice:void",
    "overdue:config_upload",
    "payment:trigger", "payment:refund", "payment:chargeback", "payment:transition", "payment:notification",
    "payment_method:create", "payment_method:update", "payment_method:delete",
    "tag:create_tag_definition", "tag:delete_tag_definition", "tag:add", "tag:delete",
    "tenant:create",
    "tenant_kvs:add", "tenant_kvs:delete",
    "usage:record",
    "user:create",
    "admin:update", "admin:export", "admin:trigger_command",
)

ACTIONS_BY_GROUP: dict[str, frozenset[str]] = {}
for _p in KILL_BILL_PERMISSIONS:
    _g, _a = _p.split(":")
    ACTIONS_BY_GROUP[_g] = ACTIONS_BY_GROUP.get(_g, frozenset()) | {_a}


def _parts(permission: str) -> list[set[str]]:
    return [{a.strip() for a in part.split(",")} for part in permission.strip().lower().split(":")]


def implies(granted: str, required: str) -> bool:
    """Shiro's WildcardPermission.implies: each part of `granted` covers the same part of `required`; a missing
    trailing part of `granted` covers everything."""
    have, need = _parts(granted), _parts(required)
    for i, need_part in enumerate(need):
        if i >= len(have):
            return True
        if "*" not in have[i] and not need_part <= have[i]:
            return False
    # `granted` longer than `required`: its extra parts must all be wildcards
    return all("*" in part for part in have[len(need):])


def permitted(granted: frozenset[str] | set[str], required: str) -> bool:
    return any(implies(g, required) for g in granted)


def invalid_permission(permission: str) -> bool:
    """True unless `permission` names Kill Bill's permissions: `*`, `group`, `group:*`, `group:a[,b...]`."""
    text = permission.strip()
    if text == "*":
        return False
    parts = text.split(":")
    if len(parts) > 2 or parts[0] not in ACTIONS_BY_GROUP:
        return True
    if len(parts) == 1 or parts[1] == "*":
        return False
    actions = {a.strip() for a in parts[1].split(",")}
    return not actions or not actions <= ACTIONS_BY_GROUP[parts[0]]


def expand(granted: frozenset[str] | set[str]) -> list[str]:
    """Every Kill Bill permission `granted` allows, in Kill Bill's order (getCurrentUserPermissions)."""
    return [p for p in KILL_BILL_PERMISSIONS if permitted(granted, p)]
