//! Revoked share links (see `crate::share`): a link's signature says what it grants, this
//! table says which links were taken back before they expired.

use super::{Param, Statement, Store, StoreError, first_number, ns_param, sql};

impl Store {
    /// Takes back the link `share_id`, which expires at `expires_ns`; forgets the
    /// revocations of links that expired before `now_ns`.
    pub async fn revoke_share(
        &self,
        share_id: &str,
        expires_ns: u64,
        now_ns: u64,
    ) -> Result<(), StoreError> {
        let statements = vec![
            Statement::new(sql::FORGET_EXPIRED_SHARES, vec![ns_param(now_ns)]),
            Statement::new(
                sql::REVOKE_SHARE,
                vec![Param::Text(share_id.to_owned()), ns_param(expires_ns)],
            ),
        ];
        self.db.transaction(statements).await?;
        Ok(())
    }

    /// Whether the link `share_id` was revoked.
    pub async fn share_revoked(&self, share_id: &str) -> Result<bool, StoreError> {
        let rows = self
            .db
            .query(Statement::new(
                sql::SHARE_REVOKED,
                vec![Param::Text(share_id.to_owned())],
            ))
            .await?;
        Ok(first_number::<u8>(&rows, "value") == Some(1))
    }
}
