"""The settings table: the one place environment variables are read, and what the README says."""

import re
from pathlib import Path

import pytest

from mnist_demo.serving.trainer import Budget
from mnist_demo.settings import MAX_EPOCHS, MAX_TRAIN_SECONDS, SETTINGS, TRAIN_THREADS, WEIGHTS
from mnist_demo.ui.guards.limits import MB, Limits

ROOT = Path(__file__).resolve().parent.parent
VARIABLE = re.compile(r"\b(?:MNIST_DEMO|GRADIO_SERVER)_[A-Z_]+\b")


def readme_defaults() -> dict[str, str]:
    """Each variable in the README's settings tables, with the default its row gives."""
    defaults = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not VARIABLE.search(cells[0]):
            continue
        names = re.findall(r"`([A-Z_]+)`", cells[0])
        # A row may name several variables; its defaults are then listed in the same order.
        values = cells[1].split(", ") if len(names) > 1 else [cells[1]]
        defaults.update(zip(names, values, strict=True))
    return defaults


def test_the_readme_tables_list_every_setting_with_its_default():
    documented = readme_defaults()
    assert set(documented) == {setting.name for setting in SETTINGS}
    for setting in SETTINGS:
        assert documented[setting.name] == setting.documented_default, setting.name


def test_only_the_settings_module_reads_the_environment():
    for path in sorted((ROOT / "mnist_demo").rglob("*.py")):
        text = path.read_text()
        if path.name != "settings.py":
            assert "os.environ" not in text and "getenv" not in text, path
        # Any variable a module mentions (in a message or a comment) is one of the table's.
        for name in VARIABLE.findall(text):
            assert name in {setting.name for setting in SETTINGS}, (path, name)


def test_a_setting_is_read_when_used_not_at_import(monkeypatch):
    monkeypatch.setenv(MAX_EPOCHS.name, "3")
    monkeypatch.setenv("MNIST_DEMO_UPLOAD_MB", "20")
    assert Budget.from_env().max_epochs == 3
    assert Limits.from_env().upload_bytes == 20 * MB
    monkeypatch.delenv(MAX_EPOCHS.name)
    assert Budget.from_env().max_epochs == MAX_EPOCHS.default == Budget().max_epochs


def test_unset_or_empty_means_the_default_and_numbers_keep_their_type(monkeypatch):
    monkeypatch.setenv(MAX_EPOCHS.name, "")
    monkeypatch.delenv(WEIGHTS.name, raising=False)
    assert MAX_EPOCHS.read() == 10 and WEIGHTS.read() is None
    assert TRAIN_THREADS.read(default=3) == 3  # A default only known at use time.
    monkeypatch.setenv(MAX_TRAIN_SECONDS.name, "9.5")
    assert MAX_TRAIN_SECONDS.read() == 9.5


@pytest.mark.parametrize("raw, why", [("many", "a number"), ("0", "positive"), ("-2", "positive")])
def test_a_bad_number_is_a_value_error_naming_the_variable(monkeypatch, raw, why):
    monkeypatch.setenv(MAX_EPOCHS.name, raw)
    with pytest.raises(ValueError, match=rf"\$MNIST_DEMO_MAX_EPOCHS should be {why}"):
        MAX_EPOCHS.read()
