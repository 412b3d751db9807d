//! Property values as plain data (D-Bus variants are neither `Send` nor `Clone`), turned into
//! variants only when a message is built.

use std::collections::{BTreeMap, HashMap};

use dbus::arg::{PropMap, RefArg, Variant};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Path(String),
    Paths(Vec<String>),
    Bool(bool),
    I16(i16),
    U16(u16),
    U32(u32),
    Bytes(Vec<u8>),
    Strs(Vec<String>),
    /// `a{qv}` with byte arrays, as Device1.ManufacturerData.
    Manufacturer(BTreeMap<u16, Vec<u8>>),
    /// `a{sv}` with byte arrays, as Device1.ServiceData.
    ServiceData(BTreeMap<String, Vec<u8>>),
}

fn path(text: &str) -> dbus::Path<'static> {
    dbus::Path::new(text.to_owned()).expect("the fake builds valid object paths")
}

impl Value {
    pub fn to_variant(&self) -> Variant<Box<dyn RefArg>> {
        let inner: Box<dyn RefArg> = match self {
            Value::Str(text) => Box::new(text.clone()),
            Value::Path(text) => Box::new(path(text)),
            Value::Paths(texts) => Box::new(texts.iter().map(|t| path(t)).collect::<Vec<_>>()),
            Value::Bool(value) => Box::new(*value),
            Value::I16(value) => Box::new(*value),
            Value::U16(value) => Box::new(*value),
            Value::U32(value) => Box::new(*value),
            Value::Bytes(bytes) => Box::new(bytes.clone()),
            Value::Strs(texts) => Box::new(texts.clone()),
            Value::Manufacturer(data) => Box::new(
                data.iter()
                    .map(|(id, bytes)| (*id, Variant(Box::new(bytes.clone()) as Box<dyn RefArg>)))
                    .collect::<HashMap<_, _>>(),
            ),
            Value::ServiceData(data) => Box::new(
                data.iter()
                    .map(|(uuid, bytes)| {
                        (
                            uuid.clone(),
                            Variant(Box::new(bytes.clone()) as Box<dyn RefArg>),
                        )
                    })
                    .collect::<HashMap<_, _>>(),
            ),
        };
        Variant(inner)
    }

    /// The D-Bus signature, for introspection data.
    pub fn signature(&self) -> &'static str {
        match self {
            Value::Str(_) => "s",
            Value::Path(_) => "o",
            Value::Paths(_) => "ao",
            Value::Bool(_) => "b",
            Value::I16(_) => "n",
            Value::U16(_) => "q",
            Value::U32(_) => "u",
            Value::Bytes(_) => "ay",
            Value::Strs(_) => "as",
            Value::Manufacturer(_) => "a{qv}",
            Value::ServiceData(_) => "a{sv}",
        }
    }
}

/// One interface's properties.
pub type Props = BTreeMap<String, Value>;

pub fn prop_map(props: &Props) -> PropMap {
    props
        .iter()
        .map(|(name, value)| (name.clone(), value.to_variant()))
        .collect()
}

pub fn props<const N: usize>(entries: [(&str, Value); N]) -> Props {
    entries
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}
