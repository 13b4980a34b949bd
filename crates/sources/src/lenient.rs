//! Lenient JSON leaf values: vendors disagree on types (`"asNumber": "13335"` vs
//! `13335`, `"zone": "null"`), and a field midgame only copies must not cost the row.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A text leaf: strings stay (borrowed when unescaped), numbers and booleans become
/// their text, null and objects/arrays become `None`.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    /// The text, with `""`, `"null"`, `"unknown"` and `"-"` read as absent.
    pub(crate) fn value(&self) -> Option<&str> {
        match self.0.as_deref() {
            None | Some("" | "null" | "NULL" | "unknown" | "UNKNOWN" | "-") => None,
            Some(s) => Some(s),
        }
    }

    /// The text as given (only JSON null, objects and arrays are absent).
    pub(crate) fn as_given(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Text::deserialize(d)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A number leaf that may arrive as a JSON number or a numeric string.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Num(pub Option<f64>);

impl Num {
    pub(crate) fn as_i64(self) -> Option<i64> {
        #[allow(clippy::cast_possible_truncation)]
        self.0
            .filter(|v| v.is_finite() && v.fract() == 0.0)
            .map(|v| v as i64)
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Text::deserialize(d)?;
        Ok(Num(t
            .value()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())))
    }
}

/// A boolean leaf that may arrive as `true` or `"true"`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Flag(pub Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Text::deserialize(d)?;
        Ok(Flag(
            match t.value().map(str::to_ascii_lowercase).as_deref() {
                Some("true" | "1" | "yes") => Some(true),
                Some("false" | "0" | "no") => Some(false),
                _ => None,
            },
        ))
    }
}

/// A nested object that vendors sometimes replace by `""` or `null` (Panther's
/// `"debugData": ""`): an object is read as `T`, anything else as `None`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<T> Obj<T> {
    pub(crate) fn as_ref(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(m)).map(|t| Obj(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A list of objects; anything else (a string, null) is an empty list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(Obj(item)) = s.next_element::<Obj<T>>()? {
                    out.extend(item);
                }
                Ok(List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List(Vec::new()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(List(Vec::new()))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A list of strings (`"riskEventTypes_v2": ["anonymizedIPAddress"]`): each element read as
/// [`Text`] (a number is its text, anything else nothing); a lone string is a list of one;
/// anything else is empty.
#[derive(Debug, Default)]
pub(crate) struct Texts<'a>(pub Vec<Text<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Texts<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<OneOrMany<'a>>::deserialize(d)? {
            Some(OneOrMany::Many(v)) => Ok(Texts(v)),
            Some(OneOrMany::One(t)) => Ok(Texts(vec![t])),
            None => Ok(Texts(Vec::new())),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany<'a> {
    Many(#[serde(borrow)] Vec<Text<'a>>),
    One(#[serde(borrow)] Text<'a>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(json: &str) -> Vec<Option<String>> {
        let t: Texts<'_> = serde_json::from_str(json).unwrap();
        t.0.iter().map(|x| x.value().map(str::to_owned)).collect()
    }

    #[test]
    fn a_list_of_strings_whatever_vendors_put_in_it() {
        assert_eq!(
            texts(r#"["anonymizedIPAddress", 7, {"a": 1}, null]"#),
            [
                Some("anonymizedIPAddress".into()),
                Some("7".into()),
                None,
                None
            ]
        );
        assert_eq!(
            texts(r#""unfamiliarFeatures""#),
            [Some("unfamiliarFeatures".into())]
        );
        assert!(texts("null").is_empty());
        assert_eq!(texts(r#"{"a": ["b"]}"#), [None]);
    }
}
