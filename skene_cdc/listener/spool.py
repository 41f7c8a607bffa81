"""Streamed in-progress transactions (pgoutput protocol 2) parked on local disk until they end.

With `streaming 'on'` the server sends a large transaction's changes before it commits, in Stream
Start/Stop blocks, and may still abort it (or one of its subtransactions). Nothing may reach
skene.events before Stream Commit, and memory must stay flat, so each transaction's rendered
events go to a temporary file, one line per change. A subtransaction abort cuts the file back to
that subtransaction's first change (as PostgreSQL's own apply worker does: a subtransaction's
changes, and those of later subtransactions rolled back with it, come after that point).

The files are scratch space only: after a crash the slot has not confirmed the transaction, so
the server streams it again from the start.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from skene_cdc.listener.logical_rows import Rendered


@dataclass
class _Txn:
    file: IO[str]
    first_offset: dict[int, int] = field(default_factory=dict)


class StreamSpool:
    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory
        self.txns: dict[int, _Txn] = {}

    @property
    def open(self) -> bool:
        return bool(self.txns)

    def _txn(self, xid: int) -> _Txn:
        txn = self.txns.get(xid)
        if txn is None:
            txn = self.txns[xid] = _Txn(tempfile.TemporaryFile(
                "w+", encoding="utf-8", newline="\n", dir=self.directory, prefix="skene-stream-"))
        return txn

    def add(self, top_xid: int, xid: int, rendered: Rendered | None) -> None:
        """One change of a streamed transaction; None for a change skene does not capture (it
        still takes a position, so positions match the same transaction decoded unstreamed)."""
        txn = self._txn(top_xid)
        if xid not in txn.first_offset:
            txn.first_offset[xid] = txn.file.tell()
        if rendered is None:
            txn.file.write("\n")
        else:
            txn.file.write(f"{rendered.occurred_at or ''}\t{rendered.body}\n")

    def abort(self, xid: int, subxid: int) -> None:
        txn = self.txns.get(xid)
        if txn is None:
            return
        if subxid == xid:
            self.txns.pop(xid).file.close()
            return
        offset = txn.first_offset.get(subxid)
        if offset is None:
            return
        txn.file.seek(offset)
        txn.file.truncate()
        txn.first_offset = {k: v for k, v in txn.first_offset.items() if v < offset}

    def commit(self, xid: int) -> Iterator[Rendered | None]:
        """The transaction's changes in order; the file is removed once read."""
        txn = self.txns.pop(xid, None)
        if txn is None:
            return
        with txn.file as f:
            f.seek(0)
            for line in f:
                if line == "\n":
                    yield None
                    continue
                occurred, _, body = line[:-1].partition("\t")
                yield Rendered(body, occurred or None)

    def clear(self) -> None:
        for txn in self.txns.values():
            txn.file.close()
        self.txns.clear()
