//! What the gateway accepts as an e-mail address, a name and a password. Pure.

/// Shorter passwords are refused (NIST SP 800-63B asks for at least 8; we ask a little more,
/// since a gateway that opens doors is worth guessing at).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longer passwords are refused, so nobody makes the gateway hash megabytes.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// RFC 5321's limit on a forward path.
pub const MAX_EMAIL_CHARS: usize = 254;
/// RFC 5321's limit on the local part.
const MAX_LOCAL_PART_CHARS: usize = 64;
/// Names of accounts and of API tokens.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a value was refused. Never repeats a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("the password must have at most {MAX_PASSWORD_CHARS} characters")]
    PasswordTooLong,
    #[error("not a valid e-mail address (name@domain.tld, at most {MAX_EMAIL_CHARS} characters)")]
    BadEmail,
    #[error("a {what} must have 1 to {MAX_NAME_CHARS} characters and no control characters")]
    BadName { what: &'static str },
}

/// The address as stored and compared: trimmed and lower-cased, so `Ann@X.org` and
/// `ann@x.org` are one account.
pub fn normalize_email(text: &str) -> Result<String, PolicyError> {
    let email = text.trim().to_lowercase();
    let chars = email.chars().count();
    if chars == 0 || chars > MAX_EMAIL_CHARS {
        return Err(PolicyError::BadEmail);
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
    {
        return Err(PolicyError::BadEmail);
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(PolicyError::BadEmail);
    };
    let labels_ok = domain
        .split('.')
        .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    if local.is_empty()
        || local.chars().count() > MAX_LOCAL_PART_CHARS
        || domain.contains('@')
        || !domain.contains('.')
        || !labels_ok
    {
        return Err(PolicyError::BadEmail);
    }
    Ok(email)
}

pub fn check_password(password: &str) -> Result<(), PolicyError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(PolicyError::PasswordTooShort)
    } else if chars > MAX_PASSWORD_CHARS {
        Err(PolicyError::PasswordTooLong)
    } else {
        Ok(())
    }
}

/// A display name (of an account: `what` = "name"; of an API token: "token name"), trimmed.
pub fn check_name(text: &str, what: &'static str) -> Result<String, PolicyError> {
    let name = text.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(PolicyError::BadName { what });
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_compared_lower_case() {
        assert_eq!(
            normalize_email("  Ann.Lee@Example.ORG ").unwrap(),
            "ann.lee@example.org"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.org",
            "ann@example",
            "ann@@example.org",
            "ann lee@example.org",
            "ann@exa..org",
            "ann@-x.org",
            "<ann@x.org>",
        ] {
            assert_eq!(normalize_email(bad), Err(PolicyError::BadEmail), "{bad:?}");
        }
        let long = format!("{}@x.org", "a".repeat(MAX_LOCAL_PART_CHARS + 1));
        assert!(normalize_email(&long).is_err());
    }

    #[test]
    fn passwords_have_a_minimum_and_a_maximum_length() {
        assert_eq!(
            check_password("123456789"),
            Err(PolicyError::PasswordTooShort)
        );
        assert!(check_password("1234567890").is_ok());
        // Characters, not bytes: ten umlauts are ten characters.
        assert!(check_password(&"ä".repeat(MIN_PASSWORD_CHARS)).is_ok());
        assert_eq!(
            check_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)),
            Err(PolicyError::PasswordTooLong)
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_name("  Caretaker ", "name").unwrap(), "Caretaker");
        assert!(check_name("   ", "name").is_err());
        assert!(check_name("a\nb", "name").is_err());
        assert!(check_name(&"n".repeat(MAX_NAME_CHARS + 1), "name").is_err());
    }
}
