"""No import cycles between the product's modules (the graph: ``tests.import_graph``)."""

import pytest

from tests.import_graph import cycles, import_graph, imports_of


def test_the_product_has_no_import_cycles():
    assert cycles(import_graph()) == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import a.b\n", {"a.b"}),
        ("def f():\n    from a.b import thing\n", {"a.b"}),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import b\n", {"a.b"}),
        ("from . import b\n", {"a.b"}),
    ],
)
def test_every_kind_of_import_is_an_edge(tmp_path, source, expected):
    (tmp_path / "a").mkdir()
    module = tmp_path / "a" / "c.py"
    module.write_text(source)
    modules = {"a": tmp_path / "a" / "__init__.py", "a.b": tmp_path / "a" / "b.py", "a.c": module}
    assert imports_of("a.c", module, modules) == expected


def test_a_cycle_is_found_however_deep_and_a_chain_is_not():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
