"""The job-file loader: what it accepts, and every way it refuses a file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from taskrunner.errors import SpecError
from taskrunner.jobfile.spec import load_job_file, load_jobs
from taskrunner.model import Job

REPO = Path(__file__).resolve().parent.parent


def load_text(tmp_path: Path, text: str) -> list[Job]:
    path = tmp_path / "jobs.yaml"
    path.write_text(text)
    return load_jobs(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "jobs.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_jobs(path)
    prefix = str(path)
    lines = str(caught.value).splitlines()
    assert all(line.startswith(prefix) for line in lines), lines
    return [line[len(prefix):] for line in lines]


FULL_EXAMPLE = """
workers: 4
defaults:
  timeout: 60
  env: {LANG: C.UTF-8, B: "2"}
jobs:
  - name: compress
    run: gzip -k data.log
    env: {KEY: value, B: 3}
    cwd: some/dir
    timeout: 30
    retries: 2
    retry_delay: 1.5
    tags: [nightly]
  - name: train
    call: mypkg.tasks:train
    args: [1, 2]
    kwargs: {lr: 0.1}
  - name: argv
    run: [sleep, 1]
"""


def test_full_contract_example(tmp_path: Path) -> None:
    jobs = load_text(
        tmp_path,
        FULL_EXAMPLE,
    )
    compress, train, argv = jobs
    assert compress.run == "gzip -k data.log"
    assert dict(compress.env) == {"LANG": "C.UTF-8", "B": "3", "KEY": "value"}
    assert compress.cwd == "some/dir" and compress.base_dir == str(tmp_path)
    assert (compress.timeout, compress.retries, compress.retry_delay, compress.tags) == (30.0, 2, 1.5, ("nightly",))
    assert train.call == "mypkg.tasks:train" and train.args == (1, 2) and dict(train.kwargs) == {"lr": 0.1}
    assert train.timeout == 60.0 and dict(train.env) == {"LANG": "C.UTF-8", "B": "2"}
    assert argv.run == ("sleep", "1")
    assert load_job_file(tmp_path / "jobs.yaml").workers == 4


def test_loaded_jobs_equal_jobs_built_and_validated_by_hand(tmp_path: Path) -> None:
    """The reader builds jobs without Job's own checks (for speed); they must be
    exactly what the validating constructor makes of the same values."""
    for job in [*load_jobs(REPO / "jobs.example.yaml"), *load_text(tmp_path, FULL_EXAMPLE)]:
        fields = {name: getattr(job, name) for name in Job.__dataclass_fields__}
        rebuilt = Job(**fields)
        assert rebuilt == job
        assert [type(getattr(rebuilt, n)) for n in fields] == [type(getattr(job, n)) for n in fields]


def test_job_without_defaults_keeps_its_own_values(tmp_path: Path) -> None:
    (job,) = load_text(tmp_path, "jobs:\n  - {name: a, run: 'true'}\n")
    assert job.timeout is None and job.retries == 0 and dict(job.env) == {} and job.tags == ()


def test_single_tag_string_is_accepted(tmp_path: Path) -> None:
    (job,) = load_text(tmp_path, "jobs:\n  - {name: a, run: 'true', tags: nightly}\n")
    assert job.tags == ("nightly",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jobs:\n  - name: b\n    rnu: x\n", [":3: job 'b': unknown key 'rnu' (did you mean 'run'?)", ":2: job 'b': needs 'run' (a command) or 'call' (module:function)"]),
        ("jobs:\n  - name: a\n    run: x\n    call: m:f\n", [":2: job 'a': has both 'run' and 'call'; give exactly one"]),
        ("jobs:\n  - run: x\n", [":2: job #1: missing required key 'name'"]),
        ("jobs:\n  - {name: a, run: x}\n  - {name: a, run: y}\n", [":3: job 'a': duplicate name (first defined on line 2)"]),
        ("jobs:\n  - {name: a, run: x, timeout: -1}\n", [":2: job 'a': 'timeout' must be a number of seconds > 0 or a duration such as 90s, 5m, 1h30m, got -1"]),
        ("jobs:\n  - {name: a, run: x, timeout: fast}\n", [":2: job 'a': 'timeout' must be a number of seconds > 0 or a duration such as 90s, 5m, 1h30m, got 'fast'"]),
        ("jobs:\n  - {name: a, run: x, timeout: true}\n", [":2: job 'a': 'timeout' must be a number of seconds > 0 or a duration such as 90s, 5m, 1h30m, got True"]),
        ("jobs:\n  - {name: a, run: x, retries: 1.5}\n", [":2: job 'a': 'retries' must be a whole number >= 0, got 1.5"]),
        ("jobs:\n  - {name: a, run: x, retries: -1}\n", [":2: job 'a': 'retries' must be a whole number >= 0, got -1"]),
        ("jobs:\n  - {name: a, run: x, retry_delay: -2}\n", [":2: job 'a': 'retry_delay' must be a number of seconds >= 0 or a duration such as 90s, 5m, 250ms, got -2"]),
        ("jobs:\n  - {name: a, run: []}\n", [":2: job 'a': 'run' must be a command string or a non-empty argv list, got []"]),
        ("jobs:\n  - {name: a, run: '  '}\n", [":2: job 'a': 'run' must be a non-empty string, got '  '"]),
        ("jobs:\n  - {name: a, run: [ls, [x]]}\n", [":2: job 'a': 'run' argv items must be strings or numbers, got ['x']"]),
        ("jobs:\n  - {name: a, run: {x: 1}}\n", [":2: job 'a': 'run' must be a command string or an argv list, got {'x': 1}"]),
        ("jobs:\n  - {name: a, call: 'nocolon'}\n", [":2: job 'a': 'call' must look like 'package.module:function', got 'nocolon'"]),
        ("jobs:\n  - {name: a, call: 'm:f', args: {x: 1}}\n", [":2: job 'a': 'args' must be a list, got {'x': 1}"]),
        ("jobs:\n  - {name: a, call: 'm:f', kwargs: [1]}\n", [":2: job 'a': 'kwargs' must be a mapping with string keys, got [1]"]),
        ("jobs:\n  - {name: a, run: x, args: [1]}\n", [":2: job 'a': 'args' goes with 'call', not 'run'"]),
        ("jobs:\n  - {name: a, run: x, env: [A]}\n", [":2: job 'a': 'env' must be a mapping of NAME: value, got ['A']"]),
        ("jobs:\n  - {name: a, run: x, env: {A: [1]}}\n", [":2: job 'a': 'env' value of 'A' must be a string or number (quote it), got [1]"]),
        ("jobs:\n  - {name: a, run: x, env: {A=B: 1}}\n", [":2: job 'a': 'env' has an invalid variable name 'A=B'"]),
        ("jobs:\n  - {name: a, run: x, cwd: ''}\n", [":2: job 'a': 'cwd' must be a non-empty string, got ''"]),
        ("jobs:\n  - {name: a, run: x, tags: [1]}\n", [":2: job 'a': 'tags' must be a list of strings, got [1]"]),
        ("jobs:\n  - {name: 5, run: x}\n", [":2: job #1: 'name' must be a non-empty string, got 5"]),
        ("jobs:\n  - {name: a, run: x, depends_on: [b]}\n", [":2: job 'a': depends on unknown job 'b'"]),
        ("jobs:\n  - {name: a, run: x, depends_on: b}\n  - {name: b, run: x, depends_on: [a]}\n", [":2: job 'a': dependency cycle a -> b -> a"]),
        ("jobs:\n  - {name: a, run: x, depends_on: [1]}\n", [":2: job 'a': 'depends_on' must be a list of strings, got [1]"]),
        ("jobs:\n  - {name: a, run: x, matrix: {n: []}}\n", [":2: job 'a': 'matrix' variable 'n' must list at least one value, got []"]),
        ("jobs:\n  - {name: a, run: x, matrix: [1]}\n", [":2: job 'a': 'matrix' must be a non-empty mapping of variable: [values], got [1]"]),
        ("jobs:\n  - {name: a, run: x, matrix: {n-1: [1]}}\n", [":2: job 'a': 'matrix' variable 'n-1' must be an identifier (letters, digits, _)"]),
        ("jobs:\n  - {name: a, run: x, matrix: {n: [[1]]}}\n", [":2: job 'a': 'matrix' variable 'n': values must be strings, numbers or booleans, got [1]"]),
        ("jobs:\n  - {name: 'a-{n}', run: x, matrix: {n: [1, '1']}}\n", [":2: job 'a-1': duplicate name (first defined on line 2)"]),
        ("defaults: {matrix: {n: [1]}}\njobs:\n  - {name: a, run: x}\n", [":1: defaults: unknown key 'matrix'"]),
        ("jobs:\n  - {name: a, run: x, run: y}\n", [":2: job #1: duplicate key 'run'"]),
        ("jobs:\n  - just a string\n", [":2: job #1: must be a mapping with 'name' and 'run' or 'call'"]),
        ("jobs: []\n", [":1: 'jobs' must be a non-empty list of jobs"]),
        ("jobs: {a: 1}\n", [":1: 'jobs' must be a non-empty list of jobs"]),
        ("workers: 2\n", [":1: missing required key 'jobs' (a list of jobs)"]),
        ("- a\n- b\n", [":1: the top level must be a mapping with a 'jobs' list"]),
        ("jobz: []\n", [":1: unknown top-level key 'jobz' (did you mean 'jobs'?)", ":1: missing required key 'jobs' (a list of jobs)"]),
        ("workers: 0\njobs:\n  - {name: a, run: x}\n", [":1: 'workers' must be a whole number >= 1, got 0"]),
        ("defaults: 3\njobs:\n  - {name: a, run: x}\n", [":1: 'defaults' must be a mapping"]),
        ("defaults: {run: x}\njobs:\n  - {name: a, run: x}\n", [":1: defaults: unknown key 'run' (a default cannot set 'run')"]),
        ("defaults: {timout: 3}\njobs:\n  - {name: a, run: x}\n", [":1: defaults: unknown key 'timout' (did you mean 'timeout'?)"]),
        ("defaults: {timeout: 0}\njobs:\n  - {name: a, run: x}\n", [":1: defaults: 'timeout' must be a number of seconds > 0 or a duration such as 90s, 5m, 1h30m, got 0"]),
        ("jobs:\n  - {name: a, run: x, [k]: 1}\n", [":2: job #1: keys must be strings"]),
        ("jobs:\n  - {name: a, run: !!python/object:os.system x}\n", ":2: invalid YAML:"),
        ("jobs:\n  - {name: a, run: x\n", ":3: invalid YAML:"),
        ("jobs:\n\t- {name: a}\n", ":2: invalid YAML:"),
    ],
)
def test_invalid_files_name_file_line_and_key(tmp_path: Path, text: str, expected: list[str] | str) -> None:
    found = problems(tmp_path, text)
    if isinstance(expected, str):  # YAML-level errors: PyYAML words them; we add file and line
        assert len(found) == 1 and found[0].startswith(expected), found
    else:
        assert found == expected


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "jobs:\n  - {name: a, run: x, timeout: 0}\n  - {name: b, rnu: y}\n  - {name: c, call: bad}\n",
    )
    assert [line.split(":")[1] for line in found] == ["2", "3", "3", "4"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "job file is empty; it needs a 'jobs' list"), (b"\xff\xfe", "job file is not valid UTF-8")],
)
def test_empty_and_binary_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_bytes(content)
    with pytest.raises(SpecError, match=message) as caught:
        load_jobs(path)
    assert caught.value.line is None and caught.value.path == str(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read job file: No such file or directory"):
        load_jobs(tmp_path / "nope.yaml")


def test_deeply_nested_yaml_is_an_error_not_a_crash(tmp_path: Path) -> None:
    found = problems(tmp_path, "jobs:\n  - {name: a, call: 'm:f', args: " + "[" * 5000 + "]" * 5000 + "}\n")
    assert len(found) == 1 and "invalid YAML" in found[0]


def test_alias_bomb_does_not_explode(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]" for i in range(1, 10)]
    found = problems(tmp_path, "\n".join(lines) + "\njobs:\n  - {name: a, call: 'm:f', args: *a9}\n")
    assert any("unknown top-level key 'a0'" in line for line in found)


def test_example_file_is_valid() -> None:
    example = Path(__file__).resolve().parent.parent / "jobs.example.yaml"
    jobs = load_jobs(example)
    assert len(jobs) >= 5 and any(job.is_command for job in jobs) and any(not job.is_command for job in jobs)
    assert all(job.base_dir == os.path.dirname(example) for job in jobs)


def test_depends_on_string_or_list(tmp_path: Path) -> None:
    a, b, c = load_text(tmp_path, "jobs:\n  - {name: a, run: x}\n  - {name: b, run: x, depends_on: a}\n  - {name: c, run: x, depends_on: [a, b]}\n")
    assert (a.depends_on, b.depends_on, c.depends_on) == ((), ("a",), ("a", "b"))


MATRIX = """
jobs:
  - name: gen-{n}
    run: "awk '{print $2}' in-{n}.txt > out-{n}; echo ${HOME} {n} {label}"
    matrix: {n: [1, 2], label: ["a b; touch x"]}
    env: {N: "{n}"}
    cwd: "work/{n}"
  - name: call
    call: "m:f"
    args: ["{n}", "file-{n}.txt", ["{flag}"], 7]
    kwargs: {size: "{n}", enabled: "{flag}"}
    matrix: {n: [3, 4.5], flag: [true]}
  - name: argv
    run: [echo, "{n}", "x{n}"]
    matrix: {n: [a b]}
  - name: after
    run: "true"
    depends_on: ["gen-{n}", "call[n=3,flag=true]"]
"""


def test_matrix_expands_and_substitutes_only_declared_variables(tmp_path: Path) -> None:
    jobs = {job.name: job for job in load_text(tmp_path, MATRIX)}
    assert list(jobs) == ["gen-1", "gen-2", "call[n=3,flag=true]", "call[n=4.5,flag=true]", "argv[n=a b]", "after"]
    gen = jobs["gen-1"]
    assert gen.run == "awk '{print $2}' in-1.txt > out-1; echo ${HOME} 1 'a b; touch x'"
    assert dict(gen.env) == {"N": "1"} and gen.cwd == "work/1"
    call = jobs["call[n=3,flag=true]"]
    assert call.args == (3, "file-3.txt", [True], 7)  # exact "{n}" keeps its YAML type
    assert dict(call.kwargs) == {"size": 3, "enabled": True}
    assert jobs["argv[n=a b]"].run == ("echo", "a b", "xa b")
    assert jobs["after"].depends_on == ("gen-1", "gen-2", "call[n=3,flag=true]")


def test_matrix_values_cannot_inject_shell_commands(tmp_path: Path) -> None:
    import subprocess

    (job,) = load_text(tmp_path, "jobs:\n  - {name: e, run: 'echo {v}', matrix: {v: ['a; touch pwned', '$(touch pwned)']}}\n")[:1]
    out = subprocess.run(job.run, shell=True, cwd=tmp_path, capture_output=True, text=True, check=False).stdout
    assert out == "a; touch pwned\n" and not (tmp_path / "pwned").exists()


def test_huge_matrix_is_refused_unless_the_limit_is_raised(tmp_path: Path) -> None:
    values = list(range(400))
    text = f"jobs:\n  - {{name: big, run: x, matrix: {{a: {values}, b: {values}}}}}\n"
    found = problems(tmp_path, text)
    assert found == [":2: job 'big': 'matrix' expands the file to 160,000 jobs, more than the limit of 100,000 (raise it with --max-jobs)"]
    assert len(load_jobs(tmp_path / "jobs.yaml", max_jobs=200_000)) == 160_000


def test_a_matrix_can_depend_on_the_matching_expansion(tmp_path: Path) -> None:
    jobs = load_text(tmp_path, "jobs:\n  - {name: 'gen-{n}', run: x, matrix: {n: [1, 2]}}\n  - {name: 'use-{n}', run: x, depends_on: 'gen-{n}', matrix: {n: [1, 2]}}\n")
    assert [(j.name, j.depends_on) for j in jobs[2:]] == [("use-1", ("gen-1",)), ("use-2", ("gen-2",))]


#: A value the field table refuses, for each key ``Job(...)`` takes.
BAD_VALUES = {
    "name": " ", "run": [], "call": "no-colon", "args": {"a": 1}, "kwargs": {1: 2}, "env": {"A=B": "x"},
    "cwd": "", "timeout": 0, "retries": -1, "retry_delay": -1, "tags": [1], "depends_on": [""],
    "keep_children": "yes", "success_codes": [256], "inputs": [""], "outputs": [3], "priority": 1.5, "resources": {"mem": "lots"}, "memory_limit": "0M",
    "shell": "bash -e", "default": "no", "keep_failed_outputs": 1, "freshness": "hash",
}


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
def test_job_and_job_file_refuse_the_same_values(tmp_path: Path, key: str) -> None:
    """Both front doors read one field table: a value one refuses, so does the other."""
    from taskrunner.fields import PYTHON_FIELDS

    assert sorted(BAD_VALUES) == sorted(field.name for field in PYTHON_FIELDS)  # a new key needs a case here
    values = {"name": "j", "call" if key in ("args", "kwargs") else "run": "m:f" if key in ("args", "kwargs") else "true"}
    values[key] = BAD_VALUES[key]
    if key == "call":
        del values["run"]
    import yaml

    assert any(key in problem for problem in problems(tmp_path, yaml.safe_dump({"jobs": [values]})))
    with pytest.raises((ValueError, TypeError), match=key if key != "name" else "name"):
        Job(**values)  # type: ignore[arg-type]


def test_depends_on_a_name_two_matrix_jobs_share_means_every_expansion_of_both(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text("""jobs:
  - {name: "part-{n}", run: "true", matrix: {n: [a, b]}}
  - {name: middle, run: "true"}
  - {name: "part-{n}", run: "true", matrix: {n: [c]}}
  - {name: all, run: "true", depends_on: ["part-{n}"]}
""")
    spec = load_job_file(path)
    assert spec.jobs[-1].depends_on == ("part-a", "part-b", "part-c")
    expansions = spec.templates["part-{n}"]
    assert list(expansions) == ["part-a", "part-b", "part-c"] and len(expansions) == 3
    assert (expansions[2], expansions[-3], expansions[1:]) == ("part-c", "part-a", ["part-b", "part-c"])
    assert list(spec.lines) == [2, 2, 3, 4, 5] and spec.lines[-1] == 5
