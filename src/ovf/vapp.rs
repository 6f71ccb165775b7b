//! OVF property types and qualifiers to vSphere vApp property types (`vim.vApp.PropertyInfo`),
//! the `type` VM Operator shows in `status.ovfProperties`, and property defaults as vSphere
//! stores them.
//!
//! DSP0243 9.5.1 Table 7 qualifiers (`MinLen`, `MaxLen`, `ValueMap`, `MinValue`, `MaxValue`)
//! and VMware's (`Ip`, `Ip("network")`, and the expression qualifiers `VimIp`, `Net(…)`, …)
//! become the vApp forms `string(1..65)`, `string(..65)`, `string["a", "b"]`, `int(0..255)`,
//! `real(0..1)`, `ip`, `ip:network` and `expression`. Unknown qualifiers are dropped, as vSphere
//! drops them.

/// VMware expression qualifiers: vSphere computes the value (`${vimIp:}`).
const EXPRESSIONS: &[&str] = &[
    "AutoIp",
    "VimIp",
    "Net",
    "Netmask",
    "Gateway",
    "DomainName",
    "HostPrefix",
    "Dns",
    "Subnet",
    "SearchPath",
    "HttpProxy",
];

#[derive(Debug, Default, PartialEq)]
struct Qualifiers {
    min_len: Option<u64>,
    max_len: Option<u64>,
    value_map: Vec<String>,
    min_value: Option<f64>,
    max_value: Option<f64>,
    /// `Ip` → `Some("")`, `Ip("Management")` → `Some("Management")`.
    ip: Option<String>,
    /// Expression qualifier name and argument.
    expression: Option<(String, String)>,
}

/// The vApp type of an OVF property.
pub(crate) fn vapp_type(ovf_type: &str, qualifiers: Option<&str>, password: bool) -> String {
    let mut base = base_type(ovf_type);
    if password && base == "string" {
        base = "password".into();
    }
    let q = parse_qualifiers(qualifiers.unwrap_or(""));
    if q.expression.is_some() {
        return "expression".into();
    }
    let stringy = base == "string" || base == "password";
    if let (Some(net), true) = (&q.ip, stringy) {
        return if net.is_empty() {
            "ip".into()
        } else {
            format!("ip:{net}")
        };
    }
    match base.as_str() {
        "string" | "password" if !q.value_map.is_empty() => {
            let choices: Vec<String> = q
                .value_map
                .iter()
                .map(|v| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            format!("{base}[{}]", choices.join(", "))
        }
        "string" | "password" => match (q.min_len, q.max_len) {
            (Some(min), Some(max)) => format!("{base}({min}..{max})"),
            (None, Some(max)) => format!("{base}(..{max})"),
            (Some(min), None) if min > 0 => format!("{base}({min}..)"),
            _ => base,
        },
        "int" => {
            let ints: Option<Vec<i64>> =
                q.value_map.iter().map(|v| v.trim().parse().ok()).collect();
            match ints.filter(|v| !v.is_empty()) {
                Some(v) => format!(
                    "int({}..{})",
                    v.iter().min().unwrap_or(&0),
                    v.iter().max().unwrap_or(&0)
                ),
                None if q.min_value.is_some() || q.max_value.is_some() => {
                    // vApp int is a signed 32-bit number unless bounded otherwise.
                    let min = q.min_value.map_or(i64::from(i32::MIN), |v| v as i64);
                    let max = q.max_value.map_or(i64::from(i32::MAX), |v| v as i64);
                    format!("int({min}..{max})")
                }
                None => base,
            }
        }
        "real" if q.min_value.is_some() || q.max_value.is_some() => format!(
            "real({}..{})",
            go_float(q.min_value.unwrap_or(-1e308)),
            go_float(q.max_value.unwrap_or(1e308))
        ),
        _ => base,
    }
}

/// The default as vSphere stores it: trimmed, booleans as `True`/`False`, expression
/// properties without a default get the expression (`${net:Management}`); `None` when empty.
pub(crate) fn default_value(
    vapp_type: &str,
    value: &str,
    qualifiers: Option<&str>,
) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        if vapp_type != "expression" {
            return None;
        }
        let (name, arg) = parse_qualifiers(qualifiers.unwrap_or("")).expression?;
        let mut chars = name.chars();
        let first = chars
            .next()
            .map(|c| c.to_ascii_lowercase())
            .unwrap_or_default();
        return Some(format!("${{{first}{}:{arg}}}", chars.as_str()));
    }
    if vapp_type == "boolean" {
        // Go's strconv.ParseBool, which vSphere's Go clients use; anything else is false.
        let t = matches!(value, "1" | "t" | "T" | "true" | "TRUE" | "True");
        return Some(if t { "True" } else { "False" }.into());
    }
    Some(value.to_string())
}

/// DSP0243 Table 6 CIM types to vApp base types; other types are kept as written.
fn base_type(ovf_type: &str) -> String {
    match ovf_type.trim().to_ascii_lowercase().as_str() {
        "uint8" | "sint8" | "uint16" | "sint16" | "uint32" | "sint32" | "uint64" | "sint64"
        | "int" => "int".into(),
        "string" => "string".into(),
        "boolean" => "boolean".into(),
        "real32" | "real64" | "real" => "real".into(),
        _ => ovf_type.to_string(),
    }
}

fn parse_qualifiers(s: &str) -> Qualifiers {
    let mut q = Qualifiers::default();
    for token in split_top_level(s) {
        let token = token.trim();
        let name_len = token
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(token.len());
        let (name, rest) = token.split_at(name_len);
        let rest = rest.trim();
        let paren = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .map(str::trim);
        match name {
            "MinLen" => q.min_len = paren.and_then(|a| a.parse().ok()),
            "MaxLen" => q.max_len = paren.and_then(|a| a.parse().ok()),
            "MinValue" => q.min_value = paren.and_then(finite),
            "MaxValue" => q.max_value = paren.and_then(finite),
            "ValueMap" => {
                if let Some(body) = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                    q.value_map = value_map(body);
                }
            }
            "Ip" if rest.is_empty() || paren.is_some() => q.ip = Some(unquote(paren.unwrap_or(""))),
            n if EXPRESSIONS.contains(&n) && (rest.is_empty() || paren.is_some()) => {
                q.expression = Some((n.to_string(), unquote(paren.unwrap_or(""))));
            }
            _ => {}
        }
    }
    q
}

fn finite(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')));
    inner.unwrap_or(s).trim().to_string()
}

/// Splits at commas outside parentheses, braces and double quotes.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' | '{' if !quoted => depth += 1,
            ')' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// `ValueMap{"a", "b\"c", 3}` body: quoted strings (backslash escapes) or bare tokens.
fn value_map(body: &str) -> Vec<String> {
    split_top_level(body)
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(
            |t| match t.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
                Some(inner) => {
                    let mut out = String::new();
                    let mut chars = inner.chars();
                    while let Some(c) = chars.next() {
                        out.push(if c == '\\' {
                            chars.next().unwrap_or('\\')
                        } else {
                            c
                        });
                    }
                    out
                }
                None => t.to_string(),
            },
        )
        .collect()
}

/// A float as Go's `%v` prints it (what govmomi writes into `real(min..max)`): shortest
/// round-trip digits, exponent form below 1e-4 and from 1e21.
fn go_float(f: f64) -> String {
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..21).contains(&exp) {
        format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_vsphere() {
        let t = |ty, q: &str, pw| vapp_type(ty, (!q.is_empty()).then_some(q), pw);
        assert_eq!(t("string", "", false), "string");
        assert_eq!(
            t("string", "MinLen(1),MaxLen(65535)", false),
            "string(1..65535)"
        );
        assert_eq!(
            t("string", "MinLen(0),MaxLen(65535)", false),
            "string(0..65535)"
        );
        assert_eq!(t("string", "MaxLen(65)", false), "string(..65)");
        assert_eq!(t("string", "MinLen(5)", false), "string(5..)");
        assert_eq!(t("string", "MinLen(8)", true), "password(8..)");
        assert_eq!(t("string", "", true), "password");
        assert_eq!(
            t("string", "ValueMap{\"low\",\"medium\",\"high\"}", false),
            "string[\"low\", \"medium\", \"high\"]"
        );
        assert_eq!(
            t("string", r#"ValueMap{"a\"b"}"#, false),
            r#"string["a\"b"]"#
        );
        assert_eq!(t("int", "ValueMap{1, 2, 3, 5}", false), "int(1..5)");
        assert_eq!(
            t("uint16", "MinValue(1),MaxValue(65535)", false),
            "int(1..65535)"
        );
        assert_eq!(t("int", "MaxValue(10)", false), "int(-2147483648..10)");
        assert_eq!(t("real", "MinValue(0),MaxValue(1)", false), "real(0..1)");
        assert_eq!(t("real64", "MinValue(0.5)", false), "real(0.5..1e+308)");
        assert_eq!(t("string", "Ip", false), "ip");
        assert_eq!(t("string", "Ip()", false), "ip");
        assert_eq!(t("string", "Ip(Management)", false), "ip:Management");
        assert_eq!(t("string", "Ip(\"Workload\")", false), "ip:Workload");
        assert_eq!(t("string", "VimIp", false), "expression");
        assert_eq!(t("string", "Net(Management)", false), "expression");
        assert_eq!(t("boolean", "", false), "boolean");
        assert_eq!(t("Boolean", "", false), "boolean");
        assert_eq!(t("sint64", "", false), "int");
        assert_eq!(t("real32", "", false), "real");
        assert_eq!(t("weird", "Unknown(3)", false), "weird");
    }

    #[test]
    fn defaults_as_vsphere_stores_them() {
        assert_eq!(
            default_value("boolean", "true", None).as_deref(),
            Some("True")
        );
        assert_eq!(
            default_value("boolean", "no", None).as_deref(),
            Some("False")
        );
        assert_eq!(default_value("int", "  42  ", None).as_deref(), Some("42"));
        assert_eq!(default_value("string", "", None), None);
        assert_eq!(
            default_value("expression", "", Some("VimIp")).as_deref(),
            Some("${vimIp:}")
        );
        assert_eq!(
            default_value("expression", "", Some("Net(Management)")).as_deref(),
            Some("${net:Management}")
        );
        assert_eq!(
            default_value("expression", "${x}", Some("Dns")).as_deref(),
            Some("${x}")
        );
    }

    #[test]
    fn go_floats() {
        assert_eq!(go_float(0.0), "0");
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(-1.5), "-1.5");
        assert_eq!(go_float(1e308), "1e+308");
        assert_eq!(go_float(-1e308), "-1e+308");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(123456.0), "123456");
    }
}
