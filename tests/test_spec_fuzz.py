"""Property: whatever a job file holds, loading it gives jobs or a SpecError — never
another exception. Generated files mix valid structure with wrong types everywhere,
empty lists, YAML tags, deep nesting and matrices."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CliRunner, write
from taskrunner.errors import SpecError
from taskrunner.jobfile.spec import JobFile, load_job_file

JOB_KEYS = ["name", "run", "call", "args", "kwargs", "env", "cwd", "timeout", "retries",
            "retry_delay", "tags", "depends_on", "matrix"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["a", "b", "{n}", "m:f", "x:y.z", "true", "", "gen-{n}"]),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6) | scalars, inner, max_size=4)),
    max_leaves=20,
)
matrices = st.dictionaries(st.sampled_from(["n", "m", "k", "bad-name", ""]), st.lists(scalars, max_size=5), max_size=3)
jobs = st.dictionaries(
    st.sampled_from(JOB_KEYS + ["rnu", "dependson"]),
    st.one_of(junk, scalars, matrices, st.lists(st.sampled_from(["a", "b", "c"]), max_size=3)),
    max_size=8,
)
files = st.one_of(
    st.dictionaries(st.sampled_from(["workers", "defaults", "jobs", "extra"]),
                    st.one_of(junk, st.lists(jobs, max_size=5), jobs), max_size=4),
    junk,
)
tagged_text = st.sampled_from([
    "!!python/object/apply:os.system ['true']\n",
    "jobs: !!binary aGVsbG8=\n",
    "jobs:\n  - !custom {name: a}\n",
    "jobs:\n  - &a {name: a, run: x}\n  - *a\n",
    "jobs: [" * 300 + "]" * 300 + "\n",
    "{{{{\n",
    "jobs:\n  - {name: a, run: x}\n  bad indent\n",
])


def outcome(path: Path) -> JobFile | SpecError:
    try:
        return load_job_file(path)
    except SpecError as error:
        assert str(error) and all(line.startswith(str(path)) for line in str(error).splitlines())
        return error


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=files)
def test_generated_files_load_or_raise_spec_error(tmp_path: Path, document: object) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    outcome(path)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(tagged_text, st.text(max_size=200)))
def test_arbitrary_text_loads_or_raises_spec_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(text)
    outcome(path)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", [
    "jobs:\n  - {name: a, run: x, timeout: [1]}\n",
    "jobs: !!python/object/apply:os.system ['touch pwned']\n",
    "jobs:\n  - {name: m, run: x, matrix: {a: " + str(list(range(1000))) + ", b: " + str(list(range(1000))) + "}}\n",
])
def test_hostile_files_exit_2_without_traceback(cli: CliRunner, text: str) -> None:
    jobs = write(cli.workdir / "jobs.yaml", text)
    done = cli.run("run", str(jobs))
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.startswith(str(jobs))
    assert not (cli.workdir / "pwned").exists() and not (cli.workdir / ".taskrunner").exists()
