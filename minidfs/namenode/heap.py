"""Keeps the NameNode's namespace out of the way of CPython's cyclic garbage collector.

Used by the namesystem when it loads an image (and when an HA NameNode drops its
namespace to reload). A namespace of a million files is about three million
objects the collector tracks (inodes, blocks, their dicts and lists), and:

- loading it with the collector on ran a collection over the growing heap again
  and again: 15.8 s to decode a 1M-file image, 2.5 s with the collector paused;
- once loaded, every full collection walks all of them: 0.7 s of blocked event
  loop, at unpredictable times (DataNodes miss heartbeats, clients time out);
- after the checkpoint's fork (image_writer.py) a full collection in either
  process writes to every object's header, copying every page of the heap.

So the load runs with the collector paused, and what it loaded is then frozen
(gc.freeze: moved to a generation the collector never examines). Frozen objects
are still freed by reference counting; the namespace breaks its own reference
cycles when a subtree leaves the tree (namespace.detach), so deleting a file loaded
at start-up frees it rather than leaking it. Objects made after the load are
collected as usual.
"""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside (loading makes no cyclic garbage, only objects
    that stay); the collector's previous state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def collect_before_load() -> None:
    """Before a load: garbage alive now would be frozen with the namespace for good.
    Cheap at start-up (the heap is small); on an HA reload it frees the namespace
    dropped by release_loaded (seconds at a million files, once per step-down)."""
    gc.collect()


def freeze_loaded() -> None:
    """After a load: everything alive now is left out of future collections."""
    gc.freeze()


def release_loaded() -> None:
    """The loaded namespace is being dropped (HA step-down): frozen objects return
    to the collector, which can then free the old namespace's cycles."""
    gc.unfreeze()


def frozen_count() -> int:
    return gc.get_freeze_count()
