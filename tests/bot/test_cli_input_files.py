"""`segbot refresh` on the files users actually have: each reads, or fails in one line."""

import gzip
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from storage.store import Store


def refresh(data: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["refresh", "--data", str(data), "--db", str(db)], environ={})
    out, err = capsys.readouterr()
    return code, out, err


def _zip(path: Path, files: dict[str, bytes]) -> bytes:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path.read_bytes()


def _blank_workbook(path: Path) -> bytes:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(path)
    workbook.add_worksheet("Empty")
    workbook.close()
    return path.read_bytes()


def _rows(count: int, start: int = 1) -> bytes:
    return b"".join(b"%d,%d,%d\n" % (i, i * 7 % 23, i % 5) for i in range(start, start + count))


HOSTILE: dict[str, Callable[[Path], bytes]] = {
    "ragged.csv": lambda _: b"id,spend,visits\n" + _rows(60) + b"61,3\n62,4,5,6,7\n",
    "binary.csv": lambda _: random.Random(1).randbytes(5000),
    "empty.csv": lambda _: b"",
    "blank-lines.csv": lambda _: b"\n\r\n   \n",
    "header-only.csv": lambda _: b"id,spend,visits\r\n",
    "one-column.csv": lambda _: b"spend\n" + b"".join(b"%d\n" % (i % 7) for i in range(50)),
    "quote-never-closed.csv": lambda _: b'id,name,spend\n1,"Ann,3\n2,Bob,4\n3,Cy,5\n4,Di,6\n',
    "nul-bytes.csv": lambda _: b"id,spend\n1,2\n2,\x00\x003\n",
    "all-nul.csv": lambda _: b"\x00" * 4096,
    "huge-line.csv": lambda _: b"id,note,spend\n1," + b"x" * 3_000_000 + b",4\n" + _rows(30, 2),
    "bom-then-junk.csv": lambda _: b"\xef\xbb\xbf" + random.Random(2).randbytes(3000),
    "utf16-without-bom.csv": lambda _: "id,spend\n1,2\n".encode("utf-16-le"),
    "mixed-encodings.csv": lambda _: "id,city\n1,Zürich\n".encode() + "2,Zürich\n".encode("cp1252"),
    "no-header.csv": lambda _: _rows(40),
    "trailing-delimiters.csv": lambda _: b"id,spend\n1,2,\n2,3,\n3,4,\n",
    "html-saved-as.csv": lambda _: b"<!DOCTYPE html><html><body><p>Sign in</p></body></html>\n",
    "not-gzip.csv.gz": lambda _: b"this is not gzip",
    "truncated.csv.gz": lambda _: gzip.compress(_rows(5000))[:300],
    "two-tables.zip": lambda folder: _zip(folder / "t.zip", {"a.csv": b"x", "b.csv": b"y"}),
    "empty.zip": lambda folder: _zip(folder / "e.zip", {}),
    "not-a-workbook.xlsx": lambda _: b"id,spend\n1,2\n",
    "blank-sheet.xlsx": lambda folder: _blank_workbook(folder / "blank.xlsx"),
    "workbook-renamed.csv": lambda folder: _zip(folder / "w.zip", {"[Content_Types].xml": b"<"}),
    "parquet-in-name-only.parquet": lambda _: b"id,spend\n1,2\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_no_input_file_gives_a_traceback(name: str, tmp_path: Path, db_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_bytes(HOSTILE[name](tmp_path))
    runs_before = [run.id for run in Store(db_path).list_runs()]
    code, _, err = refresh(path, db_path, capsys)  # a traceback would fail the test here
    lines = [line for line in err.strip().splitlines() if not line.startswith("[")]  # progress
    assert "Traceback" not in err
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("segbot: error: "), err
        assert [run.id for run in Store(db_path).list_runs()] == runs_before
    else:
        assert code == 0 and not lines, err


def test_a_reference_file_with_truncated_rows_segments_and_names_them(
        tmp_path: Path, reference_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = reference_csv.read_bytes().split(b"\r\n")
    truncated = (101, 501, 901, 1501, 2001)
    for line in truncated:
        lines[line - 1] = b"\t".join(lines[line - 1].split(b"\t")[:12])
    path = tmp_path / "campaign.csv"
    path.write_bytes(b"\r\n".join(lines))
    code, out, err = refresh(path, tmp_path / "segbot.db", capsys)
    assert code == 0, err
    assert ("dropped rows ×5 — more or fewer fields than the header's 29: "
            "lines 101, 501, 901, 1501 and 2001") in out
    assert "rows: 2,240 read" in out  # the rows left out are counted as read, then dropped
