//! BlueZ's object tree: objects, their interfaces and properties, and the ObjectManager and
//! Properties signals every change produces.

use std::collections::{BTreeMap, HashMap};

use dbus::arg::PropMap;
use dbus::blocking::stdintf::org_freedesktop_dbus::{
    ObjectManagerInterfacesAdded, ObjectManagerInterfacesRemoved, PropertiesPropertiesChanged,
};
use dbus::message::SignalArgs;
use dbus::Message;

use super::values::{prop_map, Props, Value};

pub type Interfaces = BTreeMap<String, Props>;

/// Interfaces every BlueZ object also implements, announced in InterfacesAdded as BlueZ does.
const STANDARD_INTERFACES: [&str; 2] = [
    "org.freedesktop.DBus.Introspectable",
    "org.freedesktop.DBus.Properties",
];

#[derive(Default)]
pub struct Tree {
    objects: BTreeMap<String, Interfaces>,
}

fn object_path(text: &str) -> dbus::Path<'static> {
    dbus::Path::new(text.to_owned()).expect("the fake builds valid object paths")
}

fn with_standard(interfaces: &Interfaces) -> HashMap<String, PropMap> {
    let mut out: HashMap<String, PropMap> = interfaces
        .iter()
        .map(|(name, props)| (name.clone(), prop_map(props)))
        .collect();
    for name in STANDARD_INTERFACES {
        out.entry(name.to_owned()).or_default();
    }
    out
}

impl Tree {
    pub fn contains(&self, path: &str) -> bool {
        self.objects.contains_key(path)
    }

    pub fn interfaces(&self, path: &str) -> Option<&Interfaces> {
        self.objects.get(path)
    }

    pub fn get(&self, path: &str, interface: &str, name: &str) -> Option<&Value> {
        self.objects.get(path)?.get(interface)?.get(name)
    }

    /// Adds an object; returns the InterfacesAdded signal.
    pub fn add(&mut self, path: &str, interfaces: Interfaces) -> Message {
        let signal = ObjectManagerInterfacesAdded {
            object: object_path(path),
            interfaces: with_standard(&interfaces),
        }
        .to_emit_message(&object_path("/"));
        self.objects.insert(path.to_owned(), interfaces);
        signal
    }

    /// Removes an object and everything below it, deepest first; returns the
    /// InterfacesRemoved signals.
    pub fn remove(&mut self, path: &str) -> Vec<Message> {
        let prefix = format!("{path}/");
        let mut doomed: Vec<String> = self
            .objects
            .keys()
            .filter(|candidate| *candidate == path || candidate.starts_with(&prefix))
            .cloned()
            .collect();
        doomed.sort_by_key(|candidate| std::cmp::Reverse(candidate.len()));
        doomed
            .into_iter()
            .filter_map(|doomed| {
                let interfaces = self.objects.remove(&doomed)?;
                let mut names: Vec<String> = interfaces.into_keys().collect();
                names.extend(STANDARD_INTERFACES.map(str::to_owned));
                Some(
                    ObjectManagerInterfacesRemoved {
                        object: object_path(&doomed),
                        interfaces: names,
                    }
                    .to_emit_message(&object_path("/")),
                )
            })
            .collect()
    }

    /// Sets a property; returns PropertiesChanged if the value changed (BlueZ is silent
    /// otherwise), `None` also when the object is gone.
    pub fn set(
        &mut self,
        path: &str,
        interface: &str,
        name: &str,
        value: Value,
    ) -> Option<Message> {
        let props = self.objects.get_mut(path)?.get_mut(interface)?;
        if props.get(name) == Some(&value) {
            return None;
        }
        let mut changed = PropMap::new();
        changed.insert(name.to_owned(), value.to_variant());
        props.insert(name.to_owned(), value);
        Some(
            PropertiesPropertiesChanged {
                interface_name: interface.to_owned(),
                changed_properties: changed,
                invalidated_properties: Vec::new(),
            }
            .to_emit_message(&object_path(path)),
        )
    }

    /// GetManagedObjects: every object but the root.
    pub fn managed_objects(&self) -> HashMap<dbus::Path<'static>, HashMap<String, PropMap>> {
        self.objects
            .iter()
            .map(|(path, interfaces)| (object_path(path), with_standard(interfaces)))
            .collect()
    }

    /// Introspection XML for `path`: its interfaces with their properties, and its direct
    /// children (clients find GATT services and characteristics this way).
    pub fn introspect(&self, path: &str, root_interfaces: &[&str]) -> Option<String> {
        let exists = path == "/" || self.objects.contains_key(path);
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        let mut children: Vec<&str> = self
            .objects
            .keys()
            .filter_map(|candidate| candidate.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest))
            .collect();
        children.dedup();
        if !exists && children.is_empty() {
            return None;
        }
        let mut xml = String::from(
            "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n\
             \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n<node>\n",
        );
        for name in STANDARD_INTERFACES.iter().chain(root_interfaces) {
            if path == "/" || exists {
                xml.push_str(&format!("  <interface name=\"{name}\"/>\n"));
            }
        }
        if let Some(interfaces) = self.objects.get(path) {
            for (name, props) in interfaces {
                xml.push_str(&format!("  <interface name=\"{name}\">\n"));
                for (property, value) in props {
                    xml.push_str(&format!(
                        "    <property name=\"{property}\" type=\"{}\" access=\"read\"/>\n",
                        value.signature()
                    ));
                }
                xml.push_str("  </interface>\n");
            }
        }
        for child in children {
            xml.push_str(&format!("  <node name=\"{child}\"/>\n"));
        }
        xml.push_str("</node>\n");
        Some(xml)
    }
}
