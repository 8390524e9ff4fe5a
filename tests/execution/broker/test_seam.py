"""The broker seam holds: every platform ``api`` has its connector, and nothing outside
``execution.broker`` knows which venue an account is on."""

import ast

from execution.broker.registry import CONNECTORS, connector_for
from platforms.models import TradePlatform
from tests.import_graph import import_graph, project_modules

VENUE_MODULES = (
    "execution.broker.simulator",
    "execution.broker.metaapi",
    "execution.broker.gateways.simulated",
    "execution.broker.gateways.metaapi",
)
# Smoke-tests a real MetaApi account by purpose: it is MetaApi's and nobody else's.
VENUE_SPECIFIC_TOOLS = {"execution.management.commands.metaapi_smoke"}
API_CONSTANTS = {"SIMULATED", "METAAPI"}


def _inside_the_seam(module: str) -> bool:
    return module.startswith("execution.broker") or module in VENUE_SPECIFIC_TOOLS


def test_every_platform_api_has_its_connector():
    apis = {value for value, _ in TradePlatform.API_CHOICES}
    assert set(CONNECTORS) == apis
    for api in apis:
        assert connector_for(TradePlatform(api=api)).api == api


def test_no_module_outside_the_seam_imports_a_venue():
    leaks = {
        module: sorted(dep for dep in deps if dep.startswith(VENUE_MODULES))
        for module, deps in import_graph().items()
        if not _inside_the_seam(module)
    }
    assert {module: deps for module, deps in leaks.items() if deps} == {}


def test_no_module_outside_the_seam_branches_on_the_platform_api():
    found = []
    for module, path in project_modules().items():
        if _inside_the_seam(module) or module == "platforms.models" or ".migrations." in module:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in API_CONSTANTS:
                found.append(f"{module}:{node.lineno} {node.attr}")
    assert found == []
