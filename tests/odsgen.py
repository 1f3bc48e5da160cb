"""A minimal OpenDocument spreadsheet (.ods), written by hand: LibreOffice is not installed here,
and its files are this shape (mimetype first and stored, a manifest, the tables in content.xml)."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import escape

MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
NAMESPACES = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
              'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
              'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def _cell(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                f'<text:p>{value}</text:p></table:table-cell>')
    if value is None or value == "":
        return "<table:table-cell/>"
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'


def ods(sheets: Sequence[tuple[str, Sequence[Sequence[object]]]], doctype: str = "",
        extra: dict[str, bytes] | None = None, raw_cell: str = "") -> bytes:
    """`raw_cell` replaces the cell text "RAW" verbatim (to plant an entity reference)."""
    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join("<table:table-row>" + "".join(_cell(v) for v in row) + "</table:table-row>" for row in rows)
        + "</table:table>" for name, rows in sheets)
    if raw_cell:
        tables = tables.replace("<text:p>RAW</text:p>", f"<text:p>{raw_cell}</text:p>")
    content = (f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<office:document-content {NAMESPACES} '
               f'office:version="1.2"><office:body><office:spreadsheet>{tables}'
               f'</office:spreadsheet></office:body></office:document-content>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml",
                         '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                         'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                         f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{MIMETYPE}"/>'
                         '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                         '</manifest:manifest>')
        archive.writestr("content.xml", content)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def ods_from_xlsx(xlsx: bytes) -> bytes:
    """A workbook as LibreOffice saves it in its own format: every sheet (the hidden
    reference sheet too) with its values, numbers as floats."""
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_filelike(io.BytesIO(xlsx))
    return ods([(name, list(workbook.get_sheet_by_name(name).iter_rows())) for name in workbook.sheet_names])
