//! npm package names: `@scope/name` or `name`.

use super::{MAX_NAME_LENGTH, NpmError};

/// Splits `"@scope/name"` or `"name"` into (scope without `@`, name). The URL-encoded scoped
/// forms `"@scope%2fname"` and `"@scope%2Fname"` are accepted too.
///
/// The rules are npm's, loosely, so that every name the npm registry ever accepted still reads:
/// non-empty parts, at most 214 characters in all, no leading `.` or `_` for an unscoped name,
/// no `.`/`..` parts, and only characters that stay unchanged in a URL component
/// (`A-Z a-z 0-9 - _ . ! ~ * ' ( )`). Lowercase is not enforced.
///
/// # Errors
/// [`NpmError::InvalidName`] when a rule is broken.
pub fn parse_name(raw: &str) -> Result<(Option<String>, String), NpmError> {
    let invalid = |why: &str| NpmError::InvalidName(format!("{raw:?}: {why}"));
    let decoded = raw.replace("%2f", "/").replace("%2F", "/");
    if decoded.is_empty() {
        return Err(invalid("empty"));
    }
    if decoded.len() > MAX_NAME_LENGTH {
        return Err(invalid("longer than 214 characters"));
    }
    let (scope, name) = match decoded.strip_prefix('@') {
        Some(rest) => {
            let (scope, name) = rest
                .split_once('/')
                .ok_or_else(|| invalid("a scoped name needs the form @scope/name"))?;
            check_part(scope).map_err(|why| invalid(&format!("scope {why}")))?;
            (Some(scope.to_owned()), name)
        }
        None => {
            if decoded.starts_with('.') || decoded.starts_with('_') {
                return Err(invalid("starts with '.' or '_'"));
            }
            (None, decoded.as_str())
        }
    };
    check_part(name).map_err(|why| invalid(&format!("name {why}")))?;
    Ok((scope, name.to_owned()))
}

fn check_part(part: &str) -> Result<(), &'static str> {
    if part.is_empty() {
        return Err("is empty");
    }
    if part == "." || part == ".." {
        return Err("is a path segment");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c);
    if !part.chars().all(allowed) {
        return Err("has a character that is not URL-safe");
    }
    Ok(())
}

/// `"@scope/name"` with a scope, `"name"` without.
#[must_use]
pub fn full_name(scope: Option<&str>, name: &str) -> String {
    match scope {
        Some(scope) => format!("@{scope}/{name}"),
        None => name.to_owned(),
    }
}

/// The tarball file name npm uses, `"<name>-<version>.tgz"`, with the unscoped part of the
/// name (a full `"@scope/name"` is accepted and its scope dropped).
#[must_use]
pub fn tarball_filename(name: &str, version: &str) -> String {
    let unscoped = name.rsplit('/').next().unwrap_or(name);
    format!("{unscoped}-{version}.tgz")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_split_into_scope_and_name() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("demo", None, "demo"),
            ("demo-pkg.js", None, "demo-pkg.js"),
            ("JSONStream", None, "JSONStream"),
            ("@myscope/demo-pkg", Some("myscope"), "demo-pkg"),
            ("@myscope%2fdemo-pkg", Some("myscope"), "demo-pkg"),
            ("@myscope%2Fdemo-pkg", Some("myscope"), "demo-pkg"),
            ("@types/node", Some("types"), "node"),
            ("@scope/_private", Some("scope"), "_private"),
            ("@scope/.dot", Some("scope"), ".dot"),
            ("a~b!c*d'e(f)", None, "a~b!c*d'e(f)"),
        ];
        for &(raw, scope, name) in cases {
            let parsed = parse_name(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(parsed, (scope.map(str::to_owned), name.to_owned()), "{raw}");
        }
    }

    #[test]
    fn invalid_names_are_refused() {
        let too_long = "a".repeat(215);
        let cases: &[&str] = &[
            "",
            ".hidden",
            "_private",
            "@scope",
            "@scope/",
            "@/name",
            "@scope/a/b",
            "a/b",
            "has space",
            "caf\u{e9}",
            "..",
            "@scope/..",
            "@./name",
            "a%20b",
            "a:b",
            &too_long,
        ];
        for raw in cases {
            assert!(
                matches!(parse_name(raw), Err(NpmError::InvalidName(_))),
                "{raw:?} should be invalid"
            );
        }
        assert!(parse_name(&"a".repeat(214)).is_ok());
    }

    #[test]
    fn full_names_and_tarball_names() {
        assert_eq!(full_name(Some("myscope"), "demo-pkg"), "@myscope/demo-pkg");
        assert_eq!(full_name(None, "demo"), "demo");
        assert_eq!(tarball_filename("demo", "1.0.0"), "demo-1.0.0.tgz");
        assert_eq!(
            tarball_filename("demo-pkg", "1.0.0-beta.1"),
            "demo-pkg-1.0.0-beta.1.tgz"
        );
        assert_eq!(
            tarball_filename("@myscope/demo-pkg", "2.0.0"),
            "demo-pkg-2.0.0.tgz"
        );
    }
}
