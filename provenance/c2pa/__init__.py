"""C2PA (Content Credentials): reading a file's manifest store, and writing a signed copy at mint.

Importing this package is cheap: `c2pa` (the reference implementation's
binding) is loaded only inside the functions that read or sign.
"""

from .reader import C2paConfigError, ReadOptions, read_c2pa
from .report import C2paReport

__all__ = ["C2paConfigError", "C2paReport", "ReadOptions", "read_c2pa"]
