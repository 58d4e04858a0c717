"""Owner resolvers: a service's own not-found becomes Kill Bill's ObjectDoesNotExist; other errors pass."""

from __future__ import annotations

from typing import Any, cast

import pytest

from billow.core.db import UnitOfWork
from billow.core.errors import BillowError, InvalidInput, NotFound
from billow.core.objects import OBJECT_DOES_NOT_EXIST, ObjectOwner, ObjectType, owner_resolver, resolve_owner

UOW = cast(UnitOfWork, object())


def _lookup(error: BillowError | None) -> Any:
    def lookup(uow: UnitOfWork, object_id: str) -> ObjectOwner:
        assert uow is UOW
        if error is not None:
            raise error
        return ObjectOwner(7, "acct-" + object_id)

    return lookup


def test_a_found_object_gives_its_account() -> None:
    resolve = owner_resolver(ObjectType.BUNDLE, _lookup(None))
    assert resolve(UOW, "b1") == ObjectOwner(7, "acct-b1")


def test_a_services_not_found_becomes_object_does_not_exist() -> None:
    resolve = owner_resolver(ObjectType.BUNDLE, _lookup(NotFound("Could not find a bundle", code=1081)))
    with pytest.raises(BillowError) as exc:
        resolve(UOW, "b1")
    assert (exc.value.status, exc.value.code, exc.value.class_name, exc.value.message) == (
        404, None, OBJECT_DOES_NOT_EXIST, "Object id=b1 type=BUNDLE doesn't exist!")


def test_other_errors_pass_unchanged() -> None:
    error = InvalidInput("bad", code=1)
    resolve = owner_resolver(ObjectType.INVOICE, _lookup(error))
    with pytest.raises(BillowError) as exc:
        resolve(UOW, "i1")
    assert exc.value is error


def test_a_type_without_resolver_has_no_objects() -> None:
    resolvers = {ObjectType.BUNDLE: owner_resolver(ObjectType.BUNDLE, _lookup(None))}
    assert resolve_owner(resolvers, UOW, ObjectType.BUNDLE, "b2").account_id == "acct-b2"
    with pytest.raises(BillowError) as exc:
        resolve_owner(resolvers, UOW, ObjectType.PAYMENT, "p1")
    assert (exc.value.status, exc.value.message) == (404, "Object id=p1 type=PAYMENT doesn't exist!")
