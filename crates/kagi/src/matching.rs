//! Finding the account a person means: `kagi code ama` should find
//! "Amazon (me@example.com)" without typing it all, and never pick one of
//! two equally good candidates silently.

use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

use crate::account::Account;

/// Why no single account was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// Nothing resembles the query.
    #[error("no account matches '{query}'{}", list_hint(.names))]
    NotFound {
        /// What was asked for.
        query: String,
        /// All names, to help the user.
        names: Vec<String>,
    },
    /// Several accounts match equally well.
    #[error("'{query}' matches several accounts: {}; type more of the name", .candidates.join(", "))]
    Ambiguous {
        /// What was asked for.
        query: String,
        /// The names that match.
        candidates: Vec<String>,
    },
}

fn list_hint(names: &[String]) -> String {
    if names.is_empty() {
        "; the vault is empty — add one with `kagi add`".to_owned()
    } else {
        format!("; accounts: {}", names.join(", "))
    }
}

/// The index of the account `query` names: an exact name (ignoring case),
/// else the only name starting with it, else the single best fuzzy match
/// against the name, the issuer or the label.
pub fn find(accounts: &[Account], query: &str) -> Result<usize, MatchError> {
    let q = query.trim().to_lowercase();
    if let Some(i) = accounts.iter().position(|a| a.name.to_lowercase() == q) {
        return Ok(i);
    }
    let prefixed: Vec<usize> = (0..accounts.len())
        .filter(|&i| {
            accounts
                .get(i)
                .is_some_and(|a| a.name.to_lowercase().starts_with(&q))
        })
        .collect();
    match prefixed.as_slice() {
        [only] => return Ok(*only),
        [] => {}
        many => return Err(ambiguous(query, accounts, many)),
    }
    let matcher = SkimMatcherV2::default().ignore_case();
    let mut scored: Vec<(i64, usize)> = accounts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            // Each field on its own: joined, letters from two fields could
            // add up to a match nobody meant.
            [
                Some(a.name.as_str()),
                a.issuer.as_deref(),
                Some(a.label.as_str()),
            ]
            .into_iter()
            .flatten()
            .filter_map(|field| matcher.fuzzy_match(field, query.trim()))
            .max()
            .map(|s| (s, i))
        })
        .collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    match scored.as_slice() {
        [] => Err(MatchError::NotFound {
            query: query.to_owned(),
            names: accounts.iter().map(|a| a.name.clone()).collect(),
        }),
        [(_, only)] => Ok(*only),
        [(best, i), (second, _), ..] if best > second => Ok(*i),
        [(best, _), ..] => {
            let tied: Vec<usize> = scored
                .iter()
                .filter(|(s, _)| s == best)
                .map(|(_, i)| *i)
                .collect();
            Err(ambiguous(query, accounts, &tied))
        }
    }
}

fn ambiguous(query: &str, accounts: &[Account], indices: &[usize]) -> MatchError {
    MatchError::Ambiguous {
        query: query.to_owned(),
        candidates: indices
            .iter()
            .filter_map(|&i| accounts.get(i).map(|a| a.name.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nidan_otp::{KeyUri, Secret};

    fn accounts(names: &[(&str, &str)]) -> Vec<Account> {
        names
            .iter()
            .map(|(name, issuer)| {
                let uri = KeyUri::new_totp(
                    Secret::from_bytes(b"key").unwrap(),
                    Some((*issuer).into()),
                    "me@example.com".into(),
                );
                Account::from_key_uri((*name).into(), uri, 0)
            })
            .collect()
    }

    #[test]
    fn exact_then_prefix_then_fuzzy() {
        let list = accounts(&[
            ("Amazon", "Amazon"),
            ("Amazon seller", "Amazon"),
            ("GitHub", "GitHub"),
            ("Google work", "Google"),
        ]);
        assert_eq!(find(&list, "amazon"), Ok(0));
        assert_eq!(find(&list, "git"), Ok(2));
        assert_eq!(find(&list, "gwrk"), Ok(3));
        assert!(
            matches!(find(&list, "Ama"), Err(MatchError::Ambiguous { candidates, .. }) if candidates.len() == 2)
        );
        assert!(matches!(
            find(&list, "zzzz"),
            Err(MatchError::NotFound { .. })
        ));
        // "Amazon" has one z: no match, even though two Amazon fields do.
        assert!(matches!(
            find(&list, "zz"),
            Err(MatchError::NotFound { .. })
        ));
    }

    #[test]
    fn an_empty_vault_says_how_to_add() {
        let err = find(&[], "x").unwrap_err();
        assert!(err.to_string().contains("kagi add"));
    }
}
