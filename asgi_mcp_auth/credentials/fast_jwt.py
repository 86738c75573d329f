"""`FastDecoder`: the common JWT, decoded for less than `jwt.decode` costs, with PyJWT's verdict.

PyJWT is the verifier of record. This module only takes the shortest way through the checks
`jwt.decode_complete` makes for one configuration (pinned algorithms, one key, `exp` and `sub`
required, `aud`, `iss`, leeway), for the tokens identity providers actually issue: three
unpadded base64url segments, a JSON object header without `crit` or `b64`, a valid signature,
a JSON object payload whose claims all pass. Everything else (any refusal, any unusual token)
returns None and the caller asks PyJWT itself, so the verdict on every input is PyJWT's. The
saving comes from work PyJWT repeats per call: a per-character alphabet check in Python,
options merged again, the algorithm looked up and the key prepared again, the header decoded
twice on the JWKS path.

`tests/credentials/test_fast_jwt.py` proves the agreement against stock PyJWT on a corpus of
good tokens, PyJWT's advisory vectors and thousands of fuzzed tokens. The fast path is used only
for the PyJWT versions that test ran against (`SUPPORTED_PYJWT`); any other version, or PyJWT
internals that are not what they were, leave every token to stock PyJWT.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import Algorithm

__all__ = ["SUPPORTED_PYJWT", "FastDecoder", "ParsedToken", "fast_path_available"]

SUPPORTED_PYJWT = ((2, 10), (3, 0))  # [lowest, highest) `jwt.__version__` the fast path knows
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_PAD = (b"", b"", b"==", b"=")  # by len(segment) % 4; 1 is never valid
_NUMBER = (int, float)


def _version(text: str) -> tuple[int, int]:
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (0, 0)


def fast_path_available() -> bool:
    """True when this PyJWT is one the fast path was proven against, with the parts it uses."""
    low, high = SUPPORTED_PYJWT
    if not low <= _version(jwt.__version__) < high:
        return False
    algorithms = getattr(jwt.algorithms, "get_default_algorithms", None)
    if algorithms is None:
        return False
    sample = algorithms().get("HS256")
    return all(hasattr(sample, name) for name in ("prepare_key", "verify", "check_key_length"))


def _segment(value: bytes) -> bytes | None:
    """The decoded base64url segment, or None unless it is in canonical, unpadded form: the
    predicate PyJWT applies (GHSA-hxm8-2xgr-2p9m), minus padding, which sends a token to PyJWT."""
    remainder = len(value) % 4
    if remainder == 1 or value.translate(None, _ALPHABET):
        return None
    try:
        decoded = base64.urlsafe_b64decode(value + _PAD[remainder])
    except (binascii.Error, ValueError):
        return None
    # Canonical: unused trailing bits are zero, so one token has one spelling.
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != value:
        return None
    return decoded


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A token split and decoded once: its header picks the key (JWKS), the rest is verified."""

    header: dict[str, Any]
    signing_input: bytes
    payload: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class _Verifier:
    algorithm: Algorithm
    key: Any  # prepared with PyJWT's own `prepare_key`, once


class FastDecoder:
    """Decodes tokens for one configuration; `decode` returns the claims PyJWT would return, or
    None when PyJWT must decide. Build once; `decode` only reads (apart from a bounded memo of
    prepared JWKS keys)."""

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        key: Any = None,
        audience: str | None,
        issuer: str | None,
        leeway: float,
        require: Sequence[str] = ("exp", "sub"),
    ) -> None:
        self.algorithms = frozenset(algorithms)
        self.audience = audience
        self.issuer = issuer
        self.leeway = float(leeway)
        self.require = tuple(require)
        self._defaults = jwt.algorithms.get_default_algorithms()
        self._static: dict[str, _Verifier] = {}
        self._resolved: dict[tuple[str, int], tuple[Any, _Verifier | None]] = {}
        if key is not None:
            for alg in self.algorithms:
                verifier = self._prepare(alg, key)
                if verifier is not None:
                    self._static[alg] = verifier

    def _prepare(self, alg: str, key: Any) -> _Verifier | None:
        """PyJWT's algorithm and prepared key, or None when PyJWT would warn or refuse (a short
        key, a key of the wrong type): those tokens keep PyJWT's full path."""
        algorithm = self._defaults.get(alg)
        if algorithm is None:
            return None
        try:
            prepared = algorithm.prepare_key(key)
            if algorithm.check_key_length(prepared) is not None:
                return None
        except Exception:
            return None
        return _Verifier(algorithm, prepared)

    def parse(self, token: str) -> ParsedToken | None:
        """Split and decode `token`; None unless it has the common shape (see the module)."""
        try:
            raw = token.encode("ascii")
        except (UnicodeEncodeError, AttributeError):
            return None
        parts = raw.split(b".")
        if len(parts) != 3:
            return None
        header_bytes, payload, signature = (_segment(part) for part in parts)
        if header_bytes is None or payload is None or signature is None:
            return None
        try:
            header = json.loads(header_bytes)
        except (ValueError, RecursionError):
            return None
        if not isinstance(header, dict) or "crit" in header or "b64" in header:
            return None
        if "kid" in header and not isinstance(header["kid"], str):
            return None
        return ParsedToken(header, raw[: raw.rindex(b".")], payload, signature)

    def decode(self, token: str) -> dict[str, Any] | None:
        """The claims of `token` verified with the static key, or None (PyJWT decides)."""
        parsed = self.parse(token)
        if parsed is None:
            return None
        alg = parsed.header.get("alg")
        verifier = self._static.get(alg) if isinstance(alg, str) else None
        return self._finish(parsed, verifier)

    def decode_parsed(self, parsed: ParsedToken, key: Any) -> dict[str, Any] | None:
        """The claims of a parsed token verified with `key` (from a JWKS), or None."""
        alg = parsed.header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            return None
        memo_key = (alg, id(key))
        memo = self._resolved.get(memo_key)
        if memo is None or memo[0] is not key:
            if len(self._resolved) >= 64:
                self._resolved.clear()  # keys rotate rarely; stay bounded whatever happens
            memo = (key, self._prepare(alg, key))
            self._resolved[memo_key] = memo
        return self._finish(parsed, memo[1])

    def _finish(self, parsed: ParsedToken, verifier: _Verifier | None) -> dict[str, Any] | None:
        if verifier is None or parsed.header.get("alg") not in self.algorithms:
            return None
        try:
            if not verifier.algorithm.verify(parsed.signing_input, verifier.key, parsed.signature):
                return None
            claims = json.loads(parsed.payload)
        except Exception:
            return None
        if not isinstance(claims, dict) or not self._claims_pass(claims):
            return None
        return claims

    def _claims_pass(self, claims: Mapping[str, Any]) -> bool:
        """Every claim check of `jwt.decode_complete` for this configuration passes."""
        for name in self.require:
            if claims.get(name) is None:
                return False
        now = time.time()
        for name in ("iat", "nbf", "exp"):
            if name in claims:
                value = claims[name]
                if type(value) not in _NUMBER:
                    return False  # numeric strings, bools, overflows: PyJWT's own words on them
                try:
                    whole = int(value)
                except (OverflowError, ValueError):
                    return False
                if name == "exp" and whole <= now - self.leeway:
                    return False
                if name != "exp" and whole > now + self.leeway:
                    return False
        if self.issuer is not None and claims.get("iss") != self.issuer:
            return False
        if not self._audience_passes(claims.get("aud")):
            return False
        if "sub" in claims and not isinstance(claims["sub"], str):
            return False
        return "jti" not in claims or isinstance(claims["jti"], str)

    def _audience_passes(self, aud: Any) -> bool:
        if self.audience is None:
            return True  # audience verification is off (`JWT_VERIFY_AUDIENCE=false`)
        if isinstance(aud, str):
            return aud == self.audience
        return isinstance(aud, list) and all(isinstance(item, str) for item in aud) and self.audience in aud
