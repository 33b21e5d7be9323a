//! Memory bound check: streams SIZE MiB of generated data through `put_staged` + `commit` into a
//! temporary local store, streams it back with `get`, and prints resident-memory growth per phase.
//!
//! ```text
//! cargo run --release -p reliquary-blob --example rss -- [SIZE_MIB] [CHUNK_KIB]
//! ```
//! Defaults: 1024 MiB in 64 KiB chunks. The target is under 64 MiB growth each way.

use std::time::Instant;

use bytes::Bytes;
use futures::{StreamExt, stream};
use reliquary_blob::BlobStore;
use sha2::{Digest, Sha256};

/// `(VmRSS, VmHWM)` of this process in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets VmHWM to the current RSS so each phase reports its own peak (Linux ≥ 4.0).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Deterministic pseudo-random bytes, produced chunk by chunk (never the whole body at once).
fn generated(
    total: u64,
    chunk: usize,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut left = total;
    stream::iter(std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(chunk);
        left -= n as u64;
        let mut buf = Vec::with_capacity(n + 8);
        while buf.len() < n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            buf.extend_from_slice(&state.to_le_bytes());
        }
        buf.truncate(n);
        Some(Ok(Bytes::from(buf)))
    }))
}

struct Phase {
    name: &'static str,
    rss_before: u64,
    started: Instant,
}

impl Phase {
    fn start(name: &'static str) -> Self {
        let peak_reset = reset_peak();
        let (rss_before, hwm_before) = memory_kib();
        println!(
            "{name}: before  VmRSS {:>8} KiB  VmHWM {:>8} KiB{}",
            rss_before,
            hwm_before,
            if peak_reset { "  (peak reset)" } else { "" }
        );
        Self {
            name,
            rss_before,
            started: Instant::now(),
        }
    }

    fn end(self, bytes: u64) -> u64 {
        let secs = self.started.elapsed().as_secs_f64();
        let (rss, hwm) = memory_kib();
        let growth = hwm.saturating_sub(self.rss_before);
        println!(
            "{}: after   VmRSS {:>8} KiB  VmHWM {:>8} KiB  | peak growth {:.1} MiB, RSS growth {:.1} MiB, {:.1} s, {:.0} MiB/s",
            self.name,
            rss,
            hwm,
            growth as f64 / 1024.0,
            rss.saturating_sub(self.rss_before) as f64 / 1024.0,
            secs,
            bytes as f64 / 1_048_576.0 / secs,
        );
        growth
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let size_mib: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1024);
    let chunk_kib: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let total = size_mib * 1024 * 1024;

    let dir = tempfile::tempdir()?;
    let store = BlobStore::local(dir.path())?;
    println!(
        "streaming {size_mib} MiB in {chunk_kib} KiB chunks through a local store in {}",
        dir.path().display()
    );

    let phase = Phase::start("upload  ");
    let staged = store
        .put_staged(generated(total, chunk_kib * 1024), u64::MAX)
        .await?;
    store.commit(&staged).await?;
    let up = phase.end(total);
    assert_eq!(staged.size, total);
    println!("          sha256 {}", staged.hashes.sha256);

    let phase = Phase::start("download");
    let mut reader = store.get(staged.sha256(), None).await?;
    let mut hasher = Sha256::new();
    let mut read = 0u64;
    while let Some(chunk) = reader.next().await {
        let chunk = chunk?;
        read += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let down = phase.end(read);
    let digest = hex::encode(hasher.finalize());
    if read != total || digest != staged.hashes.sha256 {
        return Err(format!("read back {read} bytes with sha256 {digest}: mismatch").into());
    }
    println!("          read back verified");

    dir.close()?;
    let limit_kib = 64 * 1024;
    println!(
        "result: upload peak growth {:.1} MiB, download peak growth {:.1} MiB (target < 64 MiB): {}",
        up as f64 / 1024.0,
        down as f64 / 1024.0,
        if up < limit_kib && down < limit_kib {
            "PASS"
        } else {
            "FAIL"
        }
    );
    Ok(())
}
