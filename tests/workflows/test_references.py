"""Rendering compiled values: types kept for a lone placeholder, text for mixed strings."""

from __future__ import annotations

import pytest

from connector_sdk._errors import WorkflowError
from connector_sdk._workflows.references import compile_value

SCOPE = {
    "inputs": {"login": "twitchdev", "count": 3, "flag": True},
    "steps": {"user": {"data": [{"id": "141981764", "tags": ["a", "b"]}]}},
    "item": {"user_id": "42", "n": 7},
}


def test_a_lone_placeholder_keeps_the_json_type() -> None:
    assert compile_value("{{ inputs.count }}").render(SCOPE) == 3
    assert compile_value("{{inputs.flag}}").render(SCOPE) is True
    assert compile_value("{{ steps.user.data }}").render(SCOPE) == SCOPE["steps"]["user"]["data"]
    assert compile_value("{{ item }}").render(SCOPE) == SCOPE["item"]


def test_mixed_text_renders_to_a_string() -> None:
    compiled = compile_value("user {{ inputs.login }} has {{ inputs.count }} {{ inputs.flag }}"
                             " {{ steps.user.data.0.tags }}")
    assert compiled.render(SCOPE) == 'user twitchdev has 3 true ["a","b"]'


def test_paths_walk_lists_by_index_including_negative() -> None:
    assert compile_value("{{ steps.user.data.0.id }}").render(SCOPE) == "141981764"
    assert compile_value("{{ steps.user.data.-1.tags.1 }}").render(SCOPE) == "b"


def test_nested_values_render_and_constants_are_shared() -> None:
    constant = {"first": 5, "list": [1, 2]}
    value = {"id": ["{{ item.user_id }}"], "fixed": constant, "n": "{{ item.n }}"}
    compiled = compile_value(value)
    rendered = compiled.render(SCOPE)
    assert rendered == {"id": ["42"], "fixed": constant, "n": 7}
    assert rendered["fixed"] is constant
    assert [r.text for r in compiled.references] == ["item.user_id", "item.n"]
    assert compile_value(constant).constant


@pytest.mark.parametrize(("template", "message"), [
    ("{{ steps.user.data.5.id }}", "has 1 item(s); index 5 is out of range"),
    ("{{ steps.user.data.0.login }}", "has no key 'login'"),
    ("{{ steps.user.data.id }}", "is a list; use an index"),
    ("{{ steps.user.data.0.id.x }}", "is str, not an object or list"),
    ("{{ steps.other.data }}", "step 'other' has no output"),
])
def test_missing_paths_say_where_the_walk_stopped(template: str, message: str) -> None:
    with pytest.raises(WorkflowError) as info:
        compile_value(template).render(SCOPE)
    assert message in str(info.value)
    assert template.replace("{{ ", "{{ ") in str(info.value)
