//! Fuiou's envelope: GBK text, flat `<xml>` documents and the URL-encoded `req` form
//! field.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{Fields, FuiouError};

/// The XML declaration Fuiou puts in front of every document.
pub const DECLARATION: &str = r#"<?xml version="1.0" encoding="GBK" standalone="yes"?>"#;

/// The GBK bytes of `text`; `None` when a character has no GBK code (an emoji, say).
pub fn to_gbk(text: &str) -> Option<Vec<u8>> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    (!unmappable).then(|| bytes.into_owned())
}

/// The text of GBK bytes; `None` when they are not valid GBK.
pub fn from_gbk(bytes: &[u8]) -> Option<String> {
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
}

/// URL-encodes bytes as Java's `URLEncoder` does: ASCII letters, digits and `.-*_`
/// as they are, space as `+`, every other byte as `%XX` (upper case).
pub fn url_encode(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Decodes URL-encoding (`+` is a space); `None` on a broken `%` escape.
pub fn url_decode(text: &[u8]) -> Option<Vec<u8>> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter().copied();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(bytes.next()?)?;
                let lo = hex(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            b => out.push(b),
        }
    }
    Some(out)
}

/// The XML document of `fields` (declaration included), elements in name order.
pub fn to_xml(fields: &Fields) -> String {
    let mut out = String::from(DECLARATION);
    out.push_str("<xml>");
    for (name, value) in fields {
        out.push('<');
        out.push_str(name);
        out.push('>');
        out.push_str(&quick_xml::escape::escape(value.as_str()));
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    out.push_str("</xml>");
    out
}

/// The GBK bytes of the XML document of `fields`.
pub fn to_gbk_xml(fields: &Fields) -> Result<Vec<u8>, FuiouError> {
    to_gbk(&to_xml(fields)).ok_or_else(|| FuiouError::Invalid("text outside GBK".into()))
}

/// The form body of a request or notification: `req=` and the GBK XML URL-encoded
/// twice, as Fuiou's SDKs send it.
pub fn to_form(fields: &Fields) -> Result<Vec<u8>, FuiouError> {
    let once = url_encode(&to_gbk_xml(fields)?);
    Ok(format!("req={}", url_encode(once.as_bytes())).into_bytes())
}

/// Parses a flat document `<xml><name>text</name>…</xml>` into its fields. Anything
/// else (another root, nested elements, a repeated field, text outside elements,
/// a DOCTYPE) is malformed.
pub fn parse_xml(text: &str) -> Result<Fields, FuiouError> {
    let bad = |why: &str| FuiouError::Malformed(why.to_string());
    let mut reader = Reader::from_str(text);
    let mut fields = Fields::new();
    // Depth 0: before the root; 1: inside <xml>; 2: inside a field.
    let mut depth = 0u8;
    let mut seen_root = false;
    let mut current: Option<(String, String)> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| FuiouError::Malformed(format!("XML: {e}")))?;
        match event {
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(bad("DOCTYPE not allowed")),
            Event::Start(start) => {
                let name = start.name().as_ref().to_string();
                match depth {
                    0 if name == "xml" && !seen_root => seen_root = true,
                    0 => return Err(bad("root element must be a single <xml>")),
                    1 => current = Some((name, String::new())),
                    _ => return Err(bad("nested elements inside a field")),
                }
                depth += 1;
            }
            Event::Empty(start) => {
                let name = start.name().as_ref().to_string();
                match depth {
                    1 => insert(&mut fields, name, String::new())?,
                    0 if name == "xml" && !seen_root => seen_root = true,
                    _ => return Err(bad("unexpected empty element")),
                }
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some((name, value)) = current.take() {
                        insert(&mut fields, name, value)?;
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => match (&mut current, depth) {
                (Some((_, value)), 2) => value.push_str(&t.xml10_content()),
                _ if t.trim().is_empty() => {}
                _ => return Err(bad("text outside a field")),
            },
            Event::CData(t) => match (&mut current, depth) {
                (Some((_, value)), 2) => value.push_str(&t),
                _ => return Err(bad("CDATA outside a field")),
            },
            Event::GeneralRef(r) => {
                let Some((_, value)) = current.as_mut().filter(|_| depth == 2) else {
                    return Err(bad("entity outside a field"));
                };
                if let Some(c) = r
                    .resolve_char_ref()
                    .map_err(|e| FuiouError::Malformed(format!("XML: {e}")))?
                {
                    value.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    value.push_str(s);
                } else {
                    return Err(bad("unknown entity"));
                }
            }
            Event::Eof => break,
        }
    }
    if !seen_root || depth != 0 {
        return Err(bad("no complete <xml> document"));
    }
    Ok(fields)
}

fn insert(fields: &mut Fields, name: String, value: String) -> Result<(), FuiouError> {
    if fields.insert(name, value).is_some() {
        return Err(FuiouError::Malformed("repeated field".into()));
    }
    Ok(())
}

/// The GBK XML bytes inside a message body, which may be: a form with a `req` field
/// (its value URL-encoded once or twice), URL-encoded XML, or raw XML.
pub fn unwrap_body(body: &[u8]) -> Result<Vec<u8>, FuiouError> {
    let body = body.trim_ascii();
    let mut data = match body
        .split(|&b| b == b'&')
        .find_map(|pair| pair.strip_prefix(b"req="))
    {
        Some(value) if !body.starts_with(b"<") => value.to_vec(),
        _ => body.to_vec(),
    };
    // At most two layers of URL-encoding.
    for _ in 0..2 {
        if data.trim_ascii_start().starts_with(b"<") {
            break;
        }
        data =
            url_decode(&data).ok_or_else(|| FuiouError::Malformed("broken URL-encoding".into()))?;
    }
    if !data.trim_ascii_start().starts_with(b"<") {
        return Err(FuiouError::Malformed("no XML document".into()));
    }
    Ok(data)
}

/// The fields of a message body (see [`unwrap_body`]): URL-decoding, GBK, XML.
pub fn decode_body(body: &[u8]) -> Result<Fields, FuiouError> {
    let xml = unwrap_body(body)?;
    let text = from_gbk(&xml).ok_or_else(|| FuiouError::Malformed("not GBK text".into()))?;
    parse_xml(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn gbk_has_the_known_bytes() {
        assert_eq!(to_gbk("中").unwrap(), vec![0xD6, 0xD0]);
        assert_eq!(
            to_gbk("流量套餐").unwrap(),
            vec![0xC1, 0xF7, 0xC1, 0xBF, 0xCC, 0xD7, 0xB2, 0xCD]
        );
        assert_eq!(to_gbk("a=1&b").unwrap(), b"a=1&b".to_vec());
        assert_eq!(to_gbk("流量😀"), None);
        assert_eq!(from_gbk(&[0xD6, 0xD0]).unwrap(), "中");
        assert_eq!(from_gbk(&[0xD6]), None);
    }

    #[test]
    fn url_encoding_is_javas() {
        assert_eq!(url_encode(&[0xD6, 0xD0]), "%D6%D0");
        assert_eq!(url_encode(b"a b+c/=.-*_~"), "a+b%2Bc%2F%3D.-*_%7E");
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(url_decode(url_encode(&all).as_bytes()).unwrap(), all);
        assert_eq!(url_decode(b"%zz"), None);
        assert_eq!(url_decode(b"abc%4"), None);
        assert_eq!(url_decode(b"%E4%B8").unwrap(), vec![0xE4, 0xB8]);
    }

    #[test]
    fn xml_round_trips_with_escapes_and_chinese() {
        let f = fields(&[
            ("goods_des", "流量套餐 <1GB> & \"more\""),
            ("empty", ""),
            ("sign", "ab+/=="),
        ]);
        let xml = to_xml(&f);
        assert!(xml.starts_with(DECLARATION));
        assert!(xml.contains("<empty></empty>"));
        assert_eq!(parse_xml(&xml).unwrap(), f);
        let body = to_form(&f).unwrap();
        assert!(body.starts_with(b"req=%253C%253Fxml"));
        assert_eq!(decode_body(&body).unwrap(), f);
    }

    #[test]
    fn bodies_in_every_accepted_shape_decode() {
        let f = fields(&[("a", "中 文+"), ("b", "")]);
        let gbk = to_gbk_xml(&f).unwrap();
        let once = url_encode(&gbk);
        let shapes: Vec<Vec<u8>> = vec![
            gbk.clone(),
            once.clone().into_bytes(),
            format!("req={once}").into_bytes(),
            format!("x=1&req={}", url_encode(once.as_bytes())).into_bytes(),
        ];
        for body in shapes {
            assert_eq!(decode_body(&body).unwrap(), f);
        }
        let cdata = "<xml><a><![CDATA[x<y]]></a><b/><c>&#20013;&amp;</c></xml>";
        assert_eq!(
            parse_xml(cdata).unwrap(),
            fields(&[("a", "x<y"), ("b", ""), ("c", "中&")])
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let cases: &[&[u8]] = &[
            b"",
            b"req=",
            b"req=%ZZ",
            b"hello",
            b"<xml><a>1</a>",
            b"<xml><a><b>1</b></a></xml>",
            b"<xml><a>1</a><a>2</a></xml>",
            b"<other><a>1</a></other>",
            b"<xml>text<a>1</a></xml>",
            b"<xml><a>&bogus;</a></xml>",
            b"<!DOCTYPE x><xml></xml>",
            b"<xml></xml><xml></xml>",
            &[b'<', 0xFF, 0xFF, b'>'],
        ];
        for body in cases {
            assert!(
                matches!(decode_body(body), Err(FuiouError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
