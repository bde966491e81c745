use blockfmt::*;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(100_000);
    let global = args.get(2).map(|s| s == "global").unwrap_or(false);
    let reps: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(5);
    let spans = spangen::generate(n, 42, global);
    let expect: Vec<spangen::DSpan> = spans.iter().map(|s| s.to_d()).collect();
    println!("# n={n} numbering={} reps={reps} (ms are per 10k spans, median)", if global { "global" } else { "per-request" });
    println!("{:<58} {:>10} {:>8} {:>9} {:>9}", "option", "bytes", "B/span", "enc ms", "dec ms");
    let filter = std::env::var("OPT_FILTER").ok();
    for o in options() {
        if let Some(f) = &filter {
            if !f.split('|').any(|f| name(&o).contains(f)) {
                continue;
            }
        }
        let mut enc = Vec::new();
        let mut blob = Vec::new();
        for _ in 0..reps {
            let t = Instant::now();
            blob = encode(&o, &spans);
            enc.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let mut dec = Vec::new();
        for _ in 0..reps {
            let t = Instant::now();
            let d = decode(&o, &blob);
            dec.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(d == expect, "roundtrip mismatch for {}", name(&o));
        }
        let per = 10_000.0 / n as f64;
        println!(
            "{:<58} {:>10} {:>8.1} {:>9.2} {:>9.2}",
            name(&o),
            blob.len(),
            blob.len() as f64 / n as f64,
            median(enc) * per,
            median(dec) * per
        );
    }
}
