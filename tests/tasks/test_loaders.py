"""Task loaders on HumanEval (the wheel's data) and on local GSM8K/KodCode-format files."""

from __future__ import annotations

import json

import pytest

from exectune_rl.errors import DataError
from exectune_rl.tasks import (
    Task,
    TaskKind,
    gsm8k_answer,
    load_gsm8k,
    load_humaneval,
    load_jsonl,
    load_kodcode,
    save_jsonl,
)

# Rows in the exact shape of the hub's openai/gsm8k ("question", "answer" ending in "#### n").
GSM8K_ROWS = [
    {
        "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
        "How many clips did Natalia sell altogether in April and May?",
        "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips "
        "altogether in April and May.\n#### 72",
    },
    {
        "question": "A house costs $1,200 more than a car costing $3,400. What do both cost together?",
        "answer": "The house costs 3,400 + 1,200 = $<<3400+1200=4600>>4,600.\nTogether: $8,000.\n#### 8,000",
    },
    {"question": "It is 3 degrees and drops by 5. What is the temperature?", "answer": "3 - 5 = -2\n#### -2"},
]

# Rows in the shape of KodCode/KodCode-V1 (pytest tests that import the program as `solution`).
KODCODE_ROWS = [
    {
        "question_id": "Leetcode_1_I",
        "question": "Write a function `two_sum(nums, target)` returning the indices of the two numbers adding to target.",
        "solution": "def two_sum(nums, target):\n    seen = {}\n    for i, n in enumerate(nums):\n"
        "        if target - n in seen:\n            return [seen[target - n], i]\n        seen[n] = i\n",
        "test": "from solution import two_sum\n\ndef test_basic():\n    assert two_sum([2, 7, 11, 15], 9) == [0, 1]\n\n"
        "def test_later_pair():\n    assert two_sum([3, 2, 4], 6) == [1, 2]\n",
        "test_info": [{"function_name": "two_sum", "parameter_list": "(nums, target)",
                       "function_declaration": "def two_sum(nums, target):", "docstring": None}],
        "subset": "Leetcode", "style": "instruct", "gpt_difficulty": "easy",
    },
    {
        "question_id": "Apps_2_I",
        "question": "Write `double(x)`.",
        "solution": "def double(x):\n    return 2 * x\n",
        "test": "import pytest\nfrom solution import double\n\n@pytest.mark.parametrize('x', [1, 2])\n"
        "def test_double(x):\n    assert double(x) == 2 * x\n",
        "test_info": [{"function_name": "double", "parameter_list": "(x)",
                       "function_declaration": "def double(x):", "docstring": None}],
        "subset": "Apps", "style": "instruct", "gpt_difficulty": "easy",
    },
    {
        "question_id": "Algorithm_3_C",
        "question": "Write `is_even(n)`.",
        "solution": "def is_even(n):\n    return n % 2 == 0\n",
        "test": "from solution import is_even\n\ndef test_even():\n    assert is_even(4)\n    assert not is_even(3)\n",
        "test_info": [{"function_name": "is_even", "parameter_list": "(n)",
                       "function_declaration": "def is_even(n):", "docstring": None}],
        "subset": "Algorithm", "style": "complete", "gpt_difficulty": "easy",
    },
]  # fmt: skip


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(autouse=True)
def _offline_datasets(monkeypatch, tmp_path):
    """The hub is unreachable here; make ``datasets`` fail fast instead of retrying."""
    datasets = pytest.importorskip("datasets")
    import huggingface_hub.constants as hub

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


def test_humaneval_offline():
    tasks = load_humaneval()
    assert len(tasks) == 164
    first = tasks[0]
    assert (first.id, first.kind, first.entry_point, first.test_format) == ("HumanEval/0", TaskKind.CODE, "has_close_elements", "check")
    assert "def check(candidate)" in first.tests and first.problem.startswith("from typing import List")
    assert first.reference.startswith(first.problem)
    assert [t.id for t in load_humaneval(limit=3)] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


def test_humaneval_references_pass_their_own_tests():
    from exectune_rl.sandboxes.local import LocalSandbox
    from exectune_rl.sandboxes.runner import ProgramTests, run_tests

    tasks = load_humaneval(limit=6)
    with LocalSandbox(workers=2) as sb:
        outcomes = run_tests(sb, [t.reference for t in tasks], [ProgramTests.from_task(t) for t in tasks])
    assert [o.passed for o in outcomes] == [True] * 6


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_gsm8k_from_local_files(tmp_path, fmt):
    if fmt == "jsonl":
        path = write_jsonl(tmp_path / "test.jsonl", GSM8K_ROWS)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = tmp_path / "test-00000-of-00001.parquet"
        pq.write_table(pa.Table.from_pylist(GSM8K_ROWS), path)
    tasks = load_gsm8k(path, "test", cache_dir=str(tmp_path / "cache"))
    assert [t.answer for t in tasks] == ["72", "8000", "-2"]
    assert [t.id for t in tasks] == ["gsm8k/test/0", "gsm8k/test/1", "gsm8k/test/2"]
    assert tasks[0].kind is TaskKind.MATH and tasks[0].problem.startswith("Natalia sold clips")
    assert tasks[0].reference.endswith("#### 72")
    assert len(load_gsm8k(path, "test", limit=1, cache_dir=str(tmp_path / "cache"))) == 1


def test_gsm8k_from_a_local_folder(tmp_path):
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", GSM8K_ROWS[:2])
    write_jsonl(folder / "test.jsonl", GSM8K_ROWS[2:])
    assert [t.answer for t in load_gsm8k(folder, "test", config=None, cache_dir=str(tmp_path / "c"))] == ["-2"]
    assert len(load_gsm8k(folder, "train", config=None, cache_dir=str(tmp_path / "c"))) == 2


def test_gsm8k_bad_inputs(tmp_path):
    with pytest.raises(DataError, match="Offline"):
        load_gsm8k("openai/gsm8k", "test", cache_dir=str(tmp_path / "c"))
    wrong = write_jsonl(tmp_path / "wrong.jsonl", [{"problem": "1+1", "solution": "2"}])
    with pytest.raises(DataError, match="question"):
        load_gsm8k(wrong, "test", cache_dir=str(tmp_path / "c"))
    noanswer = write_jsonl(tmp_path / "noanswer.jsonl", [{"question": "1+1", "answer": "it is 2"}])
    with pytest.raises(DataError, match="####"):
        load_gsm8k(noanswer, "test", cache_dir=str(tmp_path / "c"))
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataError, match="unsupported file type"):
        load_gsm8k(tmp_path / "x.txt", "test")


@pytest.mark.parametrize(
    ("solution", "answer"),
    [("#### 72", "72"), ("...\n#### 1,234", "1234"), ("#### $5", "5"), ("#### -3.5 ", "-3.5"), ("#### 7\n", "7")],
)
def test_gsm8k_answer_extraction(solution, answer):
    assert gsm8k_answer(solution) == answer


def test_kodcode_from_a_local_file(tmp_path):
    path = write_jsonl(tmp_path / "kodcode.jsonl", KODCODE_ROWS)
    tasks = load_kodcode(path, "train", cache_dir=str(tmp_path / "c"))
    # the parametrized (fixture-using) test cannot run without pytest: it is skipped
    assert [t.id for t in tasks] == ["kodcode/Leetcode_1_I", "kodcode/Algorithm_3_C"]
    two_sum = tasks[0]
    assert (two_sum.entry_point, two_sum.test_format, two_sum.kind) == ("two_sum", "asserts", TaskKind.CODE)
    assert two_sum.metadata["subset"] == "Leetcode" and two_sum.reference.startswith("def two_sum")
    assert len(load_kodcode(path, "train", drop_fixture_tests=False, cache_dir=str(tmp_path / "c"))) == 3
    only = load_kodcode(path, "train", subsets=["Algorithm"], cache_dir=str(tmp_path / "c"))
    assert [t.id for t in only] == ["kodcode/Algorithm_3_C"]


def test_kodcode_references_pass_in_the_sandbox(tmp_path):
    from exectune_rl.sandboxes.local import LocalSandbox
    from exectune_rl.sandboxes.runner import ProgramTests, run_tests

    tasks = load_kodcode(write_jsonl(tmp_path / "k.jsonl", KODCODE_ROWS), "train", cache_dir=str(tmp_path / "c"))
    wrong = "def two_sum(nums, target):\n    return [0, 0]\n"
    with LocalSandbox(workers=2) as sb:
        outcomes = run_tests(sb, [t.reference for t in tasks] + [wrong], [ProgramTests.from_task(t) for t in tasks] + [ProgramTests.from_task(tasks[0])])
    assert [o.passed for o in outcomes] == [True, True, False]


def test_jsonl_round_trip_and_errors(tmp_path):
    tasks = [
        Task("m1", "math", "1 + 1?", answer="2", metadata={"level": 1}),
        load_humaneval(limit=1)[0],
    ]
    path = save_jsonl(tasks, tmp_path / "tasks.jsonl")
    back = load_jsonl(path)
    assert [t.to_dict() for t in back] == [t.to_dict() for t in tasks]
    assert back[0].metadata == {"level": 1}
    (tmp_path / "bad.jsonl").write_text(json.dumps(tasks[0].to_dict()) + "\n\n{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl:3"):
        load_jsonl(tmp_path / "bad.jsonl")
    (tmp_path / "nogold.jsonl").write_text(json.dumps({"task_id": "x", "kind": "math", "problem": "?"}) + "\n")
    with pytest.raises(DataError, match=r"nogold.jsonl:1: math task 'x' has no gold answer"):
        load_jsonl(tmp_path / "nogold.jsonl")
    with pytest.raises(DataError, match="cannot open"):
        load_jsonl(tmp_path / "missing.jsonl")


def test_task_rejects_an_unknown_test_format():
    import pytest

    from exectune_rl.errors import DataError
    from exectune_rl.tasks import Task

    with pytest.raises(DataError, match="test_format"):
        Task("t", "code", "def f():", tests="assert f()", test_format="bogus")
