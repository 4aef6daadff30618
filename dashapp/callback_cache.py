"""The diskcache behind Dash's background callbacks, rebuilt if its directory disappears under the running app.

DiskcacheManager insists on a `diskcache.Cache` instance. A plain one whose directory was deleted (someone cleared
CACHE_DIR, a deploy wiped the disk) fails every background callback with "unable to open database file" until a
restart; this one notices the missing file on its next use and starts a fresh cache in the same place.
"""

from __future__ import annotations

import os
import threading

import diskcache
from diskcache.core import DBNAME


class SelfHealingCache(diskcache.Cache):
    """A diskcache.Cache that re-creates its directory and database when they are gone."""

    def __init__(self, directory: str, **settings):
        self._heal_lock = threading.Lock()
        self._healing = False
        self._init_settings = settings
        super().__init__(directory, **settings)

    @property
    def _con(self):
        if not self._healing and not os.path.exists(os.path.join(self._directory, DBNAME)):
            with self._heal_lock:
                if not os.path.exists(os.path.join(self._directory, DBNAME)):
                    self._healing = True
                    try:
                        # A new threading.local too: every thread reconnects to the new file, none keeps
                        # writing into the deleted one.
                        diskcache.Cache.__init__(self, self._directory, **self._init_settings)
                    finally:
                        self._healing = False
        return diskcache.Cache._con.fget(self)
