"""dnatune.heap: freed chunk temporaries are reused instead of page-faulted in again."""

import subprocess
import sys

import pytest

# Four 8 MB temporaries per "chunk", the shape of the corpus stage's per-chunk work.
CHUNK_LOOP = """
import resource, sys
import numpy as np
from dnatune.heap import reuse_freed_memory

if sys.argv[1] == "reuse":
    assert reuse_freed_memory()

def chunk():
    parts = [np.ones(2_000_000, dtype=np.uint32) for _ in range(4)]
    return sum(int(p[0]) for p in parts)

chunk()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    chunk()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", CHUNK_LOOP, mode], capture_output=True, text=True, check=True
    )
    return int(result.stdout)


@pytest.mark.slow
def test_chunk_temporaries_stop_page_faulting_once_freed_memory_is_kept():
    default, reused = page_faults("default"), page_faults("reuse")
    assert default > 2_000  # glibc's defaults give the pages back after every chunk
    assert reused < default / 10
