"""`python -m curriculum ...` for the tests without paying its imports at every call: a fork server (multiprocessing's
"forkserver", one per test process) imports torch, MLflow and the package's commands once, and each call is a fresh
fork of it that runs the command line in its own process, folder, environment and stdio, and ends with the command's
exit status (-N when signal N ended it, as subprocess gives). The imports are 5-8 s of every command on a 2-core
machine; the command itself runs as it would. CURRICULUM_TEST_FORK=0 runs each command in a fresh interpreter
instead (tests/conftest.py run_cli), and test_cli checks that both answer alike.

The server's environment is fixed when it starts (at the first call) and imports torch and MLflow: what they
read at import (OMP_NUM_THREADS and the other thread counts, CUDA_VISIBLE_DEVICES, MLFLOW_* settings) keeps the
values the test process had then; the same variables passed through run_cli(env=...) reach the fork's os.environ
but do not apply. A test that varies such a variable runs its commands in fresh interpreters:
monkeypatch.setenv("CURRICULUM_TEST_FORK", "0") before its run_cli calls."""

import atexit
import io
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# What the server imports once: the command line, each command's modules, and what the first optimizer imports (2 s).
PRELOAD = [__name__, "torch._dynamo", "curriculum.cli",
           *(f"curriculum.commands.{name}" for name in ("score", "train", "compare", "analyze", "export", "study"))]
_CONTEXT = multiprocessing.get_context("forkserver")


def run(args, cwd, env, timeout) -> subprocess.CompletedProcess:
    """Run `python -m curriculum *args` in a fork of the server; stdout and stderr as text, as subprocess.run gives."""
    _CONTEXT.set_forkserver_preload(PRELOAD)   # read when the server starts, at the first call
    with tempfile.TemporaryDirectory(prefix="curriculum-cli-out-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        out.touch(), err.touch()   # read back even if the fork dies before it opens them
        child = _CONTEXT.Process(target=_main, args=(list(args), str(cwd), dict(env), str(out), str(err)))
        child.start()
        child.join(timeout)
        if child.exitcode is None:   # as subprocess.run: kill it, then say so
            child.kill()
            child.join()
            raise subprocess.TimeoutExpired(["curriculum", *args], timeout, out.read_text(), err.read_text())
        return subprocess.CompletedProcess(["curriculum", *args], child.exitcode, out.read_text(), err.read_text())


def _main(args, cwd, env, out, err):
    """In the fork: what a fresh `python -u -m curriculum *args` started from a terminal in `cwd` would do."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # Ctrl-C raises KeyboardInterrupt, as in a terminal
    for fd, path in ((1, out), (2, err)):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True,
                                                   errors="backslashreplace")
    from curriculum import cli

    sys.argv = [str(Path(cli.__file__).with_name("__main__.py")), *args]
    os._exit(_exit_status(args))


def _exit_status(args) -> int:
    """Run the command line as the interpreter would: its exit status, a traceback and 1 for an uncaught error; then
    end as the interpreter ends (threads, then exit handlers)."""
    from curriculum.cli import main

    try:
        main(args)
        status = 0
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 1
        if not isinstance(exit.code, (int, type(None))):
            print(exit.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    threading._shutdown()      # the interpreter's own exit: its threads' exit hooks (loky's, concurrent.futures'),
    atexit._run_exitfuncs()    # then every non-daemon thread joined, then the atexit handlers
    return status
