"""The documentation site (docs/, mkdocs.yml): every block marked runnable runs, every other command line of the
pages is one the command line accepts, the generated pages say what the code says, the pages state the present,
and `mkdocs build --strict` passes.

A block is marked by an HTML comment on the line before its fence: `<!-- runnable -->` runs it as written (it is
written tiny and on synthetic data), `<!-- runnable: tiny -->` runs each `python -m curriculum` line of a block
written for real data on a small synthetic stand-in (TINY below, added only for the keys the line does not set).
Every command line also gets `device=cpu threads=1` where it takes them. The blocks run in the order of the
site's pages (mkdocs.yml's nav), all in one folder with one MLflow store, so a block can use the score run an
earlier one made; a python block, and the body of a bash `python - <<'PY'` heredoc, is exec'd in this process.
The command lines of unmarked blocks (real data, a GPU, a cluster) are checked as the command line checks its
overrides before it runs anything: every key, value, choice and sweep."""

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, fresh_store, run_cli

DOCS = ROOT / "docs"
MARKED = re.compile(r"^<!-- runnable(?:: (?P<mode>tiny))? -->\n```(?P<lang>bash|python)\n(?P<body>.*?)^```",
                    re.MULTILINE | re.DOTALL)
CPU = {"device": "cpu", "threads": "1"}   # for the commands that take them: one thread, no GPU
TAKES_CPU = ("score", "train", "analyze")
TINY = {   # a real-data command's stand-in: synthetic data (the quickstart's, so scores=latest finds its score run),
    "score": {"data": "synthetic", "ensemble.size": "2", "epochs": "1"},   # 2 members, 1 epoch
    "train": {"data": "synthetic", "epochs": "1"},
    "export": {"data": "synthetic"},
}


def pages() -> list[Path]:
    """The site's pages in the order of mkdocs.yml's nav."""
    return [DOCS / name for name in re.findall(r"^\s+- .*?:\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(),
                                                re.MULTILINE)]


def marked_blocks() -> list[tuple[str, str, str, str]]:
    """(page:line, mode, language, body) of every marked block, in the order of the pages."""
    found = []
    for page in pages():
        text = page.read_text()
        for match in MARKED.finditer(text):
            line = text[:match.start()].count("\n") + 3   # the block's first line
            found.append((f"{page.name}:{line}", match["mode"] or "", match["lang"], match["body"]))
    return found


BLOCKS = marked_blocks()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The one folder every block runs in, with an empty MLflow store as the default `sqlite:///mlflow.db`, and the
    checkout's examples/ and scripts/ as a block written for the checkout's root finds them."""
    path = tmp_path_factory.mktemp("docs")
    fresh_store(path)
    for name in ("examples", "scripts"):
        (path / name).symlink_to(ROOT / name)
    return path


@pytest.fixture(scope="module")
def clock():
    """Seconds spent running blocks (all of them together must stay small)."""
    spent = {"s": 0.0}
    yield spent
    print(f"\nrunnable docs blocks: {len(BLOCKS)} in {spent['s']:.1f} s")


def commands(body: str) -> list[tuple[str, str]]:
    """A bash block as ("shell", line) and ("python", heredoc body) steps; `\\` continues a line."""
    steps, lines = [], iter(body.replace("\\\n", " ").splitlines())
    for line in lines:
        heredoc = re.search(r"<<\s*'?(\w+)'?\s*$", line)
        if heredoc and re.match(r"\s*(\S*/)?python3? -\s*<<", line):
            steps.append(("python", "\n".join(iter(lambda: next(lines), heredoc[1]))))
        elif line.strip() and not line.lstrip().startswith("#"):
            steps.append(("shell", line))
    return steps


def with_settings(args: list[str], mode: str) -> list[str]:
    """A `python -m curriculum` line's arguments with the test's settings added for the keys it does not set."""
    command = args[0]
    given = {a.split("=", 1)[0].lstrip("+~") for a in args[1:] if "=" in a}
    extra = dict(CPU) if command in TAKES_CPU else {}
    if mode == "tiny":
        assert given.isdisjoint({"data"}) or "data=synthetic" in args, f"a tiny block's {command} sets its own data"
        extra.update(TINY.get(command, {}))
    return args + [f"{k}={v}" for k, v in extra.items() if k not in given]


def run_python(code: str, folder: Path, where: str) -> None:
    """Exec `code` in `folder` on one torch thread (as `threads=1`: a busy machine makes waiting threads slow)."""
    import torch

    cwd, threads = os.getcwd(), torch.get_num_threads()
    os.chdir(folder)
    torch.set_num_threads(1)
    try:
        exec(compile(code, where, "exec"), {"__name__": "docs"})
    finally:
        torch.set_num_threads(threads)
        os.chdir(cwd)


def run_shell(line: str, folder: Path, mode: str) -> None:
    argv = shlex.split(line, comments=True)
    env = {}
    while argv and re.fullmatch(r"[A-Z_]+=\S*", argv[0]):
        key, value = argv.pop(0).split("=", 1)
        env[key] = value
    if "PYTHONPATH" in env:   # the block's folders first, then this checkout's code (conftest.py)
        env["PYTHONPATH"] = os.pathsep.join([str(folder / p) for p in env["PYTHONPATH"].split(os.pathsep)] +
                                            [os.environ["PYTHONPATH"]])
    if len(argv) > 2 and Path(argv[0]).name.startswith("python") and argv[1:3] == ["-m", "curriculum"]:
        with pytest.MonkeyPatch.context() as patch:
            if env:   # PYTHONPATH and the like apply at start-up: a fresh interpreter, not a fork of one
                patch.setenv("CURRICULUM_TEST_FORK", "0")
            run_cli(*with_settings(argv[3:], mode), cwd=folder, env=env, timeout=600)
        return
    if Path(argv[0]).name.startswith("python"):
        argv[0] = sys.executable
    proc = subprocess.run(argv, cwd=folder, env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{line}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("where,mode,lang,body", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_every_runnable_block_of_the_docs_runs(where, mode, lang, body, folder, clock):
    start = time.perf_counter()
    if lang == "python":
        run_python(body, folder, where)
    else:
        for kind, step in commands(body):
            run_python(step, folder, where) if kind == "python" else run_shell(step, folder, mode)
    clock["s"] += time.perf_counter() - start


def test_the_docs_mark_runnable_blocks_on_the_pages_that_teach_commands():
    marked = {where.split(":")[0] for where, *_ in BLOCKS}
    assert {"getting-started.md", "your-data.md", "outputs.md"} <= marked


FENCE = re.compile(r"^```bash\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)


def command_lines(page: Path) -> list[tuple[str, list[str]]]:
    """(page:line, argv after `-m curriculum`) of every command line in the page's unmarked bash blocks (`python -m
    curriculum`, `.venv/bin/python -m curriculum`, `torchrun ... -m curriculum`); the marked ones run."""
    text, found = page.read_text(), []
    for match in FENCE.finditer(text):
        if text[:match.start()].rstrip("\n").endswith(("<!-- runnable -->", "<!-- runnable: tiny -->")):
            continue
        first = text[:match.start()].count("\n") + 2
        for offset, line in enumerate(match["body"].splitlines()):
            argv = shlex.split(line, comments=True) if "-m curriculum" in line else []
            at = next((i for i in range(len(argv) - 1) if argv[i:i + 2] == ["-m", "curriculum"]), None)
            if at is not None and len(argv) > at + 2:
                found.append((f"{page.name}:{first + offset}", argv[at + 2:]))
    return found


@pytest.mark.parametrize("page", pages(), ids=[p.name for p in pages()])
def test_every_command_line_of_the_docs_is_one_the_command_line_accepts(page):
    from curriculum.cli import CONF_DIR
    from curriculum.errors import UserError
    from curriculum.overrides import check_overrides, with_model_group

    seen = set()
    for where, (command, *args) in command_lines(page):
        if (command, *args) in seen:
            continue
        seen.add((command, *args))
        try:
            check_overrides(CONF_DIR, command, with_model_group(args))
        except UserError as err:
            raise AssertionError(f"{where}: python -m curriculum {command} {' '.join(args)}\nerror: {err}") from None


def load_reference():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "scripts" / "docs_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_pages_are_what_the_code_gives():
    reference = load_reference()
    for path, text in reference.pages().items():
        assert path.read_text() == text, f"{path.name} is out of date: run python scripts/docs_reference.py"


def test_the_cli_reference_lists_every_setting_of_every_command():
    from omegaconf import OmegaConf

    from curriculum.config import compose_config

    page = (DOCS / "cli.md").read_text()
    for command in ("score", "train", "compare", "analyze", "export", "study"):
        section = page.split(f"\n## {command}\n", 1)[1].split("\n## ", 1)[0]
        config = OmegaConf.to_container(compose_config(command), resolve=False)
        groups = load_reference().command_groups(command)
        for key in dotted(config):
            head = key.split(".")[0]
            if head in groups:
                assert f"\n## {head}\n" in page, f"{command}: group {head} has no section"
            else:
                assert f"| `{key}` |" in section or any(f"| `{k}` |" in section for k in parents(key)), \
                    f"{command}: {key} is not in cli.md"


def dotted(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            yield from dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def parents(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def test_troubleshooting_lists_every_error_line_of_the_code():
    reference = load_reference()
    messages = reference.error_messages()
    page = (DOCS / "troubleshooting.md").read_text()
    assert len(messages) > 200
    for _, message in messages:
        problem, _ = reference.split_fix(message)
        assert reference.code(problem) in page, problem


def test_the_api_reference_renders_everything_the_package_exports():
    import curriculum

    page = (DOCS / "api.md").read_text()
    for name in curriculum.__all__:
        module = curriculum._PUBLIC[name]
        assert f"::: curriculum.{module}.{name}\n" in page, f"api.md does not render curriculum.{name}"


HISTORY = re.compile(r"\bearlier version|\bno longer\b|\bnow\b|\bused to\b|\bpreviously\b|\bhas been\b|\bissue \d+|"
                     r"#\d{2,}\b|\bsession\b", re.IGNORECASE)
STATED_AS_THEY_ARE = {"troubleshooting.md", "cli.md"}   # generated: the code's own words, quoted


def test_the_pages_written_for_the_site_state_the_present():
    found = []
    for page in [*pages(), DOCS.parent / "README.md"]:
        if page.name in STATED_AS_THEY_ARE:
            continue
        fenced = False
        for number, line in enumerate(page.read_text().splitlines(), 1):
            fenced ^= line.startswith("```")
            if not fenced and HISTORY.search(line):
                found.append(f"{page.name}:{number}: {line.strip()[:120]}")
    assert not found, "history belongs in CHANGELOG.md:\n" + "\n".join(found)


def test_the_site_builds_strictly(tmp_path):
    if importlib_missing("mkdocs") or importlib_missing("material") or importlib_missing("mkdocstrings_handlers"):
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]' (the dev extra has it)")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    built = {p.parent.name for p in (tmp_path / "site").glob("*/index.html")}
    assert {page.stem for page in pages() if page.stem != "index"} <= built


def importlib_missing(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is None
