"""A property-based run of the whole API (schemathesis) against a running server.

The schema comes from the live server itself; every operation is called with generated requests,
positive and negative, as an API client holding every scope and as a session user (the
organization's administrator). The requests go to an organization with one object of every kind;
their paths name those objects (slug and ids), and a positive case's body names them too (an
account's platform, a symbol the broker lists), so requests get past the look-ups: bodies, headers
and query parameters are what varies.

It asserts two properties of every response: no 5xx, and every 4xx/5xx body is the API's one
error shape. Schema conformance (documented status codes, response shapes) is not asserted here.
Generation is deterministic (a fixed seed, no example database): CI sends the same requests every
time.
"""

import logging
import os
import traceback
from dataclasses import dataclass

import hypothesis
import pytest
import schemathesis
from django.test import Client
from hypothesis import strategies as st
from schemathesis import GenerationMode

from clients.services import client_create
from tests.factories import basic_auth, one_of_everything
from tests.services import IN_CI

SEED = 20261204
EXAMPLES_PER_OPERATION = 50  # both runs together: about 4 minutes on 2 cores
CSRF_TOKEN = "fuzz" * 8  # any 32 alphanumerics: the cookie and the header only have to agree

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.skipif(
        not (IN_CI or os.environ.get("TTMT_FUZZ")),
        reason="the fuzz run takes minutes: CI=true or TTMT_FUZZ=1",
    ),
]


@schemathesis.check
def one_error_shape(ctx, response, case):
    """Every 4xx/5xx body is {"error": {"status", "code", "message", "fields"}}."""
    if response.status_code < 400:
        return None
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        raise AssertionError(
            f"{response.status_code} without the one error shape: {response.text[:300]!r}"
        ) from None
    if not isinstance(error, dict) or set(error) != {"status", "code", "message", "fields"}:
        raise AssertionError(f"{response.status_code}: not the one error shape: {error!r}")
    if error["status"] != response.status_code or not isinstance(error["fields"], dict):
        raise AssertionError(f"{response.status_code}: the error's status or fields are wrong: {error!r}")
    return None


CHECKS = [schemathesis.checks.not_a_server_error, one_error_shape]


@dataclass
class World:
    slug: str
    ids: dict[str, int]  # the path segment naming a kind of object -> that object's id
    client_authorization: str  # HTTP Basic for an API client holding every scope
    session_cookie: str  # the administrator's session
    known_values: dict[str, object]  # body field -> a value naming one of the world's objects


def build_world() -> World:
    everything = one_of_everything("Fuzz")
    organization, admin, account = everything.organization, everything.admin, everything.account
    spare_client, _ = client_create(
        organization=organization, created_by=admin, name="spare", scopes=["platforms:read"]
    )
    browser = Client()
    browser.force_login(admin)
    return World(
        slug=organization.slug,
        ids={
            "members": everything.member.pk,
            "invitations": everything.invitation.pk,
            "platforms": everything.platform.pk,
            "clients": spare_client.pk,  # rotating or revoking the calling client would end the run
            "accounts": account.pk,
            "platform-faults": account.platform_id,
            "platform-market": account.platform_id,
            "protection-settings": account.pk,
            "symbol-map": everything.override.pk,
            "operations": everything.operation.pk,
            "signal-sources": everything.source.pk,
            "messages": everything.manual_source.pk,  # a webhook source takes no pasted messages
            "signal-routes": everything.route.pk,
            "signals": everything.signal.pk,
            "trade-protection": everything.trade.pk,
        },
        client_authorization=basic_auth(everything.client.client_id, everything.client_secret),
        session_cookie=browser.cookies["sessionid"].value,
        known_values={
            "platform": account.platform_id,
            "server": account.server,
            "account": account.pk,
            "source": everything.manual_source.pk,  # the webhook source is routed to the account already
            "symbol": "EURUSD",
            "instrument": "EURUSD",
            "broker_symbol": "XAUUSD",
        },
    )


def fixed_path_parameters(path: str, world: World) -> dict:
    """The slug, and the id of the world's object each id in the path names."""
    values = {"slug": world.slug}
    segments = path.strip("/").split("/")
    for before, segment in zip(segments, segments[1:], strict=False):
        if segment in {"{id}", "{account_id}"}:
            values[segment.strip("{}")] = world.ids[before]
    if segments[-1] == "messages":
        values["id"] = world.ids["messages"]
    return {name: value for name, value in values.items() if "{" + name + "}" in path}


class ServerErrors(logging.Handler):
    """The exceptions the server logged (django.request), to name where a 5xx came from."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        if record.exc_info:
            self.records.append(record)

    def where(self) -> str:
        if not self.records:
            return ""
        _, error, trace = self.records[-1].exc_info
        frame = traceback.extract_tb(trace)[-1]
        return (
            f"\n    raised {type(error).__name__}: {error} at {frame.filename}:{frame.lineno} ({frame.name})"
        )


def load_schema(base_url: str, authorization: str):
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    return schemathesis.openapi.from_url(
        f"{base_url}/api/v1/schema/?format=json", config=config, headers={"Authorization": authorization}
    )


def fuzz_operation(operation, world: World, *, base_url: str, credentials, errors: ServerErrors) -> None:
    """An operation's generated cases, positive and negative."""
    fixed = fixed_path_parameters(operation.path, world)
    strategy = st.one_of(
        [operation.as_strategy(generation_mode=mode, path_parameters=fixed) for mode in GenerationMode]
    )

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        phases=[hypothesis.Phase.generate],  # no shrinking: a failure is reported as found
        derandomize=False,  # the seed decides, also under CI's own Hypothesis profile
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case):
        if case.meta.generation.mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
            # a valid body names the world's objects and symbols, so it gets past the look-ups
            known = {name: value for name, value in world.known_values.items() if name in case.body}
            case.body = {**case.body, **known}
        errors.records.clear()
        try:
            case.call_and_validate(base_url=base_url, checks=CHECKS, **credentials(world))
        except schemathesis.errors.FailureGroup as failure:
            raise AssertionError(f"{failure}{errors.where()}") from None

    run()


def fuzz_every_operation(base_url: str, credentials) -> None:
    """Every operation runs, a changing one (not GET) in a world of its own, so that no deletion
    or setting leaks into another operation's run; the test fails once at the end, with every
    operation that broke a property. (A loop rather than schemathesis's ``from_fixture`` pytest
    integration, which fails on pytest 9.2: it reads ``Function._nodeid``.)"""
    reading_world = build_world()
    schema = load_schema(base_url, reading_world.client_authorization)
    errors = ServerErrors()
    logging.getLogger("django.request").addHandler(errors)
    broken = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            world = reading_world if operation.method.upper() == "GET" else build_world()
            try:
                fuzz_operation(operation, world, base_url=base_url, credentials=credentials, errors=errors)
            except Exception as error:  # every operation runs; all failures are reported at the end
                broken.append(f"{operation.label}:\n{error}")
    finally:
        logging.getLogger("django.request").removeHandler(errors)
    assert not broken, f"{len(broken)} operations broke a property:\n\n" + "\n\n".join(broken)


def as_api_client(world: World) -> dict:
    return {"headers": {"Authorization": world.client_authorization}}


def as_session_user(world: World) -> dict:
    return {
        "headers": {"X-CSRFToken": CSRF_TOKEN},
        "cookies": {"sessionid": world.session_cookie, "csrftoken": CSRF_TOKEN},
    }


def test_as_an_api_client_with_every_scope(live_server):
    fuzz_every_operation(live_server.url, as_api_client)


def test_as_a_session_user(live_server):
    fuzz_every_operation(live_server.url, as_session_user)
