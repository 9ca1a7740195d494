"""Analyst accounts: who may register, and the registration itself. An analyst is a user
with an Analyst row, never staff: the property search, their reports and their account
are all they see."""

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from analytics.property.models import Analyst
from tenants.models import Tenant
from tenants.selectors import current_tenant


def property_enabled(tenant: Tenant | None = None) -> bool:
    """Property search and reports exist on city tenants only."""
    tenant = tenant or current_tenant()
    return tenant.kind == Tenant.Kind.CITY


def analyst_accounts_open(tenant: Tenant | None = None) -> bool:
    """Whether analysts may register and sign in here: a city that allows them."""
    tenant = tenant or current_tenant()
    return property_enabled(tenant) and tenant.analyst_accounts_enabled


@transaction.atomic
def analyst_register(*, email: str, password: str, full_name: str, organisation: str = "") -> User:
    """A new analyst whose login is their email. Refused where the tenant does not allow
    analysts, for an email already known (as a login or an address), and for a password
    Django's validators refuse (at least 8 characters, not common, not all digits, not
    like the name or email)."""
    if not analyst_accounts_open():
        raise ValidationError("This place does not accept analyst accounts.")
    email = email.strip().lower()
    full_name = " ".join(full_name.split())
    if not full_name:
        raise ValidationError({"full_name": ["Give your full name."]})
    if User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).exists():
        raise ValidationError({"email": ["An account with this email already exists."]})
    first, _, last = full_name.partition(" ")
    user = User(username=email[:150], email=email, first_name=first[:150], last_name=last[:150])
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.save()
    Analyst.objects.create(user=user, full_name=full_name[:150], organisation=organisation.strip()[:200])
    return user


def analyst_ensure(
    *, username: str, email: str, password: str, full_name: str, organisation: str = ""
) -> User:
    """An analyst with this username, created if missing (the demo's `analyst`). Idempotent."""
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(username, email, password)
    Analyst.objects.get_or_create(user=user, defaults={"full_name": full_name, "organisation": organisation})
    return user
