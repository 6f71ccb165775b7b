//! Byte counts as Kubernetes quantities.

/// A byte count in the canonical form of a Kubernetes `BinarySI` quantity: the largest binary
/// suffix that leaves a whole number (`21474836480` → `20Gi`, 1536 MiB → `1536Mi`), else plain
/// digits (`1000` → `1000`).
pub fn bytes_to_quantity(bytes: u64) -> String {
    const SUFFIXES: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    if bytes == 0 {
        return "0".into();
    }
    let (mut value, mut power) = (bytes, 0);
    while power < SUFFIXES.len() && value % 1024 == 0 {
        value /= 1024;
        power += 1;
    }
    match power {
        0 => value.to_string(),
        p => format!("{value}{}", SUFFIXES[p - 1]),
    }
}

/// A whole-byte quantity (`20Gi`, `1500M`, `4096`) as bytes; `None` for fractions, other
/// suffixes and overflow.
pub fn quantity_to_bytes(text: &str) -> Option<u64> {
    const UNITS: [(&str, u64); 12] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("Pi", 1 << 50),
        ("Ei", 1 << 60),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
        ("P", 1_000_000_000_000_000),
        ("E", 1_000_000_000_000_000_000),
    ];
    let text = text.trim();
    let (digits, unit) = UNITS
        .iter()
        .find_map(|(suffix, unit)| text.strip_suffix(suffix).map(|d| (d, *unit)))
        .unwrap_or((text, 1));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::bytes_to_quantity as q;

    #[test]
    fn quantities_read_back_as_bytes() {
        use super::quantity_to_bytes as b;
        assert_eq!(b("4096"), Some(4096));
        assert_eq!(b("20Gi"), Some(20 << 30));
        assert_eq!(b("15M"), Some(15_000_000));
        assert_eq!(b("1.5Gi"), None);
        assert_eq!(b("16Ei"), None);
        assert_eq!(b(&q(21474836480)), Some(21474836480));
    }

    #[test]
    fn canonical_binary_si() {
        assert_eq!(q(0), "0");
        assert_eq!(q(1), "1");
        assert_eq!(q(1000), "1000");
        assert_eq!(q(1023), "1023");
        assert_eq!(q(1024), "1Ki");
        assert_eq!(q(1536), "1536");
        assert_eq!(q(1536 << 20), "1536Mi");
        assert_eq!(q(21_474_836_480), "20Gi");
        assert_eq!(q(1 << 40), "1Ti");
        assert_eq!(q(1 << 60), "1Ei");
        assert_eq!(q(1 << 63), "8Ei");
        assert_eq!(q(u64::MAX), "18446744073709551615");
    }
}
