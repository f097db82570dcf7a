//! S3 event notifications as they arrive on an SQS queue: `ObjectCreated` records of
//! the bucket's `imports/` prefix (the arrival of an import's file) and the
//! `s3:TestEvent` S3 sends once a notification is configured.
//!
//! The object key in a record is URL-encoded form-style (`+` is a space); it is
//! decoded here, so callers see the key as stored.

use serde::Deserialize;

/// An object whose creation S3 reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedObject {
    /// The bucket.
    pub bucket: String,
    /// The object key, decoded.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The event's name (`ObjectCreated:Put`, ...).
    pub event: String,
}

/// What an S3 notification message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum S3Notification {
    /// The message S3 sends after a notification is configured: nothing to do.
    Test,
    /// Object events; `other` counts records that are not `ObjectCreated` events.
    Records {
        /// Objects created.
        created: Vec<CreatedObject>,
        /// Records of other events (ignored).
        other: usize,
    },
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "Records")]
    records: Option<Vec<WireRecord>>,
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
struct WireRecord {
    #[serde(rename = "eventSource", default)]
    source: String,
    #[serde(rename = "eventName", default)]
    name: String,
    s3: Option<WireS3>,
}

#[derive(Deserialize)]
struct WireS3 {
    bucket: WireBucket,
    object: WireObject,
}

#[derive(Deserialize)]
struct WireBucket {
    name: String,
}

#[derive(Deserialize)]
struct WireObject {
    key: String,
    #[serde(default)]
    size: u64,
}

impl S3Notification {
    /// Reads an SQS message body as an S3 notification; `None` when it is not one
    /// (another kind of message).
    pub fn parse(body: &str) -> Option<S3Notification> {
        let wire: Wire = serde_json::from_str(body).ok()?;
        if wire.event.as_deref() == Some("s3:TestEvent") {
            return Some(S3Notification::Test);
        }
        let records = wire.records?;
        let mut created = Vec::new();
        let mut other = 0;
        for r in records {
            let event = r.name.strip_prefix("s3:").unwrap_or(&r.name);
            match r.s3 {
                Some(s3) if r.source == "aws:s3" && event.starts_with("ObjectCreated:") => created
                    .push(CreatedObject {
                        bucket: s3.bucket.name,
                        key: form_decode(&s3.object.key),
                        size: s3.object.size,
                        event: event.to_string(),
                    }),
                _ => other += 1,
            }
        }
        Some(S3Notification::Records { created, other })
    }
}

/// Decodes a form-style URL-encoded string: `+` is a space, `%XX` a byte; a
/// malformed escape is kept as it is, bytes that are not UTF-8 are replaced.
pub fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            let h = std::str::from_utf8(h).ok()?;
            u8::from_str_radix(h, 16).ok()
        });
        match (b, hex) {
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded_form_style() {
        assert_eq!(form_decode("imports%2F12.csv"), "imports/12.csv");
        assert_eq!(form_decode("a+b%20c%2B"), "a b c+");
        assert_eq!(form_decode("%E5%8D%A1.csv"), "卡.csv");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn the_test_event_and_object_records_are_told_apart_from_other_bodies() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00Z","Bucket":"b","RequestId":"r","HostId":"h"}"#;
        assert_eq!(S3Notification::parse(test), Some(S3Notification::Test));
        let body = serde_json::json!({"Records": [
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "imports/7.csv", "size": 12, "eTag": "e"}}},
            {"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "imports/7.csv"}}}
        ]});
        let parsed = S3Notification::parse(&body.to_string());
        let created = CreatedObject {
            bucket: "b".into(),
            key: "imports/7.csv".into(),
            size: 12,
            event: "ObjectCreated:Put".into(),
        };
        assert_eq!(
            parsed,
            Some(S3Notification::Records {
                created: vec![created],
                other: 1
            })
        );
        for chunk in [r#"{"task_id":1,"offset":0}"#, "not json", "7"] {
            assert_eq!(S3Notification::parse(chunk), None, "{chunk}");
        }
    }
}
