//! Users and their sessions: the `User` type, `me` and `users`, sign-in and tokens,
//! passwords, and user administration.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::user::UserCommand;
use domain::Permission;
use projections::users::UserRow;
use uuid::Uuid;

use crate::auth::sessions::{Revoke, Sessions};
use crate::auth::{jwt, password, refresh, throttle, Viewer};
use crate::error::{ApiError, Code};
use crate::graphql::context::Ctx;
use crate::graphql::context::{customer, request_of};
use crate::graphql::types::Role;
use crate::graphql::written::fields;
use crate::state::ReadBack;

/// A user of ZippCRM. A customer (portal user) sees another person only by id and display
/// name: the fields after those are null for them, on every path that leads here.
#[derive(Debug, Clone)]
pub(super) struct User(pub UserRow);

impl User {
    /// Whether the caller sees this person in full: anyone but a customer looking at
    /// someone else.
    fn in_full<T>(&self, ctx: &async_graphql::ContextBase<'_, T>) -> bool {
        customer(ctx).is_none_or(|viewer| viewer.user_id == self.0.id)
    }
}

fields! {
    impl User (self, ctx) {
        "id" fn id() -> Uuid { self.0.id }
        "displayName" fn display_name() -> &str { &self.0.display_name }
        /// Email (visible to the user themself and to internal users).
        "email" fn email(ctx) -> Option<&str> {
            let viewer = request_of(ctx).auth.viewer().ok();
            let sees = viewer.is_some_and(|v| v.user_id == self.0.id || !v.role.is_portal());
            sees.then_some(self.0.email.as_str())
        }
        /// Null for a customer looking at someone else (so are the fields below).
        "role" fn role(ctx) -> Option<Role> {
            domain::Role::parse(&self.0.role).map(Role::from).filter(|_| self.in_full(ctx))
        }
        "clientId" fn client_id(ctx) -> Option<Uuid> { self.0.client_id.filter(|_| self.in_full(ctx)) }
        "active" fn active(ctx) -> Option<bool> { self.in_full(ctx).then_some(self.0.active) }
        "createdAt" fn created_at(ctx) -> Option<DateTime<Utc>> {
            self.in_full(ctx).then_some(self.0.created_at)
        }
        nested:
        resolved:
    }
}

/// User queries.
#[derive(Default, Debug)]
pub(super) struct UserQuery;

#[Object]
impl UserQuery {
    /// The logged-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let viewer = ctx.request().auth.viewer()?;
        let row = projections::users::find(&ctx.state().pool, viewer.user_id)
            .await
            .map_err(ApiError::from)?;
        Ok(User(row.ok_or_else(|| ApiError::not_found("user"))?))
    }

    /// Internal users (the team directory).
    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let viewer = ctx.request().auth.require(Permission::ReadUsers)?;
        if viewer.role.is_portal() {
            return Err(ApiError::new(
                crate::error::Code::Forbidden,
                "portal users do not see the team directory",
            )
            .into());
        }
        let rows = projections::users::internal(&ctx.state().pool)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(User).collect())
    }
}

/// Authentication and users.
#[derive(Default, Debug)]
pub(super) struct UserMutation;

/// Tokens returned by `login` and `refreshToken`.
#[derive(SimpleObject, Debug)]
pub(super) struct AuthPayload {
    /// JWT for `Authorization: Bearer`; expires in `expiresIn` seconds.
    access_token: String,
    /// Use once with `refreshToken` to get a new pair; valid 7 days.
    refresh_token: String,
    /// Access token lifetime in seconds.
    expires_in: i64,
    user: User,
}

/// A new internal user.
#[derive(InputObject, Debug)]
pub(super) struct CreateUserInput {
    /// Email (unique among users).
    email: String,
    display_name: String,
    /// Role (not CLIENT: portal users come from lead conversion).
    role: Role,
    /// Initial password (10 to 256 characters).
    password: String,
}

/// Result of a user mutation.
#[derive(SimpleObject, Debug)]
pub(super) struct UserPayload {
    /// The user as the read model shows it.
    user: Option<User>,
    /// False when the read model had not caught up within the wait bound.
    caught_up: bool,
}

async fn tokens(
    ctx: &Context<'_>,
    mut viewer: Viewer,
    family: Option<Uuid>,
) -> Result<AuthPayload> {
    let state = ctx.state();
    let (refresh_token, family) = refresh::issue(&state.pool, viewer.user_id, family).await?;
    viewer.session = Some(family);
    let version = Sessions::current(&state.pool, viewer.user_id).await?;
    let access_token = state
        .jwt
        .issue(&viewer, version)
        .map_err(ApiError::internal)?;
    let mut row = projections::users::find(&state.pool, viewer.user_id)
        .await
        .map_err(ApiError::from)?;
    if row.is_none() {
        // Just registered (a first admin at start-up, an invitation just redeemed): wait for
        // the users read model to fold the user's stream, as any read-your-writes does.
        if let Some(head) =
            projections::wait::stream_head(&state.pool, "User", &viewer.user_id.to_string())
                .await
                .map_err(ApiError::from)?
        {
            state
                .caught_up(
                    &[projections::users::NAME],
                    commands::Appended {
                        tx: head.tx,
                        position: head.position,
                    },
                )
                .await;
            row = projections::users::find(&state.pool, viewer.user_id)
                .await
                .map_err(ApiError::from)?;
        }
    }
    let user = row.ok_or_else(|| {
        ApiError::new(
            Code::Unauthenticated,
            "this account is not available yet; try again",
        )
    })?;
    Ok(AuthPayload {
        access_token,
        refresh_token,
        expires_in: jwt::ACCESS_TTL_SECONDS,
        user: User(user),
    })
}

/// The active viewer behind `user_id`, from the user's own stream (not a read model).
async fn active_viewer(ctx: &Context<'_>, user_id: Uuid) -> Result<Option<Viewer>, ApiError> {
    let user = ctx.state().bus.load_user(user_id).await?;
    Ok(user.filter(|u| u.active).and_then(|u| {
        Some(Viewer {
            user_id,
            role: u.role?,
            client_id: u.client_id,
            session: None,
        })
    }))
}

async fn user_payload(
    ctx: &Context<'_>,
    user_id: Uuid,
    appended: commands::Appended,
) -> Result<UserPayload> {
    let state = ctx.state();
    let ReadBack {
        record: user,
        caught_up,
    } = state
        .after_append(
            &[projections::users::NAME],
            appended,
            projections::users::find(&state.pool, user_id),
        )
        .await
        .map(User);
    Ok(UserPayload { user, caught_up })
}

#[Object]
impl UserMutation {
    /// Exchanges email and password for an access token and a refresh token. One
    /// authentication field per request; attempts are throttled per email and per address.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<AuthPayload> {
        let refused = || ApiError::new(Code::Unauthenticated, "wrong email or password");
        if email.len() > 254 || password.len() > password::MAX_LENGTH * 4 {
            return Err(refused().into());
        }
        let state = ctx.state();
        let client = ctx.request().client;
        throttle::attempt(&state.pool, &email, client).await?;
        let bus = &state.bus;
        let hash = match bus.user_by_email(&email).await? {
            Some(user_id) => bus
                .password_hash(user_id)
                .await?
                .map(|hash| (user_id, hash)),
            None => None,
        };
        let verified = match hash {
            Some((user_id, hash)) => password::verify(password, hash).await.then_some(user_id),
            None => {
                // Same work as a real check, so timing does not tell which emails exist.
                password::verify_nothing(password).await;
                None
            }
        };
        let Some(user_id) = verified else {
            return Err(refused().into());
        };
        throttle::succeeded(&state.pool, &email, client).await?;
        let viewer = active_viewer(ctx, user_id)
            .await?
            .ok_or_else(|| ApiError::new(Code::Unauthenticated, "this account is deactivated"))?;
        tokens(ctx, viewer, None).await
    }

    /// Exchanges a refresh token for a new pair. Each refresh token works once; presenting
    /// a used one again revokes every token of that login.
    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        let (user_id, family) = refresh::rotate(&ctx.state().pool, &refresh_token).await?;
        let viewer = active_viewer(ctx, user_id)
            .await?
            .ok_or_else(|| ApiError::new(Code::Unauthenticated, "this account is deactivated"))?;
        tokens(ctx, viewer, Some(family)).await
    }

    /// Ends the refresh token's login (every refresh token of its family) and the user's
    /// access tokens (other logins refresh theirs). Unknown tokens are ignored.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        let state = ctx.state();
        if let Some((user_id, family)) = refresh::owner(&state.pool, &refresh_token).await? {
            state
                .sessions
                .end(&state.pool, user_id, Revoke::Family(family))
                .await?;
        }
        Ok(true)
    }

    /// Asks for a password-reset link by email. Anyone may ask; the answer is `true`
    /// whether or not an account has this address, and at most one link goes out per
    /// account every few minutes. Requests are throttled per client address. The link
    /// (one-time, an hour) leads to `setPassword`, which ends the account's other sessions.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        if email.len() > 320 {
            return Err(ApiError::bad_input("email: at most 320 characters").into());
        }
        let state = ctx.state();
        throttle::reset_requested(&state.pool, ctx.request().client).await?;
        // Looked up and queued after the answer, so that an address with an account takes
        // the same path and time to answer as one without: the answer tells nothing.
        let (bus, portal_url) = (state.bus.clone(), state.portal_url.clone());
        tokio::spawn(async move {
            let at = chrono::Utc::now();
            let requested =
                reactions::access::request_password_reset(&bus, &portal_url, &email, at);
            if let Err(error) = requested.await {
                tracing::error!(%error, "a password-reset request could not be queued");
            }
        });
        Ok(true)
    }

    /// Sets a password with the one-time token from an invitation or a reset email.
    async fn set_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
    ) -> Result<bool> {
        let invalid =
            || ApiError::bad_input("token: this link is invalid, expired or already used");
        if token.len() > 200 {
            return Err(invalid().into());
        }
        // The token first: hashing costs far more than looking it up.
        let state = ctx.state();
        let bus = &state.bus;
        let user_id = bus
            .password_token_user(&token)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(invalid)?;
        let email = bus
            .load_user(user_id)
            .await
            .map_err(ApiError::from)?
            .map(|user| user.email)
            .unwrap_or_default();
        password::validate(&password, &email)?;
        let hash = password::hash(password).await?;
        bus.redeem_password_token(&token, &hash)
            .await
            .map_err(ApiError::from)?;
        state
            .sessions
            .end(&state.pool, user_id, Revoke::AllBut(None))
            .await?;
        Ok(true)
    }

    /// Changes the viewer's own password and ends every other login. This login's access
    /// token ends too: refresh it with this login's refresh token, which keeps working.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool> {
        let viewer = ctx.request().auth.viewer()?;
        let state = ctx.state();
        let bus = &state.bus;
        let email = bus
            .load_user(viewer.user_id)
            .await
            .map_err(ApiError::from)?
            .map(|user| user.email)
            .unwrap_or_default();
        password::validate(&new_password, &email)?;
        let stored = bus.password_hash(viewer.user_id).await?.unwrap_or_default();
        if !password::verify(current_password, stored).await {
            return Err(
                ApiError::bad_input("currentPassword: is not your current password").into(),
            );
        }
        let hash = password::hash(new_password).await?;
        bus.store_password(&ctx.command_context(&viewer), viewer.user_id, &hash)
            .await
            .map_err(ApiError::from)?;
        state
            .sessions
            .end(&state.pool, viewer.user_id, Revoke::AllBut(viewer.session))
            .await?;
        Ok(true)
    }

    /// Creates an internal user (admins).
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<UserPayload> {
        let viewer = ctx.request().auth.require(Permission::ManageUsers)?;
        password::validate(&input.password, &input.email)?;
        let password_hash = password::hash(input.password).await?;
        let user = commands::NewUser {
            email: input.email,
            display_name: input.display_name,
            role: input.role.into(),
            password_hash,
        };
        let (user_id, appended) = ctx
            .state()
            .bus
            .create_user(&ctx.command_context(&viewer), user)
            .await
            .map_err(ApiError::from)?;
        user_payload(ctx, user_id, appended).await
    }

    /// Changes an internal user's role (admins). Their access tokens end at once; a refresh
    /// gives one with the new role.
    async fn change_user_role(
        &self,
        ctx: &Context<'_>,
        user_id: Uuid,
        role: Role,
    ) -> Result<UserPayload> {
        let viewer = ctx.request().auth.require(Permission::ManageUsers)?;
        if viewer.user_id == user_id {
            // Another admin must do it, so the last admin cannot lock everyone out.
            return Err(ApiError::bad_input("userId: you cannot change your own role").into());
        }
        let command_ctx = ctx.command_context(&viewer);
        let command = UserCommand::ChangeRole {
            role: role.into(),
            at: command_ctx.issued_at,
        };
        let appended = ctx
            .state()
            .bus
            .user(&command_ctx, user_id, command)
            .await
            .map_err(ApiError::from)?;
        let state = ctx.state();
        state
            .sessions
            .end(&state.pool, user_id, Revoke::Nothing)
            .await?;
        user_payload(ctx, user_id, appended).await
    }

    /// Deactivates a user (admins). Their refresh and access tokens stop working at once.
    async fn deactivate_user(&self, ctx: &Context<'_>, user_id: Uuid) -> Result<UserPayload> {
        let viewer = ctx.request().auth.require(Permission::ManageUsers)?;
        if viewer.user_id == user_id {
            return Err(ApiError::bad_input("userId: you cannot deactivate yourself").into());
        }
        let command_ctx = ctx.command_context(&viewer);
        let command = UserCommand::Deactivate {
            at: command_ctx.issued_at,
        };
        let appended = ctx
            .state()
            .bus
            .user(&command_ctx, user_id, command)
            .await
            .map_err(ApiError::from)?;
        let state = ctx.state();
        state
            .sessions
            .end(&state.pool, user_id, Revoke::AllBut(None))
            .await?;
        user_payload(ctx, user_id, appended).await
    }
}
