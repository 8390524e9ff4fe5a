"""Test data through the same services the product uses."""

import base64
from dataclasses import dataclass

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


@dataclass
class OneOfEverything:
    """An organization holding one object of every kind the API names (see ``one_of_everything``)."""

    organization: Organization
    admin: User
    member: Membership
    invitation: object
    platform: object
    client: object
    client_secret: str
    account: object
    override: object
    operation: object
    source: object
    manual_source: object
    route: object
    signal: object
    trade: object


def one_of_everything(name: str) -> OneOfEverything:
    """An organization with an administrator, a second member (viewer), a pending invitation, a
    platform, an API client holding every scope, a connected simulated account with a symbol
    override and one order, a webhook signal source routed to the account with one signal, its
    decision and its trade, and a manual source."""
    from clients.services import client_create
    from execution.accounts.services import symbol_override_set
    from execution.orders.accept import order_place
    from platforms.services import platform_create
    from tests.execution.signals import factories as signal_factories

    admin = UserFactory()
    organization = organization_with_admin(admin, name)
    invitation = services.invitation_create(
        organization=organization,
        invited_by=admin,
        email=f"invitee@{organization.slug}.example",
        role=perms.VIEWER,
    )
    client, secret = client_create(
        organization=organization, created_by=admin, name="bot", scopes=sorted(perms.SCOPES)
    )
    account = connected_simulated_account(organization)
    operation = order_place(account=account, symbol="EURUSD", side="buy", type="market")
    source, _ = signal_factories.webhook_source(organization)
    route = signal_factories.route(source, account)
    signal = signal_factories.signal_row(source)
    signal_factories.decision_row(signal, route, operations=[operation.pk])
    return OneOfEverything(
        organization=organization,
        admin=admin,
        member=add_member(organization, role=perms.VIEWER),
        invitation=invitation,
        platform=platform_create(
            organization=organization, name="P1", type="mt4", api="simulated", servers=["Srv-1"]
        ),
        client=client,
        client_secret=secret,
        account=account,
        override=symbol_override_set(account=account, alias="GOLDEN", broker_symbol="XAUUSD"),
        operation=operation,
        source=source,
        manual_source=signal_factories.source(organization, name="Pasted"),
        route=route,
        signal=signal,
        trade=signal_factories.trade_row(signal, route),
    )
