"""patchdna.allocator: when the glibc thresholds are set and when they are left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from patchdna import allocator

ON_GLIBC = allocator.on_glibc()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (allocator.OPT_OUT_VARIABLE, "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.skipif(not ON_GLIBC, reason="the thresholds exist only in glibc's malloc")
def test_sets_both_thresholds_on_glibc(clean_env: pytest.MonkeyPatch) -> None:
    assert allocator.tune_cpu_allocator() is True
    assert allocator.tune_cpu_allocator() is True  # idempotent


def test_opt_out_variable_keeps_defaults(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv(allocator.OPT_OUT_VARIABLE, "1")
    assert allocator.tune_cpu_allocator() is False


@pytest.mark.parametrize("name", ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"])
def test_glibc_own_variables_win(clean_env: pytest.MonkeyPatch, name: str) -> None:
    clean_env.setenv(name, "65536")
    assert allocator.tune_cpu_allocator() is False


def test_no_op_off_linux(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setattr(allocator.sys, "platform", "darwin")
    assert allocator.tune_cpu_allocator() is False


# In a fresh interpreter: is a 20 MB block served from the heap (below the program break) after `import patchdna`?
# With glibc's starting threshold (128 KiB) it would be a fresh mmap above it.
HEAP_PROBE = """
import ctypes, patchdna
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.sbrk.restype = ctypes.c_void_p
libc.sbrk.argtypes = [ctypes.c_ssize_t]
block = libc.malloc(20 * 1024 * 1024)
print("heap" if block < libc.sbrk(0) else "mmap")
"""


@pytest.mark.skipif(not ON_GLIBC, reason="the thresholds exist only in glibc's malloc")
@pytest.mark.parametrize(("opt_out", "expected"), [("", "heap"), ("1", "mmap")])
def test_importing_patchdna_serves_large_blocks_from_the_heap(opt_out: str, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env[allocator.OPT_OUT_VARIABLE] = opt_out
    result = subprocess.run([sys.executable, "-c", HEAP_PROBE], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == expected
