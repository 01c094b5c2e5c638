"""Hostile sheets (issue 18): small files that expand to gigabytes, a million rows, tens of
millions of cells — built in a moment. A worksheet's XML is a head, a body repeated many times
and a tail; the body is deflated once after a full flush (which empties deflate's window, so the
very same bytes stand for it again and again), and the zip is written by hand around those
bytes with the true sizes and CRC: a real workbook any reader inflates to the full size."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

from catalog.sheet import COLUMNS, DATA_SHEET, FORMAT_NAME, NOTES_SHEET

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


class Member:
    """A zip member: its deflated bytes, CRC-32 and size, from a head, `count` bodies and a tail."""

    def __init__(self, name: str, head: bytes, body: bytes = b"", count: int = 0, tail: bytes = b"") -> None:
        self.name = name
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
        block = c.compress(body) + c.flush(zlib.Z_FULL_FLUSH) if count else b""
        again = c.compress(body) + c.flush(zlib.Z_FULL_FLUSH) if count > 1 else block
        assert again == block, "a full flush makes the body's bytes the same every time"
        rest = b"".join([again] * (count - 2)) if count > 2 else b""
        last = c.compress(tail) + c.flush()
        self.data = first + block + (again if count > 1 else b"") + rest + last
        crc = zlib.crc32(head)
        for _ in range(count):
            crc = zlib.crc32(body, crc)
        self.crc = zlib.crc32(tail, crc)
        self.size = len(head) + len(body) * count + len(tail)


def write_zip(path: Path, members: list[Member], declared: dict[str, int] | None = None) -> Path:
    """A zip of deflated members (sizes under 4 GiB); `declared`: sizes to claim instead of the true."""
    declared = declared or {}
    central = b""
    with open(path, "wb") as fh:
        for m in members:
            offset = fh.tell()
            name = m.name.encode()
            size = declared.get(m.name, m.size)
            fixed = struct.pack("<HHHHHIII", 20, 0x800, 8, 0, 0x21, m.crc, len(m.data), size)
            fh.write(b"PK\x03\x04" + fixed + struct.pack("<HH", len(name), 0) + name + m.data)
            central += (
                b"PK\x01\x02"
                + struct.pack("<H", 20)
                + fixed
                + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, offset)
                + name
            )
        start = fh.tell()
        fh.write(central)
        fh.write(
            b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(members), len(members), len(central), start, 0)
        )
    return path


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def header_row() -> bytes:
    from catalog.sheet.columns import letter

    cells = "".join(_inline(f"{letter(i)}1", c.label) for i, c in enumerate(COLUMNS))
    return f'<row r="1">{cells}</row>'.encode()


def book(path: Path, sheet: Member, region: str = "640104", declared: dict[str, int] | None = None) -> Path:
    """A workbook like ours (实施清单 with our header row, 说明 with our format and `region`) whose
    data worksheet is `sheet` (named xl/worksheets/sheet1.xml)."""
    notes = (
        f'<worksheet xmlns="{_MAIN}"><sheetData>'
        f'<row r="2">{_inline("A2", "格式")}{_inline("B2", FORMAT_NAME)}</row>'
        f'<row r="3">{_inline("A3", "区划")}{_inline("B3", region)}</row>'
        "</sheetData></worksheet>"
    )
    parts = [
        Member(
            "[Content_Types].xml",
            b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            b'<Default Extension="xml" ContentType="application/xml"/></Types>',
        ),
        Member(
            "_rels/.rels",
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'.encode(),
        ),
        Member(
            "xl/workbook.xml",
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            f'<sheet name="{DATA_SHEET}" sheetId="1" r:id="rId1"/>'
            f'<sheet name="{NOTES_SHEET}" sheetId="2" r:id="rId2"/></sheets></workbook>'.encode(),
        ),
        Member(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{_PKG}">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL}/worksheet" Target="worksheets/sheet2.xml"/>'
            "</Relationships>".encode(),
        ),
        sheet,
        Member("xl/worksheets/sheet2.xml", notes.encode()),
    ]
    return write_zip(path, parts, declared)


SHEET_HEAD = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}"><sheetData>'.encode()
SHEET_TAIL = b"</sheetData></worksheet>"
SHEET = "xl/worksheets/sheet1.xml"


def whitespace(path: Path, gib: float = 2) -> Path:
    """A worksheet of our header and `gib` GiB of whitespace (2 GiB: about 2 MB of file)."""
    mib = int(gib * 1024)
    return book(path, Member(SHEET, SHEET_HEAD + header_row(), b" " * (1 << 20), mib, SHEET_TAIL))


def _numbers(count: int) -> list[bytes]:
    """`count` numbers of up to 6 digits, the same every run: cells that do not compress away (so
    the bomb passes the compression ratio and meets the row or cell count)."""
    pick = random.Random(18)
    return [str(pick.randrange(1_000_000)).encode() for _ in range(count)]


def rows(path: Path, count: int = 1_048_576) -> Path:
    """Our header, then `count` rows of one number each (every row a worksheet holds)."""
    per = 16_384
    body = b"".join(b"<row><c><v>" + n + b"</v></c></row>" for n in _numbers(per))
    return book(path, Member(SHEET, SHEET_HEAD + header_row(), body, count // per, SHEET_TAIL))


def cells(path: Path, count: int = 80_000_000, width: int = 200, varied: bool = False) -> Path:
    """Our header, then `count` small cells, `width` to a row: all `1` (80 million: 3 MB of file),
    or `varied` numbers (as many cells take about 4 times the file)."""
    per = 50
    numbers = iter(_numbers(width * per) if varied else [b"1"] * (width * per))
    body = b"".join(
        b"<row>" + b"".join(b"<c><v>" + next(numbers) + b"</v></c>" for _ in range(width)) + b"</row>"
        for _ in range(per)
    )
    return book(path, Member(SHEET, SHEET_HEAD + header_row(), body, count // (width * per), SHEET_TAIL))
