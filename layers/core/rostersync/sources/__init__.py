"""Where a sync reads a district's rosters from: the source-reader port and its adapters.

    from rostersync.sources import SourceReader, OneRosterRestReader

`port.py` is the interface the sync engine reads through (and nothing else); `oneroster_rest.py`
implements it over the OneRoster 1.1 REST client (rostersync.oneroster). A OneRoster 1.2 server
or a CSV bundle plugs in as another module here yielding the same typed records.
"""

from .oneroster_rest import OneRosterRestReader
from .port import Collection, SourcePage, SourceReader

__all__ = ["Collection", "OneRosterRestReader", "SourcePage", "SourceReader"]
