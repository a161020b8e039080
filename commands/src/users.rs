//! User registration, email uniqueness, credentials and set-password tokens.
//!
//! Email uniqueness is a reservation in `email_registry` taken before `UserRegistered` is
//! appended (and released if the append is refused). Password hashes live in
//! `user_credentials`, never in the event log; the log records only that a password changed.

use domain::user::{User, UserCommand};
use domain::values::EmailAddress;
use domain::Role;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Appended, CommandBus, CommandContext, CommandError};

/// An internal user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Email (validated here).
    pub email: String,
    pub display_name: String,
    /// Role (not `client`: portal users come from conversions).
    pub role: Role,
    /// Argon2id hash of the initial password.
    pub password_hash: String,
}

/// A portal user to invite (email already reserved for `user_id`).
#[derive(Debug, Clone)]
pub struct PortalInvitation {
    /// The new user's id.
    pub user_id: Uuid,
    /// Normalised email.
    pub email: String,
    pub display_name: String,
    /// Their client.
    pub client_id: Uuid,
    /// Client name, for the message.
    pub client_name: String,
}

/// SHA-256 of a secret token, hex encoded: what the database stores.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The portal user a converted client's primary contact gets: derived from the client, so
/// the conversion can name it (and reserve its email) before the reactor registers it.
pub fn portal_user_id(client_id: Uuid) -> Uuid {
    Uuid::new_v5(&client_id, b"portal-user")
}

/// Issues a one-time set-password token for `user_id`, working until `expires_at`, on
/// `conn` (inside the transaction that queues the message carrying it). Returns the token;
/// only its hash is stored.
pub async fn issue_password_token(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<String, sqlx::Error> {
    let token = new_token();
    sqlx::query(
        "INSERT INTO password_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(token)
}

impl CommandBus {
    /// Reserves `email` for `user_id`, or says it is taken (by another user: reserving it
    /// again for the same one is fine).
    pub(crate) async fn reserve_email(
        &self,
        email: &str,
        user_id: Uuid,
    ) -> Result<(), CommandError> {
        let owner: Uuid = sqlx::query_scalar(
            "WITH reserved AS (INSERT INTO email_registry (email, user_id) VALUES ($1, $2) \
                               ON CONFLICT DO NOTHING RETURNING user_id) \
             SELECT user_id FROM reserved UNION ALL \
             SELECT user_id FROM email_registry WHERE email = $1 LIMIT 1",
        )
        .bind(email)
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        if owner != user_id {
            return Err(CommandError::invalid(format!(
                "email: a user with the email address {email} already exists"
            )));
        }
        Ok(())
    }

    pub(crate) async fn release_email(&self, email: &str, user_id: Uuid) {
        let released = sqlx::query("DELETE FROM email_registry WHERE email = $1 AND user_id = $2")
            .bind(email)
            .bind(user_id)
            .execute(&self.pool)
            .await;
        if let Err(error) = released {
            tracing::error!(%error, %user_id, "could not release an email reservation");
        }
    }

    async fn register(
        &self,
        ctx: &CommandContext,
        user_id: Uuid,
        email: &str,
        display_name: String,
        role: Role,
        client_id: Option<Uuid>,
    ) -> Result<Appended, CommandError> {
        let command = UserCommand::Register {
            user_id,
            email: email.to_owned(),
            display_name,
            role,
            client_id,
            at: ctx.issued_at,
        };
        match self.execute(&self.users, user_id, command, ctx).await {
            Ok(appended) => Ok(appended),
            Err(error) => {
                self.release_email(email, user_id).await;
                Err(error)
            }
        }
    }

    /// Creates an internal user with a password.
    pub async fn create_user(
        &self,
        ctx: &CommandContext,
        user: NewUser,
    ) -> Result<(Uuid, Appended), CommandError> {
        if user.role.is_portal() {
            return Err(CommandError::invalid(
                "role: portal users are created by converting a lead",
            ));
        }
        let email = EmailAddress::parse("email", &user.email)
            .map_err(|e| CommandError::invalid(e.to_string()))?;
        let user_id = Uuid::now_v7();
        self.reserve_email(email.as_str(), user_id).await?;
        let appended = self
            .register(
                ctx,
                user_id,
                email.as_str(),
                user.display_name,
                user.role,
                None,
            )
            .await?;
        self.store_password(ctx, user_id, &user.password_hash)
            .await?;
        Ok((user_id, appended))
    }

    /// Creates the first admin if no user has `email` yet. Returns whether one was created.
    pub async fn ensure_admin(
        &self,
        email: &str,
        password_hash: &str,
    ) -> Result<bool, CommandError> {
        let email = EmailAddress::parse("ZIPPCRM_ADMIN_EMAIL", email)
            .map_err(|e| CommandError::invalid(e.to_string()))?;
        if self.user_by_email(email.as_str()).await?.is_some() {
            return Ok(false);
        }
        let user = NewUser {
            email: email.to_string(),
            display_name: "Administrator".into(),
            role: Role::Admin,
            password_hash: password_hash.into(),
        };
        match self.create_user(&CommandContext::system(), user).await {
            Ok(_) => Ok(true),
            // Another replica created it at the same moment.
            Err(CommandError::Rejected { .. })
                if self.user_by_email(email.as_str()).await?.is_some() =>
            {
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    /// Registers a portal user, once: `ctx` is a reaction's, so a second run appends
    /// nothing. Their set-password message is the reaction's to queue
    /// (`reactions::portal_access`).
    pub async fn register_portal_user(
        &self,
        ctx: &CommandContext,
        invitation: &PortalInvitation,
    ) -> Result<Appended, CommandError> {
        self.reserve_email(&invitation.email, invitation.user_id)
            .await?;
        let command = UserCommand::Register {
            user_id: invitation.user_id,
            email: invitation.email.clone(),
            display_name: invitation.display_name.clone(),
            role: Role::Client,
            client_id: Some(invitation.client_id),
            at: ctx.issued_at,
        };
        self.execute(&self.users, invitation.user_id, command, ctx)
            .await
    }

    /// The user a set-password token is for, while it is unused and unexpired.
    pub async fn password_token_user(&self, token: &str) -> Result<Option<Uuid>, CommandError> {
        Ok(sqlx::query_scalar(
            "SELECT user_id FROM password_tokens \
              WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Sets a password with a one-time token, marking it used (checked again here,
    /// atomically, so a token is redeemed once whatever runs in parallel). Returns the user id.
    pub async fn redeem_password_token(
        &self,
        token: &str,
        password_hash: &str,
    ) -> Result<Uuid, CommandError> {
        let user_id: Option<Uuid> = sqlx::query_scalar(
            "UPDATE password_tokens SET used_at = now() \
              WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let user_id = user_id.ok_or_else(|| {
            CommandError::invalid("token: this link is invalid, expired or already used")
        })?;
        let role = self.load_user(user_id).await?.and_then(|u| u.role);
        let ctx = CommandContext {
            actor_id: Some(user_id),
            actor_role: role,
            ..CommandContext::system()
        };
        self.store_password(&ctx, user_id, password_hash).await?;
        Ok(user_id)
    }

    /// Stores a password hash and records the change in the user's stream.
    pub async fn store_password(
        &self,
        ctx: &CommandContext,
        user_id: Uuid,
        password_hash: &str,
    ) -> Result<Appended, CommandError> {
        let appended = self
            .execute(
                &self.users,
                user_id,
                UserCommand::RecordPasswordChange { at: ctx.issued_at },
                ctx,
            )
            .await?;
        sqlx::query(
            "INSERT INTO user_credentials (user_id, password_hash) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET password_hash = $2, updated_at = now()",
        )
        .bind(user_id)
        .bind(password_hash)
        .execute(&self.pool)
        .await?;
        Ok(appended)
    }

    /// Any other user command (role change, deactivation).
    pub async fn user(
        &self,
        ctx: &CommandContext,
        user_id: Uuid,
        command: UserCommand,
    ) -> Result<Appended, CommandError> {
        self.execute(&self.users, user_id, command, ctx).await
    }

    /// The user id registered for `email` (normalised), if any.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<Uuid>, CommandError> {
        Ok(
            sqlx::query_scalar("SELECT user_id FROM email_registry WHERE email = $1")
                .bind(email.trim().to_lowercase())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The stored password hash of a user.
    pub async fn password_hash(&self, user_id: Uuid) -> Result<Option<String>, CommandError> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM user_credentials WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The user's current state, from their stream.
    pub async fn load_user(&self, user_id: Uuid) -> Result<Option<User>, CommandError> {
        let user: User = self.load(user_id).await?;
        Ok(user.id.map(|_| user))
    }
}
