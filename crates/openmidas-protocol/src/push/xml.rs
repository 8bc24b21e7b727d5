//! The XML of the push channel (behaviour.md section 12): WeChat's `<xml>` documents,
//! strings in CDATA, numbers bare, nested objects as nested elements.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};

/// Appends `<name><![CDATA[text]]></name>`; a `]]>` inside the text is split across two
/// CDATA sections so it cannot end the first.
pub(super) fn push_text_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push_str("><![CDATA[");
    out.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]></");
    out.push_str(name);
    out.push('>');
}

/// `<xml>` with one element per field of `object`, in its order. Nulls are left out.
pub(super) fn document(object: &Map<String, Value>) -> String {
    let mut out = String::from("<xml>");
    push_fields(&mut out, object);
    out.push_str("</xml>");
    out
}

fn push_fields(out: &mut String, object: &Map<String, Value>) {
    for (name, value) in object {
        match value {
            Value::Null => {}
            Value::String(text) => push_text_element(out, name, text),
            Value::Number(number) => out.push_str(&format!("<{name}>{number}</{name}>")),
            Value::Bool(flag) => out.push_str(&format!("<{name}>{flag}</{name}>")),
            Value::Object(inner) => {
                out.push_str(&format!("<{name}>"));
                push_fields(out, inner);
                out.push_str(&format!("</{name}>"));
            }
            // No event has a list; written as repeated elements should one appear.
            Value::Array(items) => {
                for item in items {
                    let mut single = Map::new();
                    single.insert(name.clone(), item.clone());
                    push_fields(out, &single);
                }
            }
        }
    }
}

/// The text children of the root element, as (name, text) in document order: what a reply
/// or a safe-mode body holds. Tolerant: end tags need not match their start tag (the
/// documented reply sample is `<Errcode>0</ErrCode>`), text is trimmed, nested elements
/// are skipped.
pub(super) fn flat_children(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut depth = 0usize;
    let mut current: Option<(String, String)> = None;
    let mut children = Vec::new();
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(start) => {
                depth += 1;
                if depth == 2 {
                    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                    current = Some((name, String::new()));
                } else if depth > 2 {
                    current = None;
                }
            }
            Event::Empty(start) if depth == 1 => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                children.push((name, String::new()));
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some((name, value)) = current.take() {
                        children.push((name, value.trim().to_string()));
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(text) if depth == 2 => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&text.xml_content().map_err(|e| e.to_string())?);
                }
            }
            Event::CData(data) if depth == 2 => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&String::from_utf8_lossy(&data.into_inner()));
                }
            }
            Event::GeneralRef(reference) if depth == 2 => {
                if let Some((_, value)) = current.as_mut() {
                    if let Ok(Some(c)) = reference.resolve_char_ref() {
                        value.push(c);
                    } else {
                        let name = reference.decode().map_err(|e| e.to_string())?;
                        let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?;
                        value.push_str(resolved);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unclosed element".into());
    }
    Ok(children)
}
