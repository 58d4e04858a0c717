"""The collector's settings of Billow's own processes (billow.core.gcpause)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# in a process of its own: a freeze lasts as long as the process (the test run's objects must stay collectable)
FREEZE = """
import gc, sys, weakref
sys.path[:0] = [{repo!r}]
from billow.core.gcpause import freeze_start_up

class Node:
    pass

kept = [[] for _ in range(5000)]           # start-up objects: frozen
cycle = Node(); cycle.me = cycle; gone = weakref.ref(cycle); del cycle  # start-up garbage in a cycle
gc.disable()                                 # (no collection but the freeze's own)
assert gone() is not None
freeze_start_up()
assert gone() is None                        # collected first, not frozen forever
tracked = gc.get_objects()
assert gc.get_freeze_count() >= 5000, gc.get_freeze_count()
assert not any(o is kept[0] for o in tracked)  # full collections no longer walk them
later = [[]]                                 # objects made after the freeze are collected as before
assert any(o is later for o in gc.get_objects())
print("ok")
"""


def test_freezing_the_start_up_heap_collects_its_garbage_and_hides_the_rest_from_full_collections() -> None:
    out = subprocess.run([sys.executable, "-c", FREEZE.format(repo=str(REPO))], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
