//! The package formats, one folder each: a format's protocol (parsing what its client sends and
//! rendering what it reads), its rules on the core's format kit, and its endpoint on the HTTP
//! half of the kit. Adding a format is one folder and one line in [`all`].

pub mod archive;
pub mod cargo;
pub mod maven;
pub mod npm;
pub mod pypi;

use reliquary_http::endpoint::FormatEndpoint;

/// Every format the server serves: the registration list.
#[must_use]
pub fn all() -> Vec<Box<dyn FormatEndpoint>> {
    vec![
        Box::new(npm::Npm),
        Box::new(pypi::Pypi),
        Box::new(cargo::Cargo),
        Box::new(maven::Maven),
    ]
}
