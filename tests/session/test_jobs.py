"""The job runner (segfix_gui.session.jobs) without Qt: lanes, stale results dropped, cancel,
posts, the one torch import, and delivery only on the owner's thread."""

from __future__ import annotations

import threading
import time

from segfix_gui.session.jobs import Runner, TorchGate


def test_runner_drops_stale_and_cancels():
    r = Runner(gate=TorchGate(importer=lambda: None))
    got = []

    def slow(job):
        for _ in range(50):
            job.check()
            time.sleep(0.01)
        return "old"

    r.submit("k", slow, on_done=got.append)
    r.submit("k", lambda job: "new", on_done=got.append)
    assert r.wait(5)
    assert got == ["new"] and r.dropped >= 1
    r.submit("k", slow, on_done=got.append)
    r.cancel("k")
    assert r.wait(5)
    assert got == ["new"]
    r.shutdown()


def test_results_arrive_only_on_the_owners_thread():
    r = Runner(gate=TorchGate(importer=lambda: None))
    where = []
    woken = threading.Event()
    r.set_waker(woken.set)
    r.submit("k", lambda job: 1, on_done=lambda v: where.append(threading.current_thread().name))
    assert woken.wait(5)  # the worker poked the owner...
    assert where == []  # ...but nothing was delivered until the owner asked
    assert r.wait(5)
    assert where == [threading.current_thread().name]
    r.shutdown()


def test_posts_of_a_stale_job_are_dropped():
    r = Runner(gate=TorchGate(importer=lambda: None))
    seen = []
    go = threading.Event()

    def work(job):
        job.post(lambda: seen.append("first"))
        go.wait(5)
        job.post(lambda: seen.append("late"))
        return None

    r.submit("k", work)
    time.sleep(0.05)
    r.process_events()
    assert seen == ["first"]
    r.cancel("k")
    go.set()
    assert r.wait(5)
    assert seen == ["first"]  # the cancelled job's later post never ran
    r.shutdown()


def test_errors_reach_on_error_with_their_kind():
    from segfix_gui.errors import InputError

    r = Runner(gate=TorchGate(importer=lambda: None))
    errors = []

    def bad_input(job):
        raise InputError("x.png", "broken")

    r.submit("a", bad_input, on_error=lambda m, is_input: errors.append((m, is_input)))
    assert r.wait(5)
    assert errors == [("x.png: broken", True)]
    r.shutdown()


def test_torch_is_imported_once_before_jobs_run():
    """Jobs that may reach torch wait for the one first import (run by whichever thread asks
    first); a job submitted with needs_torch=False does not wait."""
    release = threading.Event()
    imports = []

    def slow_import():
        imports.append(threading.current_thread().name)
        release.wait(10)

    gate = TorchGate(slow_import)
    r = Runner(gate=gate)
    seen = {}
    r.submit("probe", lambda job: gate.thread, on_done=lambda v: seen.setdefault("probe", v))
    deadline = time.monotonic() + 5
    while not imports and time.monotonic() < deadline:  # the probe thread is importing
        time.sleep(0.01)
    r.submit("refine", lambda job: gate.done, on_done=lambda v: seen.setdefault("refine", v))
    r.submit("load", lambda job: gate.done, on_done=lambda v: seen.setdefault("load", v), needs_torch=False)
    assert r.wait(5, kinds=("load",))
    assert seen["load"] is False  # reading files does not wait for torch
    time.sleep(0.1)
    r.process_events()
    assert "refine" not in seen  # it waits while the import runs in another thread
    release.set()
    assert r.wait(5, kinds=("refine", "probe"))
    assert seen["refine"] is True  # it ran only once the import was complete
    assert imports == ["segfix-probe"] and seen["probe"] == "segfix-probe"
    r.shutdown()


def test_shutdown_leaves_nothing_busy():
    r = Runner(gate=TorchGate(importer=lambda: None))
    r.submit("k", lambda job: time.sleep(0.3))
    assert r.busy("k")
    r.shutdown()
    assert not r.busy()
    assert r.wait(1)


def test_a_job_failing_after_shutdown_prints_nothing(capfd):
    """A job still running when its runner shuts down (a script's ``Session.close()`` before the
    interpreter ends) may fail on the way out: nothing is delivered and nothing printed."""
    import threading

    from segfix_gui.session.jobs import Runner

    r = Runner()
    go, started = threading.Event(), threading.Event()

    def work(job):
        started.set()
        go.wait(5)
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    got = []
    r.submit("set", work, on_done=got.append, on_error=lambda *a: got.append(a), needs_torch=False)
    assert started.wait(5)
    r.shutdown()
    go.set()
    time.sleep(0.3)
    r.process_events()
    assert got == []
    assert "RuntimeError" not in capfd.readouterr().err
