"""The engine never imports streamlit, and never unpickles: checked on the source itself."""
import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_engine_does_not_import_streamlit():
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) > 10
    offenders = [str(f.relative_to(ENGINE.parent)) for f in files if "streamlit" in _imports(f)]
    assert offenders == []


def test_torch_load_always_weights_only():
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "load" \
                    and getattr(node.func.value, "id", None) == "torch":
                kwargs = {k.arg: k.value for k in node.keywords}
                assert "weights_only" in kwargs and kwargs["weights_only"].value is True, path
