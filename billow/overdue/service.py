"""The overdue service's user API: the tenant's configuration (XML and JSON, Kill Bill's `OverdueResource`) and
an account's overdue state (`AccountResource.getOverdueAccount`)."""

from __future__ import annotations

from typing import Any

from billow.account.internal import AccountInternalApi
from billow.core.context import CallContext
from billow.core.db import Database
from billow.overdue.applicator import OverdueApplicator
from billow.overdue.configs import OverdueConfigs
from billow.overdue.errors import OverdueConfigError, invalid_config
from billow.overdue.json_view import config_from_json
from billow.overdue.model import OverdueConfig, OverdueState
from billow.overdue.xml import dump_overdue_xml, load_overdue_xml


class OverdueService:
    def __init__(self, db: Database, configs: OverdueConfigs, applicator: OverdueApplicator,
                 accounts: AccountInternalApi) -> None:
        self.db = db
        self.configs = configs
        self.applicator = applicator
        self.accounts = accounts

    def config(self, ctx: CallContext) -> OverdueConfig:
        with self.db.read(ctx) as uow:
            return self.configs.config(uow)

    def xml(self, ctx: CallContext) -> str:
        """The configuration written as XML from its model (Kill Bill's `XMLWriter.writeXML`)."""
        return dump_overdue_xml(self.config(ctx))

    def upload_xml(self, ctx: CallContext, document: str | bytes) -> OverdueConfig:
        """`uploadOverdueConfigXml`: validated first; an invalid document changes nothing (400 naming each
        problem with its element path)."""
        try:
            config = load_overdue_xml(document)
        except OverdueConfigError as exc:
            raise invalid_config(exc) from None
        text = document.decode("utf-8") if isinstance(document, bytes) else document
        with self.db.transaction(ctx) as uow:
            self.configs.store(uow, text)
        return config

    def upload_json(self, ctx: CallContext, body: Any) -> OverdueConfig:
        """`uploadOverdueConfigJson` (Kill Bill's JSON rules: time-based conditions in days); stored as XML."""
        try:
            config = config_from_json(body)
        except OverdueConfigError as exc:
            raise invalid_config(exc) from None
        with self.db.transaction(ctx) as uow:
            self.configs.store(uow, dump_overdue_xml(config))
        return config

    def account_state(self, ctx: CallContext, account_id: str) -> OverdueState:
        """`getOverdueAccount`: the account's current overdue state (clear when it has none)."""
        with self.db.read(ctx) as uow:
            account = self.accounts.get(uow, account_id)
            return self.applicator.current(uow, account, self.configs.config(uow))

    def refresh(self, ctx: CallContext, account_id: str) -> OverdueState | None:
        """Evaluate the account now (what the bus does on invoice, payment and tag events)."""
        with self.db.transaction(ctx) as uow:
            return self.applicator.refresh(uow, self.accounts.get(uow, account_id))
