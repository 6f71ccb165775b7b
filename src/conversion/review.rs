//! `apiextensions.k8s.io/v1` ConversionReview: the request's objects converted, or a failure
//! naming the object and the reason. Every input gets a response; nothing here panics.

use serde_json::{Value, json};

use super::convert::convert;
use super::error::ConversionError;

const REVIEW_API_VERSION: &str = "apiextensions.k8s.io/v1";

/// The ConversionReview response to `request`.
pub fn review(request: &Value) -> Value {
    let uid = request
        .pointer("/request/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    let response = match convert_all(request) {
        Ok(objects) => json!({
            "uid": uid,
            "convertedObjects": objects,
            "result": {"status": "Success"},
        }),
        Err(message) => json!({
            "uid": uid,
            "result": {"status": "Failure", "message": message},
        }),
    };
    json!({
        "apiVersion": REVIEW_API_VERSION,
        "kind": "ConversionReview",
        "response": response,
    })
}

fn convert_all(review: &Value) -> Result<Vec<Value>, String> {
    let malformed = |what: &str| {
        let e = ConversionError::MalformedReview(what.into());
        format!("{}: {e}", e.reason())
    };
    if review.get("apiVersion").and_then(Value::as_str) != Some(REVIEW_API_VERSION)
        || review.get("kind").and_then(Value::as_str) != Some("ConversionReview")
    {
        return Err(malformed("not an apiextensions.k8s.io/v1 ConversionReview"));
    }
    let request = review
        .get("request")
        .filter(|r| r.is_object())
        .ok_or_else(|| malformed("request is missing"))?;
    if request.get("uid").and_then(Value::as_str).is_none() {
        return Err(malformed("request.uid is missing"));
    }
    let desired = request
        .get("desiredAPIVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("request.desiredAPIVersion is missing"))?;
    let objects = request
        .get("objects")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("request.objects is missing"))?;
    objects
        .iter()
        .enumerate()
        .map(|(i, object)| {
            convert(object, desired).map_err(|e| {
                format!(
                    "{}: cannot convert {} to {desired}: {e}",
                    e.reason(),
                    describe(object, i)
                )
            })
        })
        .collect()
}

/// `objects[i] Kind namespace/name`, as much of it as the object has.
fn describe(object: &Value, index: usize) -> String {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str);
    let mut out = format!("objects[{index}]");
    if let Some(kind) = text("/kind") {
        out.push(' ');
        out.push_str(kind);
    }
    if let Some(name) = text("/metadata/name") {
        out.push(' ');
        if let Some(ns) = text("/metadata/namespace").filter(|ns| !ns.is_empty()) {
            out.push_str(ns);
            out.push('/');
        }
        out.push_str(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(desired: &str, objects: Value) -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "request": {"uid": "705ab4f5", "desiredAPIVersion": desired, "objects": objects}})
    }

    #[test]
    fn converts_every_object_and_echoes_the_uid() {
        let item = json!({"apiVersion": "imageregistry.vmware.com/v1alpha1", "kind": "ContentLibraryItem",
            "metadata": {"name": "i", "namespace": "ns"}, "spec": {"uuid": "u"}});
        let r = review(&request(
            "imageregistry.vmware.com/v1alpha2",
            json!([item.clone(), item]),
        ));
        assert_eq!(r["apiVersion"], "apiextensions.k8s.io/v1");
        assert_eq!(r["kind"], "ConversionReview");
        assert_eq!(r["response"]["uid"], "705ab4f5");
        assert_eq!(r["response"]["result"]["status"], "Success");
        let converted = r["response"]["convertedObjects"].as_array().expect("list");
        assert_eq!(converted.len(), 2);
        assert_eq!(converted[0]["spec"], json!({"id": "u", "libraryName": ""}));
    }

    #[test]
    fn failure_names_the_object_and_the_reason() {
        let ok = json!({"apiVersion": "imageregistry.vmware.com/v1alpha1", "kind": "ContentLibrary",
            "metadata": {"name": "a"}, "spec": {"uuid": "u", "writable": false}});
        let bad = json!({"apiVersion": "imageregistry.vmware.com/v1alpha1", "kind": "ContentLibrary",
            "metadata": {"name": "lib", "namespace": "ns"}, "spec": {"uuid": 7, "writable": false}});
        let r = review(&request(
            "imageregistry.vmware.com/v1alpha2",
            json!([ok, bad]),
        ));
        assert_eq!(r["response"]["uid"], "705ab4f5");
        assert_eq!(r["response"]["result"]["status"], "Failure");
        assert!(r["response"].get("convertedObjects").is_none());
        let message = r["response"]["result"]["message"]
            .as_str()
            .expect("message");
        assert!(message.starts_with("MalformedObject: "), "{message}");
        assert!(
            message.contains("objects[1] ContentLibrary ns/lib"),
            "{message}"
        );
        assert!(message.contains("spec.uuid must be a string"), "{message}");
    }

    #[test]
    fn any_input_gets_a_response() {
        for input in [
            json!(null),
            json!("x"),
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview"}),
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
                "request": {"uid": "u", "desiredAPIVersion": "v1", "objects": [1, null, {}]}}),
            request(
                "vmoperator.vmware.com/v1alpha1",
                json!([{"apiVersion": "v1", "kind": "Pod"}]),
            ),
        ] {
            let r = review(&input);
            assert_eq!(r["response"]["result"]["status"], "Failure", "{input}");
            assert!(r["response"]["result"]["message"].is_string());
        }
        let empty = review(&request("vmoperator.vmware.com/v1alpha1", json!([])));
        assert_eq!(empty["response"]["result"]["status"], "Success");
    }
}
