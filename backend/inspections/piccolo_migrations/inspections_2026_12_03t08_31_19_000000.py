"""Compress every stored public draw record into ``record_zstd``; backwards, decompress it.

The draw records of earlier migrations kept the JSON as text (about 20 MB for a pool of a
million subjects); from here on they are kept zstd-compressed (about 0.3 MB). The next
migration drops the text column. Rows are converted one at a time: a county has few
draws, each of them large.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import UUID, Bytea, Text
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-12-03T08:31:19:000000"
VERSION = "1.38.0"
DESCRIPTION = "draw record stored zstd-compressed: the data"


def _table() -> type[Table]:
    """The two columns as they stand at this migration (not the current Table class)."""

    class Draw(Table, tablename="inspection_draw"):
        id = UUID(primary_key=True)
        record = Text()
        record_zstd = Bytea()

    Draw._meta.db = engine_finder()
    return Draw


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="inspections", description=DESCRIPTION)

    async def compress() -> None:
        import zstandard

        draw = _table()
        compressor = zstandard.ZstdCompressor(level=1, write_content_size=True)
        for row in await draw.select(draw.id).where(draw.record != "").run():
            text = (
                await draw.select(draw.record).where(draw.id == row["id"]).first().run()
            )["record"]
            await draw.update(
                {draw.record_zstd: compressor.compress(text.encode("utf-8")), draw.record: ""}
            ).where(draw.id == row["id"]).run()

    async def decompress() -> None:
        import zstandard

        draw = _table()
        decompressor = zstandard.ZstdDecompressor()
        for row in await draw.select(draw.id).where(draw.record == "").run():
            blob = (
                await draw.select(draw.record_zstd).where(draw.id == row["id"]).first().run()
            )["record_zstd"]
            if blob:
                await draw.update(
                    {draw.record: decompressor.decompress(blob).decode("utf-8")}
                ).where(draw.id == row["id"]).run()

    manager.add_raw(compress)
    manager.add_raw_backwards(decompress)
    return manager
