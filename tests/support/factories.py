"""factory_boy factories for the models tests build directly. Reports are not here on
purpose: tests create them through report_submit, the only way they enter."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from issues.models import Area, Category, Issue, IssueStatus


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    is_staff = True


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"category_{n}")
    name = factory.LazyAttribute(lambda c: c.code.replace("_", " ").title())
    keywords = factory.LazyFunction(list)


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Area

    code = factory.Sequence(lambda n: f"area_{n}")
    name = factory.LazyAttribute(lambda a: a.code.replace("_", " ").title())
    boundary = None


class IssueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Issue

    title = factory.Sequence(lambda n: f"Problem {n}")
    text = factory.LazyAttribute(lambda i: i.title)
    status = IssueStatus.OPEN
    report_count = 1
    latitude = 39.80
    longitude = -89.64
    created_at = factory.LazyFunction(timezone.now)
    last_report_at = factory.LazyAttribute(lambda i: i.created_at)
