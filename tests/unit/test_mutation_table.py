"""The mutation table is well formed, and the runner refuses a row it cannot apply exactly once."""

from __future__ import annotations

from pathlib import Path

from tests.mutation.runner import apply, check_table
from tests.mutation.table import MUTATIONS, Mutation


def test_every_row_of_the_table_applies_exactly_once() -> None:
    assert check_table(MUTATIONS) == []


def test_a_missing_or_repeated_original_and_a_duplicate_id_are_errors(tmp_path: Path) -> None:
    # GIVEN a file where one text occurs twice and another not at all
    (tmp_path / "m.py").write_text("A = 1\nA = 1\nB = 2\n", encoding="utf-8")
    rows = [
        Mutation("twice", "m.py", "A = 1", "A = 0", ("t",)),
        Mutation("absent", "m.py", "C = 3", "C = 0", ("t",)),
        Mutation("once", "m.py", "B = 2", "B = 0", ("t",)),
        Mutation("once", "m.py", "B = 2", "B = 0", ()),
        Mutation("nofile", "x.py", "B = 2", "B = 0", ("t",)),
    ]
    # WHEN the table is checked; THEN each problem is named
    assert check_table(rows, tmp_path) == [
        "once: duplicate id",
        "twice: original text in m.py: found 2 times, expected once",
        "absent: original text in m.py: found 0 times, expected once",
        "once: no tests selected",
        "nofile: original text in x.py: no such file",
    ]


def test_apply_replaces_the_original_in_place(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("A = 1\nB = 2\n", encoding="utf-8")
    apply(Mutation("b", "m.py", "B = 2", "B = 0", ("t",)), tmp_path)
    assert (tmp_path / "m.py").read_text(encoding="utf-8") == "A = 1\nB = 0\n"
