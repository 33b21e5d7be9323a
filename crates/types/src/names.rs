use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// A name or identifier that failed its model constraint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {value:?}")]
pub struct InvalidName {
    pub what: &'static str,
    pub value: String,
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $what:literal, $pattern:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts exactly the values the CodeArtifact model's pattern accepts (full match).
            ///
            /// # Errors
            /// The value does not match the model's pattern and length.
            pub fn parse(value: &str) -> Result<Self, InvalidName> {
                static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
                    Regex::new(concat!("^(?:", $pattern, ")$")).expect("a constant pattern, covered by unit tests")
                });
                if PATTERN.is_match(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(InvalidName { what: $what, value: value.to_owned() })
                }
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(value: String) -> Result<Self, InvalidName> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

validated_name!(
    /// A 12-digit account number.
    AccountId, "account id", "[0-9]{12}"
);
validated_name!(
    /// A domain name: a DNS label of 2–50 characters.
    DomainName, "domain name", r"[a-z][a-z0-9\-]{0,48}[a-z0-9]"
);
validated_name!(
    /// A repository name: 2–100 characters.
    RepositoryName, "repository name", r"[A-Za-z0-9][A-Za-z0-9._\-]{1,99}"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_model_patterns() {
        assert!(AccountId::parse("123456789012").is_ok());
        assert!(AccountId::parse("12345678901").is_err());
        assert!(DomainName::parse("my-domain").is_ok());
        assert!(DomainName::parse("a").is_err());
        assert!(DomainName::parse("My-domain").is_err());
        assert!(DomainName::parse("dash-").is_err());
        assert!(DomainName::parse(&"a".repeat(51)).is_err());
        assert!(DomainName::parse(&"a".repeat(50)).is_ok());
        assert!(RepositoryName::parse("My_Repo.1-x").is_ok());
        assert!(RepositoryName::parse("-repo").is_err());
        assert!(RepositoryName::parse(&"r".repeat(101)).is_err());
    }
}
