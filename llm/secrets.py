"""Per-tenant secrets (a tenant's own model API key) encrypted at rest with Fernet
(AES-128-CBC with HMAC-SHA256), through MultiFernet so the key can rotate.

LLM_SECRET_KEY holds one or more Fernet keys, comma-separated: the first encrypts, every
one decrypts. To rotate: put a new key first and keep the old ones after it, run
`manage.py rotate_llm_secrets` (re-encrypts every tenant's stored key with the first),
then drop the old keys. Keys derived from SECRET_KEY (and SECRET_KEY_FALLBACKS) always
decrypt too, so secrets stored before LLM_SECRET_KEY was set stay readable; with no
LLM_SECRET_KEY (development only: production requires it) the SECRET_KEY-derived key
encrypts."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _derived(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"civicpulse-llm-secrets:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def configured_keys(value: str) -> list[str]:
    """The Fernet keys of an LLM_SECRET_KEY value, in order (blank entries ignored)."""
    return [key.strip() for key in value.split(",") if key.strip()]


def _fernet() -> MultiFernet:
    configured = [Fernet(key.encode()) for key in configured_keys(settings.LLM_SECRET_KEY)]
    derived = [_derived(key) for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]
    return MultiFernet([*configured, *derived])


def secret_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def secret_decrypt(token: str) -> str:
    """The secret, or '' when there is none or no configured key can read it."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


def secret_rotate(token: str) -> str | None:
    """The token re-encrypted with the first key; None when no key can read it (left as
    it is: its owner must enter it again)."""
    if not token:
        return token
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        return None
