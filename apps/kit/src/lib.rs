//! Placeholder: the apps helper fills this crate.
