"""Admin sign-in lockout in three tiers, on django-axes' records (per schema).

django-axes counts failures per lockout parameter against one limit. One limit cannot
serve both threats: keyed by (username, address) it never stops a password spray (one
address trying a common password on many usernames) nor a slow guess at one username
from many addresses; keyed by username alone at the same low limit, anyone can lock any
staff member out with five tries. So a sign-in is refused when any tier reaches its own
limit within the cool-off period:

- this username from this address: AXES_FAILURE_LIMIT (a person's own typos);
- this address (an IPv6 client's /64), any username: AXES_ADDRESS_FAILURE_LIMIT (spraying
  from one place);
- this username, any address: AXES_USERNAME_FAILURE_LIMIT, higher (guessing from many).

The address is the client's as `civicpulse.core.ratelimit.client_address` reads it
(AXES_CLIENT_IP_CALLABLE), so behind trusted proxies each client is counted on its own
instead of every client sharing the proxy's address.
"""

from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import BooleanField, Q, Sum
from django.db.models.expressions import RawSQL
from django.http import HttpRequest

from civicpulse.core.ratelimit import address_rate_key


class TieredLockoutHandler(AxesDatabaseHandler):
    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """The failures of this username from this address, or the limit itself once any
        tier has reached its own limit (axes locks when this reaches AXES_FAILURE_LIMIT)."""
        limit = get_failure_limit(request, credentials)
        username = get_client_username(request, credentials)
        address = getattr(request, "axes_ip_address", None)
        attempts = AccessAttempt.objects.all()
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        same_user = Q(username=username) if username is not None else Q(username__isnull=True)
        same_address = Q(ip_address=address) if address is not None else Q(ip_address__isnull=True)
        # Spraying is counted per client as the rate limits count it: an IPv6 client picks
        # any address of its /64 at will, so the /64 is one address here (inet containment).
        network = address_rate_key(address) if address else ""
        same_client = same_address
        if "/" in network:
            attempts = attempts.annotate(
                in_network=RawSQL("ip_address <<= %s::inet", (network,), output_field=BooleanField())
            )
            same_client = Q(in_network=True)
        counts = attempts.aggregate(
            pair=Sum("failures_since_start", filter=same_user & same_address),
            address=Sum("failures_since_start", filter=same_client),
            user=Sum("failures_since_start", filter=same_user),
        )
        pair = counts["pair"] or 0
        if (counts["address"] or 0) >= settings.AXES_ADDRESS_FAILURE_LIMIT or (
            username is not None and (counts["user"] or 0) >= settings.AXES_USERNAME_FAILURE_LIMIT
        ):
            return max(pair, limit)
        return pair
