//! Bounds for the archives formats open (zip: wheels, later `.nupkg` and Swift source archives;
//! gzipped tar: npm tarballs, later `.crate` and `.gem`): what a client sends is never trusted to
//! be small once inflated or listed. Callers run these on the blocking pool.

use std::io::{Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Component, Path, PathBuf};

/// The most entries a zip's central directory may list for the server to read it (the zip
/// reader keeps one record per entry in memory).
pub const MAX_ZIP_ENTRIES: u64 = 100_000;

/// Signature of the end of central directory record, and of the zip64 locator before it.
const EOCD: [u8; 4] = *b"PK\x05\x06";
const ZIP64_LOCATOR: [u8; 4] = *b"PK\x06\x07";
const ZIP64_EOCD: [u8; 4] = *b"PK\x06\x06";
/// The EOCD record without its comment, and the largest comment.
const EOCD_LEN: u64 = 22;
const MAX_COMMENT: u64 = 65_535;

/// The number of entries a zip archive's central directory declares, read from its end records
/// (the EOCD and, for zip64 archives, the zip64 EOCD) without reading the directory itself.
///
/// # Errors
/// The end records are missing or malformed, or reading fails.
pub fn zip_entry_count<R: Read + Seek>(zip: &mut R) -> Result<u64, String> {
    let size = zip.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    if size < EOCD_LEN {
        return Err("too short for a zip archive".to_owned());
    }
    let tail_len = (EOCD_LEN + MAX_COMMENT).min(size);
    let tail_start = size - tail_len;
    let mut tail = vec![0; usize::try_from(tail_len).map_err(|e| e.to_string())?];
    zip.seek(SeekFrom::Start(tail_start))
        .and_then(|_| zip.read_exact(&mut tail))
        .map_err(|e| e.to_string())?;
    let eocd = (0..=tail.len() - EOCD_LEN as usize)
        .rev()
        .find(|&i| tail[i..i + 4] == EOCD)
        .ok_or("no end of central directory record")?;
    let entries = u64::from(u16::from_le_bytes([tail[eocd + 10], tail[eocd + 11]]));
    if entries != 0xFFFF {
        return Ok(entries);
    }
    // zip64: the locator (20 bytes) precedes the EOCD and points at the zip64 EOCD record.
    let locator = eocd.checked_sub(20).ok_or("no zip64 locator")?;
    if tail[locator..locator + 4] != ZIP64_LOCATOR {
        return Ok(entries);
    }
    let mut offset = [0; 8];
    offset.copy_from_slice(&tail[locator + 8..locator + 16]);
    let mut record = [0; 40];
    zip.seek(SeekFrom::Start(u64::from_le_bytes(offset)))
        .and_then(|_| zip.read_exact(&mut record))
        .map_err(|e| e.to_string())?;
    if record[..4] != ZIP64_EOCD {
        return Err("malformed zip64 end of central directory".to_owned());
    }
    let mut count = [0; 8];
    count.copy_from_slice(&record[32..40]);
    Ok(u64::from_le_bytes(count))
}

/// Refuses a zip archive listing more than [`MAX_ZIP_ENTRIES`] entries; leaves the reader at
/// the start.
///
/// # Errors
/// As [`zip_entry_count`], or too many entries.
pub fn check_zip_entries<R: Read + Seek>(zip: &mut R) -> Result<(), String> {
    check_zip_entries_within(zip, MAX_ZIP_ENTRIES)
}

fn check_zip_entries_within<R: Read + Seek>(zip: &mut R, max: u64) -> Result<(), String> {
    let entries = zip_entry_count(zip)?;
    zip.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    if entries > max {
        return Err(format!(
            "the archive lists {entries} entries, more than {max}"
        ));
    }
    Ok(())
}

/// What reading a gzipped tarball may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarBounds {
    /// Inflated (tar) bytes read at most.
    pub max_inflated: u64,
    /// Entries looked at at most.
    pub max_entries: usize,
}

/// Why [`walk_tar_gz`] stopped without the visitor asking it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarError {
    /// Not gzip, not tar, a truncated archive, or an entry that cannot be read.
    Malformed(String),
    /// It inflates to more than `max_inflated` bytes.
    TooLarge(u64),
    /// It has more than `max_entries` entries.
    TooManyEntries(usize),
    /// The visitor's own error.
    Visitor(String),
}

/// Visits the regular files of a gzipped tarball in order, within `bounds`: `visit` gets each
/// file's path (without `.` components) and a reader of its content, and returns
/// `ControlFlow::Break` to stop early. The whole walk is bounded in inflated bytes and entries
/// however the archive is built; it is CPU work, for a blocking thread.
///
/// # Errors
/// [`TarError`].
pub fn walk_tar_gz<R: Read>(
    tgz: R,
    bounds: TarBounds,
    mut visit: impl FnMut(&Path, &mut dyn Read) -> Result<ControlFlow<()>, String>,
) -> Result<(), TarError> {
    let mut archive = tar::Archive::new(Capped {
        inner: flate2::read::GzDecoder::new(tgz),
        left: bounds.max_inflated,
        exceeded: false,
    });
    let walked = walk_entries(&mut archive, bounds.max_entries, &mut visit);
    if archive.into_inner().exceeded {
        return Err(TarError::TooLarge(bounds.max_inflated));
    }
    walked
}

/// What [`walk_tar_gz`] calls for each file.
type TarVisitor<'v> = dyn FnMut(&Path, &mut dyn Read) -> Result<ControlFlow<()>, String> + 'v;

fn walk_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    max_entries: usize,
    visit: &mut TarVisitor<'_>,
) -> Result<(), TarError> {
    let malformed = |e: std::io::Error| TarError::Malformed(e.to_string());
    for (index, entry) in archive.entries().map_err(malformed)?.enumerate() {
        if index >= max_entries {
            return Err(TarError::TooManyEntries(max_entries));
        }
        let mut entry = entry.map_err(malformed)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path: PathBuf = entry
            .path()
            .map_err(malformed)?
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect();
        if visit(&path, &mut entry)
            .map_err(TarError::Visitor)?
            .is_break()
        {
            break;
        }
    }
    Ok(())
}

/// Reads all of `entry` if it is at most `max` bytes, else `None` (having read `max + 1`).
///
/// # Errors
/// The read fails.
pub fn read_at_most(entry: &mut dyn Read, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    entry.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

/// A reader failing once it has yielded `left` bytes (setting `exceeded`).
struct Capped<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            self.exceeded = true;
            return Err(std::io::Error::other("the inflated size bound was reached"));
        }
        let max = usize::try_from(self.left).map_or(buf.len(), |left| left.min(buf.len()));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// A gzipped tar holding `files` (path, content), as `npm pack` and `cargo package` make them:
/// for the formats' tests.
#[cfg(test)]
pub(crate) fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, *content)
            .expect("append to tar");
    }
    builder
        .into_inner()
        .expect("finish tar")
        .finish()
        .expect("finish gzip")
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write as _};

    use super::*;

    fn zip_of(entries: usize, comment: &str) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..entries {
            zip.start_file(format!("f{i}"), zip::write::SimpleFileOptions::default())
                .expect("start");
            zip.write_all(b"x").expect("write");
        }
        zip.set_comment(comment).expect("comment");
        zip.finish().expect("finish").into_inner()
    }

    #[test]
    fn entry_counts_come_from_the_end_records() {
        for (entries, comment) in [(0, ""), (3, ""), (7, "a comment"), (2, &"c".repeat(60_000))] {
            let bytes = zip_of(entries, comment);
            assert_eq!(
                zip_entry_count(&mut Cursor::new(&bytes)),
                Ok(entries as u64),
                "{entries} entries"
            );
        }
    }

    #[test]
    fn a_declared_count_over_the_bound_is_refused_and_garbage_is_an_error() {
        let mut bytes = zip_of(1, "");
        // Claim 0xFFFE entries in the EOCD (both the on-disk and the total counts).
        let eocd = bytes.len() - EOCD_LEN as usize;
        bytes[eocd + 8..eocd + 12].copy_from_slice(&[0xFE, 0xFF, 0xFE, 0xFF]);
        assert_eq!(zip_entry_count(&mut Cursor::new(&bytes)), Ok(0xFFFE));
        assert!(check_zip_entries(&mut Cursor::new(&bytes)).is_ok());
        let refused = check_zip_entries_within(&mut Cursor::new(&bytes), 0xFFFD);
        assert!(refused.is_err_and(|e| e.contains("65534 entries")));
        assert!(zip_entry_count(&mut Cursor::new(b"not a zip at all, not at all")).is_err());
        assert!(zip_entry_count(&mut Cursor::new(b"PK")).is_err());
    }
}
