"""Test data through the same services the product uses."""

import base64

import factory

from accounts.models import User
from orgs import permissions as perms
from orgs import services
from orgs.models import Membership, Organization


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def organization_with_admin(user: User, name: str = "Acme Trading") -> Organization:
    return services.organization_create(creator=user, name=name)


def add_member(
    organization: Organization,
    user: User | None = None,
    *,
    role: str = perms.VIEWER,
    permissions: frozenset[str] | None = None,
) -> Membership:
    user = user or UserFactory()
    chosen = frozenset(permissions) if permissions is not None else perms.ROLES[role]
    return services.membership_create(organization=organization, user=user, permissions=chosen)


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def connected_simulated_account(
    organization: Organization,
    *,
    name: str = "Demo",
    login: str = "5001",
    server: str = "SimBroker-Demo",
    type: str = "demo",
    platform_servers: list[str] | None = None,
    platform=None,
):
    """A trading account on a simulated platform (a new one unless given), set up as the setup
    actor would."""
    from execution.accounts.services import account_connect
    from execution.accounts.setup import account_setup
    from platforms.services import platform_create

    platform = platform or platform_create(
        organization=organization,
        name=f"Simulated {server} {login}",
        type="mt5",
        api="simulated",
        servers=platform_servers or [server],
    )
    account = account_connect(
        organization=organization,
        platform=platform,
        name=name,
        type=type,
        login=login,
        server=server,
        password="mt-password",
    )
    return account_setup(account_id=account.pk)
