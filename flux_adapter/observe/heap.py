"""Hand the C heap's free pages back to the system after a LIST.

A LIST of thousands of objects arrives as megabyte-sized page bodies and
their decoded dicts; once they are slimmed and dropped, glibc keeps the
freed memory inside the process (its mmap threshold rises after the first
large free, so later pages come from the heap, where a few live objects
pin the space around them). `malloc_trim` returns every whole free page,
which is most of it. Elsewhere (musl, macOS) there is no such call and
nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _trimmer() -> Callable[[], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: int(trim(0))


_TRIM = _trimmer()


def return_free_memory() -> bool:
    """True when the allocator gave memory back; False when it had none or cannot."""
    return bool(_TRIM()) if _TRIM is not None else False
