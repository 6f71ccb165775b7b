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

#[cfg(test)]
mod tests {
    use super::bytes_to_quantity as q;

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
