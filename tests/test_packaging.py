"""The packaging promises: the Space's requirements match the package, app.py stays thin."""

import tomllib

from .conftest import REPO_ROOT

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def requirement_lines(text: str) -> list[str]:
    """The requirements themselves: no comments, no pip options such as --extra-index-url."""
    lines = (line.strip() for line in text.splitlines())
    return sorted(line for line in lines if line and not line.startswith(("#", "-")))


def option_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("-")]


def test_space_requirements_match_the_package_dependencies():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    assert requirement_lines(requirements) == sorted(project["dependencies"])


def test_the_space_takes_torch_from_the_cpu_wheel_index_and_nothing_else():
    # A free Space has no GPU; PyPI's Linux torch wheels bring several GB of CUDA libraries.
    # An extra index (not a replacement) so that gradio and the rest still come from PyPI.
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    assert option_lines(requirements) == [f"--extra-index-url {CPU_INDEX}"]


def test_readme_documents_the_cpu_only_install():
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"pip install torch torchvision --index-url {CPU_INDEX}" in readme


def test_readme_opens_with_the_spaces_header():
    readme = (REPO_ROOT / "README.md").read_text()
    header = readme.split("---")[1]
    for key in ("sdk: gradio", "app_file: app.py", "python_version:"):
        assert key in header
