//! The persistent tree: nodes, path resolution and the operations on a root.

pub(crate) mod links;
pub(crate) mod node;
pub(crate) mod ops;
pub(crate) mod resolve;
