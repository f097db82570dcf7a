//! One Argon2id password verify at release speed (run by
//! `scripts/bench-cold-start.sh`): hashes a password with the production parameters
//! and prints the median time of `RUNS` verifies (default 15), the CPU work of one
//! login.

use std::time::Instant;

use shared::domain::password;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15)
        .max(1);
    let phc = password::hash("correct horse battery staple")?;
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let ok = password::verify("correct horse battery staple", &phc);
            std::hint::black_box(ok);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let median = ms.get(ms.len() / 2).copied().unwrap_or_default();
    println!("argon2id verify (m=19456 KiB, t=2, p=1): median {median:.1} ms over {runs} runs");
    Ok(())
}
