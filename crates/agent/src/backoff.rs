//! Exponential backoff with a cap, and a deterministic jitter so that many
//! profiles failing together do not retry together.

use std::hash::{Hash, Hasher};
use std::time::Duration;

/// Backoff after temporary failures.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The wait after the first failure.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(30 * 60),
        }
    }
}

impl Backoff {
    /// The wait after `failures` failures in a row (1 = the first), plus up
    /// to 10 % jitter derived from `key`, never above the cap.
    pub fn delay(&self, failures: u32, key: &str) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let raw = self.base.saturating_mul(1u32 << exp).min(self.cap);
        let jitter = raw.mul_f64(jitter_fraction(key, failures) * 0.1);
        (raw + jitter).min(self.cap)
    }
}

/// A number in [0, 1) that depends only on its inputs.
pub fn jitter_fraction(key: &str, salt: u32) -> f64 {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    salt.hash(&mut h);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(100),
        };
        let d: Vec<u64> = (1..=6).map(|n| b.delay(n, "p").as_secs()).collect();
        assert!((10..=11).contains(&d[0]), "{d:?}");
        assert!((20..=22).contains(&d[1]), "{d:?}");
        assert!((40..=44).contains(&d[2]), "{d:?}");
        assert!((80..=88).contains(&d[3]), "{d:?}");
        assert_eq!(d[4], 100);
        assert_eq!(b.delay(1000, "p").as_secs(), 100);
        assert_eq!(b.delay(3, "p"), b.delay(3, "p"), "deterministic");
    }
}
