//! Where every key and value of a YAML document is, read leniently (any keys, any types), so
//! a problem found after parsing — or a parse error — can name the file position, the field
//! and the value as written.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::error::SourceLocation;

/// One value of the document.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LocatedValue {
    /// JSON-pointer-like path from the root: `/stages/1/shots/max_dissolve_frames`.
    pub pointer: String,
    /// Where the value starts.
    pub at: Option<SourceLocation>,
    /// Where its key starts, for a value of a mapping.
    pub key_at: Option<SourceLocation>,
    /// The scalar as written (`500`, `superfastest`); `None` for mappings and lists.
    pub scalar: Option<String>,
}

/// Every value of a document, in document order.
#[derive(Debug, Default)]
pub(crate) struct YamlIndex {
    values: Vec<LocatedValue>,
}

impl YamlIndex {
    /// `None` when the text is not YAML at all.
    pub(crate) fn parse(yaml: &str) -> Option<YamlIndex> {
        let root: Spanned<Node> = serde_saphyr::from_str(yaml).ok()?;
        let mut index = YamlIndex::default();
        index.add(String::new(), None, root);
        Some(index)
    }

    fn add(&mut self, pointer: String, key_at: Option<SourceLocation>, node: Spanned<Node>) {
        let at = source_location(node.referenced);
        match node.value {
            Node::Scalar(text) => self.values.push(LocatedValue { pointer, at, key_at, scalar: Some(text) }),
            Node::Map(entries) => {
                self.values.push(LocatedValue { pointer: pointer.clone(), at, key_at, scalar: None });
                for (key, value) in entries {
                    self.add(format!("{pointer}/{}", key.value), source_location(key.referenced), value);
                }
            }
            Node::List(items) => {
                self.values.push(LocatedValue { pointer: pointer.clone(), at, key_at, scalar: None });
                for (position, item) in items.into_iter().enumerate() {
                    self.add(format!("{pointer}/{position}"), None, item);
                }
            }
        }
    }

    pub(crate) fn get(&self, pointer: &str) -> Option<&LocatedValue> {
        self.values.iter().find(|value| value.pointer == pointer)
    }

    /// The scalar that starts at `location` (where serde reports a value of the wrong type).
    pub(crate) fn scalar_at(&self, location: SourceLocation) -> Option<&LocatedValue> {
        self.values.iter().find(|value| value.scalar.is_some() && value.at == Some(location))
    }

    /// The name of the stage whose item of `stages` holds `location`, as written.
    pub(crate) fn stage_at(&self, location: SourceLocation) -> Option<String> {
        // Top-level values after `stages` start where the list has ended.
        let stages_end = self
            .values
            .iter()
            .skip_while(|value| value.pointer != "/stages")
            .find(|value| value.pointer.matches('/').count() == 1 && value.pointer != "/stages")
            .and_then(|value| value.key_at);
        if stages_end.is_some_and(|end| location >= end) {
            return None;
        }
        let item_start = |value: &LocatedValue| {
            let position = value.pointer.strip_prefix("/stages/")?;
            position.bytes().all(|b| b.is_ascii_digit()).then_some(value.at?)
        };
        let (item, _) = self
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, value)| Some((i, item_start(value)?)))
            .rfind(|(_, start)| *start <= location)?;
        // The item's first child is its one key, the stage name.
        let prefix = format!("{}/", self.values[item].pointer);
        let child = self.values.get(item + 1)?.pointer.strip_prefix(&prefix)?;
        (!child.contains('/')).then(|| child.to_owned())
    }
}

pub(crate) fn source_location(location: Location) -> Option<SourceLocation> {
    // serde-saphyr reports line 0 for "unknown position".
    (location.line() > 0).then(|| SourceLocation { line: location.line(), column: location.column() })
}

/// A YAML value of any shape, keys as text.
enum Node {
    Scalar(String),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    List(Vec<Spanned<Node>>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Node, E> {
        Ok(Node::Scalar(value.to_string()))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Scalar(value.to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Node, E> {
        Ok(Node::Scalar(value.to_string()))
    }

    fn visit_i128<E>(self, value: i128) -> Result<Node, E> {
        Ok(Node::Scalar(value.to_string()))
    }

    fn visit_u128<E>(self, value: u128) -> Result<Node, E> {
        Ok(Node::Scalar(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Node, E> {
        Ok(Node::Scalar(value.to_string()))
    }

    fn visit_str<E>(self, value: &str) -> Result<Node, E> {
        Ok(Node::Scalar(value.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar("null".to_owned()))
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar("null".to_owned()))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            entries.push((key, map.next_value::<Spanned<Node>>()?));
        }
        Ok(Node::Map(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "version: 1\nname: x\nstages:\n  - probe: {}\n  - shots:\n      max_dissolve_frames: 500\n      use_colour: no\nafter: [1, 2]\n";

    #[test]
    fn values_are_found_by_pointer_with_their_text() {
        let index = YamlIndex::parse(YAML).unwrap();
        let value = index.get("/stages/1/shots/max_dissolve_frames").unwrap();
        assert_eq!(value.at, Some(SourceLocation { line: 6, column: 28 }));
        assert_eq!(value.scalar.as_deref(), Some("500"));
        assert_eq!(index.get("/stages/1/shots").unwrap().at.map(|at| at.line), Some(6));
        assert_eq!(index.get("/after/1").unwrap().scalar.as_deref(), Some("2"));
        assert_eq!(
            index.scalar_at(SourceLocation { line: 6, column: 28 }).map(|v| v.pointer.as_str()),
            Some("/stages/1/shots/max_dissolve_frames")
        );
    }

    #[test]
    fn positions_map_to_the_stage_item_holding_them() {
        let index = YamlIndex::parse(YAML).unwrap();
        let at = |line, column| index.stage_at(SourceLocation { line, column });
        assert_eq!(at(4, 14).as_deref(), Some("probe"));
        assert_eq!(at(7, 7).as_deref(), Some("shots"));
        assert_eq!(at(8, 1), None);
        assert_eq!(at(1, 1), None);
    }
}
