"""Tenants' model keys are encrypted with MultiFernet: LLM_SECRET_KEY takes several keys
(the first encrypts, all decrypt), so the key rotates without losing stored secrets."""

from io import StringIO

from cryptography.fernet import Fernet
from django.core.management import call_command

from llm.models import Endpoint
from llm.secrets import secret_decrypt, secret_encrypt, secret_rotate


def test_a_new_key_first_keeps_old_secrets_readable_and_rotation_moves_them(settings) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.LLM_SECRET_KEY = old
    token = secret_encrypt("city-secret")
    settings.LLM_SECRET_KEY = f"{new}, {old}"
    assert secret_decrypt(token) == "city-secret"
    # New secrets are written with the first key: readable once the old key is gone.
    fresh = secret_encrypt("another")
    rotated = secret_rotate(token)
    assert rotated is not None and rotated != token
    settings.LLM_SECRET_KEY = new
    assert secret_decrypt(fresh) == "another" and secret_decrypt(rotated) == "city-secret"
    # Without the key that wrote it, a secret cannot be read.
    assert secret_decrypt(token) == "" and secret_rotate(token) is None


def test_secrets_stored_before_llm_secret_key_was_set_stay_readable(settings) -> None:
    settings.LLM_SECRET_KEY = ""
    token = secret_encrypt("derived-era")  # development: the key derived from SECRET_KEY
    settings.LLM_SECRET_KEY = Fernet.generate_key().decode()
    assert secret_decrypt(token) == "derived-era"
    # ...and after SECRET_KEY itself rotated, through SECRET_KEY_FALLBACKS.
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    assert secret_decrypt(token) == "derived-era"


def test_the_rotate_command_re_encrypts_every_tenants_keys(tenant_a, settings) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.LLM_SECRET_KEY = old
    Endpoint.objects.create(mode=Endpoint.Mode.OFF, api_key_encrypted=secret_encrypt("city-secret"))
    settings.LLM_SECRET_KEY = f"{new},{old}"
    out = StringIO()
    call_command("rotate_llm_secrets", stdout=out, stderr=StringIO())
    assert "rotated: 1" in out.getvalue() and "unreadable: 0" in out.getvalue()
    settings.LLM_SECRET_KEY = new
    assert secret_decrypt(Endpoint.objects.get().api_key_encrypted) == "city-secret"
