use std::path::{Path, PathBuf};
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { walk(&p, out) } else if p.extension().is_some_and(|e| e == "ovf") { out.push(p) }
    }
}
#[test]
fn sweep() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/ovf"));
    let mut files = Vec::new();
    walk(root, &mut files);
    files.sort();
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        match vmi_operator::ovf::parse_descriptor(&bytes) {
            Ok(i) => { *reasons.entry("ok".into()).or_default() += 1; if std::env::var("SHOW_OK").is_ok() { println!("OK {}: {:?}", f.strip_prefix(root).unwrap().display(), i); } }
            Err(e) => { *reasons.entry(e.reason().into()).or_default() += 1; println!("ERR {}: {}", f.strip_prefix(root).unwrap().display(), e); }
        }
    }
    println!("{reasons:?}");
}
#[test]
fn deep() {
    for depth in [100usize, 300, 100_000, 1_000_000] {
        let mut s = String::from("<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\">");
        for _ in 0..depth { s.push_str("<a>"); }
        for _ in 0..depth { s.push_str("</a>"); }
        s.push_str("</Envelope>");
        let t = std::time::Instant::now();
        let r = vmi_operator::ovf::parse_descriptor(s.as_bytes());
        println!("{depth}: {:?} {:?}", r.map(|_| ()), t.elapsed());
    }
    let mut s = String::from("<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\">");
    for _ in 0..3_000_000 { s.push_str("<a/>"); }
    s.push_str("</Envelope>");
    let t = std::time::Instant::now();
    let r = vmi_operator::ovf::parse_descriptor(s.as_bytes());
    println!("wide: {:?} {:?}", r.map(|_| ()), t.elapsed());
}
#[test]
fn ovas() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/ovf"));
    for p in ["extra/ttylinux-pc_i486-16.1.ova", "extra/Vcf-License-Server-9.1.0.0.25262073.ova", "govmomi/vapi/library/testdata/ttylinux-pc_i486-16.1.ova"] {
        let f = std::fs::File::open(root.join(p)).unwrap();
        let r = vmi_operator::ovf::ova::read_ova(f);
        println!("{p}: {:?}", r.as_ref().map(|d| (&d.name, d.bytes.len())));
        let d = r.unwrap();
        println!("{:?}", vmi_operator::ovf::parse_descriptor(&d.bytes));
    }
    let y = std::fs::read_to_string(root.join("extra/ttylinux-pc_i486-16.1.govmomi-envelope.yaml")).unwrap();
    let v: serde_json::Value = serde_saphyr::from_str(&y).unwrap();
    println!("{}", v["virtualSystem"]["operatingSystemSection"]);
}
