"""Errors raised by the catalog engine.

Two families, as in Kill Bill:

* :class:`CatalogValidationError` -- a catalog document (XML, YAML or JSON) is
  rejected.  It carries *every* problem found, each naming the element path and
  the problem (:class:`ValidationMessage`).  ``description`` is Kill Bill's own
  text where Kill Bill has one, so the validate-catalog endpoint can return it as
  ``errorDescription``.
* :class:`CatalogApiError` -- a lookup failed (unknown plan, missing price for a
  currency, illegal change...).  ``code`` is Kill Bill's ``ErrorCode`` number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class ValidationMessage:
    """One problem of a catalog document: where (``path``) and what (``description``)."""

    path: str
    description: str

    def __str__(self) -> str:
        return f"{self.path}: {self.description}" if self.path else self.description


class CatalogValidationError(ValueError):
    """A catalog document or catalog version set is invalid; ``errors`` lists every problem."""

    def __init__(self, errors: list[ValidationMessage]) -> None:
        self.errors: list[ValidationMessage] = list(errors)
        super().__init__(self._summary())

    def _summary(self) -> str:
        if not self.errors:
            return "Invalid catalog"
        head = f"Invalid catalog ({len(self.errors)} error{'s' if len(self.errors) != 1 else ''}): "
        return head + "; ".join(str(e) for e in self.errors)

    @property
    def messages(self) -> list[str]:
        """Every error as ``"<path>: <description>"``."""
        return [str(e) for e in self.errors]

    @property
    def descriptions(self) -> list[str]:
        """Every error's description alone (Kill Bill's ``errorDescription``)."""
        return [e.description for e in self.errors]


class ErrorCode(Enum):
    """Kill Bill's catalog error codes (``org.killbill.billing.ErrorCode``, range 2000)."""

    CAT_ILLEGAL_CHANGE_REQUEST = (
        2001,
        "Attempting to change plan from (product: '%s', billing period: '%s', pricelist '%s') to "
        "(product: '%s', billing period: '%s', pricelist '%s'). "
        "This transition is not allowed by catalog rules",
    )
    CAT_MULTIPLE_MATCHING_PLANS_FOR_PRICELIST = (
        2002,
        "There are multiple plans defined in pricelist '%s' for product: '%s' and billing period: '%s'. "
        "Use the planName instead of the non deterministic triplet {product, billing period, pricelist}",
    )
    CAT_NO_PRICE_FOR_CURRENCY = (2010, "This price does not have a value for the currency '%s'.")
    CAT_PRICE_VALUE_NULL_FOR_CURRENCY = (
        2011,
        "The value for the currency '%s' is NULL. This plan cannot be bought in this currency.",
    )
    CAT_NULL_PRICE_LIST_NAME = (2012, "Price list name was null")
    CAT_PRICE_LIST_NOT_FOUND = (2013, "Could not find a pricelist with name '%s'")
    CAT_UNDEFINED_DURATION = (2014, "Duration is not unlimited or invalid '%s'")
    CAT_NULL_BILLING_PERIOD = (2015, "Billing period name was null")
    CAT_PLAN_NOT_FOUND = (
        2020,
        "Could not find a plan matching spec: "
        "(plan: '%s', product: '%s', billing period: '%s', pricelist '%s')",
    )
    CAT_NO_SUCH_PLAN = (2021, "Could not find any plans named '%s'")
    CAT_NO_SUCH_PRODUCT = (2030, "Could not find any product named '%s'")
    CAT_NULL_PRODUCT_NAME = (2031, "Product name was null")
    CAT_NO_SUCH_PHASE = (2040, "Could not find any phases named '%s'")
    CAT_BAD_PHASE_NAME = (2041, "Bad phase name '%s'")
    CAT_NO_CATALOG_FOR_GIVEN_DATE = (2050, "There is no catalog version that applies for the given date '%s'")
    CAT_CATALOG_NAME_MISMATCH = (
        2052,
        "The catalog name '%s' does not match the name of the catalog we are trying to add '%s'",
    )
    CAT_INVALID_SIMPLE_PLAN_DESCRIPTOR = (2060, "Invalid simple plan descriptor '%s'")
    CAT_FAILED_SIMPLE_PLAN_VALIDATION = (2060, "Failed to validate simple Plan '%s' against descriptor '%s'")
    CAT_INVALID_FOR_TENANT = (2080, "Invalid catalog for tenant : %s")

    @property
    def code(self) -> int:
        return int(self.value[0])

    @property
    def template(self) -> str:
        return str(self.value[1])


class CatalogApiError(LookupError):
    """A catalog lookup failed; ``code`` is Kill Bill's numeric error code, ``error`` the enum."""

    def __init__(self, error: ErrorCode, *args: object) -> None:
        self.error = error
        self.code = error.code
        self.args_ = tuple("undefined" if a is None else a for a in args)
        try:
            message = error.template % self.args_ if self.args_ else error.template
        except TypeError:
            message = error.template
        self.message = message
        super().__init__(message)


class IllegalPlanChange(CatalogApiError):
    """The change rules resolve to ILLEGAL (Kill Bill ``CAT_ILLEGAL_CHANGE_REQUEST``)."""


CATALOG_EXCEPTION = "org.killbill.billing.catalog.api.CatalogApiException"
