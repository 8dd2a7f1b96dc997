"""kequn pipelines: the CLI, the synthetic bank, the demo chain, registry governance and I/O."""

__version__ = "0.1.0"
