//! The files an import reads: paths given on the command line, directories walked
//! recursively, gzip recognised by its magic bytes, and each file's content hash (SHA-256 of
//! the decompressed bytes: the same log gzipped or not, under any name, is the same input).
//!
//! Path order: components compare as text, except that runs of digits compare as numbers, so
//! justlog's unpadded `<year>/<month>/<day>/` folders (`2/` before `10/`) come in time order.
//! justlog's per-user files (`<channel id>/<year>/<month>/<user id>.txt[.gz]`) repeat lines of
//! its channel files and are left out of a walk (counted).

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use sha2::{Digest as _, Sha256};

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Read buffer of a file (compressed side).
const READ_BUFFER: usize = 256 * 1024;

/// The files to import, in order, and what the walk left out.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Files with their sizes on disk (compressed), in import order.
    pub files: Vec<(PathBuf, u64)>,
    /// justlog per-user files left out.
    pub justlog_user_files: u64,
}

impl Inputs {
    /// Expands the command line's paths. A path that cannot be read is an error naming it.
    pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut inputs = Self::default();
        for path in paths {
            let meta = std::fs::metadata(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            if meta.is_dir() {
                let mut found = Vec::new();
                walk(path, &mut found)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                found.sort_by(|a, b| path_order(&a.0, &b.0));
                for (file, size) in found {
                    if is_justlog_user_file(&file) {
                        inputs.justlog_user_files += 1;
                    } else {
                        inputs.files.push((file, size));
                    }
                }
            } else {
                File::open(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                inputs.files.push((path.clone(), meta.len()));
            }
        }
        Ok(inputs)
    }

    /// Bytes on disk of every file.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|(_, size)| size).sum()
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // Follows symbolic links, as a shell's `cat` would.
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if meta.is_file() {
            out.push((path, meta.len()));
        }
    }
    Ok(())
}

/// Compares two paths component by component, digit runs as numbers.
pub fn path_order(a: &Path, b: &Path) -> Ordering {
    let mut a = a.components();
    let mut b = b.components();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = natural(
                    &x.as_os_str().to_string_lossy(),
                    &y.as_os_str().to_string_lossy(),
                );
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// Text order, with runs of ASCII digits compared by value (then by length: `01` after `1`).
fn natural(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            let sj = j;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let x = trim_zeros(&a[si..i]);
            let y = trim_zeros(&b[sj..j]);
            let order = x
                .len()
                .cmp(&y.len())
                .then_with(|| x.cmp(y))
                .then_with(|| (i - si).cmp(&(j - sj)));
            if order != Ordering::Equal {
                return order;
            }
        } else {
            let order = a[i].cmp(&b[j]);
            if order != Ordering::Equal {
                return order;
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|d| *d != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

/// `<digits>/<year>/<month>/<digits>.txt[.gz]`: a justlog per-user file (its channel files sit
/// one folder deeper, in `<day>/channel.txt[.gz]`).
fn is_justlog_user_file(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy());
    let Some(name) = name else {
        return false;
    };
    let stem = name
        .strip_suffix(".txt.gz")
        .or_else(|| name.strip_suffix(".txt"));
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let folder = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| numeric(n))
    };
    let month = path.parent();
    let year = month.and_then(Path::parent);
    let channel = year.and_then(Path::parent);
    stem.is_some_and(numeric)
        && folder(month).is_some_and(|m| m.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m)))
        && folder(year).is_some_and(|y| y.len() == 4)
        && folder(channel).is_some()
}

/// Opens a file for reading its decompressed content (gzip when it starts with gzip's magic
/// bytes, whatever its name; several concatenated gzip members read as one).
pub fn open(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    open_reader(File::open(path)?)
}

/// [`open`] over any byte source.
pub fn open_reader<R: Read + Send + 'static>(inner: R) -> io::Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, inner);
    let head = reader.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// SHA-256 of a file's decompressed content, as lowercase hex.
pub fn content_hash(path: &Path) -> io::Result<String> {
    let mut reader = open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_compare_as_numbers() {
        let mut paths: Vec<PathBuf> = ["a/2024/10/1", "a/2024/2/10", "a/2024/2/9", "a/2023/12/31"]
            .iter()
            .map(PathBuf::from)
            .collect();
        paths.sort_by(|a, b| path_order(a, b));
        assert_eq!(
            paths,
            ["a/2023/12/31", "a/2024/2/9", "a/2024/2/10", "a/2024/10/1"]
                .iter()
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn justlog_user_files_are_recognised_and_channel_files_are_not() {
        assert!(is_justlog_user_file(Path::new(
            "logs/22484632/2024/3/4711.txt.gz"
        )));
        assert!(is_justlog_user_file(Path::new("22484632/2024/12/4711.txt")));
        assert!(!is_justlog_user_file(Path::new(
            "logs/22484632/2024/3/5/channel.txt.gz"
        )));
        assert!(!is_justlog_user_file(Path::new("logs/2024/3/4711.txt")));
        assert!(!is_justlog_user_file(Path::new(
            "22484632/2024/13/4711.txt"
        )));
    }
}
