"""The hub-managed sections of a site configuration, as both ends validate them."""

import pytest

from rules.site import MAX_VALUES, URL_CHECK, ConfigError, parse_spec, read_text

SPEC = {
    "devices": [{"id": "gate", "kind": "access_reader"}, {"id": "door", "kind": "door"}],
    "posts": [{"id": "guard", "notify": ["json://hooks.example.org/x"]}],
    "rules": [
        {"id": "forced", "type": "door_forced", "device": "door", "reader": "gate", "post": "guard"}
    ],
}
LOCAL = "not managed by the hub (only devices, posts, rules); set it in the agent's file"


def test_a_spec_with_its_references() -> None:
    spec = parse_spec(SPEC)
    assert ([d.id for d in spec.devices], [r.id for r in spec.rules]) == (
        ["gate", "door"],
        ["forced"],
    )


@pytest.mark.parametrize(
    ("document", "errors"),
    [
        (["devices"], ["the configuration must be a mapping of devices, posts, rules"]),
        (
            {"hub": {}, "site": {}},
            [f"hub: {LOCAL}", f"site: {LOCAL}"],
        ),
        (
            SPEC | {"devices": SPEC["devices"] * 2},
            ["devices[2].id: duplicate id 'gate'", "devices[3].id: duplicate id 'door'"],
        ),
        (SPEC | {"posts": []}, ["rules[0].post: unknown post 'guard'"]),
        (
            SPEC | {"devices": [{"id": "gate", "kind": "door"}, {"id": "door", "kind": "door"}]},
            ["rules[0].reader: 'gate' is not an access reader of the site"],
        ),
    ],
    ids=["a list", "local sections", "duplicates", "unknown post", "not a reader"],
)
def test_every_problem_on_a_line_of_its_own(document: object, errors: list[str]) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_spec(document)
    assert refused.value.errors == errors


def test_a_notify_url_is_checked_by_the_check_given_else_by_its_form() -> None:
    posts = {"posts": [{"id": "p", "notify": ["tgrm://x"]}]}
    with pytest.raises(ConfigError) as refused:
        parse_spec(posts, {URL_CHECK: lambda url: f"no {url[:4]}"})
    assert (parse_spec(posts).posts[0].notify, refused.value.errors) == (
        ["tgrm://x"],
        ["posts[0].notify[0]: no tgrm"],
    )


@pytest.mark.parametrize(
    ("text", "fmt", "error"),
    [
        ("{", "json", "JSON: Expecting property name"),
        ("a: [", "yaml", "YAML: while parsing"),
        ("[" * 100_000, "json", "JSON: nested too deeply"),
        ("[" + ",".join(["1"] * MAX_VALUES) + "]", "json", f"more than {MAX_VALUES} values"),
    ],
    ids=["JSON", "YAML", "deep", "many"],
)
def test_a_text_that_is_no_document(text: str, fmt: str, error: str) -> None:
    with pytest.raises(ConfigError) as refused:
        read_text(text, fmt)  # type: ignore[arg-type]
    assert refused.value.errors[0].startswith(error)


def test_json_and_yaml_read_alike() -> None:
    assert read_text('{"devices": []}', "json") == read_text("devices: []", "yaml")
