//! One module per subcommand: read the arguments, call the libraries, print.

pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod cluster;
pub(crate) mod compact;
pub(crate) mod demo;
pub(crate) mod detect;
pub(crate) mod export;
pub(crate) mod r#gen;
pub(crate) mod ingest;
pub(crate) mod pull;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod sigma;
pub(crate) mod sql;
pub(crate) mod verify;
