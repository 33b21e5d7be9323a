use std::collections::HashMap;

use reliquary_sigv4::Secret;
use reliquary_types::AccountId;

/// The principals allowed to sign control-plane requests: access key id → (secret, account).
pub struct Credentials {
    principals: HashMap<String, (String, AccountId)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("principals", &self.principals.len())
            .finish()
    }
}

impl Credentials {
    /// One root principal.
    #[must_use]
    pub fn single(access_key_id: String, secret_access_key: String, account: AccountId) -> Self {
        Self {
            principals: HashMap::from([(access_key_id, (secret_access_key, account))]),
        }
    }

    /// The account an access key belongs to.
    #[must_use]
    pub fn account(&self, access_key_id: &str) -> Option<&AccountId> {
        self.principals
            .get(access_key_id)
            .map(|(_, account)| account)
    }
}

impl reliquary_sigv4::Credentials for Credentials {
    fn secret_for(&self, access_key_id: &str) -> Option<Secret> {
        self.principals
            .get(access_key_id)
            .map(|(secret, _)| Secret::new(secret.clone()))
    }
}
