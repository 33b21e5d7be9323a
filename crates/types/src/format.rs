use std::fmt;

/// The package formats CodeArtifact knows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PackageFormat {
    Npm,
    Pypi,
    Maven,
    Nuget,
    Generic,
    Ruby,
    Swift,
    Cargo,
}

impl PackageFormat {
    pub const ALL: [Self; 8] = [
        Self::Cargo,
        Self::Generic,
        Self::Maven,
        Self::Npm,
        Self::Nuget,
        Self::Pypi,
        Self::Ruby,
        Self::Swift,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Npm => "npm",
            Self::Pypi => "pypi",
            Self::Maven => "maven",
            Self::Nuget => "nuget",
            Self::Generic => "generic",
            Self::Ruby => "ruby",
            Self::Swift => "swift",
            Self::Cargo => "cargo",
        }
    }

    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == value)
    }
}

impl fmt::Display for PackageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The external connections a repository may have (`spec/digest.md` §4.4), one per repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExternalConnection {
    Npmjs,
    Pypi,
    MavenCentral,
    MavenGoogleAndroid,
    MavenGradlePlugins,
    MavenCommonsware,
    MavenClojars,
    NugetOrg,
    RubyGemsOrg,
    CratesIo,
}

impl ExternalConnection {
    pub const ALL: [Self; 10] = [
        Self::Npmjs,
        Self::Pypi,
        Self::MavenCentral,
        Self::MavenGoogleAndroid,
        Self::MavenGradlePlugins,
        Self::MavenCommonsware,
        Self::MavenClojars,
        Self::NugetOrg,
        Self::RubyGemsOrg,
        Self::CratesIo,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Npmjs => "public:npmjs",
            Self::Pypi => "public:pypi",
            Self::MavenCentral => "public:maven-central",
            Self::MavenGoogleAndroid => "public:maven-googleandroid",
            Self::MavenGradlePlugins => "public:maven-gradleplugins",
            Self::MavenCommonsware => "public:maven-commonsware",
            Self::MavenClojars => "public:maven-clojars",
            Self::NugetOrg => "public:nuget-org",
            Self::RubyGemsOrg => "public:ruby-gems-org",
            Self::CratesIo => "public:crates-io",
        }
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    #[must_use]
    pub fn format(self) -> PackageFormat {
        match self {
            Self::Npmjs => PackageFormat::Npm,
            Self::Pypi => PackageFormat::Pypi,
            Self::MavenCentral
            | Self::MavenGoogleAndroid
            | Self::MavenGradlePlugins
            | Self::MavenCommonsware
            | Self::MavenClojars => PackageFormat::Maven,
            Self::NugetOrg => PackageFormat::Nuget,
            Self::RubyGemsOrg => PackageFormat::Ruby,
            Self::CratesIo => PackageFormat::Cargo,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_and_connection_round_trips_through_its_name() {
        for f in PackageFormat::ALL {
            assert_eq!(PackageFormat::parse(f.as_str()), Some(f));
        }
        for c in ExternalConnection::ALL {
            assert_eq!(ExternalConnection::parse(c.name()), Some(c));
        }
        assert_eq!(ExternalConnection::parse("public:npm"), None);
    }
}
