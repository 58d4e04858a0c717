"""An email's subject and body in the reader's language.

The body is the tenant's Mustache template for the account's locale if it uploaded one (Kill Bill's tenant key
`killbill-email-notifications:<TEMPLATE>_<locale>`, rendered with the sandboxed renderer of invoice templates,
over the names Kill Bill's plugin gives it: `text`, `account`, `invoice`, plus `payment`, `upcoming` and
`overdue`), else Billow's built-in plain-text template. The subject is the translation of the template's subject
key (Kill Bill's `TemplateRenderer`: `text.get(templateType.getSubjectKeyName())`).

Labels are looked up in the tenant's bundle for the locale (`killbill-email-notifications:TEMPLATE_TRANSLATION_
<locale>`), Billow's bundle for the language, the tenant's en_US bundle, then Billow's English one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from jinja2 import DictLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from billow.email.model import PLUGIN_NAME, Template
from billow.invoice.presentation import mustache
from billow.invoice.presentation.bundles import (
    DEFAULT_LOCALE,
    Translator,
    parse_locale,
    parse_properties,
    tenant_key,
    validate_bundle,
)
from billow.invoice.presentation.view import Reader

TRANSLATION = f"{PLUGIN_NAME}:TEMPLATE_TRANSLATION"


def template_key(template: Template, locale: str) -> str:
    return tenant_key(f"{PLUGIN_NAME}:{template.value}", parse_locale(locale))


def translation_key(locale: str) -> str:
    return tenant_key(TRANSLATION, parse_locale(locale))


@cache
def built_in_labels(language: str) -> Mapping[str, str]:
    path = resources.files(__package__).joinpath("translations", f"EmailTranslation_{language}.properties")
    return parse_properties(path.read_text(encoding="utf-8")) if path.is_file() else {}


@lru_cache(maxsize=64)
def _bundle(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        return parse_properties(text)
    except ValueError:  # a bad stream is ignored, as Kill Bill ignores it (ResourceBundleFactory)
        return None


def labels(reader: Reader, tenant_bundle: str | None, tenant_default_bundle: str | None) -> Translator:
    return Translator(_bundle(tenant_bundle), built_in_labels(reader.java.language), _bundle(tenant_default_bundle),
                      built_in_labels(DEFAULT_LOCALE[:2]))


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    folder = resources.files(__package__).joinpath("templates")
    sources = {t.value: folder.joinpath(f"{t.value}.txt.j2").read_text(encoding="utf-8") for t in Template}
    # plain text: nothing to escape; the sandbox keeps a template from reaching beyond its data
    return ImmutableSandboxedEnvironment(loader=DictLoader(sources), autoescape=False, undefined=StrictUndefined,
                                         keep_trailing_newline=True)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str
    html: bool


def render(template: Template, data: dict[str, Any], text: Translator, *, tenant_template: str | None,
           send_html: bool, clear: bool = False) -> Rendered:
    """`data` holds `account` and whichever of `invoice`, `payment`, `upcoming`, `overdue` the template uses."""
    subject_key = "overdueClearSubject" if clear else template.subject_key
    subject = " ".join(text(subject_key).split())[:255]  # one header line
    if tenant_template:
        words: dict[str, Any] = text.merged()
        words["properties"] = mustache.Lambda(lambda key: text(key.strip()))
        return Rendered(subject, mustache.render(tenant_template, {**data, "text": words}), send_html)
    body = _environment().get_template(template.value).render({**data, "t": text})
    return Rendered(subject, body, False)


def check_upload(key: str, value: str) -> None:
    """A tenant key of the email plugin checked as it is uploaded: a template must compile and a translation bundle
    must parse (400 naming the problem); other keys are the caller's."""
    prefix = f"{PLUGIN_NAME}:"
    if not key.startswith(prefix):
        return
    if key.startswith(TRANSLATION):
        validate_bundle(value)
    elif any(key.startswith(f"{prefix}{t.value}_") for t in Template):
        mustache.validate(value)
