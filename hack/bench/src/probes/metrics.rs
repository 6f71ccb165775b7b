//! Prometheus text: the operator's and the apiserver's counters.

use std::collections::BTreeMap;

use kube::Client;

pub(crate) type Samples = Vec<(String, BTreeMap<String, String>, f64)>;

/// Parses Prometheus / OpenMetrics text: (name, labels, value) per sample line.
pub(crate) fn parse_prometheus(text: &str) -> Samples {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) = match line.find('{') {
            Some(open) => {
                let Some(close) = line.rfind('}') else {
                    continue;
                };
                (
                    &line[..open],
                    parse_labels(&line[open + 1..close]),
                    &line[close + 1..],
                )
            }
            None => match line.split_once(' ') {
                Some((name, rest)) => (name, BTreeMap::new(), rest),
                None => continue,
            },
        };
        if let Some(value) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            out.push((name.to_string(), labels, value));
        }
    }
    out
}

pub(crate) fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        let after = &rest[eq + 1..];
        let Some(body) = after.strip_prefix('"') else {
            break;
        };
        let mut value = String::new();
        let mut chars = body.char_indices();
        let mut end = body.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key, value);
        rest = &body[end..];
    }
    labels
}

/// Sum of a metric over the samples whose `label` starts with `prefix` (all when empty).
pub(crate) fn metric_sum(samples: &Samples, name: &str, label: &str, prefix: &str) -> f64 {
    samples
        .iter()
        .filter(|(n, labels, _)| {
            n == name
                && (prefix.is_empty() || labels.get(label).is_some_and(|v| v.starts_with(prefix)))
        })
        .map(|(_, _, v)| v)
        .sum::<f64>()
        + 0.0
}

/// A metric by one label's value.
pub(crate) fn metric_by(samples: &Samples, name: &str, label: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (n, labels, v) in samples {
        if n == name {
            *out.entry(labels.get(label).cloned().unwrap_or_default())
                .or_default() += v;
        }
    }
    out
}

/// The kube-apiserver's request counters, `VERB resource[/subresource]` (with the code when it
/// is not 2xx), resource requests only.
pub(crate) async fn apiserver_requests(client: &Client) -> BTreeMap<String, f64> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = match client.request_text(request).await {
        Ok(text) => text,
        Err(e) => {
            eprintln!("[bench] warning: cannot read the apiserver's /metrics: {e}");
            return BTreeMap::new();
        }
    };
    let mut out = BTreeMap::new();
    for (name, labels, value) in parse_prometheus(&text) {
        if name != "apiserver_request_total" {
            continue;
        }
        let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
        if get("resource").is_empty() {
            continue;
        }
        let mut key = format!("{} {}", get("verb"), get("resource"));
        if !get("subresource").is_empty() {
            key = format!("{key}/{}", get("subresource"));
        }
        if !get("code").starts_with('2') {
            key = format!("{key} code={}", get("code"));
        }
        *out.entry(key).or_default() += value;
    }
    out
}

pub(crate) fn requests_delta(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, a)| (k.clone(), a - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .collect()
}

pub(crate) fn is_write(key: &str) -> bool {
    matches!(
        key.split(' ').next(),
        Some("POST" | "PUT" | "PATCH" | "APPLY" | "DELETE" | "DELETECOLLECTION")
    )
}

pub(crate) fn writes_in(delta: &BTreeMap<String, f64>) -> f64 {
    delta
        .iter()
        .filter(|(k, _)| is_write(k))
        .map(|(_, v)| v)
        .sum()
}

pub(crate) fn event_writes_in(delta: &BTreeMap<String, f64>) -> f64 {
    delta
        .iter()
        .filter(|(k, _)| is_write(k) && k.split(' ').nth(1) == Some("events"))
        .map(|(_, v)| v)
        .sum::<f64>()
        + 0.0
}
