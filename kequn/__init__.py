"""kequn's kernel: the foundation every stage shares.

Errors, atomic I/O, console progress, lineage and manifest reading, the raw-data schema, the
version and the tracking configuration. The kernel imports no other package of ours; the
stages (``privacy``, ``features``), training (``experiments``) and the roof (``pipelines``)
import it (the floors are checked by ``tests/test_architecture.py``).
"""

__version__ = "0.1.0"
