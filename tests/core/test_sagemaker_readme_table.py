"""The README's table of SageMaker request fields is the one the translation tables render (it cannot drift)."""

from __future__ import annotations

from pathlib import Path

from ml_lifecycle.core.sagemaker_api.readme import BEGIN, END, markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_holds_the_table_the_translation_renders():
    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == markdown(), "run: python -m ml_lifecycle.core.sagemaker_api.readme, and paste it"
