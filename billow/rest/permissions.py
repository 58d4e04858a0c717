"""The permission each route needs, in one place: Kill Bill's `@RequiresPermissions` on the API its resource calls
(killbill-api: AccountUserApi, EntitlementApi, InvoiceUserApi, TagUserApi, CustomFieldUserApi, TenantUserApi,
CatalogUserApi, UsageUserApi, SecurityApi, ExportUserApi, KillbillNodesApi, PaymentApi, ...).

`permission_for(operation_id, method)` answers from the table below, then from the tag and custom-field rules, then
"a read needs none beyond authentication". A write route missing from all of them is a programming error:
`create_app` refuses to start. Adding a route = adding one line here.

The check runs before the route's body (a dependency of every /1.0/kb router): a user lacking the permission gets
Kill Bill's 401 (its authorization-error mapper answers 401), and nothing is done.
"""

from __future__ import annotations

import re

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from billow.core.errors import BillowError

PERMISSIONS: dict[str, str | None] = {
    # tenants and their key/values (TenantUserApi)
    "createTenant": "tenant:create",
    "uploadPerTenantConfiguration": "tenant_kvs:add", "deletePerTenantConfiguration": "tenant_kvs:delete",
    "uploadPluginConfiguration": "tenant_kvs:add", "deletePluginConfiguration": "tenant_kvs:delete",
    "uploadPluginPaymentStateMachineConfig": "tenant_kvs:add",
    "deletePluginPaymentStateMachineConfig": "tenant_kvs:delete",
    "insertUserKeyValue": "tenant_kvs:add", "deleteUserKeyValue": "tenant_kvs:delete",
    "registerPushNotificationCallback": "tenant_kvs:add", "deletePushNotificationCallbacks": "tenant_kvs:delete",
    "uploadInvoiceTemplate": "tenant_kvs:add", "uploadInvoiceMPTemplate": "tenant_kvs:add",
    "uploadInvoiceTranslation": "tenant_kvs:add", "uploadCatalogTranslation": "tenant_kvs:add",
    # accounts (AccountUserApi; credit moves are InvoiceUserApi's)
    "createAccount": "account:create", "updateAccount": "account:update", "closeAccount": "account:update",
    "addEmail": "account:add_emails", "removeEmail": "account:delete_emails",
    "transferChildCreditToParent": "invoice:delete_cba", "rebalanceExistingCBAOnAccount": "invoice:delete_cba",
    # entitlement (EntitlementApi, Entitlement, SubscriptionApi)
    "createSubscription": "entitlement:create", "createSubscriptionWithAddOns": "entitlement:create",
    "createSubscriptionsWithAddOns": "entitlement:create",
    "changeSubscriptionPlan": "entitlement:change_plan", "undoChangeSubscriptionPlan": "entitlement:change_plan",
    "cancelSubscriptionPlan": "entitlement:cancel", "uncancelSubscriptionPlan": "entitlement:cancel",
    "updateSubscriptionBCD": "entitlement:create", "updateSubscriptionQuantity": "entitlement:create",
    "renameExternalKey": "entitlement:create", "transferBundle": "entitlement:transfer",
    "pauseBundle": "entitlement:pause_resume", "resumeBundle": "entitlement:pause_resume",
    "addSubscriptionBlockingState": "entitlement:pause_resume", "addBundleBlockingState": "entitlement:pause_resume",
    "addAccountBlockingState": "entitlement:pause_resume",
    # catalog (CatalogUserApi)
    "uploadCatalogXml": "catalog:config_upload", "upload_catalog": "catalog:config_upload",
    "addSimplePlan": "catalog:config_upload", "deleteCatalog": "catalog:delete", "validateCatalogXml": None,
    # invoices (InvoiceUserApi)
    "createFutureInvoice": "invoice:trigger", "createFutureInvoiceGroup": "invoice:trigger",
    "createMigrationInvoice": "invoice:trigger", "triggerInvoiceGenerationForParkedAccounts": "invoice:trigger",
    "generateDryRunInvoice": "invoice:dry_run",
    "createExternalCharges": "account:charge", "createTaxItems": "account:charge", "createCredits": "account:credit",
    "adjustInvoiceItem": "invoice:item_adjust", "deleteCBA": "invoice:delete_cba",
    "commitInvoice": "invoice:commit", "voidInvoice": "invoice:void",
    # tag definitions (TagUserApi)
    "createTagDefinition": "tag:create_tag_definition", "deleteTagDefinition": "tag:delete_tag_definition",
    # usage (UsageUserApi)
    "recordUsage": "usage:record", "recordUsageBatch": "usage:record",
    # overdue (OverdueApi)
    "uploadOverdueConfigXml": "overdue:config_upload", "uploadOverdueConfigJson": "overdue:config_upload",
    # payment methods and payments (PaymentApi, InvoicePaymentApi, PaymentGatewayApi)
    "createPaymentMethod": "payment_method:create", "setDefaultPaymentMethod": "payment_method:create",
    "refreshPaymentMethods": "payment_method:update", "deletePaymentMethod": "payment_method:delete",
    "processPayment": "payment:trigger", "processPaymentByExternalKey": "payment:trigger",
    "captureAuthorization": "payment:trigger", "captureAuthorizationByExternalKey": "payment:trigger",
    "voidPayment": "payment:trigger", "voidPaymentByExternalKey": "payment:trigger",
    "completeTransaction": "payment:trigger", "completeTransactionByExternalKey": "payment:trigger",
    "completeInvoicePaymentTransaction": "payment:trigger", "createInstantPayment": "payment:trigger",
    "payAllInvoices": "payment:trigger",
    "refundPayment": "payment:refund", "refundPaymentByExternalKey": "payment:refund",
    "createRefundWithAdjustments": "payment:refund",
    "chargebackPayment": "payment:chargeback", "chargebackPaymentByExternalKey": "payment:chargeback",
    "chargebackReversalPayment": "payment:chargeback", "chargebackReversalPaymentByExternalKey": "payment:chargeback",
    "createChargeback": "payment:chargeback", "createChargebackReversal": "payment:chargeback",
    "notifyStateChanged": "payment:transition", "processNotification": "payment:notification",
    "buildFormDescriptor": None,  # asks the gateway for a form; changes nothing (not annotated in Kill Bill)
    # the combo calls check account:create and payment_method:create themselves when they create one
    "createComboPayment": "payment:trigger", "buildComboFormDescriptor": None,
    "cancelScheduledPaymentTransactionById": "payment:trigger",
    "cancelScheduledPaymentTransactionByExternalKey": "payment:trigger",
    "configure_plugin": "admin:update",  # the test gateway's configure servlet
    # users and roles (SecurityApi)
    "addUserRoles": "user:create", "updateUserPassword": "user:create", "updateUserRoles": "user:create",
    "invalidateUser": "user:create", "addRoleDefinition": "user:create", "updateRoleDefinition": "user:create",
    # administration (ExportUserApi, KillbillNodesApi, AdminPaymentApi; the rest are Kill Bill admin writes)
    "exportDataForAccount": "admin:export", "triggerNodeCommand": "admin:trigger_command",
    "retryFailedQueueEntries": "admin:update", "invalidatesCache": "admin:update",
    "invalidatesCacheByAccount": "admin:update", "invalidatesCacheByTenant": "admin:update",
    "putInRotation": "admin:update", "putOutOfRotation": "admin:update",
    "updatePaymentTransactionState": "admin:update",
    # the test clock (test mode only; Kill Bill's TestResource checks none)
    "set_clock": None, "move_clock": None,
}

# tags and custom fields on every object type: create<Object>Tags, modify<Object>CustomFields, ...
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^create\w*Tags$"), "tag:add"),
    (re.compile(r"^delete\w*Tags$"), "tag:delete"),
    (re.compile(r"^create\w*CustomFields$"), "custom_field:add"),
    (re.compile(r"^modify\w*CustomFields$"), "custom_field:update"),
    (re.compile(r"^delete\w*CustomFields$"), "custom_field:delete"),
)


class Undeclared(LookupError):
    """A write route without a permission line."""


def permission_for(operation_id: str, method: str) -> str | None:
    if operation_id in PERMISSIONS:
        return PERMISSIONS[operation_id]
    for pattern, permission in _RULES:
        if pattern.match(operation_id):
            return permission
    if method in ("GET", "HEAD", "OPTIONS"):
        return None
    raise Undeclared(f"{method} {operation_id}: no permission declared in billow/rest/permissions.py")


class NotPermitted(BillowError):
    """Kill Bill's SECURITY_NOT_ENOUGH_PERMISSIONS, answered 401 as its authorization-error mapper does."""

    status = 401


def require(request: Request, permission: str) -> None:
    """A permission checked inside a route (from a worker thread), for what only some calls do: Kill Bill checks
    each inner API call (a combo payment that creates an account needs account:create)."""
    principal: str | None = getattr(request.state, "principal", None)
    if principal is None or not request.app.state.billow.security.is_permitted(principal, permission):
        raise NotPermitted("User doesn't have enough permissions", code=40000,
                           class_name="org.killbill.billing.security.SecurityApiException")


async def authorize(request: Request) -> None:
    """FastAPI dependency of every /1.0/kb router: the authenticated user must hold the route's permission."""
    required: dict[tuple[object, str], str | None] = request.app.state.route_permissions
    permission = required.get((request.scope.get("endpoint"), request.method))
    if permission is None:
        return
    principal: str | None = getattr(request.state, "principal", None)
    security = request.app.state.billow.security
    allowed: bool | None = False
    if principal is not None:
        allowed = security.permitted_remembered(principal, permission)
        if allowed is None:  # not remembered: read in a thread
            allowed = await run_in_threadpool(security.is_permitted, principal, permission)
    if not allowed:
        raise NotPermitted("User doesn't have enough permissions", code=40000,
                           class_name="org.killbill.billing.security.SecurityApiException")
