"""The packaging promises: the Space's requirements match the package, app.py stays thin."""

import tomllib

from .conftest import REPO_ROOT


def requirement_lines(text: str) -> list[str]:
    return sorted(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def test_space_requirements_match_the_package_dependencies():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    assert requirement_lines(requirements) == sorted(project["dependencies"])


def test_readme_opens_with_the_spaces_header():
    readme = (REPO_ROOT / "README.md").read_text()
    header = readme.split("---")[1]
    for key in ("sdk: gradio", "app_file: app.py", "python_version:"):
        assert key in header


def test_only_the_ui_imports_gradio():
    offenders = [
        path.relative_to(REPO_ROOT)
        for path in (REPO_ROOT / "mnist_demo").rglob("*.py")
        if "ui" not in path.relative_to(REPO_ROOT / "mnist_demo").parts[:-1]
        and "import gradio" in path.read_text()
    ]
    assert offenders == []
