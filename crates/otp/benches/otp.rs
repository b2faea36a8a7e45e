//! TOTP generation and verification per algorithm, beside the cost of one
//! bare HMAC-SHA1 of an 8-byte counter (the floor of any code check).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use nidan_otp::{Algorithm, CodeFormat, Secret, Totp, Window};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let key = b"12345678901234567890123456789012345678901234567890123456789012345";
    c.bench_function("hmac_sha1_8_bytes", |b| {
        b.iter(|| {
            let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&key[..20]).unwrap();
            mac.update(black_box(&42u64.to_be_bytes()));
            black_box(mac.finalize())
        })
    });
    let now = 1_700_000_000u64;
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let secret = Secret::from_bytes(&key[..20]).unwrap();
        let totp = Totp::new(algorithm, CodeFormat::default(), 30).unwrap();
        let right = totp.generate(&secret, now);
        let wrong = if right == "000000" {
            "000001"
        } else {
            "000000"
        };
        c.bench_function(&format!("totp_generate_{algorithm}"), |b| {
            b.iter(|| totp.generate(black_box(&secret), black_box(now)))
        });
        c.bench_function(&format!("totp_verify_right_window1_{algorithm}"), |b| {
            b.iter(|| totp.verify(&secret, black_box(&right), now, Window::default()))
        });
        c.bench_function(&format!("totp_verify_wrong_window1_{algorithm}"), |b| {
            b.iter(|| totp.verify(&secret, black_box(wrong), now, Window::default()))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
