from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from issues.signals import issue_public_change, issue_public_change_recorded

        issue_public_change_recorded.connect(_mark_pending, dispatch_uid="reports.notify-pending")
        issue_public_change.connect(_queue_notification, dispatch_uid="reports.notify")


def _mark_pending(sender: object, event_id: int, **kwargs: object) -> None:
    # Inside the change's transaction: the marker commits (or rolls back) with it.
    from reports.models import PendingNotification

    PendingNotification.objects.get_or_create(event_id=event_id)


def _queue_notification(sender: object, event_id: int, **kwargs: object) -> None:
    import logging

    from reports.tasks import notify_event

    try:
        notify_event.apply_async(args=(event_id,), retry=False)
    except Exception as exc:  # broker down: the change stands; the notification sweep sends it later
        logging.getLogger(__name__).warning(
            "could not queue notification", extra={"event_id": event_id, "error": repr(exc)}
        )
