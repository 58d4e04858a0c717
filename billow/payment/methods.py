"""Payment methods (Kill Bill's `PaymentMethodProcessor`): add, default, delete, read.

The plugin is told first, outside any transaction; the row is written after. Deleting the default method
needs `deleteDefaultPmWithAutoPayOff` (the account gets AUTO_PAY_OFF) or `forceDefaultPmDeletion`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from billow.account.internal import AccountInternalApi
from billow.core.context import CallContext
from billow.core.db import Database, UnitOfWork
from billow.core.limits import check_text
from billow.core.objects import ObjectOwner
from billow.payment import store
from billow.payment.errors import DEL_DEFAULT_PAYMENT_METHOD, PaymentError, invalid_parameter, no_such_method
from billow.payment.model import PaymentMethod
from billow.payment.plugin_api import PaymentMethodDetail, PaymentPluginApiException, PluginProperty
from billow.payment.processor import PaymentProcessor

# (uow, account owner) → puts AUTO_PAY_OFF on the account (wired by the application: tags sit below payment)
AutoPayOff = Callable[[UnitOfWork, ObjectOwner], None]


class PaymentMethods:
    def __init__(self, db: Database, accounts: AccountInternalApi, processor: PaymentProcessor,
                 auto_pay_off: AutoPayOff) -> None:
        self.db = db
        self.accounts = accounts
        self.processor = processor
        self.auto_pay_off = auto_pay_off

    def add(self, ctx: CallContext, account_id: str, plugin_name: str | None, *, external_key: str | None = None,
            is_default: bool = False, plugin_info: Sequence[PluginProperty] = (),
            properties: Sequence[PluginProperty] = ()) -> PaymentMethod:
        if not plugin_name:
            raise invalid_parameter("pluginName", "needs to be set")
        if external_key is not None:
            check_text("externalKey", external_key, store.KEY_LENGTH)
        method_id = str(uuid.uuid4())
        with self.db.read(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            plugin = self.processor.plugin(plugin_name)
            pctx = self.processor.plugin_context(uow, plugin_name, self.processor.config(uow))
        try:
            detail = plugin.add_payment_method(account.id, PaymentMethodDetail(method_id, external_key, is_default,
                                                                               tuple(plugin_info)),
                                               is_default, properties, pctx)
        except PaymentPluginApiException as e:  # Kill Bill's PAYMENT_ADD_PAYMENT_METHOD
            raise PaymentError(7005, f"Failed to add payment method for account {account.id} : "
                               f"{e.error_message}") from e
        with self.db.transaction(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            uow.lock_account(account.record_id)
            if external_key is not None and store.method(uow.conn, uow.tenant, external_key=external_key):
                raise PaymentError(7005, f"Failed to add payment method for account {account.id} : external key "
                                   f"{external_key} already exists", status=409)
            row = uow.insert("payment_methods", {
                "id": method_id, "account_record_id": account.record_id, "account_id": account.id,
                "plugin_name": plugin_name, "is_active": True,
                "external_key": external_key or detail.external_payment_method_id or method_id,
                # what the gateway answered (by default the method's own plugin info): its ids for the method
                "plugin_info": store.dump_properties(tuple(detail.properties))})
            if is_default:  # as Kill Bill: a method becomes the default only when asked
                self.accounts.set_payment_method(uow, account, method_id)
            return store.to_method(row)

    def get(self, ctx: CallContext, method_id: str, *, include_deleted: bool = False) -> PaymentMethod:
        with self.db.read(ctx) as uow:
            found = store.method(uow.conn, uow.tenant, method_id=method_id, active_only=not include_deleted)
        if found is None:
            raise no_such_method(method_id)
        return found

    def by_key(self, ctx: CallContext, external_key: str, *, include_deleted: bool = False) -> PaymentMethod:
        with self.db.read(ctx) as uow:
            found = store.method(uow.conn, uow.tenant, external_key=external_key, active_only=not include_deleted)
        if found is None:
            raise no_such_method(external_key)
        return found

    def of_account(self, ctx: CallContext, account_id: str, *, include_deleted: bool = False) -> list[PaymentMethod]:
        with self.db.read(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            return store.methods_of(uow.conn, uow.tenant, account.record_id, include_deleted=include_deleted)

    def page(self, ctx: CallContext, offset: int, limit: int, plugin_name: str | None = None
             ) -> tuple[list[PaymentMethod], int]:
        with self.db.read(ctx) as uow:
            return store.methods_page(uow.conn, uow.tenant, offset, limit, plugin_name)

    def set_default(self, ctx: CallContext, account_id: str, method_id: str) -> None:
        with self.db.transaction(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            uow.lock_account(account.record_id)
            method = store.method(uow.conn, uow.tenant, method_id=method_id)
            if method is None:
                raise no_such_method(method_id)
            if method.account_id != account.id:
                raise PaymentError(7033, f"Payment method {method_id} has a different account id")
            self.accounts.set_payment_method(uow, account, method_id)

    def delete(self, ctx: CallContext, method_id: str, *, with_auto_pay_off: bool = False,
               force: bool = False, properties: Sequence[PluginProperty] = ()) -> None:
        with self.db.transaction(ctx) as uow:
            method = store.method(uow.conn, uow.tenant, method_id=method_id)
            if method is None:
                raise no_such_method(method_id)
            account = self.accounts.get(uow, method.account_id)
            uow.lock_account(account.record_id)
            if account.payment_method_id == method.id:
                if not (with_auto_pay_off or force):
                    raise PaymentError(DEL_DEFAULT_PAYMENT_METHOD,
                                       f"Cannot delete default payment method for account {account.id}")
                if with_auto_pay_off:
                    self.auto_pay_off(uow, ObjectOwner(account.record_id, account.id))
                self.accounts.set_payment_method(uow, account, None)
            uow.soft_delete("payment_methods", method.record_id, {"is_active": False})
            plugin = self.processor.plugins.get(method.plugin_name)
            pctx = self.processor.plugin_context(uow, method.plugin_name, self.processor.config(uow))
        if plugin is not None:
            # the method's own properties (the gateway's ids for it) first, then the call's
            plugin.delete_payment_method(method.account_id, method.id, method.plugin_info + tuple(properties), pctx)
