//! `ovf:capacityAllocationUnits`: DMTF DSP0004 programmatic units over the base unit byte.
//!
//! Accepted: products (`*`) of whole numbers, powers (`2^20`) and at most one byte unit.
//! Byte units are `byte`/`bytes` with an optional SI prefix (`kilo` = 10^3, as DSP0004 and
//! govmomi read them) or IEC prefix (`kibi` = 2^10), up to exa/exbi, case-insensitive
//! (`KiloBytes`), and the symbols `B`, `KB`, `MB`, `GB`, `TB` and `KiB` … `TiB`. The `KB`
//! family is not DSP0004; tools that write it mean 1024 (as vSphere displays sizes), and
//! reading it as 1024 can only make a disk look larger, never too small for its content.
//! Division, fractions, negative exponents and other units are refused: a capacity we cannot
//! read exactly is an error, not a guess.

/// Bytes per unit: `None` when the units are not recognised, `Some(Err(Overflow))` when their
/// product does not fit in 64 bits.
pub(crate) fn multiplier(units: &str) -> Option<Result<u64, Overflow>> {
    let units = units.trim();
    if units.is_empty() {
        return Some(Ok(1));
    }
    let mut total: u64 = 1;
    let mut overflow = false;
    let mut unit_seen = false;
    for term in units.split('*') {
        let term: String = term.chars().filter(|c| !c.is_whitespace()).collect();
        let factor = if let Some(f) = byte_unit(&term) {
            if unit_seen {
                return None;
            }
            unit_seen = true;
            Some(f)
        } else if let Some((base, exp)) = term.split_once('^') {
            let base = integer(base)?;
            let exp = u32::try_from(integer(exp)?).ok()?;
            base.checked_pow(exp)
        } else {
            Some(integer(&term)?)
        };
        match factor.and_then(|f| total.checked_mul(f)) {
            Some(t) => total = t,
            None => overflow = true,
        }
    }
    Some(if overflow { Err(Overflow) } else { Ok(total) })
}

/// The units' product does not fit in 64 bits.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Overflow;

/// A positive decimal integer without sign or leading zero (DSP0004 `integer-number`).
fn integer(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return None;
    }
    // Digits only: a parse failure here is overflow, which the caller reports as such.
    Some(s.parse().unwrap_or(u64::MAX))
}

fn byte_unit(term: &str) -> Option<u64> {
    let lower = term.to_ascii_lowercase();
    let symbol = match lower.as_str() {
        "b" => Some(1),
        "kb" | "kib" => Some(1 << 10),
        "mb" | "mib" => Some(1 << 20),
        "gb" | "gib" => Some(1 << 30),
        "tb" | "tib" => Some(1 << 40),
        _ => None,
    };
    if symbol.is_some() {
        return symbol;
    }
    let word = lower.strip_suffix('s').unwrap_or(&lower);
    let prefix = word.strip_suffix("byte")?;
    Some(match prefix {
        "" => 1,
        "kilo" => 1_000,
        "mega" => 1_000_000,
        "giga" => 1_000_000_000,
        "tera" => 1_000_000_000_000,
        "peta" => 1_000_000_000_000_000,
        "exa" => 1_000_000_000_000_000_000,
        "kibi" => 1 << 10,
        "mebi" => 1 << 20,
        "gibi" => 1 << 30,
        "tebi" => 1 << 40,
        "pebi" => 1 << 50,
        "exbi" => 1 << 60,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Option<u64> {
        multiplier(s).and_then(Result::ok)
    }

    #[test]
    fn programmatic_units() {
        assert_eq!(m("byte"), Some(1));
        assert_eq!(m(""), Some(1));
        assert_eq!(m("byte * 2^20"), Some(1 << 20));
        assert_eq!(m("byte*2^30"), Some(1 << 30));
        assert_eq!(m("2^30 * byte"), Some(1 << 30));
        assert_eq!(m("byte * 2 ^ 10 * 4"), Some(4096));
        assert_eq!(m("byte * 10^9"), Some(1_000_000_000));
        assert_eq!(m("KiloBytes"), Some(1000));
        assert_eq!(m("megabyte"), Some(1_000_000));
        assert_eq!(m("gibibytes"), Some(1 << 30));
        assert_eq!(m("KB"), Some(1024));
        assert_eq!(m("MB"), Some(1 << 20));
        assert_eq!(m("GB"), Some(1 << 30));
        assert_eq!(m("GiB"), Some(1 << 30));
        assert_eq!(m("2^20"), Some(1 << 20));
    }

    #[test]
    fn refused_units() {
        for bad in [
            "hertz",
            "byte / 2",
            "byte * 1.5",
            "byte * 2^-3",
            "byte * byte",
            "bits",
            "byte *",
            "* byte",
            "0",
        ] {
            assert_eq!(multiplier(bad), None, "{bad}");
        }
        assert_eq!(multiplier("byte * 2^70"), Some(Err(Overflow)));
        assert_eq!(multiplier("exbibyte * 1024"), Some(Err(Overflow)));
    }
}
