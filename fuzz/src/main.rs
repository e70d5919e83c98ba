//! Stable-Rust fuzz driver: `imagegpt-fuzz <target> [--seconds N] [--iterations N] [--seed S]`.
//!
//! Targets: `jpeg`, `png`, `png_rows` (the streaming PNG fast path, checked against `decode`),
//! `gif`, `webp`, `tiff`, `bmp` (all through `decode::decode`), `resize` (random geometry, parallel
//! against serial and the row-fed resize), `config` (the config rules on random fields).
//! Seeds: `corpus/<format>/`. Findings go to `artifacts/<target>/` and make the exit status 1.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagegpt_core::config::{validate_imagegpt_config, validated_fields, Value};
use imagegpt_core::decode::{self, DecodeOptions, JpegDecoder, RgbRows};
use imagegpt_core::resize::{cached_plan, Filter, ImageView, PillowCompat, ResizePlan, RowResizer};

/// The last panic message (set by the hook, also for panics the decoders catch themselves).
static PANIC: Mutex<Option<String>> = Mutex::new(None);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u32] = &[0, 1, 2, 7, 8, 15, 16, 127, 128, 255, 256, 0x7fff, 0xffff, 0x10000, 0x7fff_ffff, 0xffff_ffff];

fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut d = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = d.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = rng.next() as u8;
            }
            2 if len >= 4 => {
                // an interesting 16- or 32-bit value, either endianness (sizes, lengths, offsets)
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let bytes = if rng.below(2) == 0 { v.to_be_bytes() } else { v.to_le_bytes() };
                let w = if rng.below(2) == 0 { 2 } else { 4 };
                let i = rng.below(len - w + 1);
                let src = if bytes[0] == 0 && w == 2 { &bytes[2..] } else { &bytes[..w] };
                d[i..i + w].copy_from_slice(src);
            }
            3 if len > 1 => d.truncate(rng.below(len)),
            4 if len > 0 => {
                // duplicate a block
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let block = d[a..b].to_vec();
                let at = rng.below(len);
                d.splice(at..at, block);
            }
            5 if len > 0 => {
                // delete a block
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                d.drain(a..b);
            }
            6 if !pool.is_empty() => {
                // splice the tail of another input
                let other = &pool[rng.below(pool.len())];
                if !other.is_empty() && len > 0 {
                    let cut = rng.below(len);
                    let from = rng.below(other.len());
                    d.truncate(cut);
                    d.extend_from_slice(&other[from..]);
                }
            }
            7 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let fill: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                d.splice(at..at, fill);
            }
            _ if len > 0 => {
                let i = rng.below(len);
                d[i] = d[i].wrapping_add(1 + rng.below(3) as u8);
            }
            _ => d.push(rng.next() as u8),
        }
    }
    d
}

fn options(data: &[u8]) -> DecodeOptions {
    DecodeOptions {
        // small enough that a bomb-sized header is refused quickly, as in production by default
        max_pixels: Some(1 << 22),
        draft: (data.len() % 7 == 0).then_some((8, 8)),
        jpeg_decoder: JpegDecoder::DEFAULT,
    }
}

/// What one input did, as a short signature (new signatures are kept in the pool).
fn run_decode(data: &[u8]) -> String {
    match decode::decode(data, &options(data)) {
        Ok(img) => {
            assert_eq!(img.data.len(), img.width as usize * img.height as usize * 3, "RGB buffer length");
            format!("ok {}x{}", img.width.min(64), img.height.min(64))
        }
        Err(e) => {
            let s = e.to_string();
            format!("{} {}", e.kind(), &s[..s.len().min(48)])
        }
    }
}

struct Collect {
    size: Option<(usize, usize)>,
    data: Vec<u8>,
}

impl RgbRows for Collect {
    fn start(&mut self, width: usize, height: usize) -> bool {
        self.size = Some((width, height));
        true
    }
    fn rows(&mut self, rgb: &[u8]) -> bool {
        let (w, _) = self.size.expect("rows before start");
        assert_eq!(rgb.len() % (w * 3), 0, "partial row");
        self.data.extend_from_slice(rgb);
        true
    }
}

/// The streaming PNG path must give exactly `decode`'s pixels whenever it says it succeeded.
fn run_png_rows(data: &[u8]) -> String {
    let opts = DecodeOptions { draft: None, ..options(data) };
    let mut sink = Collect { size: None, data: Vec::new() };
    let streamed = decode::decode_rows(data, &opts, &mut sink);
    let whole = decode::decode(data, &opts);
    if streamed {
        let img = whole.as_ref().expect("decode_rows succeeded where decode fails");
        assert_eq!(sink.size, Some((img.width as usize, img.height as usize)));
        assert!(sink.data == img.data, "decode_rows pixels differ from decode's");
    }
    format!("{streamed} {}", whole.map(|_| "ok".to_owned()).unwrap_or_else(|e| e.kind().to_owned()))
}

/// Random geometry from the bytes; the parallel, serial and row-fed resizes must agree.
fn run_resize(data: &[u8]) -> String {
    if data.len() < 8 {
        return "short".into();
    }
    let w = 1 + data[0] as usize % 64 * (1 + data[4] as usize % 4);
    let h = 1 + data[1] as usize % 48;
    let ow = 1 + data[2] as usize % 80;
    let oh = 1 + data[3] as usize % 40;
    let filter = Filter::ALL[data[5] as usize % 6];
    let c = [1, 3, 4][data[6] as usize % 3];
    let compat = [PillowCompat::V12Legacy, PillowCompat::V12, PillowCompat::V13][data[7] as usize % 3];
    let tail = &data[8..];
    let px: Vec<u8> = if tail.is_empty() {
        vec![0; w * h * c]
    } else {
        (0..w * h * c).map(|i| tail[i % tail.len()].wrapping_mul(i as u8 | 1)).collect()
    };
    let img = ImageView::new(&px, w, h, c).expect("view");
    let plan = ResizePlan::new(w, h, ow, oh, filter, compat).expect("plan");
    let a = plan.run(&img, true).expect("parallel");
    let b = plan.run(&img, false).expect("serial");
    assert!(a == b, "parallel and serial resizes differ");
    let shared = cached_plan(w, h, ow, oh, filter, compat).expect("cached plan");
    if let Some(mut rows) = RowResizer::new(Arc::clone(&shared), c).expect("row resizer") {
        let stride = w * c;
        let mut y = 0;
        while y < h {
            let n = (1 + (y * 7 + data[0] as usize) % 5).min(h - y);
            rows.push(&px[y * stride..(y + n) * stride]).expect("push");
            y += n;
        }
        assert!(rows.finish().expect("finish") == a, "row-fed resize differs");
    }
    format!("{filter} {c} {}", plan.vertical_first())
}

/// Config fields built from the bytes: the rules must answer, never panic.
fn run_config(data: &[u8]) -> String {
    let names: Vec<&str> = validated_fields().collect();
    let mut fields = Vec::new();
    let mut i = 0;
    let take = |i: &mut usize, n: usize| -> &[u8] {
        let s = &data[(*i).min(data.len())..(*i + n).min(data.len())];
        *i += n;
        s
    };
    while i < data.len() {
        let head = take(&mut i, 2);
        if head.len() < 2 {
            break;
        }
        let name = names[head[0] as usize % names.len()].to_owned();
        let raw = take(&mut i, 8);
        let mut b = [0u8; 8];
        b[..raw.len()].copy_from_slice(raw);
        let value = match head[1] % 8 {
            0 => Value::None,
            1 => Value::Bool(b[0] & 1 == 1),
            2 => Value::Int(i64::from_le_bytes(b)),
            3 => Value::Float(f64::from_le_bytes(b)),
            4 => Value::BigInt(format!("{}{}", u64::from_le_bytes(b), u64::from_le_bytes(b))),
            5 => Value::Str(String::from_utf8_lossy(raw).into_owned()),
            6 => Value::List((0..b[0] % 5).map(|k| Value::Int(i64::from(b[k as usize]))).collect()),
            _ => Value::Other { repr: format!("{b:?}"), type_name: "bytes".into() },
        };
        fields.push((name, value));
    }
    let violations = validate_imagegpt_config(&fields);
    for v in &violations {
        assert!(!v.field.is_empty() && !v.rule.is_empty(), "violation without field or rule");
    }
    format!("{}", violations.len().min(8))
}

fn corpus_dir(target: &str) -> PathBuf {
    let dir = match target {
        "png_rows" => "png",
        "resize" | "config" => "misc",
        t => t,
    };
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(dir)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: imagegpt-fuzz <jpeg|png|png_rows|gif|webp|tiff|bmp|resize|config> [--seconds N] [--iterations N] [--seed S]";
    let Some(target) = args.get(1).cloned() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let mut seconds = 20u64;
    let mut iterations = u64::MAX;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut it = args[2..].iter();
    while let Some(flag) = it.next() {
        let value = it.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--seconds", Some(v)) => seconds = v,
            ("--iterations", Some(v)) => iterations = v,
            ("--seed", Some(v)) => seed = v | 1,
            _ => {
                eprintln!("{usage}");
                std::process::exit(2);
            }
        }
    }
    let run: fn(&[u8]) -> String = match target.as_str() {
        "jpeg" | "png" | "gif" | "webp" | "tiff" | "bmp" => run_decode,
        "png_rows" => run_png_rows,
        "resize" => run_resize,
        "config" => run_config,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    std::panic::set_hook(Box::new(|info| {
        let mut slot = PANIC.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(info.to_string());
    }));
    let mut pool: Vec<Vec<u8>> = std::fs::read_dir(corpus_dir(&target))
        .map(|d| d.filter_map(|e| e.ok()).filter_map(|e| std::fs::read(e.path()).ok()).collect())
        .unwrap_or_default();
    if pool.is_empty() {
        pool.push(vec![0; 64]);
    }
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts").join(&target);
    let mut rng = Rng(seed);
    let mut seen = HashSet::new();
    let mut findings = 0usize;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut n = 0u64;
    let seeds = pool.len();
    while n < iterations && Instant::now() < deadline {
        let base = pool[rng.below(pool.len())].clone();
        let input = if n < seeds as u64 { pool[n as usize].clone() } else { mutate(&mut rng, &base, &pool) };
        n += 1;
        let t = Instant::now();
        let outcome = std::panic::catch_unwind(|| run(&input));
        let elapsed = t.elapsed();
        let panicked = PANIC.lock().unwrap_or_else(|p| p.into_inner()).take();
        let finding = match (&outcome, panicked) {
            (_, Some(msg)) => Some(format!("panic: {msg}")),
            (Err(_), None) => Some("panic without message".to_owned()),
            _ if elapsed > Duration::from_secs(2) => Some(format!("slow: {elapsed:?}")),
            _ => None,
        };
        if let Some(what) = finding {
            findings += 1;
            let _ = std::fs::create_dir_all(&artifacts);
            let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
            let path = artifacts.join(format!("finding-{hash:016x}"));
            let _ = std::fs::write(&path, &input);
            eprintln!("[{target}] {what} -> {}", path.display());
            continue;
        }
        if let Ok(sig) = outcome {
            if seen.insert(sig) && n > seeds as u64 && pool.len() < 4096 {
                pool.push(input);
            }
        }
    }
    println!(
        "[{target}] {n} inputs in {:.1} s, {} outcomes, pool {}, findings {findings}",
        (Instant::now() - (deadline - Duration::from_secs(seconds))).as_secs_f64().min(seconds as f64),
        seen.len(),
        pool.len()
    );
    std::process::exit(i32::from(findings > 0));
}
