"""Issue 29, item 4: a job file is read one job's YAML nodes at a time (a
file listing 100,000 jobs never holds its whole node tree); a top-level key
after the jobs makes the reader read the file again, whole, with the same
result as if that key came first."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import pytest

from taskrunner.errors import SpecError
from taskrunner.jobfile.spec import load_job_file
from taskrunner.jobfile.yamlstream import StreamLoader, compose_whole

pytestmark = [pytest.mark.timeout(120)]


def written_out(count: int) -> str:
    return "jobs:\n" + "".join(f'  - {{name: j{n}, call: "os:getpid"}}\n' for n in range(count))


def test_a_long_job_file_is_read_in_a_fraction_of_its_node_tree(tmp_path: Path) -> None:
    text = written_out(20_000)
    path = tmp_path / "jobs.yaml"
    path.write_text(text)
    gc.collect()
    tracemalloc.start()
    try:
        whole = compose_whole(StreamLoader(text))
        tree = tracemalloc.get_traced_memory()[0]
        del whole
        gc.collect()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        job_file = load_job_file(path)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(job_file.jobs) == 20_000 and job_file.jobs[-1].name == "j19999"
    # The jobs themselves stay (about a quarter of the tree here); the tree never does.
    assert peak < tree / 2, (peak, tree)


@pytest.mark.parametrize("later", ["defaults: {retries: 2}", "shell: [bash, -c]", "workers: 3",
                                   "resources: {gpu: 1}", "x-unused: 1"])
def test_a_key_after_the_jobs_counts_as_if_it_came_first(tmp_path: Path, later: str) -> None:
    first, last = tmp_path / "first.yaml", tmp_path / "last.yaml"
    jobs = 'jobs:\n  - {name: a, run: "true"}\n  - {name: b, run: "true", depends_on: a}\n'
    first.write_text(f"{later}\n{jobs}")
    last.write_text(f"{jobs}{later}\n")
    read_last, read_first = load_job_file(last), load_job_file(first)
    assert read_last.jobs == read_first.jobs
    assert (read_last.workers, read_last.resources) == (read_first.workers, read_first.resources)


@pytest.mark.parametrize(("text", "expected"), [
    # Problems in streamed jobs name their lines, dependency problems too.
    ('jobs:\n  - {name: a, run: "true"}\n  - {name: b, run: 7}\n', ["jobs.yaml:3: job 'b': 'run' must be a command"]),
    ('jobs:\n  - {name: a, run: "true"}\n  - {name: c, run: "true", depends_on: d}\n',
     ["jobs.yaml:3: job 'c': depends on unknown job 'd'"]),
    # A second document, after streamed jobs.
    ('jobs:\n  - {name: a, run: "true"}\n---\njobs: []\n', ["jobs.yaml:3: invalid YAML: expected a single document"]),
    # An alias to an anchor in an earlier job; an undefined one.
    ('jobs:\n  - {name: a, run: "true", env: &e {A: "1"}}\n  - {name: b, run: "true", env: *f}\n',
     ["jobs.yaml:3: invalid YAML: found undefined alias 'f'"]),
    ('jobs:\n  - {name: a, run: "true"}\n  - {name: a, run: "true"}\n',
     ["jobs.yaml:3: job 'a': duplicate name (first defined on line 2)"]),
    ("jobs: []\n", ["jobs.yaml:1: 'jobs' must be a non-empty list of jobs"]),
])
def test_streamed_jobs_are_checked_as_whole_ones(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as raised:
        load_job_file(path)
    said = [str(problem).replace(str(tmp_path) + "/", "") for problem in raised.value.problems]
    assert [line[: len(start)] for line, start in zip(said, expected)] == expected, said


def test_an_anchor_of_an_earlier_job_serves_a_later_one(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text('x-env: &base {A: "1"}\njobs:\n  - {name: a, run: "true", env: &e {B: "2"}}\n'
                    '  - {name: b, run: "true", env: *e}\n  - {name: c, run: "true", env: *base}\n')
    jobs = load_job_file(path).jobs
    assert [dict(job.env) for job in jobs] == [{"B": "2"}, {"B": "2"}, {"A": "1"}]


def test_the_yaml_1_1_warning_names_the_line_of_a_streamed_job(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text('jobs:\n  - {name: a, run: "true"}\n  - {name: b, run: "true", tags: [on]}\n')
    (warning,) = load_job_file(path).warnings
    assert warning.startswith(f"{path}:3: warning: on is")
