//! A compact re-creation of otel-worker-cli/src/generate/scenario.rs + template.rs render():
//! six services, binary-tree traces of 10 spans, 10 attributes of mixed types, one trace in
//! ten failing, random 16/8-byte ids, start within the last second and a 0.5x..1.5x duration
//! scale per trace. Requests of 10 traces (100 spans) are grouped by service as an SDK sends them.

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub name: String,
    pub service: String,
    pub kind: u8,
    pub status_code: u8,
    pub status_message: String,
    pub start_ns: u64,
    pub end_ns: u64,
    /// (key, value as JSON text)
    pub attrs: Vec<(String, String)>,
}

/// What every decoder produces: attributes as one JSON map text.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct DSpan {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub name: String,
    pub service: String,
    pub kind: u8,
    pub status_code: u8,
    pub status_message: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: String,
}

pub fn attrs_json(attrs: &[(String, String)]) -> String {
    let mut s = String::with_capacity(256);
    s.push('{');
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        s.push_str(k);
        s.push_str("\":");
        s.push_str(v);
    }
    s.push('}');
    s
}

impl Span {
    pub fn to_d(&self) -> DSpan {
        DSpan {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent: self.parent,
            name: self.name.clone(),
            service: self.service.clone(),
            kind: self.kind,
            status_code: self.status_code,
            status_message: self.status_message.clone(),
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            attributes: attrs_json(&self.attrs),
        }
    }
}

struct Service {
    name: &'static str,
    ops: &'static [&'static str],
    db: bool,
}
const SERVICES: &[Service] = &[
    Service { name: "frontend", ops: &["GET /", "GET /products/{id}", "POST /cart", "POST /checkout"], db: false },
    Service { name: "checkout", ops: &["PlaceOrder", "PrepareOrder", "ConfirmOrder"], db: false },
    Service { name: "cart", ops: &["GetCart", "AddItem", "EmptyCart"], db: false },
    Service { name: "payments", ops: &["Charge", "Authorize", "Refund"], db: false },
    Service { name: "inventory", ops: &["Reserve", "CheckStock", "Release"], db: false },
    Service { name: "postgres", ops: &["SELECT orders", "INSERT orders", "UPDATE stock"], db: true },
];
const ROOT_MS: &[u64] = &[12, 25, 40, 80, 150, 300, 35, 60, 900, 20];
const SPANS_PER_TRACE: usize = 10;
const TRACES_PER_REQUEST: usize = 10;
const ATTRIBUTES: usize = 10;

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

fn span_attributes(svc: &Service, op: &str, n: usize, failed: bool) -> Vec<(String, String)> {
    let name = svc.name;
    (0..ATTRIBUTES)
        .map(|i| {
            let (k, v): (&str, String) = match i {
                0 if svc.db => ("db.system.name", q("postgresql")),
                0 => ("http.request.method", q(["GET", "POST", "PUT"][n % 3])),
                1 if svc.db => ("db.query.text", q(&format!("{op} WHERE id = $1"))),
                1 => ("http.route", q(&format!("/api/{name}/{op}"))),
                2 => ("http.response.status_code", if failed { "500" } else { "200" }.into()),
                3 => ("url.path", q(&format!("/api/{name}/{}", 1000 + n))),
                4 => ("server.address", q(&format!("{name}.internal"))),
                5 => ("server.port", "8080".into()),
                6 => ("app.cache_hit", (n % 3 == 0).to_string()),
                7 => ("app.items", serde_json::to_string(&(n as f64 * 1.5)).unwrap()),
                8 => ("enduser.id", q(&format!("user-{}", n % 97))),
                _ => ("app.tags", format!("[\"synthetic\",\"{name}\"]")),
            };
            (k.to_string(), v)
        })
        .collect()
}

/// `n` spans. `global_numbers`: number spans across the whole block (high-cardinality
/// url.path / app.items) instead of per request as the CLI generator does.
pub fn generate(n: usize, seed: u64, global_numbers: bool) -> Vec<Span> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(n);
    let mut now: u64 = 1_765_000_000_000_000_000;
    let mut req = 0usize;
    while out.len() < n {
        now += 10_000_000; // a request every 10 ms
        let mut by_service: Vec<Vec<Span>> = (0..SERVICES.len()).map(|_| Vec::new()).collect();
        for t in 0..TRACES_PER_REQUEST {
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&rng.next().to_le_bytes());
            trace_id[8..].copy_from_slice(&rng.next().to_le_bytes());
            let tstart = now - rng.range(0, 1_000_000_000);
            let per_mille = rng.range(500, 1500);
            let failed = t % 10 == 7;
            let mut placed: Vec<(u64, u64, [u8; 8])> = Vec::new();
            for i in 0..SPANS_PER_TRACE {
                let (start, dur, parent) = match i.checked_sub(1) {
                    None => (0, ROOT_MS[t % ROOT_MS.len()] * 1_000_000, None),
                    Some(j) => {
                        let p = placed[j / 2];
                        let second = j % 2 == 1;
                        (p.0 + p.1 * if second { 5 } else { 1 } / 10, p.1 * 4 / 10, Some(p.2))
                    }
                };
                let span_id = rng.next().to_le_bytes();
                placed.push((start, dur, span_id));
                let si = if i == 0 { 0 } else { 1 + (i - 1) % (SERVICES.len() - 1) };
                let svc = &SERVICES[si];
                let op = svc.ops[(t + i) % svc.ops.len()];
                let number = if global_numbers { req * 100 + t * SPANS_PER_TRACE + i } else { t * SPANS_PER_TRACE + i };
                let deepest = i == SPANS_PER_TRACE - 1;
                let f = failed && (i == 0 || deepest);
                by_service[si].push(Span {
                    trace_id,
                    span_id,
                    parent,
                    name: op.into(),
                    service: svc.name.into(),
                    kind: if svc.db { 3 } else { 2 },
                    status_code: if f { 2 } else { 0 },
                    status_message: if f { format!("{op} failed") } else { String::new() },
                    start_ns: tstart + start * per_mille / 1000,
                    end_ns: tstart + (start + dur) * per_mille / 1000,
                    attrs: span_attributes(svc, op, number, f),
                });
            }
        }
        for v in by_service {
            out.extend(v);
        }
        req += 1;
    }
    out.truncate(n);
    out
}
