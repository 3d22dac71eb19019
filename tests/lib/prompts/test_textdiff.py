"""Answer diffs: line and word diffs of two model outputs."""

from __future__ import annotations

from lib.prompts.textdiff import diff_texts


def test_word_diff_marks_changed_words_only():
    d = diff_texts("The cat sat on the mat.", "The dog sat on the mat!")
    assert d.words == "The [-cat-]{+dog+} sat on the mat[-.-]{+!+}"
    assert (d.removed_words, d.added_words) == (2, 2)
    assert 0.5 < d.similarity < 1.0 and not d.identical


def test_line_diff_is_unified_and_identical_is_empty():
    d = diff_texts("a\nb\nc\n", "a\nB\nc\n", "col 1", "col 2")
    assert d.unified.startswith("--- col 1\n+++ col 2\n") and "-b\n+B\n" in d.unified
    same = diff_texts("x y", "x y")
    assert same.identical and same.unified == "" and same.similarity == 1.0 and same.words == "x y"
    empty = diff_texts("", "")
    assert empty.identical and empty.similarity == 1.0
