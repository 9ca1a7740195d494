"""Per-tenant secrets (a tenant's own model API key) encrypted at rest with Fernet
(AES-128-CBC with HMAC-SHA256). The key comes from LLM_SECRET_KEY, or is derived from
SECRET_KEY when that is not set; rotating it means re-entering the tenants' keys."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    configured = settings.LLM_SECRET_KEY
    if configured:
        return Fernet(configured.encode())
    digest = hashlib.sha256(b"civicpulse-llm-secrets:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def secret_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def secret_decrypt(token: str) -> str:
    """The secret, or '' when there is none or it cannot be read (the key changed)."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""
