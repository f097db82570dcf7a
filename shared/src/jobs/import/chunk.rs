//! One chunk of an import file: the CSV bytes of a byte range become numbered rows.
//!
//! Pure: bytes in, a [`Chunk`] or the reason the file is unusable out (the S3 read is
//! the caller's). CSV rules (`docs/architecture.md`): UTF-8, a BOM accepted, a header
//! row with case-insensitive (optionally quoted) names, CRLF or LF, blank lines
//! skipped, no line breaks inside fields.

use std::collections::HashMap;

use crate::domain::assets::{ImportTask, ImportType};

/// Largest virtual-number fill file (rows); it is validated as a whole.
pub const MAX_FILL_ROWS: usize = 50_000;

/// One non-empty line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Row number (1-based, header and blank lines excluded).
    pub number: u64,
    /// Trimmed fields, in header order.
    pub fields: Vec<String>,
}

/// Rows of one chunk of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Column name → index.
    pub columns: HashMap<String, usize>,
    /// Lower-case header names in order.
    pub header: Vec<String>,
    /// Each non-empty line.
    pub rows: Vec<Row>,
    /// Offset after the last complete line of this chunk.
    pub next_offset: u64,
    /// Row number of the last row of this chunk.
    pub last_row: u64,
    /// True when the chunk reaches the end of the file.
    pub eof: bool,
}

impl Chunk {
    /// The value of column `name` in `row`, when present and not blank.
    pub fn field<'a>(&self, row: &'a Row, name: &str) -> Option<&'a str> {
        self.columns
            .get(name)
            .and_then(|i| row.fields.get(*i))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Why a file cannot be imported: the task fails with this reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The object is gone from the bucket.
    #[error("the uploaded file no longer exists")]
    Gone,
    /// The object is larger than uploads may be.
    #[error("the file is {size} bytes; at most {max} bytes can be imported")]
    TooLarge {
        /// Size of the object.
        size: u64,
        /// `max_upload_bytes`.
        max: u64,
    },
    /// A chunk holds no line end.
    #[error("a line is longer than the import chunk size")]
    LineTooLong,
    /// The header row is not UTF-8.
    #[error("the file is not UTF-8")]
    NotUtf8,
    /// A row cannot be read as CSV (including non-UTF-8 rows).
    #[error("unreadable CSV: {0}")]
    Unreadable(String),
    /// A virtual-number file above [`MAX_FILL_ROWS`].
    #[error("a virtual-number file holds at most {MAX_FILL_ROWS} rows")]
    TooManyRows,
    /// The header lacks a column the import type needs.
    #[error("the file has no {0} column")]
    MissingColumn(&'static str),
}

/// Columns a file of `import_type` must have.
pub fn required_columns(import_type: ImportType) -> &'static [&'static str] {
    match import_type {
        ImportType::Cards => &["iccid"],
        ImportType::Devices => &["virtual_no"],
        ImportType::VirtualNo => &["iccid", "virtual_no"],
    }
}

/// Parses `bytes`, the part of the file that starts at the task's `next_offset`
/// (row `next_row`, header `columns` when not at the start). Unless `eof`, only the
/// whole lines are taken; the chunk says where the next one starts.
pub fn parse(task: &ImportTask, bytes: &[u8], eof: bool) -> Result<Chunk, FileError> {
    let mut data = bytes;
    if !eof {
        let last_line_end = data
            .iter()
            .rposition(|b| *b == b'\n')
            .ok_or(FileError::LineTooLong)?;
        data = data.get(..=last_line_end).unwrap_or(data);
    }
    let consumed = data.len() as u64;
    let mut header = task.columns.clone();
    if task.next_offset == 0 {
        data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        let line_end = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
        let line = data.get(..line_end).unwrap_or_default();
        header = std::str::from_utf8(line)
            .map_err(|_| FileError::NotUtf8)?
            .split(',')
            .map(|c| c.trim().trim_matches('"').trim().to_ascii_lowercase())
            .collect();
        data = data.get(line_end + 1..).unwrap_or_default();
    }
    let columns: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i))
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let mut rows = Vec::new();
    let mut number = task.next_row;
    for record in reader.records() {
        let record = record.map_err(|e| FileError::Unreadable(e.to_string()))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        number += 1;
        rows.push(Row {
            number,
            fields: record.iter().map(str::to_string).collect(),
        });
    }
    if task.import_type == ImportType::VirtualNo && rows.len() > MAX_FILL_ROWS {
        return Err(FileError::TooManyRows);
    }
    if let Some(missing) = required_columns(task.import_type)
        .iter()
        .find(|c| !columns.contains_key(**c))
    {
        return Err(FileError::MissingColumn(missing));
    }
    Ok(Chunk {
        columns,
        header,
        rows,
        next_offset: task.next_offset + consumed,
        last_row: number,
        eof,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A task of `import_type` about to read the chunk at `offset` (row `row`,
    /// header `columns` once past the start).
    pub fn task_at(import_type: ImportType, offset: u64, row: u64, columns: &[&str]) -> ImportTask {
        ImportTask {
            next_offset: offset,
            next_row: row,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            ..ImportTask::new(7, import_type, "uploads/x.csv".into(), 1, String::new())
        }
    }

    fn rows(chunk: &Chunk) -> Vec<(u64, Vec<&str>)> {
        chunk
            .rows
            .iter()
            .map(|r| (r.number, r.fields.iter().map(String::as_str).collect()))
            .collect()
    }

    #[test]
    fn valid_chunks() {
        let cards = ImportType::Cards;
        // (case, task, bytes, eof, header, rows, next_offset, last_row)
        #[allow(clippy::type_complexity)]
        let cases: Vec<(
            &str,
            ImportTask,
            &[u8],
            bool,
            &[&str],
            Vec<(u64, Vec<&str>)>,
            u64,
            u64,
        )> = vec![
            (
                "plain",
                task_at(cards, 0, 0, &[]),
                b"iccid,msisdn\n1,2\n3,4\n",
                true,
                &["iccid", "msisdn"],
                vec![(1, vec!["1", "2"]), (2, vec!["3", "4"])],
                21,
                2,
            ),
            (
                "BOM and upper-case names",
                task_at(cards, 0, 0, &[]),
                "\u{feff}ICCID,MsIsDn\n1,2\n".as_bytes(),
                true,
                &["iccid", "msisdn"],
                vec![(1, vec!["1", "2"])],
                20,
                1,
            ),
            (
                "quoted headers and fields",
                task_at(cards, 0, 0, &[]),
                b"\"ICCID\", \" Msisdn \"\n\"1\",\" 2 \"\n",
                true,
                &["iccid", "msisdn"],
                vec![(1, vec!["1", "2"])],
                30,
                1,
            ),
            (
                "CRLF",
                task_at(cards, 0, 0, &[]),
                b"iccid,msisdn\r\n1,2\r\n3,4",
                true,
                &["iccid", "msisdn"],
                vec![(1, vec!["1", "2"]), (2, vec!["3", "4"])],
                22,
                2,
            ),
            (
                "blank lines are not rows",
                task_at(cards, 0, 0, &[]),
                b"iccid,msisdn\n\n1,2\n , \n\r\n3,4\n",
                true,
                &["iccid", "msisdn"],
                vec![(1, vec!["1", "2"]), (2, vec!["3", "4"])],
                28,
                2,
            ),
            (
                "short and long rows",
                task_at(cards, 0, 0, &[]),
                b"iccid,msisdn\n1\n3,4,5\n",
                true,
                &["iccid", "msisdn"],
                vec![(1, vec!["1"]), (2, vec!["3", "4", "5"])],
                21,
                2,
            ),
            (
                "header only",
                task_at(cards, 0, 0, &[]),
                b"iccid\n",
                true,
                &["iccid"],
                vec![],
                6,
                0,
            ),
            (
                "a partial last line waits for the next chunk",
                task_at(cards, 0, 0, &[]),
                b"iccid\n1\n22",
                false,
                &["iccid"],
                vec![(1, vec!["1"])],
                8,
                1,
            ),
            (
                "a later chunk keeps the stored header and numbering",
                task_at(cards, 100, 40, &["iccid", "msisdn"]),
                b"7,8\n9,10\n11",
                false,
                &["iccid", "msisdn"],
                vec![(41, vec!["7", "8"]), (42, vec!["9", "10"])],
                109,
                42,
            ),
            (
                "the whole file of a virtual-number fill",
                task_at(ImportType::VirtualNo, 0, 0, &[]),
                b"iccid,virtual_no\n1,V1\n",
                true,
                &["iccid", "virtual_no"],
                vec![(1, vec!["1", "V1"])],
                22,
                1,
            ),
        ];
        for (case, task, bytes, eof, header, want, next_offset, last_row) in cases {
            let chunk = parse(&task, bytes, eof).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(chunk.header, header, "{case}");
            assert_eq!(rows(&chunk), want, "{case}");
            assert_eq!(
                (chunk.next_offset, chunk.last_row, chunk.eof),
                (next_offset, last_row, eof),
                "{case}"
            );
            for (i, name) in header.iter().enumerate() {
                assert_eq!(chunk.columns.get(*name), Some(&i), "{case}");
            }
        }
    }

    #[test]
    fn unusable_files() {
        let cards = ImportType::Cards;
        let many_fills = format!("iccid,virtual_no\n{}", "1,V\n".repeat(MAX_FILL_ROWS + 1));
        let cases: Vec<(&str, ImportTask, &[u8], bool, FileError)> = vec![
            (
                "missing key column",
                task_at(cards, 0, 0, &[]),
                b"msisdn,carrier_code\n1,CMCC\n",
                true,
                FileError::MissingColumn("iccid"),
            ),
            (
                "device file without virtual_no",
                task_at(ImportType::Devices, 0, 0, &[]),
                b"imei\n1\n",
                true,
                FileError::MissingColumn("virtual_no"),
            ),
            (
                "fill file without virtual_no",
                task_at(ImportType::VirtualNo, 0, 0, &[]),
                b"iccid\n1\n",
                true,
                FileError::MissingColumn("virtual_no"),
            ),
            (
                "empty file",
                task_at(cards, 0, 0, &[]),
                b"",
                true,
                FileError::MissingColumn("iccid"),
            ),
            (
                "line longer than the chunk",
                task_at(cards, 0, 0, &[]),
                b"iccid,msisdn,imsi",
                false,
                FileError::LineTooLong,
            ),
            (
                "row longer than a later chunk",
                task_at(cards, 50, 3, &["iccid"]),
                b"89860000000000000001",
                false,
                FileError::LineTooLong,
            ),
            (
                "non-UTF-8 header",
                task_at(cards, 0, 0, &[]),
                b"icc\xffid\n1\n",
                true,
                FileError::NotUtf8,
            ),
            (
                "too many fill rows",
                task_at(ImportType::VirtualNo, 0, 0, &[]),
                many_fills.as_bytes(),
                true,
                FileError::TooManyRows,
            ),
        ];
        for (case, task, bytes, eof, want) in cases {
            assert_eq!(parse(&task, bytes, eof), Err(want), "{case}");
        }
        // A non-UTF-8 row: unreadable, naming where.
        let bad_row = parse(&task_at(cards, 0, 0, &[]), b"iccid\n1\n\xff\xfe\n", true);
        assert!(
            matches!(&bad_row, Err(FileError::Unreadable(e)) if e.contains("UTF-8")),
            "{bad_row:?}"
        );
    }

    #[test]
    fn reasons_read_as_before() {
        let cases = [
            (FileError::Gone, "the uploaded file no longer exists"),
            (
                FileError::LineTooLong,
                "a line is longer than the import chunk size",
            ),
            (FileError::NotUtf8, "the file is not UTF-8"),
            (
                FileError::MissingColumn("iccid"),
                "the file has no iccid column",
            ),
            (
                FileError::TooManyRows,
                "a virtual-number file holds at most 50000 rows",
            ),
            (
                FileError::TooLarge { size: 11, max: 10 },
                "the file is 11 bytes; at most 10 bytes can be imported",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
