"""User settings: the declarative registry (``schema``), typed snapshots and storage (``store``)."""
