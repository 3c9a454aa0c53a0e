//! User codes (RFC 8628 §6.1): 8 characters of the base-20 alphabet
//! `BCDFGHJKLMNPQRSTVWXZ`, shown as `XXXX-XXXX`.
//!
//! The alphabet has no vowels (no words spelled by accident) and no digits or
//! letters that look alike. 20^8 ≈ 2^34.6 codes; with entry rate limited (the
//! server's job), guessing a live code has negligible probability (§5.1).
//!
//! Input is normalised before comparison: case folded, spaces and every kind
//! of dash dropped, full-width forms (as typed on some phone keyboards) mapped
//! to ASCII. Anything left that is not in the alphabet makes the input invalid.

/// The base-20 alphabet of RFC 8628 §6.1.
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Number of characters in a user code, without the dash.
pub const LEN: usize = 8;

/// A user code in canonical form: 8 alphabet characters, no dash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserCode(String);

impl UserCode {
    /// Draws a code from a source of random bytes by rejection sampling, so
    /// every character is uniform over the alphabet.
    pub fn generate(mut fill: impl FnMut(&mut [u8])) -> Self {
        let mut out = String::with_capacity(LEN);
        let mut buf = [0u8; 16];
        while out.len() < LEN {
            fill(&mut buf);
            for &b in &buf {
                // 240 = 12 * 20: accept only bytes that map uniformly.
                if b < 240 && out.len() < LEN {
                    out.push(ALPHABET[(b % 20) as usize] as char);
                }
            }
        }
        Self(out)
    }

    /// Normalises what a person typed; `None` when it cannot be a user code.
    pub fn normalize(input: &str) -> Option<Self> {
        let mut out = String::with_capacity(LEN);
        for c in input.chars() {
            let c = fold_width(c);
            if c.is_whitespace() || is_dash(c) {
                continue;
            }
            let c = c.to_ascii_uppercase();
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return None;
            }
            out.push(c);
            if out.len() > LEN {
                return None;
            }
        }
        (out.len() == LEN).then_some(Self(out))
    }

    /// The canonical form, 8 characters without a dash (what the server stores).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to people: `XXXX-XXXX`.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }
}

impl std::fmt::Display for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '_' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{30FC}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        let want = UserCode::normalize("BCDF-GHJK").unwrap();
        for typed in [
            "bcdf-ghjk",
            "BCDFGHJK",
            " bcdf ghjk ",
            "BCDF–GHJK",
            "ＢＣＤＦ－ＧＨＪＫ",
            "bc-df-gh-jk",
        ] {
            assert_eq!(UserCode::normalize(typed).as_ref(), Some(&want), "{typed}");
        }
        assert_eq!(want.as_str(), "BCDFGHJK");
        assert_eq!(want.display(), "BCDF-GHJK");
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF-GHJ0",
            "BCDF-GHJ✓",
        ] {
            assert!(UserCode::normalize(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn generation_is_uniform_over_the_alphabet() {
        let mut counter = 0u32;
        let mut counts = [0u32; 20];
        for _ in 0..2000 {
            let code = UserCode::generate(|buf| {
                for b in buf.iter_mut() {
                    counter = counter.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    *b = (counter >> 16) as u8;
                }
            });
            assert_eq!(code.as_str().len(), LEN);
            for c in code.as_str().bytes() {
                counts[ALPHABET.iter().position(|&a| a == c).unwrap()] += 1;
            }
        }
        // 16000 draws, 800 expected per letter.
        assert!(
            counts.iter().all(|&n| (600..1000).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn rejection_sampling_skips_high_bytes() {
        let code = UserCode::generate(|buf| {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = if i % 2 == 0 { 255 } else { 21 };
            }
        });
        assert_eq!(code.as_str(), "CCCCCCCC");
    }
}
