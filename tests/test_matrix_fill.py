"""A matrix template compiled into format strings (``matrixfill``) fills
every field as the placeholder rules say: proven against a plain reference
(each placeholder replaced where it stands) and against the shell
template's own ``fill``, with values that look like format fields."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from shellgrammar import Grammar

from taskrunner.jobfile.matrix import placeholder_pattern, plain, render, replacement
from taskrunner.jobfile.matrixfill import FillPlan, expand, slot_token
from taskrunner.jobfile.shellvalues import ShellTemplate, UnsafePlaceholder
from taskrunner.jobfile.spec import load_jobs

#: Values a format string would read as fields, were a value ever formatted again.
TRICKY = ["{v0}", "{q0}", "{0}", "{seq}", "{token}", "{}", "{{", "}}", "{x}", "{#}", "{%}", "{d0}", "{v0!r}",
          "{v0:>9}", "a{", "}b", "%s", "a b", "d/f.tar.gz", ""]

text_parts = st.sampled_from(["{x}", "{y}", "{x.}", "{y/}", "{x//}", "{x/.}", "{#}", "{%}", "{", "}", "{{", "}}",
                              "{z}", "a", " ", "-", "{x", "x}", "{0}"])
texts = st.lists(text_parts, max_size=8).map("".join)
values = st.one_of(st.sampled_from(TRICKY), st.text(max_size=6), st.integers(), st.booleans(), st.floats(width=32, allow_nan=False))


def reference_text(text: str, names: dict[str, Any], seq: int, token: str) -> str:
    """Each placeholder of ``text`` replaced where it stands, by the rules of ``matrix``."""
    pattern = placeholder_pattern(list(names))

    def one(found: Any) -> str:
        key = found[1]
        if key == "#":
            return str(seq)
        if key == "%":
            return token
        name = key if key in names else key.rstrip("./")
        return replacement(render(names[name]), key[len(name):])
    return pattern.sub(one, text)


@settings(max_examples=300, deadline=None)
@given(name=texts, cwd=texts, env=texts, item=texts, arg=texts, x=values, y=values, seq=st.integers(1, 10**6))
def test_every_text_field_is_its_placeholders_replaced_where_they_stand(
    name: str, cwd: str, env: str, item: str, arg: str, x: Any, y: Any, seq: int
) -> None:
    names = {"x": x, "y": y}
    template = {"name": name or "n", "run": ("tool", item), "cwd": cwd or ".", "env": {"E": env},
                "outputs": (item,), "args": (arg, "{x}", [arg])}
    fields = FillPlan(template, list(names)).fields((x, y), seq)
    token = slot_token([render(x), render(y)])
    expect = {key: reference_text(text, names, seq, token) for key, text in
              (("name", template["name"]), ("cwd", template["cwd"]), ("env", env), ("item", item), ("arg", arg))}
    if not placeholder_pattern(list(names)).search(template["name"]):
        expect["name"] = f"{template['name']}[x={render(x)},y={render(y)}]"
    assert fields["name"] == expect["name"] and fields["cwd"] == expect["cwd"]
    assert fields["env"] == {"E": expect["env"]}
    assert fields["run"] == ("tool", expect["item"]) and fields["outputs"] == (expect["item"],)
    if arg in ("{x}", "{y}"):  # exactly one variable: its typed value
        expect["arg"] = plain(names[arg[1]])
    assert fields["args"] == (expect["arg"], plain(x), [expect["arg"]])
    assert fields.get("slot_token") == (token if any("{%}" in text for text in (name, cwd, env, item, arg)) else None)


def test_shell_strings_fill_as_the_shell_template_does() -> None:
    """The format string of each generated shell template, filled, is the
    template's own ``fill`` (which the shells prove in test_shell_differential)."""
    grammar, pattern = Grammar(20261205), placeholder_pattern(["x"])
    compared = 0
    for number in range(600):
        text = grammar.template().text
        value = TRICKY[number % len(TRICKY)]
        try:
            want_text, want_env = ShellTemplate(text, pattern).fill({"x": value})
        except UnsafePlaceholder:
            continue
        fields = FillPlan({"name": "t", "run": text}, ["x"]).fields((value,), number)
        assert (fields["run"], fields.get("env", {})) == (want_text, want_env), text
        compared += 1
    assert compared > 300


def test_values_that_look_like_format_fields_arrive_as_written() -> None:
    template = {"name": "a-{n}-{#}", "run": "awk '{print $1}' {n} \"{n}\" '{n}'", "cwd": "d-{n}",
                "env": {"V": "{n}"}}
    for seq, fields in enumerate(expand(template, {"n": TRICKY}), start=1):
        value = TRICKY[seq - 1]
        assert fields["name"] == f"a-{value}-{seq}" and fields["cwd"] == f"d-{value}"
        assert fields["env"]["V"] == value and fields["env"]["TASKRUNNER_MATRIX_n"] == value
        assert fields["run"].startswith("awk '{print $1}' ")


def test_variables_named_like_the_slots_of_the_format_strings() -> None:
    (fields,) = expand({"name": "{seq}-{v0}-{token}-{q}-{d0}-{#}", "run": "echo {seq} {v0}"},
                       {"seq": ["s"], "v0": ["v"], "token": ["t"], "q": ["q"], "d0": ["d"]}, first_seq=7)
    assert fields["name"] == "s-v-t-q-d-7" and fields["run"] == "echo s v"


def test_forms_of_a_variable_whose_name_ends_in_a_dot_or_a_slash() -> None:
    (fields,) = expand({"name": "{a..}-{b//}-{a.}", "run": "echo {b/.}"}, {"a.": ["x.tar.gz"], "b/": ["d/e.f"]})
    assert fields["name"] == "x.tar-e.f-x.tar.gz" and fields["run"] == "echo d/e"  # {b//}: b/, basename; {b/.}: b/, no extension


def test_unchanged_fields_are_shared_by_the_jobs_and_arguments_are_not(tmp_path: Path) -> None:
    """A million jobs keep one copy of what their template does not fill in;
    each job gets its own arguments (a call may change what it is given)."""
    path = tmp_path / "jobs.yaml"
    path.write_text("""
jobs:
  - name: "c-{n}"
    call: os:getpid
    args: [[1, 2], "{n}"]
    kwargs: {opts: {k: v}}
    env: {A: "1"}
    tags: [t]
    outputs: [fixed.txt]
    matrix: {n: [1, 2]}
  - name: "r-{n}"
    run: "echo \\"{n}\\""
    cwd: here
    matrix: {n: [a, b]}
""")
    first, second, third, fourth = load_jobs(path)
    assert first.env is second.env and first.tags is second.tags and first.outputs is second.outputs
    assert first.args == ([1, 2], 1) and second.args == ([1, 2], 2) and first.args[0] is not second.args[0]
    assert first.kwargs == second.kwargs and first.kwargs["opts"] is not second.kwargs["opts"]
    assert third.run is fourth.run == 'echo "${TASKRUNNER_MATRIX_n}"' and third.cwd is fourth.cwd
    assert dict(third.env) == {"TASKRUNNER_MATRIX_n": "a"} and dict(fourth.env) == {"TASKRUNNER_MATRIX_n": "b"}
    assert os.path.isabs(first.base_dir or "")
