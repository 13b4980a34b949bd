//! The company's people and where they sign in from.

use crate::world::{Agent, City, Net};

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) index: usize,
    pub(crate) email: String,
    pub(crate) display: String,
    pub(crate) id: String,
    pub(crate) home: City,
    pub(crate) net: Net,
    pub(crate) host: [u8; 2],
    pub(crate) laptop: Agent,
    pub(crate) support: bool,
    pub(crate) weekend_worker: bool,
}

/// Where and how one sign-in happens.
#[derive(Clone, Copy)]
pub(crate) struct Origin {
    pub(crate) city: City,
    pub(crate) net: Net,
    pub(crate) ip: [u8; 4],
    pub(crate) agent: Agent,
    pub(crate) device: u64,
    pub(crate) proxy: bool,
}
