"""Translation bundles: Kill Bill-style Java ``.properties`` files, per locale, built in and per tenant.

Kill Bill: ``util/.../template/translation/DefaultTranslatorBase.java`` (look-up: the locale's bundle, then
the default bundle, then the key itself), ``invoice/.../template/bundles/DefaultResourceBundleFactory.java``
(a tenant's upload wins over the bundle on the class path), ``util/.../LocaleUtils.java`` (locale syntax and
the tenant key ``INVOICE_TRANSLATION_<language>_<COUNTRY>``), and ``java.util.Properties.load`` for the syntax.
One mechanism for every bundle: Billow's own labels for en, fr, de and es ship as
``translations/InvoiceTranslation_<language>.properties`` beside this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from billow.core.errors import InvalidInput

INVOICE_TRANSLATION = "INVOICE_TRANSLATION_"
CATALOG_TRANSLATION = "CATALOG_TRANSLATION_"
DEFAULT_LOCALE = "en_US"
BUILT_IN_LANGUAGES = ("en", "fr", "de", "es")
MAX_BUNDLE_BYTES = 256 * 1024


class BundleError(ValueError):
    """A bundle that does not parse; `line` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class JavaLocale:
    """`java.util.Locale` as Kill Bill's `LocaleUtils.toLocale` builds it."""

    language: str
    country: str = ""
    variant: str = ""

    def __str__(self) -> str:  # Locale.toString()
        text = self.language
        if self.country or self.variant:
            text += "_" + self.country
        if self.variant:
            text += "_" + self.variant
        return text

    @property
    def babel(self) -> str:
        """The Babel/CLDR identifier (``fr_FR``, ``de``)."""
        return f"{self.language}_{self.country}" if self.country else self.language


def parse_locale(text: str | None) -> JavaLocale:
    """Kill Bill's `LocaleUtils.toLocale` (from commons-lang): ``ll``, ``ll_CC``, ``ll__VAR``, ``ll_CC_VAR``."""
    s = text or ""
    bad = InvalidInput(f"locale: Invalid locale format: {s}")
    n = len(s)
    if n not in (2, 5) and n < 7:
        raise bad
    if not ("a" <= s[0] <= "z" and "a" <= s[1] <= "z"):
        raise bad
    if n == 2:
        return JavaLocale(s)
    if s[2] != "_":
        raise bad
    if s[3] == "_":
        return JavaLocale(s[:2], "", s[4:])
    if not ("A" <= s[3] <= "Z" and "A" <= s[4] <= "Z"):
        raise bad
    if n == 5:
        return JavaLocale(s[:2], s[3:5])
    if s[5] != "_":
        raise bad
    return JavaLocale(s[:2], s[3:5], s[6:])


def tenant_key(prefix: str, locale: JavaLocale) -> str:
    """`LocaleUtils.localeString(locale, prefix)`: ``INVOICE_TRANSLATION_fr_FR`` (``..._fr_`` without a country)."""
    return f"{prefix}{'' if prefix.endswith('_') else '_'}{locale.language}_{locale.country}"


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_UNICODE = re.compile(r"[0-9a-fA-F]{4}")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Natural lines joined on an odd number of trailing backslashes, with the line number each starts on."""
    out: list[tuple[int, str]] = []
    pending: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.lstrip(" \t\f") if pending is not None else raw
        if pending is None:
            stripped = line.lstrip(" \t\f")
            if not stripped or stripped[0] in "#!":
                continue
            start, line = number, stripped
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending = (pending or "") + line[:-1]
            continue
        out.append((start, (pending or "") + line))
        pending = None
    if pending is not None:
        out.append((start, pending))
    return out


def _unescape(s: str, line: int) -> str:
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = s[i + 1]
        if nxt == "u":
            digits = s[i + 2:i + 6]
            if not _UNICODE.fullmatch(digits):
                raise BundleError(f"malformed \\uxxxx escape '\\u{digits}'", line)
            out.append(chr(int(digits, 16)))
            i += 6
            continue
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    return "".join(out)


def parse_properties(text: str) -> dict[str, str]:
    """`java.util.Properties.load` on a decoded text (Kill Bill reads uploads as UTF-8).

    Raises `BundleError` (with the line) where Java would throw, i.e. on a malformed ``\\uXXXX`` escape.
    """
    result: dict[str, str] = {}
    for number, line in _logical_lines(text):
        i, n = 0, len(line)
        while i < n:  # the key ends at the first unescaped '=', ':' or white space
            c = line[i]
            if c == "\\":
                i += 2
                continue
            if c in "=: \t\f":
                break
            i += 1
        key = line[:i]
        j = i
        while j < n and line[j] in " \t\f":
            j += 1
        if j < n and line[j] in "=:":
            j += 1
            while j < n and line[j] in " \t\f":
                j += 1
        result[_unescape(key, number)] = _unescape(line[j:], number)
    return result


def uploaded_text(body: bytes | str, field: str, what: str, max_bytes: int) -> str:
    """An uploaded text (template or bundle): not empty, within `max_bytes`, UTF-8; else 400 naming the line."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if not raw.strip():
        raise InvalidInput(f"{field}: {what} is empty")
    if len(raw) > max_bytes:
        raise InvalidInput(f"{field}: {len(raw)} bytes is over the limit of {max_bytes} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InvalidInput(f"{field}: line {line}: not UTF-8 ({exc.reason})") from None


def validate_bundle(body: bytes | str) -> dict[str, str]:
    """An uploaded bundle: UTF-8, at most `MAX_BUNDLE_BYTES`, parses as a properties file; 400 otherwise."""
    text = uploaded_text(body, "translation", "the bundle", MAX_BUNDLE_BYTES)
    try:
        return parse_properties(text)
    except BundleError as exc:
        raise InvalidInput(f"translation: {exc}") from None


@cache
def built_in(language: str) -> Mapping[str, str]:
    """Billow's own invoice labels for a language (empty for a language we ship none for)."""
    name = f"InvoiceTranslation_{language}.properties"
    path = resources.files(__package__).joinpath("translations", name)
    if not path.is_file():
        return {}
    return parse_properties(path.read_text(encoding="utf-8"))


class Translator:
    """`DefaultTranslatorBase.getTranslation`: the first bundle that has the key, else the key itself."""

    __slots__ = ("bundles",)

    def __init__(self, *bundles: Mapping[str, str] | None) -> None:
        self.bundles = tuple(b for b in bundles if b)

    def get(self, key: str | None) -> str | None:
        if key is None:
            return None
        for b in self.bundles:
            if key in b:
                return b[key]
        return key

    def __call__(self, key: str) -> str:
        """The translation (possibly empty: a bundle may blank a label out), else the key."""
        text = self.get(key)
        return key if text is None else text

    def has(self, key: str) -> bool:
        return any(key in b for b in self.bundles)

    def merged(self) -> dict[str, str]:
        """Every key with its winning value (what a Mustache template sees as ``text``)."""
        out: dict[str, str] = {}
        for b in reversed(self.bundles):
            out.update(b)
        return out
